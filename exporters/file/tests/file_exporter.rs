//! The `file` exporter through its factory, as the service drives it: create per signal, start,
//! consume, shut down, then read what landed on disk.

use cormorant_confmap::{ConfValue, parse_yaml};
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::metrics::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::pdata::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use cormorant_core::{
    ComponentId, ConsumeError, CreateSettings, Exporter, ExporterFactory, Host, Payload, Signal,
};
use prost::Message;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn conf(yaml: &str) -> ConfValue {
    parse_yaml(yaml).expect("test YAML parses")
}

fn create(
    factory: &dyn ExporterFactory,
    id: &str,
    yaml: &str,
    signal: Signal,
) -> Arc<dyn Exporter> {
    factory
        .create(
            CreateSettings {
                id: ComponentId::parse(id).unwrap(),
            },
            &conf(yaml),
            signal,
        )
        .expect("valid config")
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![string_attribute("service.name", "file-test")],
        ..Default::default()
    })
}

fn spans(span_ids: &[u8]) -> Payload {
    Payload::Traces(vec![ResourceSpans {
        resource: resource(),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "scope".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
            spans: span_ids
                .iter()
                .map(|id| Span {
                    trace_id: vec![0x5a; 16],
                    span_id: vec![*id; 8],
                    name: format!("span-{id}"),
                    start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(*id),
                    end_time_unix_nano: 1_700_000_001_000_000_000,
                    attributes: vec![string_attribute("k", "v")],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn metrics() -> Payload {
    Payload::Metrics(vec![ResourceMetrics {
        resource: resource(),
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "temperature".into(),
                unit: "Cel".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        time_unix_nano: 1_700_000_000_000_000_001,
                        value: Some(number_data_point::Value::AsDouble(21.5)),
                        ..Default::default()
                    }],
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn logs() -> Payload {
    Payload::Logs(vec![ResourceLogs {
        resource: resource(),
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord {
                time_unix_nano: 1_700_000_000_000_000_002,
                severity_number: 9,
                severity_text: "INFO".into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("hello\nworld".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

/// Splits a file of 4-byte big-endian length-prefixed messages.
fn framed_messages(bytes: &[u8]) -> Vec<&[u8]> {
    let mut messages = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        messages.push(&rest[4..4 + length]);
        rest = &rest[4 + length..];
    }
    messages
}

#[tokio::test]
async fn all_signals_of_one_id_write_otlp_json_lines_to_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let yaml = format!("path: {}\nflush_interval: 10ms", path.display());
    let factory = cormorant_exporter_file::factory();
    let traces = create(factory.as_ref(), "file", &yaml, Signal::Traces);
    let metrics_exporter = create(factory.as_ref(), "file", &yaml, Signal::Metrics);
    let logs_exporter = create(factory.as_ref(), "file", &yaml, Signal::Logs);
    for exporter in [&traces, &metrics_exporter, &logs_exporter] {
        exporter.start(&Host::default()).await.unwrap();
    }

    traces.consume(spans(&[1, 2])).await.unwrap();
    metrics_exporter.consume(metrics()).await.unwrap();
    logs_exporter.consume(logs()).await.unwrap();
    for exporter in [&traces, &metrics_exporter, &logs_exporter] {
        exporter.shutdown(deadline()).await.unwrap();
    }

    let lines = json_lines(&path);
    assert_eq!(lines.len(), 3, "one line per request: {lines:?}");
    let span = &lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][1];
    assert_eq!(span["traceId"], "5a".repeat(16));
    assert_eq!(span["spanId"], "0202020202020202");
    assert_eq!(span["startTimeUnixNano"], "1700000000000000002");
    assert_eq!(
        lines[0]["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "file-test"
    );
    let point =
        &lines[1]["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0];
    assert_eq!(point["asDouble"], 21.5);
    let record = &lines[2]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(record["body"]["stringValue"], "hello\nworld");
    assert_eq!(record["severityNumber"], 9);

    let decoded: ExportTraceServiceRequest =
        serde_json::from_value(lines[0].clone()).expect("the line is an OTLP JSON request");
    let Payload::Traces(expected) = spans(&[1, 2]) else {
        unreachable!()
    };
    assert_eq!(decoded.resource_spans, expected);
    let decoded: ExportMetricsServiceRequest = serde_json::from_value(lines[1].clone()).unwrap();
    assert_eq!(Payload::Metrics(decoded.resource_metrics), metrics());
    let decoded: ExportLogsServiceRequest = serde_json::from_value(lines[2].clone()).unwrap();
    assert_eq!(Payload::Logs(decoded.resource_logs), logs());
}

#[tokio::test]
async fn proto_format_writes_length_prefixed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.pb");
    let yaml = format!("path: {}\nformat: proto", path.display());
    let exporter = create(
        cormorant_exporter_file::factory().as_ref(),
        "file/proto",
        &yaml,
        Signal::Traces,
    );
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(spans(&[7])).await.unwrap();
    exporter.consume(spans(&[8, 9])).await.unwrap();
    exporter.shutdown(deadline()).await.unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let messages = framed_messages(&bytes);
    assert_eq!(messages.len(), 2);
    let second = ExportTraceServiceRequest::decode(messages[1]).unwrap();
    assert_eq!(Payload::Traces(second.resource_spans), spans(&[8, 9]));
}

#[tokio::test]
async fn zstd_compresses_each_message_behind_a_length_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.zst");
    let yaml = format!("path: {}\ncompression: zstd", path.display());
    let exporter = create(
        cormorant_exporter_file::factory().as_ref(),
        "file",
        &yaml,
        Signal::Logs,
    );
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(logs()).await.unwrap();
    exporter.shutdown(deadline()).await.unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let messages = framed_messages(&bytes);
    assert_eq!(messages.len(), 1);
    let json = zstd::stream::decode_all(messages[0]).unwrap();
    let request: ExportLogsServiceRequest = serde_json::from_slice(&json).unwrap();
    assert_eq!(Payload::Logs(request.resource_logs), logs());
}

#[tokio::test]
async fn truncates_at_start_unless_append_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let earlier = "{\"resourceSpans\":[]}\n";

    for (append, expected_lines) in [(false, 1), (true, 2)] {
        std::fs::write(&path, earlier).unwrap();
        let yaml = format!("path: {}\nappend: {append}", path.display());
        let exporter = create(
            cormorant_exporter_file::factory().as_ref(),
            "file",
            &yaml,
            Signal::Traces,
        );
        exporter.start(&Host::default()).await.unwrap();
        exporter.consume(spans(&[3])).await.unwrap();
        exporter.shutdown(deadline()).await.unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), expected_lines, "append: {append}");
        assert_eq!(text.starts_with(earlier), append, "append: {append}");
    }
}

#[tokio::test]
async fn buffered_data_reaches_the_file_on_the_flush_interval_and_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let factory = cormorant_exporter_file::factory();

    let slow_path = dir.path().join("hourly.json");
    let slow = create(
        factory.as_ref(),
        "file/hourly",
        &format!("path: {}\nflush_interval: 1h", slow_path.display()),
        Signal::Traces,
    );
    let fast_path = dir.path().join("fast.json");
    let fast = create(
        factory.as_ref(),
        "file/fast",
        &format!("path: {}\nflush_interval: 20ms", fast_path.display()),
        Signal::Traces,
    );
    slow.start(&Host::default()).await.unwrap();
    fast.start(&Host::default()).await.unwrap();
    slow.consume(spans(&[1])).await.unwrap();
    fast.consume(spans(&[1])).await.unwrap();

    let waited = Instant::now();
    while std::fs::metadata(&fast_path).unwrap().len() == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "a 20ms flush interval did not write within 5s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        std::fs::metadata(&slow_path).unwrap().len(),
        0,
        "a small write must stay buffered until the hourly flush or shutdown"
    );

    slow.shutdown(deadline()).await.unwrap();
    fast.shutdown(deadline()).await.unwrap();
    assert_eq!(
        json_lines(&slow_path).len(),
        1,
        "shutdown flushes the buffer"
    );
}

#[tokio::test]
async fn concurrent_writes_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let exporter = create(
        cormorant_exporter_file::factory().as_ref(),
        "file",
        &format!("path: {}", path.display()),
        Signal::Traces,
    );
    exporter.start(&Host::default()).await.unwrap();
    let writes = (0..100u8).map(|i| {
        let exporter = Arc::clone(&exporter);
        tokio::spawn(async move { exporter.consume(spans(&[i; 40])).await })
    });
    for write in writes {
        write.await.unwrap().unwrap();
    }
    exporter.shutdown(deadline()).await.unwrap();

    let mut seen: Vec<String> = json_lines(&path)
        .iter()
        .map(|line| {
            let spans = line["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .unwrap();
            assert_eq!(spans.len(), 40);
            spans[0]["spanId"].as_str().unwrap().to_string()
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 100);
}

#[tokio::test]
async fn data_outside_start_and_shutdown_is_refused_for_retry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let exporter = create(
        cormorant_exporter_file::factory().as_ref(),
        "file",
        &format!("path: {}", path.display()),
        Signal::Traces,
    );
    let before = exporter.consume(spans(&[1])).await.unwrap_err();
    assert!(before.is_retryable(), "{before:?}");
    exporter.start(&Host::default()).await.unwrap();
    exporter.shutdown(deadline()).await.unwrap();
    let after = exporter.consume(spans(&[1])).await.unwrap_err();
    assert!(matches!(after, ConsumeError::Refused { .. }), "{after:?}");
}

#[tokio::test]
async fn missing_directory_fails_start_unless_create_directory_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/out.json");
    let factory = cormorant_exporter_file::factory();

    let plain = create(
        factory.as_ref(),
        "file/plain",
        &format!("path: {}", path.display()),
        Signal::Traces,
    );
    let error = plain.start(&Host::default()).await.unwrap_err().to_string();
    assert!(
        error.contains("cannot open") && error.contains("a/b/out.json"),
        "{error}"
    );

    let creating = create(
        factory.as_ref(),
        "file/creating",
        &format!(
            "path: {}\ncreate_directory: true\ndirectory_permissions: \"0700\"",
            path.display()
        ),
        Signal::Traces,
    );
    creating.start(&Host::default()).await.unwrap();
    creating.consume(spans(&[1])).await.unwrap();
    creating.shutdown(deadline()).await.unwrap();
    assert_eq!(json_lines(&path).len(), 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("a/b"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[tokio::test]
async fn a_failed_write_is_a_permanent_error_with_the_path() {
    let exporter = create(
        cormorant_exporter_file::factory().as_ref(),
        "file",
        "path: /dev/full",
        Signal::Logs,
    );
    exporter.start(&Host::default()).await.unwrap();
    let mut large = logs();
    let Payload::Logs(resource_logs) = &mut large else {
        unreachable!()
    };
    let record = resource_logs[0].scope_logs[0].log_records[0].clone();
    resource_logs[0].scope_logs[0].log_records = vec![record; 4000];
    let error = exporter.consume(large).await.unwrap_err();
    match error {
        ConsumeError::Permanent {
            message,
            rejected_items,
        } => {
            assert_eq!(rejected_items, 4000);
            assert!(message.contains("cannot write to /dev/full"), "{message}");
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
    exporter.shutdown(deadline()).await.unwrap();
}

#[test]
fn config_defaults_and_errors_follow_contrib() {
    let factory = cormorant_exporter_file::factory();
    let config: cormorant_exporter_file::FileExporterConfig =
        cormorant_core::parse_config(&conf("path: out.json")).unwrap();
    assert_eq!(config.format, cormorant_exporter_file::Format::Json);
    assert_eq!(
        config.compression,
        cormorant_exporter_file::Compression::None
    );
    assert!(!config.append);
    assert_eq!(config.flush_interval, Duration::from_secs(1));
    let zero: cormorant_exporter_file::FileExporterConfig =
        cormorant_core::parse_config(&conf("path: out.json\nflush_interval: 0s")).unwrap();
    assert_eq!(zero.effective_flush_interval(), Duration::from_secs(1));

    let error = |yaml: &str| factory.validate(&conf(yaml)).unwrap_err().to_string();
    assert_eq!(error("format: json"), "path must be non-empty");
    assert_eq!(error("path: x\npaht: y"), "'' has invalid keys: paht");
    assert!(error("path: x\nformat: xml").contains("format type \"xml\" is not supported"));
    assert!(error("path: x\ncompression: gzip").contains("compression \"gzip\" is not supported"));
    assert_eq!(
        error("path: x\nappend: true\ncompression: zstd"),
        "append and compression enabled at the same time is not supported"
    );
    assert_eq!(
        error("path: x\ndirectory_permissions: \"0755\""),
        "directory_permissions requires create_directory to be true"
    );
    assert!(
        error("path: x\ncreate_directory: true\ndirectory_permissions: \"9\"").contains("octal")
    );
    assert!(error("path: x\nflush_interval: soon").contains("flush_interval"));
    factory
        .validate(&conf(
            "path: x\nformat: proto\ncompression: zstd\nflush_interval: 250ms",
        ))
        .unwrap();
    let meta = factory.meta();
    assert_eq!(meta.ty, "file");
    assert_eq!(meta.signals, &Signal::ALL);
}
