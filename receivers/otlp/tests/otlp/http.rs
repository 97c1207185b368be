//! OTLP/HTTP with a real HTTP/1.1 client.

use crate::common::{
    JSON, PROTOBUF, Recorder, SPAN_ID, TRACE_ID, counter, logs, metrics, post, send, start, traces,
};
use cormorant_core::pdata::{
    ExportLogsServiceResponse, ExportMetricsServiceResponse, ExportTracePartialSuccess,
    ExportTraceServiceResponse,
};
use cormorant_core::{ConsumeError, Payload};
use prost::Message;
use std::io::Write;
use std::time::Duration;

/// `google.rpc.Status` as far as the tests read it.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn protobuf_requests_arrive_unchanged_with_protobuf_answers() {
    let recorder = Recorder::new();
    let running = start(
        "http-proto",
        &recorder,
        &["traces", "metrics", "logs"],
        serde_json::json!({}),
    )
    .await;
    let reply = post(
        running.http,
        "/v1/traces",
        PROTOBUF,
        traces().encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some(PROTOBUF));
    assert_eq!(
        ExportTraceServiceResponse::decode(reply.body.clone()).unwrap(),
        ExportTraceServiceResponse::default()
    );
    let reply = post(
        running.http,
        "/v1/metrics",
        PROTOBUF,
        metrics().encode_to_vec(),
    )
    .await;
    assert_eq!(
        ExportMetricsServiceResponse::decode(reply.body.clone()).unwrap(),
        ExportMetricsServiceResponse::default()
    );
    let reply = send(
        running.http,
        "POST",
        "/v1/logs",
        &[
            ("content-type", "application/x-protobuf; charset=utf-8"),
            ("content-encoding", "gzip"),
        ],
        gzip(&logs().encode_to_vec()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        ExportLogsServiceResponse::decode(reply.body.clone()).unwrap(),
        ExportLogsServiceResponse::default()
    );
    assert_eq!(
        recorder.received(),
        vec![
            Payload::from(traces()),
            Payload::from(metrics()),
            Payload::from(logs())
        ]
    );
    assert_eq!(
        counter("otelcol_receiver_accepted_spans", "otlp/http-proto", "http"),
        2
    );
    running.stop().await;
}

/// What an SDK might send: snake_case keys, enum names, numbers as strings, upper-case hex.
const SDK_JSON: &str = r#"{
  "resource_spans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
    "scope_spans": [{
      "scope": {"name": "io.opentelemetry.http", "version": "1.2.0"},
      "spans": [{
        "trace_id": "5B8EFFF798038103D269B633813FC60C",
        "span_id": "eee19b7ec3c1b174",
        "parentSpanId": "",
        "name": "GET /cart",
        "kind": "SPAN_KIND_SERVER",
        "start_time_unix_nano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "attributes": [
          {"key": "http.status_code", "value": {"intValue": "200"}},
          {"key": "retries", "value": {"intValue": 3}},
          {"key": "ratio", "value": {"doubleValue": 0.25}},
          {"key": "payload", "value": {"bytesValue": "aGVsbG8"}},
          {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"boolValue": true}]}}},
          {"key": "nested", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}}
        ],
        "dropped_attributes_count": 2,
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
        "someFutureField": {"ignored": true}
      }]
    }]
  }]
}"#;

#[tokio::test]
async fn sdk_style_json_is_decoded_exactly_and_answered_in_json() {
    let recorder = Recorder::new();
    let running = start("http-json", &recorder, &["traces"], serde_json::json!({})).await;
    let reply = post(running.http, "/v1/traces", JSON, SDK_JSON).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some(JSON));
    assert_eq!(reply.json(), serde_json::json!({}));

    let received = recorder.received();
    let [Payload::Traces(resource_spans)] = received.as_slice() else {
        panic!("expected one traces payload, got {received:?}");
    };
    let scope_spans = &resource_spans[0].scope_spans[0];
    assert_eq!(scope_spans.scope.as_ref().unwrap().version, "1.2.0");
    let span = &scope_spans.spans[0];
    assert_eq!(span.trace_id, TRACE_ID);
    assert_eq!(span.span_id, SPAN_ID);
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.kind, 2);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(span.dropped_attributes_count, 2);
    assert_eq!(span.status.as_ref().unwrap().code, 2);
    use cormorant_core::pdata::common::any_value::Value;
    let values: Vec<_> = span
        .attributes
        .iter()
        .map(|kv| kv.value.as_ref().unwrap().value.clone().unwrap())
        .collect();
    assert_eq!(values[0], Value::IntValue(200));
    assert_eq!(values[1], Value::IntValue(3));
    assert_eq!(values[2], Value::DoubleValue(0.25));
    assert_eq!(values[3], Value::BytesValue(b"hello".to_vec()));
    let Value::ArrayValue(array) = &values[4] else {
        panic!("{:?}", values[4])
    };
    assert_eq!(array.values.len(), 2);
    let Value::KvlistValue(list) = &values[5] else {
        panic!("{:?}", values[5])
    };
    assert_eq!(list.values[0].key, "k");
    running.stop().await;
}

#[tokio::test]
async fn wrong_method_type_and_path_are_refused() {
    let recorder = Recorder::new();
    let running = start("http-refuse", &recorder, &["traces"], serde_json::json!({})).await;

    let reply = send(running.http, "GET", "/v1/traces", &[], "").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.text(), "405 method not allowed, supported: [POST]");
    assert_eq!(reply.header("allow"), Some("POST"));
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );

    let reply = post(running.http, "/v1/traces", "text/plain", "hello").await;
    assert_eq!(reply.status, 415);
    assert!(
        reply.text().contains("application/x-protobuf"),
        "{}",
        reply.text()
    );

    let reply = post(running.http, "/v1/logs", PROTOBUF, logs().encode_to_vec()).await;
    assert_eq!(reply.status, 404, "logs have no pipeline here");
    let reply = post(running.http, "/v2/anything", PROTOBUF, "").await;
    assert_eq!(reply.status, 404);
    assert!(recorder.received().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn undecodable_bodies_are_400_with_a_status_in_the_request_encoding() {
    let recorder = Recorder::new();
    let running = start("http-bad", &recorder, &["traces"], serde_json::json!({})).await;

    let reply = post(
        running.http,
        "/v1/traces",
        PROTOBUF,
        vec![0xff, 0xff, 0xff, 0x01],
    )
    .await;
    assert_eq!(reply.status, 400);
    let status = RpcStatus::decode(reply.body.clone()).unwrap();
    assert_eq!(status.code, tonic::Code::InvalidArgument as i32);
    assert!(status.message.contains("protobuf"), "{}", status.message);

    let reply = post(running.http, "/v1/traces", JSON, "{\"resourceSpans\": [").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );

    let bad_id = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc","spanId":"eee19b7ec3c1b174"}]}]}]}"#;
    let reply = post(running.http, "/v1/traces", JSON, bad_id).await;
    assert_eq!(reply.status, 400);
    let json = reply.json();
    assert_eq!(json["code"], 3);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("resourceSpans[0].scopeSpans[0].spans[0].traceId"),
        "{message}"
    );

    let reply = send(
        running.http,
        "POST",
        "/v1/traces",
        &[("content-type", PROTOBUF), ("content-encoding", "br")],
        "x",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        RpcStatus::decode(reply.body.clone())
            .unwrap()
            .message
            .contains("unsupported Content-Encoding: br")
    );
    assert!(recorder.received().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn oversized_bodies_and_gzip_bombs_are_413() {
    let recorder = Recorder::new();
    let running = start(
        "http-limit",
        &recorder,
        &["traces"],
        serde_json::json!({"http": {"max_request_body_size": 64 * 1024}}),
    )
    .await;
    let reply = post(running.http, "/v1/traces", PROTOBUF, vec![0u8; 65 * 1024]).await;
    assert_eq!(reply.status, 413);

    let bomb = gzip(&vec![b' '; 16 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let reply = send(
        running.http,
        "POST",
        "/v1/traces",
        &[("content-type", JSON), ("content-encoding", "gzip")],
        bomb,
    )
    .await;
    assert_eq!(reply.status, 413);
    assert!(reply.json()["message"].as_str().unwrap().contains("65536"));
    assert!(recorder.received().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn back_pressure_is_503_or_429_with_retry_after() {
    let recorder = Recorder::new();
    let running = start(
        "http-refused",
        &recorder,
        &["traces"],
        serde_json::json!({}),
    )
    .await;
    let body = traces().encode_to_vec();

    recorder.fail_with(ConsumeError::Refused {
        message: "queue full".into(),
        retry_after: Some(Duration::from_secs(4)),
        throttled: false,
    });
    let reply = post(running.http, "/v1/traces", PROTOBUF, body.clone()).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("4"));
    let status = RpcStatus::decode(reply.body.clone()).unwrap();
    assert_eq!(status.code, tonic::Code::Unavailable as i32);
    assert_eq!(status.message, "queue full");

    recorder.fail_with(ConsumeError::throttled(
        "slow down",
        Duration::from_millis(1500),
    ));
    let reply = post(running.http, "/v1/traces", JSON, SDK_JSON).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(reply.json()["details"][0]["retryDelay"], "1.5s");

    recorder.fail_with(ConsumeError::unavailable("exporter down"));
    let reply = post(running.http, "/v1/traces", PROTOBUF, body).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), None);
    assert_eq!(
        counter(
            "otelcol_receiver_refused_spans",
            "otlp/http-refused",
            "http"
        ),
        5
    );
    running.stop().await;
}

#[tokio::test]
async fn partial_rejection_is_a_partial_success_in_both_encodings() {
    let recorder = Recorder::new();
    let running = start(
        "http-partial",
        &recorder,
        &["traces"],
        serde_json::json!({}),
    )
    .await;
    recorder.fail_with(ConsumeError::permanent("span too large", 1));

    let reply = post(
        running.http,
        "/v1/traces",
        PROTOBUF,
        traces().encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        ExportTraceServiceResponse::decode(reply.body.clone())
            .unwrap()
            .partial_success,
        Some(ExportTracePartialSuccess {
            rejected_spans: 1,
            error_message: "span too large".into(),
        })
    );

    let two_spans = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"name": "a"}, {"name": "b"}
    ]}]}]});
    let reply = post(running.http, "/v1/traces", JSON, two_spans.to_string()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        serde_json::json!({"partialSuccess": {"rejectedSpans": "1", "errorMessage": "span too large"}})
    );

    recorder.fail_with(ConsumeError::permanent("nothing valid", 2));
    let reply = post(running.http, "/v1/traces", JSON, two_spans.to_string()).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["message"], "nothing valid");
    running.stop().await;
}

#[tokio::test]
async fn custom_paths_response_headers_and_compression_list_apply() {
    let recorder = Recorder::new();
    let running = start(
        "http-custom",
        &recorder,
        &["traces", "metrics"],
        serde_json::json!({"http": {
            "traces_url_path": "ingest/spans",
            "response_headers": {"X-Collector": "cormorant"},
            "compression_algorithms": ["zstd"],
        }}),
    )
    .await;
    let reply = post(
        running.http,
        "/ingest/spans",
        PROTOBUF,
        traces().encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-collector"), Some("cormorant"));
    assert_eq!(
        post(running.http, "/v1/traces", PROTOBUF, "").await.status,
        404
    );
    let reply = send(
        running.http,
        "POST",
        "/v1/metrics",
        &[("content-type", PROTOBUF), ("content-encoding", "gzip")],
        gzip(&metrics().encode_to_vec()),
    )
    .await;
    assert_eq!(reply.status, 400, "gzip is not in compression_algorithms");
    assert_eq!(reply.header("x-collector"), Some("cormorant"));
    running.stop().await;
}

async fn preflight(
    addr: std::net::SocketAddr,
    origin: &str,
    headers: &str,
) -> crate::common::Reply {
    send(
        addr,
        "OPTIONS",
        "/v1/traces",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", headers),
        ],
        "",
    )
    .await
}

#[tokio::test]
async fn cors_preflight_and_responses_follow_allowed_origins() {
    let recorder = Recorder::new();
    let running = start(
        "http-cors",
        &recorder,
        &["traces"],
        serde_json::json!({"http": {"cors": {
            "allowed_origins": ["https://*.shop.example"],
            "allowed_headers": ["X-Tenant"],
            "max_age": 600,
        }}}),
    )
    .await;
    let reply = preflight(
        running.http,
        "https://web.shop.example",
        "content-type, x-tenant",
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://web.shop.example")
    );
    assert_eq!(reply.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(reply.header("access-control-max-age"), Some("600"));

    let reply = preflight(running.http, "https://evil.example", "content-type").await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let reply = preflight(running.http, "https://web.shop.example", "x-secret").await;
    assert_eq!(reply.header("access-control-allow-origin"), None);

    let reply = send(
        running.http,
        "POST",
        "/v1/traces",
        &[
            ("content-type", JSON),
            ("origin", "https://web.shop.example"),
        ],
        "{}",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://web.shop.example")
    );
    running.stop().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_export_finish() {
    struct Slow;
    #[async_trait::async_trait]
    impl cormorant_core::Consumer for Slow {
        async fn consume(&self, _payload: Payload) -> Result<(), ConsumeError> {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }
    }
    let consumers = cormorant_core::ReceiverConsumers {
        traces: Some(std::sync::Arc::new(Slow)),
        ..Default::default()
    };
    let config = cormorant_core::parse_config(&crate::common::conf(serde_json::json!({
        "protocols": {"http": {"endpoint": "127.0.0.1:0"}}
    })))
    .unwrap();
    let receiver = cormorant_receiver_otlp::OtlpReceiver::new(
        cormorant_core::ComponentId::parse("otlp/http-drain").unwrap(),
        config,
        consumers,
    );
    use cormorant_core::Lifecycle;
    receiver
        .start(&cormorant_core::Host::default())
        .await
        .unwrap();
    let addr = receiver.http_addr().await.unwrap();
    let export = tokio::spawn(post(addr, "/v1/traces", PROTOBUF, traces().encode_to_vec()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    receiver
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(export.await.unwrap().status, 200);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn large_bodies_are_decoded_off_the_request_thread_with_the_same_result() {
    let recorder = Recorder::new();
    let running = start("http-large", &recorder, &["traces"], serde_json::json!({})).await;
    let mut large = traces();
    large.resource_spans[0].scope_spans[0].spans[0].name = "n".repeat(300 * 1024);
    let reply = post(running.http, "/v1/traces", PROTOBUF, large.encode_to_vec()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = send(
        running.http,
        "POST",
        "/v1/traces",
        &[("content-type", PROTOBUF), ("content-encoding", "gzip")],
        gzip(&large.encode_to_vec()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let garbage = vec![0xffu8; 100 * 1024];
    let reply = post(running.http, "/v1/traces", PROTOBUF, garbage).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        recorder.received(),
        vec![Payload::from(large.clone()), Payload::from(large)]
    );
    running.stop().await;
}
