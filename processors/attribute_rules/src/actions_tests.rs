use super::*;

fn text(value: &str) -> AnyValue {
    string_value(value.to_owned())
}

fn typed(value: Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value),
        ..Default::default()
    }
}

fn action(action: &str, key: &str) -> ActionConfig {
    ActionConfig {
        action: action.to_owned(),
        key: key.to_owned(),
        ..Default::default()
    }
}

fn with_value(mut config: ActionConfig, value: ConfValue) -> ActionConfig {
    config.value = Some(value);
    config
}

fn run(configs: &[ActionConfig], attributes: &mut Vec<KeyValue>) {
    AttributeActions::compile("actions", configs)
        .expect("valid actions")
        .apply(attributes);
}

fn value_of<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn keys(attributes: &[KeyValue]) -> Vec<&str> {
    attributes.iter().map(|kv| kv.key.as_str()).collect()
}

#[test]
fn insert_only_adds_missing_keys_update_only_changes_present_ones_upsert_does_both() {
    let mut attributes = vec![kv("env", text("dev"))];
    run(
        &[
            with_value(action("insert", "env"), ConfValue::String("prod".into())),
            with_value(action("insert", "region"), ConfValue::String("eu".into())),
            with_value(action("update", "missing"), ConfValue::Int(1)),
            with_value(action("UPDATE", "region"), ConfValue::String("us".into())),
            with_value(action("Upsert", "env"), ConfValue::String("staging".into())),
            with_value(action("upsert", "tier"), ConfValue::Int(3)),
        ],
        &mut attributes,
    );
    assert_eq!(keys(&attributes), ["env", "region", "tier"]);
    assert_eq!(
        value_of(&attributes, "env"),
        Some(&Value::StringValue("staging".into()))
    );
    assert_eq!(
        value_of(&attributes, "region"),
        Some(&Value::StringValue("us".into()))
    );
    assert_eq!(value_of(&attributes, "tier"), Some(&Value::IntValue(3)));
}

#[test]
fn from_attribute_copies_the_value_and_skips_when_the_source_is_missing() {
    let mut attributes = vec![kv("http.status_code", typed(Value::IntValue(503)))];
    let mut copy = action("insert", "status");
    copy.from_attribute = "http.status_code".into();
    let mut absent = action("upsert", "peer");
    absent.from_attribute = "net.peer.name".into();
    run(&[copy, absent], &mut attributes);
    assert_eq!(value_of(&attributes, "status"), Some(&Value::IntValue(503)));
    assert_eq!(value_of(&attributes, "peer"), None);
}

#[tokio::test]
async fn from_context_reads_the_current_client() {
    let mut tenant = action("insert", "tenant");
    tenant.from_context = "metadata.x-tenant".into();
    let mut peer = action("upsert", "client.ip");
    peer.from_context = "client.address".into();
    let mut absent = action("insert", "user");
    absent.from_context = "metadata.x-user".into();
    let actions = AttributeActions::compile("actions", &[tenant, peer, absent]).unwrap();

    let mut outside = Vec::new();
    actions.apply(&mut outside);
    assert!(outside.is_empty(), "no client outside a request");

    let mut headers = http::HeaderMap::new();
    headers.insert("x-tenant", http::HeaderValue::from_static("acme"));
    let client = client::ClientInfo::new(Some("192.0.2.7:4000".parse().unwrap()), &headers, true);
    let inside = client::within(client, async {
        let mut attributes = Vec::new();
        actions.apply(&mut attributes);
        attributes
    })
    .await;
    assert_eq!(
        value_of(&inside, "tenant"),
        Some(&Value::StringValue("acme".into()))
    );
    assert_eq!(
        value_of(&inside, "client.ip"),
        Some(&Value::StringValue("192.0.2.7".into()))
    );
    assert_eq!(value_of(&inside, "user"), None);
}

#[test]
fn delete_removes_the_key_and_every_key_matching_the_pattern() {
    let mut attributes = vec![
        kv("password", text("p")),
        kv("db.statement", text("select 1")),
        kv("http.request.header.authorization", text("t")),
        kv("http.request.header.cookie", text("c")),
        kv("http.method", text("GET")),
    ];
    let mut config = action("delete", "password");
    config.pattern = "^http\\.request\\.header\\.".into();
    run(&[config], &mut attributes);
    assert_eq!(keys(&attributes), ["db.statement", "http.method"]);
}

#[test]
fn hash_replaces_values_with_sha256_hex_of_their_bytes() {
    let mut attributes = vec![
        kv("user.email", text("user@example.com")),
        kv("account", typed(Value::IntValue(1))),
        kv("ratio", typed(Value::DoubleValue(2.5))),
        kv("flag", typed(Value::BoolValue(true))),
        kv("blob", typed(Value::BytesValue(vec![1, 2]))),
        kv("kept", text("abc")),
    ];
    let mut config = action("hash", "user.email");
    config.pattern = "^(account|ratio|flag|blob)$".into();
    run(&[config], &mut attributes);
    let expected = [
        (
            "user.email",
            "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514",
        ),
        (
            "account",
            "7c9fa136d4413fa6173637e883b6998d32e1d675f88cddff9dcbcf331820f4b8",
        ),
        (
            "ratio",
            "5caaabe50da77f59f448b3edf650d68fbca7b858390664c251c52b3f458a881c",
        ),
        (
            "flag",
            "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a",
        ),
        ("blob", ""),
        ("kept", "abc"),
    ];
    for (key, hex) in expected {
        assert_eq!(
            value_of(&attributes, key),
            Some(&Value::StringValue(hex.into())),
            "{key}"
        );
    }
}

#[test]
fn extract_upserts_named_groups_of_a_string_value() {
    let mut attributes = vec![
        kv("http.url", text("http://shop.example/api/v2/orders?id=7")),
        kv("version", text("old")),
        kv("count", typed(Value::IntValue(5))),
    ];
    let mut config = action("extract", "http.url");
    config.pattern = "^(?P<scheme>\\w+)://[^/]+/api/(?P<version>v\\d+)(?<extra>/x)?".into();
    let mut on_int = action("extract", "count");
    on_int.pattern = "(?P<digit>\\d)".into();
    run(&[config, on_int], &mut attributes);
    assert_eq!(
        keys(&attributes),
        ["http.url", "version", "count", "scheme", "extra"]
    );
    assert_eq!(
        value_of(&attributes, "version"),
        Some(&Value::StringValue("v2".into()))
    );
    assert_eq!(
        value_of(&attributes, "extra"),
        Some(&Value::StringValue(String::new()))
    );
    assert_eq!(
        value_of(&attributes, "digit"),
        None,
        "only strings are read"
    );
}

#[test]
fn extract_without_a_match_changes_nothing() {
    let mut attributes = vec![kv("http.url", text("no match here"))];
    let mut config = action("extract", "http.url");
    config.pattern = "^/api/(?P<version>v\\d+)".into();
    run(&[config], &mut attributes);
    assert_eq!(keys(&attributes), ["http.url"]);
}

#[test]
fn convert_changes_types_where_the_value_converts() {
    let mut attributes = vec![
        kv("a", text("42")),
        kv("b", text("4.5")),
        kv("c", text("not a number")),
        kv("d", typed(Value::DoubleValue(7.9))),
        kv("e", typed(Value::BoolValue(true))),
        kv("f", typed(Value::DoubleValue(1e21))),
        kv("g", typed(Value::IntValue(3))),
    ];
    let convert = |key: &str, to: &str| {
        let mut config = action("convert", key);
        config.converted_type = to.into();
        config
    };
    run(
        &[
            convert("a", "int"),
            convert("b", "double"),
            convert("c", "int"),
            convert("d", "int"),
            convert("e", "double"),
            convert("f", "string"),
            convert("g", "double"),
            convert("missing", "int"),
        ],
        &mut attributes,
    );
    assert_eq!(value_of(&attributes, "a"), Some(&Value::IntValue(42)));
    assert_eq!(value_of(&attributes, "b"), Some(&Value::DoubleValue(4.5)));
    assert_eq!(
        value_of(&attributes, "c"),
        Some(&Value::StringValue("not a number".into())),
        "left as it is"
    );
    assert_eq!(value_of(&attributes, "d"), Some(&Value::IntValue(7)));
    assert_eq!(value_of(&attributes, "e"), Some(&Value::DoubleValue(1.0)));
    assert_eq!(
        value_of(&attributes, "f"),
        Some(&Value::StringValue("1e+21".into())),
        "otelcol's AsString text"
    );
    assert_eq!(value_of(&attributes, "g"), Some(&Value::DoubleValue(3.0)));
    assert_eq!(attributes.len(), 7);
}

#[test]
fn actions_see_the_result_of_earlier_ones() {
    let mut attributes = vec![kv("raw", text("id=17"))];
    let mut extract_id = action("extract", "raw");
    extract_id.pattern = "id=(?P<id>\\d+)".into();
    let mut to_int = action("convert", "id");
    to_int.converted_type = "int".into();
    run(
        &[extract_id, to_int, action("delete", "raw")],
        &mut attributes,
    );
    assert_eq!(keys(&attributes), ["id"]);
    assert_eq!(value_of(&attributes, "id"), Some(&Value::IntValue(17)));
}

#[test]
fn bad_actions_are_refused_with_their_index() {
    let both_sources = {
        let mut config = with_value(action("insert", "k"), ConfValue::Int(1));
        config.from_attribute = "other".into();
        config
    };
    let unnamed_group = {
        let mut config = action("extract", "k");
        config.pattern = "(?P<named>a)(b)".into();
        config
    };
    let bad_regex = {
        let mut config = action("delete", "");
        config.pattern = "(".into();
        config
    };
    let bad_type = {
        let mut config = action("convert", "k");
        config.converted_type = "bool".into();
        config
    };
    let cases = [
        (action("insert", "k"), "needs exactly one of"),
        (both_sources, "needs exactly one of"),
        (action("delete", ""), "needs \"key\", \"pattern\" or both"),
        (
            with_value(action("upsert", ""), ConfValue::Int(1)),
            "needs \"key\"",
        ),
        (unnamed_group, "must be named"),
        (bad_regex, "invalid regular expression"),
        (bad_type, "\"bool\" is not one of int, double or string"),
        (action("convert", "k"), "needs \"converted_type\""),
        (action("rename", "k"), "unsupported action \"rename\""),
        (action("", "k"), "\"action\" is required"),
    ];
    let err = AttributeActions::compile("attributes", &[]).unwrap_err();
    assert_eq!(err, "missing required field \"attributes\"");
    for (config, expected) in cases {
        let err = AttributeActions::compile("actions", &[action("delete", "ok"), config.clone()])
            .expect_err(&format!("{config:?} is refused"));
        assert!(err.starts_with("actions[1]: "), "{err}");
        assert!(err.contains(expected), "{err} should say {expected}");
    }
}
