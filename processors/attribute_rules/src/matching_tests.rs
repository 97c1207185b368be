use super::*;

fn text(value: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(value.to_owned())),
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value),
        ..Default::default()
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn props(match_type: &str) -> MatchProperties {
    MatchProperties {
        match_type: match_type.to_owned(),
        ..Default::default()
    }
}

fn attribute(key: &str, value: Option<ConfValue>) -> AttributeMatchConfig {
    AttributeMatchConfig {
        key: key.to_owned(),
        value,
    }
}

fn span(name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
    Span {
        name: name.to_owned(),
        kind: kind as i32,
        attributes,
        ..Default::default()
    }
}

fn scope(name: &str, version: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_owned(),
        version: version.to_owned(),
        ..Default::default()
    }
}

fn spans_selection(
    include: Option<&MatchProperties>,
    exclude: Option<&MatchProperties>,
) -> Selection {
    Selection::new(include, exclude, Signal::Traces).expect("valid for spans")
}

#[test]
fn services_and_span_names_must_both_match_when_both_are_set() {
    let mut include = props("strict");
    include.services = strings(&["checkout"]);
    include.span_names = strings(&["GET /cart", "POST /pay"]);
    let selection = spans_selection(Some(&include), None);
    let checkout = [kv("service.name", text("checkout"))];
    let other = [kv("service.name", text("search"))];
    let get = span("GET /cart", SpanKind::Server, vec![]);
    assert!(selection.selects_span(&checkout, None, &get));
    assert!(!selection.selects_span(&other, None, &get));
    assert!(!selection.selects_span(&checkout, None, &span("GET /", SpanKind::Server, vec![])));
    assert!(!selection.selects_span(&[], None, &get), "no service.name");
}

#[test]
fn a_missing_service_name_is_matched_as_otelcol_names_it() {
    let mut include = props("strict");
    include.services = strings(&["<nil-service-name>"]);
    let selection = spans_selection(Some(&include), None);
    assert!(selection.selects_span(&[], None, &span("x", SpanKind::Internal, vec![])));
}

#[test]
fn exclude_wins_over_include() {
    let mut include = props("regexp");
    include.span_names = strings(&["^GET "]);
    let mut exclude = props("strict");
    exclude.span_names = strings(&["GET /healthz"]);
    let selection = spans_selection(Some(&include), Some(&exclude));
    assert!(selection.selects_span(&[], None, &span("GET /cart", SpanKind::Server, vec![])));
    assert!(!selection.selects_span(&[], None, &span("GET /healthz", SpanKind::Server, vec![])));
    assert!(!selection.selects_span(&[], None, &span("POST /cart", SpanKind::Server, vec![])));
    let exclude_only = spans_selection(None, Some(&exclude));
    assert!(exclude_only.selects_span(&[], None, &span("POST /cart", SpanKind::Server, vec![])));
}

#[test]
fn strict_attributes_need_every_key_with_an_equal_typed_value() {
    let mut include = props("strict");
    include.attributes = vec![
        attribute("http.status_code", Some(ConfValue::Int(500))),
        attribute("retry", None),
    ];
    let selection = spans_selection(Some(&include), None);
    let int_500 = AnyValue {
        value: Some(Value::IntValue(500)),
    };
    let matching = span(
        "s",
        SpanKind::Client,
        vec![kv("retry", text("yes")), kv("http.status_code", int_500)],
    );
    assert!(selection.selects_span(&[], None, &matching));
    let string_500 = span(
        "s",
        SpanKind::Client,
        vec![
            kv("retry", text("yes")),
            kv("http.status_code", text("500")),
        ],
    );
    assert!(
        !selection.selects_span(&[], None, &string_500),
        "types differ"
    );
    let no_retry = span(
        "s",
        SpanKind::Client,
        vec![kv("http.status_code", text("500"))],
    );
    assert!(!selection.selects_span(&[], None, &no_retry));
}

#[test]
fn regexp_attributes_read_scalars_as_text() {
    let mut include = props("regexp");
    include.attributes = vec![attribute(
        "code",
        Some(ConfValue::String("^5\\d\\d$".into())),
    )];
    include.resources = vec![attribute(
        "deployment.environment",
        Some(ConfValue::String("prod".into())),
    )];
    let selection = spans_selection(Some(&include), None);
    let prod = [kv("deployment.environment", text("eu-prod-1"))];
    let with_code = |value: Value| {
        span(
            "s",
            SpanKind::Server,
            vec![kv("code", AnyValue { value: Some(value) })],
        )
    };
    assert!(selection.selects_span(&prod, None, &with_code(Value::IntValue(503))));
    assert!(selection.selects_span(&prod, None, &with_code(Value::StringValue("500".into()))));
    assert!(!selection.selects_span(&prod, None, &with_code(Value::IntValue(404))));
    assert!(
        !selection.selects_span(&[], None, &with_code(Value::IntValue(503))),
        "resource"
    );
    assert!(!selection.selects_span(&prod, None, &with_code(Value::BytesValue(b"503".to_vec()))));
}

#[test]
fn regexp_doubles_are_plain_decimal_text() {
    assert_eq!(
        scalar_text(Some(&AnyValue {
            value: Some(Value::DoubleValue(1e21))
        }))
        .unwrap(),
        "1000000000000000000000"
    );
    assert_eq!(
        scalar_text(Some(&AnyValue {
            value: Some(Value::DoubleValue(0.5))
        }))
        .unwrap(),
        "0.5"
    );
    assert_eq!(
        scalar_text(Some(&AnyValue {
            value: Some(Value::DoubleValue(f64::NEG_INFINITY))
        }))
        .unwrap(),
        "-Inf"
    );
    assert_eq!(
        scalar_text(Some(&AnyValue {
            value: Some(Value::BoolValue(true))
        }))
        .unwrap(),
        "true"
    );
}

#[test]
fn libraries_match_scope_name_and_version_when_given() {
    let mut include = props("strict");
    include.libraries = vec![LibraryMatchConfig {
        name: "io.opentelemetry.jdbc".into(),
        version: Some("2.1.0".into()),
    }];
    let selection = spans_selection(Some(&include), None);
    let item = span("q", SpanKind::Client, vec![]);
    assert!(selection.selects_span(&[], Some(&scope("io.opentelemetry.jdbc", "2.1.0")), &item));
    assert!(!selection.selects_span(&[], Some(&scope("io.opentelemetry.jdbc", "2.2.0")), &item));
    assert!(!selection.selects_span(&[], None, &item));
    include.libraries[0].version = None;
    let any_version = spans_selection(Some(&include), None);
    assert!(any_version.selects_span(&[], Some(&scope("io.opentelemetry.jdbc", "9")), &item));
}

#[test]
fn span_kinds_use_otlp_enum_names() {
    let mut include = props("strict");
    include.span_kinds = strings(&["SPAN_KIND_CLIENT"]);
    let selection = spans_selection(Some(&include), None);
    assert!(selection.selects_span(&[], None, &span("a", SpanKind::Client, vec![])));
    assert!(!selection.selects_span(&[], None, &span("a", SpanKind::Server, vec![])));
    include.span_kinds = strings(&["client"]);
    let err = Selection::new(Some(&include), None, Signal::Traces).unwrap_err();
    assert!(
        err.starts_with("include: span_kinds: \"client\" is not a span kind"),
        "{err}"
    );
}

#[test]
fn log_records_match_on_body_severity_and_attributes() {
    let mut include = props("regexp");
    include.log_bodies = strings(&["timeout"]);
    include.log_severity_number = Some(SeverityNumberConfig {
        min: ConfValue::String("WARN".into()),
        match_undefined: false,
    });
    let selection = Selection::new(Some(&include), None, Signal::Logs).unwrap();
    let record = |body: &str, severity_number: i32| LogRecord {
        body: Some(text(body)),
        severity_number,
        ..Default::default()
    };
    assert!(selection.selects_log(&[], None, &record("upstream timeout after 3s", 17)));
    assert!(!selection.selects_log(&[], None, &record("upstream timeout after 3s", 9)));
    assert!(!selection.selects_log(&[], None, &record("connected", 17)));
    assert!(
        !selection.selects_log(&[], None, &record("timeout", 0)),
        "undefined severity"
    );

    let mut texts = props("strict");
    texts.log_severity_texts = strings(&["ERROR"]);
    let by_text = Selection::new(None, Some(&texts), Signal::Logs).unwrap();
    let mut error = record("x", 17);
    error.severity_text = "ERROR".into();
    assert!(!by_text.selects_log(&[], None, &error));
    assert!(by_text.selects_log(&[], None, &record("x", 17)));
}

#[test]
fn metrics_are_picked_by_name_only() {
    let mut include = props("regexp");
    include.metric_names = strings(&["^http\\."]);
    include.services = strings(&["ignored-for-metrics"]);
    let selection = Selection::new(Some(&include), None, Signal::Metrics).unwrap();
    let metric = |name: &str| Metric {
        name: name.to_owned(),
        ..Default::default()
    };
    assert!(selection.selects_metric(&metric("http.server.duration")));
    assert!(!selection.selects_metric(&metric("db.client.connections")));

    let mut no_names = props("strict");
    no_names.services = strings(&["x"]);
    let unconstrained = Selection::new(Some(&no_names), None, Signal::Metrics).unwrap();
    assert!(unconstrained.selects_metric(&metric("db.client.connections")));
    assert!(unconstrained.selects_metric(&metric("anything")));
}

#[test]
fn blocks_are_checked_for_the_signal_they_run_on() {
    let mut for_logs = props("strict");
    for_logs.log_bodies = strings(&["x"]);
    let err = Selection::new(Some(&for_logs), None, Signal::Traces).unwrap_err();
    assert_eq!(
        err,
        "include: log_bodies should not be specified for trace spans"
    );
    assert!(Selection::new(Some(&for_logs), None, Signal::Logs).is_ok());

    let mut for_spans = props("strict");
    for_spans.span_names = strings(&["x"]);
    let err = Selection::new(None, Some(&for_spans), Signal::Logs).unwrap_err();
    assert!(
        err.starts_with("exclude: services, span_names and span_kinds"),
        "{err}"
    );

    let empty = props("strict");
    assert!(
        Selection::new(Some(&empty), None, Signal::Traces)
            .unwrap_err()
            .contains("at least one of")
    );
    assert!(
        Selection::new(Some(&empty), None, Signal::Logs)
            .unwrap_err()
            .contains("at least one of")
    );
}

#[test]
fn check_reports_match_type_and_expression_errors_for_any_signal() {
    let mut missing_type = props("");
    missing_type.span_names = strings(&["x"]);
    assert!(
        missing_type
            .check()
            .unwrap_err()
            .contains("\"match_type\" is required")
    );

    let mut bad_regex = props("regexp");
    bad_regex.metric_names = strings(&["(("]);
    assert!(
        bad_regex
            .check()
            .unwrap_err()
            .starts_with("metric_names: invalid regular expression")
    );

    let mut regexp_int = props("regexp");
    regexp_int.attributes = vec![attribute("code", Some(ConfValue::Int(5)))];
    let err = regexp_int.check().unwrap_err();
    assert!(err.contains("needs a string value"), "{err}");

    let mut empty_key = props("strict");
    empty_key.resources = vec![attribute("", None)];
    assert!(empty_key.check().unwrap_err().contains("empty \"key\""));
}
