//! The `attributes` processor built by its factory from YAML, as the collector builds it, feeding
//! a consumer that records what reaches it.

use cormorant_core::pdata::common::{InstrumentationScope, KeyValue, any_value::Value};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::metrics::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    metric::Data,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::string_attribute;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::testing::{Recorder, attribute, build_processor};
use cormorant_core::{ConfigError, Payload, Processor, Signal};
use std::sync::Arc;

fn build(yaml: &str, signal: Signal) -> Result<(Arc<dyn Processor>, Arc<Recorder>), ConfigError> {
    build_processor(
        cormorant_processor_attributes::factory().as_ref(),
        yaml,
        signal,
    )
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![string_attribute("service.name", service)],
        ..Default::default()
    })
}

fn named_span(name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        name: name.to_owned(),
        attributes,
        ..Default::default()
    }
}

fn traces(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: resource(service),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "tests".into(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn only_payload(recorder: &Recorder) -> Payload {
    let mut received = recorder.take();
    assert_eq!(received.len(), 1, "one payload passed on");
    received.pop().unwrap()
}

#[tokio::test]
async fn actions_apply_to_the_spans_include_and_exclude_select() {
    let (processor, recorder) = build(
        r#"
include:
  match_type: strict
  services: [checkout]
exclude:
  match_type: regexp
  span_names: ["^GET /health"]
actions:
  - {key: team, value: payments, action: insert}
  - {key: user.email, action: hash}
  - {key: http.url, pattern: '^https?://[^/]+(?P<route>/[^?]*)', action: extract}
"#,
        Signal::Traces,
    )
    .unwrap();
    let checkout = traces(
        "checkout",
        vec![
            named_span(
                "POST /pay",
                vec![
                    string_attribute("user.email", "user@example.com"),
                    string_attribute("http.url", "https://shop.example/pay?card=1"),
                ],
            ),
            named_span("GET /healthz", vec![]),
        ],
    );
    let search = traces(
        "search",
        vec![named_span(
            "GET /q",
            vec![string_attribute("user.email", "a@b")],
        )],
    );
    processor
        .consume(Payload::Traces(vec![checkout, search]))
        .await
        .unwrap();

    let Payload::Traces(resources) = only_payload(&recorder) else {
        panic!("traces stay traces");
    };
    let pay = &resources[0].scope_spans[0].spans[0];
    assert_eq!(
        attribute(&pay.attributes, "team"),
        Some(&Value::StringValue("payments".into()))
    );
    assert_eq!(
        attribute(&pay.attributes, "user.email"),
        Some(&Value::StringValue(
            "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514".into()
        ))
    );
    assert_eq!(
        attribute(&pay.attributes, "route"),
        Some(&Value::StringValue("/pay".into()))
    );
    let health = &resources[0].scope_spans[0].spans[1];
    assert!(health.attributes.is_empty(), "excluded by span name");
    let other_service = &resources[1].scope_spans[0].spans[0];
    assert_eq!(
        other_service.attributes,
        vec![string_attribute("user.email", "a@b")],
        "not included"
    );
}

#[tokio::test]
async fn log_records_and_every_data_point_type_are_processed() {
    let yaml =
        "actions: [{key: cluster, value: eu-1, action: upsert}, {key: secret, action: delete}]";
    let (logs_processor, logs) = build(yaml, Signal::Logs).unwrap();
    let record = LogRecord {
        attributes: vec![
            string_attribute("secret", "s"),
            string_attribute("cluster", "old"),
        ],
        ..Default::default()
    };
    logs_processor
        .consume(Payload::Logs(vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }]))
        .await
        .unwrap();
    let Payload::Logs(resources) = only_payload(&logs) else {
        panic!("logs stay logs");
    };
    assert_eq!(
        resources[0].scope_logs[0].log_records[0].attributes,
        vec![string_attribute("cluster", "eu-1")]
    );

    let (metrics_processor, metrics) = build(yaml, Signal::Metrics).unwrap();
    let gauge = Metric {
        name: "queue.depth".into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: vec![string_attribute("secret", "s")],
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "latency".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint::default(), HistogramDataPoint::default()],
            ..Default::default()
        })),
        ..Default::default()
    };
    metrics_processor
        .consume(Payload::Metrics(vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![gauge, histogram],
                ..Default::default()
            }],
            ..Default::default()
        }]))
        .await
        .unwrap();
    let Payload::Metrics(resources) = only_payload(&metrics) else {
        panic!("metrics stay metrics");
    };
    let metrics = &resources[0].scope_metrics[0].metrics;
    let Some(Data::Gauge(gauge)) = &metrics[0].data else {
        panic!("gauge")
    };
    assert_eq!(
        gauge.data_points[0].attributes,
        vec![string_attribute("cluster", "eu-1")]
    );
    let Some(Data::Histogram(histogram)) = &metrics[1].data else {
        panic!("histogram")
    };
    for point in &histogram.data_points {
        assert_eq!(point.attributes, vec![string_attribute("cluster", "eu-1")]);
    }
}

#[tokio::test]
async fn metrics_are_selected_by_metric_name() {
    let yaml = r#"
include: {match_type: regexp, metric_names: ["^http\\."]}
actions: [{key: picked, value: true, action: insert}]
"#;
    let (processor, recorder) = build(yaml, Signal::Metrics).unwrap();
    let gauge = |name: &str| Metric {
        name: name.to_owned(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint::default()],
        })),
        ..Default::default()
    };
    processor
        .consume(Payload::Metrics(vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![gauge("http.server.duration"), gauge("db.pool.size")],
                ..Default::default()
            }],
            ..Default::default()
        }]))
        .await
        .unwrap();
    let Payload::Metrics(resources) = only_payload(&recorder) else {
        panic!("metrics stay metrics");
    };
    let points = |index: usize| match &resources[0].scope_metrics[0].metrics[index].data {
        Some(Data::Gauge(gauge)) => gauge.data_points[0].attributes.clone(),
        _ => panic!("gauge"),
    };
    assert_eq!(
        attribute(&points(0), "picked"),
        Some(&Value::BoolValue(true))
    );
    assert!(points(1).is_empty());
}

#[test]
fn configs_otelcol_refuses_are_refused_with_the_reason() {
    let cases = [
        ("{}", "missing required field \"actions\""),
        (
            "actions: [{key: a, action: insert}]",
            "actions[0]: action \"insert\" needs exactly one",
        ),
        (
            "actions: [{key: a, action: delete}]\ninclude: {services: [x]}",
            "include: \"match_type\" is required",
        ),
        ("actions: [{key: a, action: delete}]\nfoo: 1", "foo"),
    ];
    for (yaml, expected) in cases {
        let err = build(yaml, Signal::Traces)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(expected), "{yaml}: {err}");
    }
}

#[test]
fn blocks_are_checked_against_the_pipeline_signal() {
    let yaml =
        "actions: [{key: a, action: delete}]\ninclude: {match_type: strict, span_names: [x]}";
    assert!(build(yaml, Signal::Traces).is_ok());
    let err = build(yaml, Signal::Logs)
        .err()
        .expect("refused for logs")
        .to_string();
    assert!(
        err.contains("attributes/test for logs: include: services, span_names and span_kinds"),
        "{err}"
    );
}
