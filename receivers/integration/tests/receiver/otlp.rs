//! OTLP/HTTP routes: APISIX-shaped trace requests (pre-1.0 field names, no `service.name`) and
//! plain OTLP/HTTP.

use super::{send_with, start};
use cormorant_core::ConsumeError;
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::Span;
use cormorant_core::pdata::{ExportTraceServiceResponse, Payload};
use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;
use std::io::Write;
use std::time::Duration;

/// The request as an old OTLP sender (APISIX's bundled proto) encodes it: field 2 of
/// `ResourceSpans` was `instrumentation_library_spans` before it became `scope_spans`.
#[derive(Clone, PartialEq, Message)]
struct OldTracesData {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<OldResourceSpans>,
}

#[derive(Clone, PartialEq, Message)]
struct OldResourceSpans {
    #[prost(message, optional, tag = "1")]
    resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    instrumentation_library_spans: Vec<OldInstrumentationLibrarySpans>,
}

#[derive(Clone, PartialEq, Message)]
struct OldInstrumentationLibrarySpans {
    #[prost(message, optional, tag = "1")]
    instrumentation_library: Option<OldInstrumentationLibrary>,
    #[prost(message, repeated, tag = "2")]
    spans: Vec<Span>,
}

#[derive(Clone, PartialEq, Message)]
struct OldInstrumentationLibrary {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    version: String,
}

fn apisix_request() -> Vec<u8> {
    OldTracesData {
        resource_spans: vec![OldResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "hostname".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("gw-1".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            instrumentation_library_spans: vec![OldInstrumentationLibrarySpans {
                instrumentation_library: Some(OldInstrumentationLibrary {
                    name: "opentelemetry-lua".into(),
                    version: "0.1.1".into(),
                }),
                spans: vec![Span {
                    trace_id: vec![7; 16],
                    span_id: vec![9; 8],
                    name: "GET /orders".into(),
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_500_000_000,
                    ..Default::default()
                }],
            }],
        }],
    }
    .encode_to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

#[tokio::test]
async fn apisix_traces_with_old_field_names_get_200_and_a_service_name() {
    let running = start(1 << 20).await;
    let plain = apisix_request();
    let cases = [
        ("/api/v1/otel/trace", false),
        ("/api/v1/otel/trace", true),
        ("/api/v1/otel/trace/v1/traces", false),
        ("/api/v1/otel/trace/v1/traces", true),
    ];
    for (path, compressed) in cases {
        let mut headers = vec![("content-type", "application/x-protobuf")];
        let body = if compressed {
            headers.push(("content-encoding", "gzip"));
            gzip(&plain)
        } else {
            plain.clone()
        };
        let reply = send_with(running.addr, "POST", path, &headers, body).await;
        assert_eq!(
            reply.status, 200,
            "{path} gzip={compressed}: {}",
            reply.body
        );
        assert_eq!(reply.headers["content-type"], "application/x-protobuf");
        assert_eq!(
            ExportTraceServiceResponse::decode(reply.raw.clone()).unwrap(),
            ExportTraceServiceResponse::default()
        );
    }
    let payloads = running.recorder.payloads();
    assert_eq!(payloads.len(), cases.len(), "each request arrives once");
    for payload in payloads {
        let Payload::Traces(resources) = payload else {
            panic!("expected traces, got {payload:?}");
        };
        assert_eq!(resources.len(), 1);
        let attributes = &resources[0].resource.as_ref().unwrap().attributes;
        assert_eq!(
            string_attribute(attributes, "service.name"),
            Some("unknown_service")
        );
        assert_eq!(
            string_attribute(attributes, "service.instance.id"),
            Some("127.0.0.1"),
            "the sender's address tells gateway nodes apart"
        );
        assert_eq!(string_attribute(attributes, "hostname"), Some("gw-1"));
        let scope = &resources[0].scope_spans[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "opentelemetry-lua");
        assert_eq!(scope.spans[0].name, "GET /orders");
        assert_eq!(scope.spans[0].trace_id, vec![7; 16]);
    }
    running.stop().await;
}

#[tokio::test]
async fn json_traces_with_old_field_names_keep_their_service_identity() {
    let running = start(1 << 20).await;
    let body = serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "checkout"}},
                {"key": "service.instance.id", "value": {"stringValue": "checkout-1"}}
            ]},
            "instrumentationLibrarySpans": [{
                "instrumentationLibrary": {"name": "old-sdk"},
                "spans": [{
                    "traceId": "0102030405060708090a0b0c0d0e0f10",
                    "spanId": "0102030405060708",
                    "name": "pay",
                }]
            }]
        }]
    });
    let reply = send_with(
        running.addr,
        "POST",
        "/v1/traces",
        &[("content-type", "application/json")],
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "{}");
    let payloads = running.recorder.payloads();
    let [Payload::Traces(resources)] = payloads.as_slice() else {
        panic!("expected one traces payload, got {payloads:?}");
    };
    let attributes = &resources[0].resource.as_ref().unwrap().attributes;
    assert_eq!(attributes.len(), 2);
    assert_eq!(
        string_attribute(attributes, "service.name"),
        Some("checkout")
    );
    assert_eq!(
        string_attribute(attributes, "service.instance.id"),
        Some("checkout-1")
    );
    assert_eq!(
        resources[0].scope_spans[0].scope.as_ref().unwrap().name,
        "old-sdk"
    );
    assert_eq!(resources[0].scope_spans[0].spans[0].name, "pay");
    running.stop().await;
}

#[tokio::test]
async fn otlp_errors_use_the_shared_mapping() {
    let running = start(1 << 20).await;
    let protobuf = [("content-type", "application/x-protobuf")];
    let reply = send_with(
        running.addr,
        "POST",
        "/api/v1/otel/trace",
        &protobuf,
        vec![0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(reply.status, 400);

    let reply = send_with(running.addr, "GET", "/v1/logs", &protobuf, Vec::new()).await;
    assert_eq!(reply.status, 405);

    *running.recorder.answer.lock().unwrap() = Some(ConsumeError::Refused {
        message: "memory limit".into(),
        retry_after: Some(Duration::from_secs(2)),
        throttled: false,
    });
    let reply = send_with(
        running.addr,
        "POST",
        "/api/v1/otel/trace",
        &protobuf,
        apisix_request(),
    )
    .await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.headers["retry-after"], "2");
    running.stop().await;
}
