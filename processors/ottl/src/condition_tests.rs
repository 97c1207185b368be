use super::*;
use crate::fields::{MetricShape, Point};
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, KeyValueList};
use cormorant_core::pdata::logs::LogRecord;
use cormorant_core::pdata::metrics::{Gauge, Metric, NumberDataPoint, Sum, number_data_point};
use cormorant_core::pdata::trace::span::Event;
use cormorant_core::pdata::trace::{Span, Status};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn span() -> Span {
    Span {
        name: "GET /healthz".into(),
        kind: 2,
        trace_id: vec![0xab; 16],
        span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        status: Some(Status {
            code: 2,
            message: "boom".into(),
        }),
        attributes: vec![
            text("http.route", "/healthz"),
            kv("http.response.status_code", any_value::Value::IntValue(503)),
            kv("ratio", any_value::Value::DoubleValue(0.25)),
            kv("cached", any_value::Value::BoolValue(false)),
            kv(
                "labels",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![text("a", "b")],
                }),
            ),
        ],
        ..Default::default()
    }
}

const RESOURCE: &[&str] = &["service.name", "checkout"];

fn resource() -> Vec<KeyValue> {
    vec![text(RESOURCE[0], RESOURCE[1])]
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "io.opentelemetry.http".into(),
        version: "2.0".into(),
        ..Default::default()
    }
}

/// Whether `condition`, compiled for spans, holds for the test span.
fn on_span(condition: &str) -> bool {
    let resource = resource();
    let scope = scope();
    let span = span();
    let item = Item {
        resource: &resource,
        scope: Some(&scope),
        kind: ItemKind::Span(&span),
    };
    Condition::compile(condition, Context::Span)
        .unwrap_or_else(|err| panic!("{err}"))
        .matches(&item)
}

#[test]
fn span_paths_compare_as_otel_values() {
    let holds = [
        r#"name == "GET /healthz""#,
        r#"span.name == "GET /healthz""#,
        "kind == SPAN_KIND_SERVER",
        "status.code == STATUS_CODE_ERROR",
        r#"status.message == "boom""#,
        r#"attributes["http.route"] == "/healthz""#,
        r#"attributes["http.response.status_code"] >= 500"#,
        r#"attributes["http.response.status_code"] > 502.5"#,
        r#"attributes["ratio"] < 1"#,
        r#"attributes["cached"] == false"#,
        r#"attributes["missing"] == nil"#,
        r#"attributes["missing"] != "x""#,
        r#"resource.attributes["service.name"] == "checkout""#,
        r#"instrumentation_scope.name == "io.opentelemetry.http""#,
        r#"scope.version == "2.0""#,
        r#"trace_id.string == "abababababababababababababababab""#,
        r#"span_id.string == "0102030405060708""#,
        "end_time_unix_nano == 5000",
    ];
    for condition in holds {
        assert!(on_span(condition), "{condition}");
    }
    let fails = [
        r#"name == "GET /""#,
        "kind == SPAN_KIND_CLIENT",
        r#"attributes["http.response.status_code"] == "503""#,
        r#"attributes["http.route"] > 5"#,
        r#"attributes["cached"] < true"#,
        r#"attributes["missing"] == """#,
        r#"attributes["labels"] == "a""#,
    ];
    for condition in fails {
        assert!(!on_span(condition), "{condition}");
    }
}

#[test]
fn boolean_operators_and_functions() {
    assert!(on_span(
        r#"IsMatch(name, "^GET /health") and not IsMatch(attributes["http.route"], "admin")"#
    ));
    assert!(on_span(
        r#"name == "x" or (kind == 2 and status.code != 0)"#
    ));
    assert!(!on_span(r#"not (name == "GET /healthz")"#));
    assert!(on_span(
        r#"IsMatch(attributes["http.response.status_code"], "^5")"#
    ));
    assert!(!on_span(r#"IsMatch(attributes["missing"], ".*")"#));
    assert!(on_span(
        r#"IsMap(attributes["labels"]) and IsInt(attributes["http.response.status_code"])"#
    ));
    assert!(on_span(
        r#"IsString(name) and IsDouble(attributes["ratio"]) and IsBool(attributes["cached"])"#
    ));
    assert!(!on_span(r#"IsList(attributes["labels"])"#));
}

#[test]
fn span_events_see_their_span() {
    let span = span();
    let event = Event {
        name: "exception".into(),
        time_unix_nano: 2_000,
        attributes: vec![text("exception.type", "Timeout")],
        ..Default::default()
    };
    let item = Item {
        resource: &[],
        scope: None,
        kind: ItemKind::SpanEvent(&span, &event),
    };
    let holds = |text: &str| {
        Condition::compile(text, Context::SpanEvent)
            .unwrap_or_else(|err| panic!("{err}"))
            .matches(&item)
    };
    assert!(holds(
        r#"name == "exception" and attributes["exception.type"] == "Timeout""#
    ));
    assert!(holds(
        r#"spanevent.name == "exception" and span.name == "GET /healthz""#
    ));
    assert!(holds(
        "time_unix_nano == 2000 and span.kind == SPAN_KIND_SERVER"
    ));
}

#[test]
fn log_records_by_severity_body_and_attributes() {
    let record = LogRecord {
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("user password reset".into())),
        }),
        attributes: vec![text("component", "auth")],
        ..Default::default()
    };
    let item = Item {
        resource: &[],
        scope: None,
        kind: ItemKind::Log(&record),
    };
    let holds = |text: &str| {
        Condition::compile(text, Context::Log)
            .unwrap_or_else(|err| panic!("{err}"))
            .matches(&item)
    };
    assert!(holds("severity_number < SEVERITY_NUMBER_WARN"));
    assert!(holds(
        "severity_number >= SEVERITY_NUMBER_INFO and severity_number < SEVERITY_NUMBER_INFO2"
    ));
    assert!(holds(r#"IsMatch(body, ".*password.*")"#));
    assert!(holds(
        r#"log.severity_text == "INFO" and attributes["component"] == "auth""#
    ));
    assert!(!holds("severity_number >= SEVERITY_NUMBER_ERROR"));
}

#[test]
fn metrics_and_data_points() {
    let point = |attributes: Vec<KeyValue>, value: f64| NumberDataPoint {
        attributes,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    };
    let sum = Metric {
        name: "http.server.requests".into(),
        unit: "1".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![point(vec![text("http.route", "/a")], 3.0)],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let metric_item = Item {
        resource: &[],
        scope: None,
        kind: ItemKind::Metric(&sum),
    };
    let on_metric = |text: &str| {
        Condition::compile(text, Context::Metric)
            .unwrap_or_else(|err| panic!("{err}"))
            .matches(&metric_item)
    };
    assert!(on_metric(
        r#"name == "http.server.requests" and type == METRIC_DATA_TYPE_SUM"#
    ));
    assert!(on_metric(
        "aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE and is_monotonic"
    ));
    assert!(on_metric(r#"HasAttrKeyOnDatapoint("http.route")"#));
    assert!(on_metric(r#"HasAttrOnDatapoint("http.route", "/a")"#));
    assert!(!on_metric(r#"HasAttrOnDatapoint("http.route", "/b")"#));

    let gauge = Metric {
        name: "queue.depth".into(),
        data: Some(Data::Gauge(Gauge::default())),
        ..Default::default()
    };
    let shape = MetricShape::of(sum.data.as_ref());
    let low = point(vec![text("queue", "mail")], 0.5);
    let point_item = Item {
        resource: &[],
        scope: None,
        kind: ItemKind::DataPoint(&gauge, shape, Point::Number(&low)),
    };
    let on_point = |text: &str| {
        Condition::compile(text, Context::DataPoint)
            .unwrap_or_else(|err| panic!("{err}"))
            .matches(&point_item)
    };
    assert!(on_point(
        r#"value_double < 1 and attributes["queue"] == "mail""#
    ));
    assert!(on_point(
        r#"metric.name == "queue.depth" and metric.type == METRIC_DATA_TYPE_SUM"#
    ));
    assert!(on_point("value_int == nil and metric.is_monotonic == true"));
}

#[test]
fn conditions_that_cannot_apply_are_refused_when_compiled() {
    let cases = [
        (
            r#"severity_number > 1"#,
            Context::Span,
            "is not a path of the span context",
        ),
        (
            r#"name == SPAN_KIND_SIDEWAYS"#,
            Context::Span,
            "unknown enum SPAN_KIND_SIDEWAYS",
        ),
        (r#"attributes == "x""#, Context::Span, "needs a key"),
        (
            r#"attributes["a"]["b"] == "x""#,
            Context::Span,
            "nested keys",
        ),
        (r#"name["a"] == "x""#, Context::Span, "takes no key"),
        (
            r#"Size(name) > 3"#,
            Context::Span,
            "function Size is not supported",
        ),
        (
            r#"IsMatch(name, "(")"#,
            Context::Span,
            "invalid regular expression",
        ),
        (r#"IsMatch(name)"#, Context::Span, "takes 2 argument(s)"),
        (
            r#"HasAttrKeyOnDatapoint("a")"#,
            Context::DataPoint,
            "only available in the metric context",
        ),
        (
            r#"attributes["a"] == "x""#,
            Context::Metric,
            "is not a path of the metric context",
        ),
    ];
    for (text, context, expected) in cases {
        let err = Condition::compile(text, context).unwrap_err();
        assert!(err.starts_with(&format!("condition {text:?}: ")), "{err}");
        assert!(err.contains(expected), "{text}: {err}");
    }
}
