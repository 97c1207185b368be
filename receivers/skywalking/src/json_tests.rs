use super::*;

#[test]
fn nginx_lua_segments_with_enum_names_and_nulls() {
    let body = br#"[{
        "traceId": "6f1e62c2-7cd4-4bd2-8d2b-3a0f4a77b6e1",
        "traceSegmentId": "a3b1e2c4-7cd4-4bd2-8d2b-3a0f4a77b6e1",
        "service": "APISIX", "serviceInstance": "apisix-1",
        "spans": [{
            "spanId": 1, "parentSpanId": -1, "startTime": 1795317148580, "endTime": "1795317148590",
            "operationName": "/orders", "peer": null, "spanType": "Entry", "spanLayer": "Http",
            "componentId": 6000, "isError": false,
            "tags": [{"key": "http.method", "value": "GET"}],
            "refs": [{"refType": 0, "traceId": "t", "parentTraceSegmentId": "s",
                      "parentSpanId": 2, "networkAddressUsedAtPeer": "gw:80"}]
        }]
    }]"#;
    let [segment] = segments(body).unwrap().try_into().expect("one segment");
    assert_eq!(segment.service, "APISIX");
    assert_eq!(segment.service_instance, "apisix-1");
    let span = &segment.spans[0];
    assert_eq!(
        (
            span.span_id,
            span.parent_span_id,
            span.start_time,
            span.end_time
        ),
        (1, -1, 1_795_317_148_580, 1_795_317_148_590)
    );
    assert_eq!(
        (span.span_type, span.span_layer, span.component_id),
        (0, 3, 6000)
    );
    assert_eq!(span.peer, "");
    assert_eq!(span.tags[0].key, "http.method");
    assert_eq!(span.refs[0].parent_span_id, 2);
    assert_eq!(span.refs[0].network_address_used_at_peer, "gw:80");
}

#[test]
fn one_segment_object_and_snake_case_keys() {
    let body = br#"{"trace_id": "abc", "trace_segment_id": "def", "service": "py",
                    "spans": [{"span_type": 1, "span_layer": "MQ", "is_error": true}]}"#;
    let [segment] = segments(body).unwrap().try_into().expect("one segment");
    assert_eq!(
        (segment.trace_id.as_str(), segment.trace_segment_id.as_str()),
        ("abc", "def")
    );
    assert_eq!(
        (segment.spans[0].span_type, segment.spans[0].span_layer),
        (1, 4)
    );
    assert!(segment.spans[0].is_error);
}

#[test]
fn python_logs_with_string_timestamps_and_nested_text() {
    let body =
        br#"[{"timestamp": "1795317117000", "service": "pysvc", "serviceInstance": "pysvc-1",
        "body": {"type": "text", "text": {"text": "a warning"}},
        "traceContext": {"traceId": "t1", "traceSegmentId": "s1", "spanId": 2},
        "tags": {"data": [{"key": "level", "value": "WARNING"}]}}]"#;
    let [line] = logs(body).unwrap().try_into().expect("one line");
    assert_eq!(line.timestamp, 1_795_317_117_000);
    let body = line.body.unwrap();
    assert_eq!(body.r#type, "text");
    assert_eq!(
        body.content,
        Some(LogContent::Text(TextLog {
            text: "a warning".into()
        }))
    );
    assert_eq!(line.trace_context.unwrap().span_id, 2);
    assert_eq!(line.tags.unwrap().data[0].value, "WARNING");

    let bare = br#"{"body": {"json": "{\"a\":1}"}}"#;
    let [line] = logs(bare).unwrap().try_into().expect("one line");
    assert_eq!(
        line.body.unwrap().content,
        Some(LogContent::Json(JsonLog {
            json: "{\"a\":1}".into()
        }))
    );
}

#[test]
fn bodies_of_the_wrong_shape_say_what_was_expected() {
    let err = segments(b"42").unwrap_err().to_string();
    assert_eq!(
        err,
        "expected a segment object or an array of them, found a number"
    );
    let err = segments(b"[1]").unwrap_err().to_string();
    assert_eq!(err, "expected a segment object, found a number");
    assert!(
        logs(b"{not json")
            .unwrap_err()
            .to_string()
            .starts_with("request body is not JSON")
    );
}
