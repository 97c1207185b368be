//! The `transform` processor built by its factory from YAML, as the collector builds it, feeding
//! a consumer that records what reaches it.

use cormorant_core::pdata::common::any_value::Value;
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::metrics::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::span::Event;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::pdata::{int_attribute, string_attribute};
use cormorant_core::testing::{Recorder, attribute, build_processor};
use cormorant_core::{ConfigError, Payload, Processor, Signal};
use std::sync::Arc;

fn build(yaml: &str, signal: Signal) -> Result<(Arc<dyn Processor>, Arc<Recorder>), ConfigError> {
    build_processor(
        cormorant_processor_transform::factory().as_ref(),
        yaml,
        signal,
    )
}

fn text(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

async fn only_payload(
    processor: &Arc<dyn Processor>,
    recorder: &Recorder,
    input: Payload,
) -> Payload {
    processor.consume(input).await.unwrap();
    let mut received = recorder.take();
    assert_eq!(received.len(), 1);
    received.pop().unwrap()
}

fn traces() -> Payload {
    Payload::Traces(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![string_attribute("env", "prod")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![
                Span {
                    name: "GET /users/17".into(),
                    kind: 2,
                    attributes: vec![string_attribute("http.request.header.cookie", "s=1")],
                    events: vec![Event {
                        name: "exception".into(),
                        attributes: vec![string_attribute("exception.stacktrace", "long")],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                Span {
                    name: "SELECT users".into(),
                    kind: 3,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }])
}

#[tokio::test]
async fn statement_groups_edit_resources_spans_and_events_in_order() {
    let (processor, recorder) = build(
        r#"
error_mode: ignore
trace_statements:
  - 'set(resource.attributes["team"], "payments")'
  - 'set(span.attributes["deployment.environment"], resource.attributes["env"])'
  - context: span
    conditions: ['kind == SPAN_KIND_SERVER']
    statements:
      - 'replace_pattern(name, "/users/\\d+", "/users/{id}")'
      - 'delete_key(attributes, "http.request.header.cookie")'
  - 'delete_key(spanevent.attributes, "exception.stacktrace") where spanevent.name == "exception"'
"#,
        Signal::Traces,
    )
    .unwrap();
    let Payload::Traces(resources) = only_payload(&processor, &recorder, traces()).await else {
        panic!("traces")
    };
    let resource = resources[0].resource.as_ref().unwrap();
    assert_eq!(
        attribute(&resource.attributes, "team"),
        Some(&text("payments"))
    );
    let spans = &resources[0].scope_spans[0].spans;
    assert_eq!(spans[0].name, "GET /users/{id}");
    assert_eq!(
        spans[0].attributes,
        vec![string_attribute("deployment.environment", "prod")],
        "the cookie is gone, the environment came from the resource"
    );
    assert!(spans[0].events[0].attributes.is_empty());
    assert_eq!(spans[1].name, "SELECT users", "not a server span");
    assert_eq!(
        attribute(&spans[1].attributes, "deployment.environment"),
        Some(&text("prod"))
    );
}

#[tokio::test]
async fn metrics_and_data_points() {
    let (processor, recorder) = build(
        r#"
metric_statements:
  - context: metric
    statements: ['set(unit, "ms") where name == "latency"']
  - 'set(datapoint.attributes["slow"], true) where datapoint.value_double > 100 and metric.name == "latency"'
"#,
        Signal::Metrics,
    )
    .unwrap();
    let point = |value: f64| NumberDataPoint {
        value: Some(cormorant_core::pdata::metrics::number_data_point::Value::AsDouble(value)),
        ..Default::default()
    };
    let input = Payload::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "latency".into(),
                data: Some(Data::Gauge(Gauge {
                    data_points: vec![point(20.0), point(250.0)],
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    let Payload::Metrics(resources) = only_payload(&processor, &recorder, input).await else {
        panic!("metrics")
    };
    let metric = &resources[0].scope_metrics[0].metrics[0];
    assert_eq!(metric.unit, "ms");
    let Some(Data::Gauge(gauge)) = &metric.data else {
        panic!("gauge")
    };
    assert!(gauge.data_points[0].attributes.is_empty());
    assert_eq!(
        attribute(&gauge.data_points[1].attributes, "slow"),
        Some(&Value::BoolValue(true))
    );
}

#[tokio::test]
async fn log_records() {
    let (processor, recorder) = build(
        r#"
log_statements:
  - 'set(log.severity_number, SEVERITY_NUMBER_ERROR) where log.severity_text == "ERROR"'
  - 'truncate_all(log.attributes, 4)'
"#,
        Signal::Logs,
    )
    .unwrap();
    let input = Payload::Logs(vec![ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord {
                severity_text: "ERROR".into(),
                attributes: vec![string_attribute("trace", "abcdefgh"), int_attribute("n", 7)],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    let Payload::Logs(resources) = only_payload(&processor, &recorder, input).await else {
        panic!("logs")
    };
    let record = &resources[0].scope_logs[0].log_records[0];
    assert_eq!(record.severity_number, 17);
    assert_eq!(attribute(&record.attributes, "trace"), Some(&text("abcd")));
    assert_eq!(
        attribute(&record.attributes, "n"),
        Some(&Value::IntValue(7))
    );
}

#[test]
fn configs_that_cannot_work_are_refused_with_the_reason() {
    let cases = [
        (
            "trace_statements: ['set(span.attributes[\"a\"], \"b\") where']",
            "trace_statements[0]: statement",
        ),
        (
            "trace_statements: [{context: scope, statements: []}]",
            "context \"scope\" is not one of resource, span, spanevent here",
        ),
        (
            "log_statements: [{context: log, statements: ['flatten(attributes)']}]",
            "editor flatten is not supported",
        ),
        (
            "metric_statements: [42]",
            "each entry is a statement or a group",
        ),
        ("error_mode: loud", "error_mode \"loud\""),
        (
            "trace_statements: [{context: span, statements: [], colour: red}]",
            "colour",
        ),
    ];
    for (yaml, expected) in cases {
        let err = build(yaml, Signal::Traces)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(expected), "{yaml}: {err}");
    }
}
