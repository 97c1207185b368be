use super::*;
use cormorant_core::pdata::int_attribute;
use cormorant_core::pdata::string_attribute;

fn run_on_span(statements: &[&str], span: &mut Span, resource: &[KeyValue]) {
    for text in statements {
        let statement = Statement::compile(text, Context::Span).unwrap_or_else(|e| panic!("{e}"));
        let item = Item {
            resource,
            scope: None,
            kind: crate::fields::ItemKind::Span(span),
        };
        if let Some(edit) = statement.prepare(&item) {
            edit.apply(span);
        }
    }
}

fn value_of<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text(value: &str) -> any_value::Value {
    any_value::Value::StringValue(value.to_owned())
}

fn span() -> Span {
    Span {
        name: "GET /users/17".into(),
        kind: 2,
        attributes: vec![
            string_attribute("http.route", "/users/{id}"),
            string_attribute("user.email", "ada@example.com"),
            string_attribute("db.statement", "SELECT * FROM users WHERE id = 17"),
            int_attribute("http.response.status_code", 200),
        ],
        ..Default::default()
    }
}

#[test]
fn set_writes_attributes_and_fields_from_literals_and_paths() {
    let resource = [string_attribute("deployment.environment", "prod")];
    let mut span = span();
    run_on_span(
        &[
            r#"set(attributes["env"], resource.attributes["deployment.environment"])"#,
            r#"set(attributes["http.route"], "/users/:id")"#,
            r#"set(name, attributes["http.route"])"#,
            r#"set(status.code, STATUS_CODE_ERROR) where attributes["http.response.status_code"] >= 200"#,
            r#"set(attributes["never"], "x") where name == "nope""#,
            r#"set(attributes["nothing"], attributes["missing"])"#,
        ],
        &mut span,
        &resource,
    );
    assert_eq!(value_of(&span.attributes, "env"), Some(&text("prod")));
    assert_eq!(
        value_of(&span.attributes, "http.route"),
        Some(&text("/users/:id"))
    );
    assert_eq!(span.name, "/users/:id");
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(value_of(&span.attributes, "never"), None, "condition false");
    assert_eq!(
        value_of(&span.attributes, "nothing"),
        None,
        "nil sets nothing"
    );
}

#[test]
fn map_editors() {
    let mut span = span();
    run_on_span(&[r#"delete_key(attributes, "user.email")"#], &mut span, &[]);
    assert_eq!(value_of(&span.attributes, "user.email"), None);

    let mut span = self::span();
    run_on_span(
        &[r#"delete_matching_keys(attributes, "^(http|db)\\.")"#],
        &mut span,
        &[],
    );
    assert_eq!(span.attributes.len(), 1);

    let mut span = self::span();
    run_on_span(
        &[r#"keep_keys(span.attributes, ["http.route", "absent"])"#],
        &mut span,
        &[],
    );
    assert_eq!(
        span.attributes,
        vec![string_attribute("http.route", "/users/{id}")]
    );

    let mut span = self::span();
    run_on_span(
        &[r#"keep_matching_keys(attributes, "^http")"#],
        &mut span,
        &[],
    );
    assert_eq!(span.attributes.len(), 2);

    let mut span = self::span();
    run_on_span(&[r#"truncate_all(attributes, 6)"#], &mut span, &[]);
    assert_eq!(
        value_of(&span.attributes, "db.statement"),
        Some(&text("SELECT"))
    );
    assert_eq!(
        value_of(&span.attributes, "http.response.status_code"),
        Some(&any_value::Value::IntValue(200)),
        "only strings are truncated"
    );

    let mut span = self::span();
    run_on_span(&[r#"limit(attributes, 2, ["user.email"])"#], &mut span, &[]);
    let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        ["user.email", "http.route"],
        "the priority key first, then in order"
    );
}

#[test]
fn replacements_take_group_references() {
    let mut span = span();
    run_on_span(
        &[
            r#"replace_pattern(attributes["db.statement"], "id = \\d+", "id = ?")"#,
            r#"replace_pattern(name, "^(GET) /users/\\d+$", "$1 /users/{id}")"#,
            r#"replace_all_patterns(attributes, "value", "[a-z.]+@(?P<domain>[a-z.]+)", "***@${domain}")"#,
            r#"replace_all_patterns(attributes, "key", "^http\\.", "h.")"#,
        ],
        &mut span,
        &[],
    );
    assert_eq!(
        value_of(&span.attributes, "db.statement"),
        Some(&text("SELECT * FROM users WHERE id = ?"))
    );
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(
        value_of(&span.attributes, "user.email"),
        Some(&text("***@example.com"))
    );
    assert!(value_of(&span.attributes, "h.route").is_some());
}

#[test]
fn log_records_and_resources() {
    let mut record = LogRecord {
        severity_text: "warn".into(),
        attributes: vec![string_attribute("password", "hunter2")],
        ..Default::default()
    };
    for text in [
        r#"set(severity_number, SEVERITY_NUMBER_WARN) where severity_text == "warn""#,
        r#"set(severity_text, "WARN")"#,
        r#"set(body, "redacted") where attributes["password"] != nil"#,
        r#"delete_key(log.attributes, "password")"#,
    ] {
        let statement = Statement::compile(text, Context::Log).unwrap_or_else(|e| panic!("{e}"));
        let item = Item {
            resource: &[],
            scope: None,
            kind: crate::fields::ItemKind::Log(&record),
        };
        if let Some(edit) = statement.prepare(&item) {
            edit.apply(&mut record);
        }
    }
    assert_eq!(
        (record.severity_number, record.severity_text.as_str()),
        (13, "WARN")
    );
    assert_eq!(record.body.and_then(|b| b.value), Some(text("redacted")));
    assert!(record.attributes.is_empty());

    let mut resource = vec![string_attribute("host.name", "node-7")];
    let statement = Statement::compile(
        r#"set(attributes["team"], "core") where attributes["host.name"] != nil"#,
        Context::Resource,
    )
    .unwrap();
    let item = Item {
        resource: &resource,
        scope: None,
        kind: crate::fields::ItemKind::Resource,
    };
    if let Some(edit) = statement.prepare(&item) {
        edit.apply(&mut resource);
    }
    assert_eq!(value_of(&resource, "team"), Some(&text("core")));
}

#[test]
fn contexts_are_inferred_from_path_prefixes() {
    let trace = [Context::Resource, Context::Span, Context::SpanEvent];
    let infer = |text| Statement::infer_context(text, &trace).unwrap();
    assert_eq!(infer(r#"set(span.attributes["a"], "b")"#), Context::Span);
    assert_eq!(
        infer(r#"set(resource.attributes["a"], "b")"#),
        Context::Resource
    );
    assert_eq!(
        infer(r#"set(spanevent.attributes["a"], span.name)"#),
        Context::SpanEvent
    );
    let err = Statement::infer_context(r#"set(attributes["a"], "b")"#, &trace).unwrap_err();
    assert!(err.contains("no path names its context"), "{err}");
}

#[test]
fn statements_that_cannot_apply_are_refused() {
    let cases = [
        (
            r#"set(resource.attributes["a"], "b")"#,
            Context::Span,
            "cannot be set in the span context",
        ),
        (r#"set(kind, 1)"#, Context::Span, "cannot be set"),
        (
            r#"merge_maps(attributes, attributes, "upsert")"#,
            Context::Span,
            "editor merge_maps is not supported",
        ),
        (
            r#"delete_key(resource.attributes, "a")"#,
            Context::Span,
            "must be the span context's attributes",
        ),
        (
            r#"delete_key(attributes, "a")"#,
            Context::Metric,
            "must be the metric context's attributes",
        ),
        (
            r#"keep_keys(attributes, "a")"#,
            Context::Span,
            "must be a list of strings",
        ),
        (
            r#"truncate_all(attributes, -1)"#,
            Context::Span,
            "non-negative integer",
        ),
        (
            r#"set(attributes["a"])"#,
            Context::Span,
            "set takes 2 argument(s)",
        ),
        (
            r#"replace_all_patterns(attributes, "both", "a", "b")"#,
            Context::Span,
            "mode must be",
        ),
        (
            r#"set(attributes["a"], "b") where"#,
            Context::Span,
            "expected a value",
        ),
        (
            r#"name == "x""#,
            Context::Span,
            "starts with an editor call",
        ),
    ];
    for (text, context, expected) in cases {
        let err = Statement::compile(text, context).unwrap_err();
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn converters_compute_values_for_set_and_conditions() {
    let resource = [string_attribute("service.name", "Checkout")];
    let mut span = span();
    run_on_span(
        &[
            r#"set(attributes["key"], Concat([resource.attributes["service.name"], name, attributes["http.response.status_code"], attributes["absent"]], "|"))"#,
            r#"set(attributes["lower"], ToLowerCase(resource.attributes["service.name"]))"#,
            r#"set(attributes["upper"], ToUpperCase("mixed Case"))"#,
            r#"set(attributes["verb"], Substring(name, 0, 3))"#,
            r#"set(attributes["outside"], Substring(name, 10, 100))"#,
            r#"set(attributes["code_text"], String(attributes["http.response.status_code"]))"#,
            r#"set(attributes["code_int"], Int("404"))"#,
            r#"set(attributes["ratio"], Double("0.25"))"#,
            r#"set(attributes["not_a_number"], Int("many"))"#,
            r#"set(attributes["matched"], true) where ToLowerCase(resource.attributes["service.name"]) == "checkout""#,
            r#"set(attributes["name_length"], Len(name))"#,
            r#"set(attributes["email_hash"], SHA256(attributes["user.email"]))"#,
        ],
        &mut span,
        &resource,
    );
    let expect = [
        ("key", text("Checkout|GET /users/17|200|")),
        ("lower", text("checkout")),
        ("upper", text("MIXED CASE")),
        ("verb", text("GET")),
        ("code_text", text("200")),
        ("code_int", any_value::Value::IntValue(404)),
        ("ratio", any_value::Value::DoubleValue(0.25)),
        ("matched", any_value::Value::BoolValue(true)),
        ("name_length", any_value::Value::IntValue(13)),
        (
            "email_hash",
            text("b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"),
        ),
    ];
    for (key, expected) in expect {
        assert_eq!(value_of(&span.attributes, key), Some(&expected), "{key}");
    }
    assert_eq!(
        value_of(&span.attributes, "outside"),
        None,
        "out of range is nil"
    );
    assert_eq!(value_of(&span.attributes, "not_a_number"), None);

    let err =
        Statement::compile(r#"set(attributes["a"], Concat("x", "-"))"#, Context::Span).unwrap_err();
    assert!(err.contains("Concat: argument 1 must be a list"), "{err}");
}
