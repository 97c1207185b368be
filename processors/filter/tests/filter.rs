//! The `filter` processor built by its factory from YAML, as the collector builds it, feeding a
//! consumer that records what reaches it.

use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value::Value};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::metrics::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::string_attribute;
use cormorant_core::pdata::trace::span::Event;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::testing::{Recorder, build_processor};
use cormorant_core::{ConfigError, Payload, Processor, Signal};
use std::sync::Arc;

fn build(yaml: &str, signal: Signal) -> Result<(Arc<dyn Processor>, Arc<Recorder>), ConfigError> {
    build_processor(cormorant_processor_filter::factory().as_ref(), yaml, signal)
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![string_attribute("service.name", service)],
        ..Default::default()
    })
}

fn span(name: &str, events: &[&str]) -> Span {
    Span {
        name: name.to_owned(),
        events: events
            .iter()
            .map(|name| Event {
                name: (*name).to_owned(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn traces(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: resource(service),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The string value of the first attribute, the `service.name` every test resource starts with.
fn service_of(resource: Option<Resource>) -> String {
    string_of(&resource.expect("a resource").attributes[0])
}

fn string_of(attribute: &KeyValue) -> String {
    match attribute.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        other => panic!("{} is not a string: {other:?}", attribute.key),
    }
}

/// `(service, span name, event names)` of every span that reached the recorder.
fn spans_seen(recorder: &Recorder) -> Vec<(String, String, Vec<String>)> {
    let mut seen = Vec::new();
    for payload in recorder.take() {
        let Payload::Traces(resources) = payload else {
            panic!("traces stay traces")
        };
        for resource_spans in resources {
            assert!(
                !resource_spans.scope_spans.is_empty(),
                "no empty resource is sent on"
            );
            let service = resource_spans.resource.unwrap().attributes[0].clone();
            let Some(Value::StringValue(service)) = service.value.unwrap().value else {
                panic!("service.name")
            };
            for scope in resource_spans.scope_spans {
                assert!(!scope.spans.is_empty(), "no empty scope is sent on");
                for span in scope.spans {
                    let events = span.events.into_iter().map(|e| e.name).collect();
                    seen.push((service.clone(), span.name, events));
                }
            }
        }
    }
    seen
}

fn seen(service: &str, name: &str, events: &[&str]) -> (String, String, Vec<String>) {
    (
        service.to_owned(),
        name.to_owned(),
        events.iter().map(|e| (*e).to_owned()).collect(),
    )
}

fn sample_traces() -> Payload {
    Payload::Traces(vec![
        traces(
            "checkout",
            vec![
                span("GET /healthz", &[]),
                span("POST /pay", &["exception", "retry"]),
            ],
        ),
        traces("probe", vec![span("GET /healthz", &["exception"])]),
    ])
}

#[tokio::test]
async fn ottl_span_and_span_event_conditions_drop_what_they_match() {
    let (processor, recorder) = build(
        r#"
error_mode: ignore
traces:
  span:
    - 'name == "GET /healthz"'
  spanevent:
    - 'name == "retry"'
"#,
        Signal::Traces,
    )
    .unwrap();
    processor.consume(sample_traces()).await.unwrap();
    assert_eq!(
        spans_seen(&recorder),
        [seen("checkout", "POST /pay", &["exception"])],
        "the probe resource lost its only span and is gone"
    );
}

#[tokio::test]
async fn context_inferred_trace_conditions_pick_span_or_span_event() {
    let (processor, recorder) = build(
        r#"
trace_conditions:
  - 'resource.attributes["service.name"] == "probe"'
  - 'spanevent.name == "exception" and span.name == "POST /pay"'
"#,
        Signal::Traces,
    )
    .unwrap();
    processor.consume(sample_traces()).await.unwrap();
    assert_eq!(
        spans_seen(&recorder),
        [
            seen("checkout", "GET /healthz", &[]),
            seen("checkout", "POST /pay", &["retry"]),
        ]
    );
}

#[tokio::test]
async fn a_payload_with_nothing_left_is_not_sent_on() {
    let (processor, recorder) =
        build("traces: {span: ['IsMatch(name, \".*\")']}", Signal::Traces).unwrap();
    processor.consume(sample_traces()).await.unwrap();
    assert!(recorder.take().is_empty());
}

#[tokio::test]
async fn legacy_span_rules_keep_included_and_drop_excluded() {
    let (processor, recorder) = build(
        r#"
spans:
  include: {match_type: strict, services: [checkout]}
  exclude: {match_type: regexp, span_names: ["health"]}
"#,
        Signal::Traces,
    )
    .unwrap();
    processor.consume(sample_traces()).await.unwrap();
    assert_eq!(
        spans_seen(&recorder),
        [seen("checkout", "POST /pay", &["exception", "retry"])]
    );
}

fn gauge(name: &str, points: &[(&str, f64)]) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(Data::Gauge(Gauge {
            data_points: points
                .iter()
                .map(|(route, value)| NumberDataPoint {
                    attributes: vec![string_attribute("route", *route)],
                    value: Some(number_data_point::Value::AsDouble(*value)),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    }
}

fn metrics(service: &str, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: resource(service),
        scope_metrics: vec![ScopeMetrics {
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn sample_metrics() -> Payload {
    Payload::Metrics(vec![
        metrics(
            "checkout",
            vec![
                gauge("http.latency", &[("/pay", 0.2), ("/metrics", 0.01)]),
                gauge("queue.depth", &[("mail", 3.0)]),
                gauge("probe.only", &[("/metrics", 1.0)]),
            ],
        ),
        metrics("batch", vec![gauge("queue.depth", &[("jobs", 9.0)])]),
    ])
}

/// `(service, metric, routes)` of every metric that reached the recorder.
fn metrics_seen(recorder: &Recorder) -> Vec<(String, String, Vec<String>)> {
    let mut seen = Vec::new();
    for payload in recorder.take() {
        let Payload::Metrics(resources) = payload else {
            panic!("metrics stay metrics")
        };
        for resource_metrics in resources {
            let service = service_of(resource_metrics.resource);
            for scope in resource_metrics.scope_metrics {
                for metric in scope.metrics {
                    let Some(Data::Gauge(gauge)) = metric.data else {
                        panic!("gauge")
                    };
                    let routes = gauge
                        .data_points
                        .into_iter()
                        .map(|point| string_of(&point.attributes[0]))
                        .collect();
                    seen.push((service.clone(), metric.name, routes));
                }
            }
        }
    }
    seen
}

fn metric_seen(service: &str, name: &str, routes: &[&str]) -> (String, String, Vec<String>) {
    seen(service, name, routes)
}

#[tokio::test]
async fn ottl_metric_and_data_point_conditions() {
    let (processor, recorder) = build(
        r#"
metrics:
  metric:
    - 'name == "queue.depth" and resource.attributes["service.name"] == "batch"'
  datapoint:
    - 'attributes["route"] == "/metrics"'
"#,
        Signal::Metrics,
    )
    .unwrap();
    processor.consume(sample_metrics()).await.unwrap();
    assert_eq!(
        metrics_seen(&recorder),
        [
            metric_seen("checkout", "http.latency", &["/pay"]),
            metric_seen("checkout", "queue.depth", &["mail"]),
        ],
        "probe.only lost its only point and is gone; so is the batch resource"
    );
}

#[tokio::test]
async fn legacy_metric_rules_by_name_and_resource_attributes() {
    let (processor, recorder) = build(
        r#"
metrics:
  include:
    match_type: regexp
    metric_names: ["^(http|queue)\\."]
  exclude:
    match_type: strict
    resource_attributes:
      - {key: service.name, value: batch}
"#,
        Signal::Metrics,
    )
    .unwrap();
    processor.consume(sample_metrics()).await.unwrap();
    assert_eq!(
        metrics_seen(&recorder),
        [
            metric_seen("checkout", "http.latency", &["/pay", "/metrics"]),
            metric_seen("checkout", "queue.depth", &["mail"]),
        ]
    );
}

fn log(body: &str, severity_number: i32) -> LogRecord {
    LogRecord {
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.to_owned())),
        }),
        severity_number,
        ..Default::default()
    }
}

fn sample_logs() -> Payload {
    Payload::Logs(vec![ResourceLogs {
        resource: resource("checkout"),
        scope_logs: vec![ScopeLogs {
            log_records: vec![
                log("debug detail", 5),
                log("card number 4111 rejected", 13),
                log("payment failed", 17),
            ],
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn bodies_seen(recorder: &Recorder) -> Vec<String> {
    let mut bodies = Vec::new();
    for payload in recorder.take() {
        let Payload::Logs(resources) = payload else {
            panic!("logs stay logs")
        };
        for record in resources
            .into_iter()
            .flat_map(|r| r.scope_logs)
            .flat_map(|s| s.log_records)
        {
            let Some(Value::StringValue(body)) = record.body.unwrap().value else {
                panic!("body")
            };
            bodies.push(body);
        }
    }
    bodies
}

#[tokio::test]
async fn ottl_log_conditions_and_the_legacy_log_rules() {
    let (processor, recorder) = build(
        r#"
logs:
  log_record:
    - 'severity_number < SEVERITY_NUMBER_INFO'
    - 'IsMatch(body, "card number")'
"#,
        Signal::Logs,
    )
    .unwrap();
    processor.consume(sample_logs()).await.unwrap();
    assert_eq!(bodies_seen(&recorder), ["payment failed"]);

    let (legacy, recorder) = build(
        r#"
logs:
  include:
    match_type: strict
    severity_number: {min: WARN}
  exclude:
    match_type: regexp
    bodies: ["failed$"]
"#,
        Signal::Logs,
    )
    .unwrap();
    legacy.consume(sample_logs()).await.unwrap();
    assert_eq!(bodies_seen(&recorder), ["card number 4111 rejected"]);
}

#[test]
fn configs_that_cannot_work_are_refused_with_the_reason() {
    let cases = [
        (
            "traces: {span: ['attributes[\"x\"] = 1']}",
            Signal::Traces,
            "traces.span: condition",
        ),
        (
            "logs: {log_record: ['name == \"x\"']}",
            Signal::Logs,
            "is not a path of the log context",
        ),
        (
            "traces: {span: ['name == \"x\"']}\nspans: {include: {match_type: strict, services: [a]}}",
            Signal::Traces,
            "cannot use OTTL conditions and spans.include/exclude",
        ),
        (
            "metrics: {include: {match_type: expr, expressions: ['MetricName == \"x\"']}}",
            Signal::Metrics,
            "expr expressions are not supported",
        ),
        ("error_mode: loud", Signal::Logs, "error_mode \"loud\""),
        ("tracez: {}", Signal::Traces, "tracez"),
    ];
    for (yaml, signal, expected) in cases {
        let err = build(yaml, signal).err().expect("refused").to_string();
        assert!(err.contains(expected), "{yaml}: {err}");
    }
}

#[tokio::test]
async fn signals_without_rules_pass_unchanged() {
    let (processor, recorder) = build(
        "logs: {log_record: ['severity_number < 9']}",
        Signal::Traces,
    )
    .unwrap();
    processor.consume(sample_traces()).await.unwrap();
    assert_eq!(recorder.take(), [sample_traces()]);
}
