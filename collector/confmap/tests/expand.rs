mod common;

use common::{TempFile, env};
use cormorant_confmap::{ConfError, ConfValue, ExpandError, decode, expand, parse_yaml};

/// Expands `yaml` with `vars` and returns the value and warnings.
fn run(yaml: &str, vars: &[(&str, &str)]) -> Result<(ConfValue, Vec<String>), ConfError> {
    let mut value = parse_yaml(yaml).unwrap();
    let warnings = expand(&mut value, &env(vars))?;
    Ok((value, warnings))
}

/// The expanded string at key `v`.
fn expand_v(raw: &str, vars: &[(&str, &str)]) -> String {
    let mut value = ConfValue::Map([("v".to_string(), ConfValue::String(raw.into()))].into());
    expand(&mut value, &env(vars)).unwrap();
    match value.get(&["v"]) {
        Some(ConfValue::String(s)) => s.clone(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn string(s: &str) -> ConfValue {
    ConfValue::String(s.into())
}

#[test]
fn env_scheme_and_default_scheme() {
    let vars = [("HOST", "collector"), ("PORT", "4317")];
    assert_eq!(expand_v("${env:HOST}", &vars), "collector");
    assert_eq!(expand_v("${HOST}", &vars), "collector");
    assert_eq!(expand_v("${env:HOST}:${PORT}", &vars), "collector:4317");
}

#[test]
fn defaults_apply_only_to_unset_variables() {
    let vars = [("SET", "value"), ("EMPTY", "")];
    assert_eq!(expand_v("${env:UNSET:-fallback}", &vars), "fallback");
    assert_eq!(expand_v("${UNSET:-fallback}", &vars), "fallback");
    assert_eq!(expand_v("${env:UNSET:-a:-b}", &vars), "a:-b");
    assert_eq!(expand_v("${env:UNSET:-}", &vars), "");
    assert_eq!(expand_v("${env:SET:-fallback}", &vars), "value");
    assert_eq!(expand_v("${env:EMPTY:-fallback}", &vars), "");
}

#[test]
fn double_dollar_is_a_literal_dollar() {
    let vars = [("X", "x")];
    assert_eq!(expand_v("pa$$word", &vars), "pa$word");
    assert_eq!(expand_v("$${env:X}", &vars), "${env:X}");
    assert_eq!(expand_v("$$${env:X}", &vars), "$x");
    assert_eq!(expand_v("$$$${env:X}", &vars), "$${env:X}");
    assert_eq!(expand_v("$$$$${env:X}", &vars), "$$x");
    assert_eq!(expand_v("$${X} and ${X}", &vars), "${X} and x");
    assert_eq!(expand_v("${X}$${X}", &vars), "x${X}");
}

#[test]
fn naked_dollar_variables_are_left_alone() {
    let vars = [("HOME", "/root")];
    assert_eq!(expand_v("$HOME/x", &vars), "$HOME/x");
    assert_eq!(expand_v("cost: 5$", &vars), "cost: 5$");
    assert_eq!(expand_v("${", &vars), "${");
    assert_eq!(expand_v("}{$", &vars), "}{$");
}

#[test]
fn unset_variable_becomes_empty_with_one_warning() {
    let (value, warnings) = run("a: ${env:MISSING}\nb: x${MISSING}y\nc: ${OTHER}", &[]).unwrap();
    assert_eq!(value.get(&["a"]), Some(&string("")));
    assert_eq!(value.get(&["b"]), Some(&string("xy")));
    assert_eq!(
        warnings,
        [
            r#"Configuration references unset environment variable "MISSING""#,
            r#"Configuration references unset environment variable "OTHER""#,
        ]
    );
}

#[test]
fn expansion_is_recursive_and_nests() {
    let vars = [
        ("A", "${env:B}"),
        ("B", "final"),
        ("WHICH", "B"),
        ("URL", "http://${env:B}:4317"),
    ];
    assert_eq!(expand_v("${env:A}", &vars), "final");
    assert_eq!(expand_v("${env:${env:WHICH}}", &vars), "final");
    assert_eq!(expand_v("<${URL}>", &vars), "<http://final:4317>");
}

#[test]
fn cycles_hit_the_recursion_limit() {
    let err = run(
        "exporters: {otlp: {endpoint: '${env:A}'}}",
        &[("A", "${env:A}")],
    )
    .unwrap_err();
    assert_eq!(
        err,
        ConfError::Expand {
            key: "exporters::otlp::endpoint".into(),
            error: ExpandError::TooManyRecursiveExpansions { limit: 1000 },
        }
    );
    let err = run("v: ${env:M}", &[("M", "inner: ${env:M}")]).unwrap_err();
    assert!(
        err.to_string().contains("too many recursive expansions"),
        "{err}"
    );
}

#[test]
fn whole_value_map_or_list_becomes_a_node() {
    let vars = [
        (
            "GRPC",
            "endpoint: ${env:HOST}:4317\ntls: {insecure: true}\nx::y: 1",
        ),
        ("LIST", "[otlp, zipkin]"),
        ("HOST", "gw"),
    ];
    let (value, _) = run("grpc: ${env:GRPC}\nreceivers: ${LIST}", &vars).unwrap();
    assert_eq!(
        value,
        parse_yaml("grpc: {endpoint: 'gw:4317', tls: {insecure: true}, x: {y: 1}}\nreceivers: [otlp, zipkin]")
            .unwrap()
    );
}

#[test]
fn whole_value_scalars_stay_text_and_decode_leniently() {
    let vars = [("PORT", "4317"), ("ON", "true"), ("ZIP", "0123")];
    let (value, _) = run("port: ${env:PORT}\non: ${ON}\nzip: ${ZIP}", &vars).unwrap();
    assert_eq!(value.get(&["port"]), Some(&string("4317")));
    assert_eq!(value.get(&["zip"]), Some(&string("0123")));

    #[derive(serde::Deserialize)]
    struct Typed {
        port: u16,
        on: bool,
        zip: String,
    }
    let typed: Typed = decode(&value).unwrap();
    assert_eq!(
        (typed.port, typed.on, typed.zip.as_str()),
        (4317, true, "0123")
    );
}

#[test]
fn inline_use_is_concatenation_even_for_yaml_looking_text() {
    let vars = [("MAP", "a: b"), ("LIST", "[1, 2]")];
    assert_eq!(expand_v("x=${MAP}", &vars), "x=a: b");
    assert_eq!(expand_v("${LIST}!", &vars), "[1, 2]!");
}

#[test]
fn keys_and_non_string_values_are_not_expanded() {
    let (value, _) = run("'${env:K}': 1\nn: 2\nb: true", &[("K", "key")]).unwrap();
    assert_eq!(value, parse_yaml("'${env:K}': 1\nn: 2\nb: true").unwrap());
}

#[test]
fn invalid_variable_name_is_an_error_naming_the_key() {
    let err = run("exporters: {otlp: {endpoint: 'http://${env:1X}'}}", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot expand "exporters::otlp::endpoint": environment variable "1X" has invalid name: must match regex ^[a-zA-Z_][a-zA-Z0-9_]*$"#
    );
    let err = run("l: [ok, '${A-B}']", &[]).unwrap_err();
    assert!(
        err.to_string().starts_with(r#"cannot expand "l::1": "#),
        "{err}"
    );
}

#[test]
fn bad_references_are_errors() {
    let cases = [
        (
            "${env:A$B}",
            r#"the uri "env:A$B" contains unsupported characters ('$')"#,
        ),
        (
            "${vault:x}",
            r#"scheme "vault" is not supported for uri "vault:x""#,
        ),
        (
            "${https://host/x}",
            r#"the "https" config provider is not supported in this build (uri "https://host/x")"#,
        ),
        (
            "${1:x}",
            r#"invalid uri "1:x": the scheme must match [A-Za-z][A-Za-z0-9+.-]+"#,
        ),
    ];
    for (raw, message) in cases {
        let err = run(&format!("v: '{raw}'"), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(r#"cannot expand "v": {message}"#),
            "{raw}"
        );
    }
}

#[test]
fn file_references_keep_content_and_parse_whole_maps() {
    let secret = TempFile::new("s3cr$$t\n");
    let tls = TempFile::new("insecure: true\nca_file: /etc/ca.pem\n");
    let yaml = format!(
        "password: ${{file:{}}}\nheader: 'Bearer ${{file:{}}}'\ntls: ${{file:{}}}",
        secret.path(),
        secret.path(),
        tls.path()
    );
    let (value, _) = run(&yaml, &[]).unwrap();
    assert_eq!(value.get(&["password"]), Some(&string("s3cr$t\n")));
    assert_eq!(value.get(&["header"]), Some(&string("Bearer s3cr$t\n")));
    assert_eq!(
        value.get(&["tls", "insecure"]),
        Some(&ConfValue::Bool(true))
    );
}

#[test]
fn missing_referenced_file_is_an_error() {
    let path = std::env::temp_dir().join("cormorant-confmap-no-such-file.pem");
    let err = run(&format!("v: ${{file:{}}}", path.display()), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            r#"cannot expand "v": cannot read file "{}": No such file or directory"#,
            path.display()
        )
    );
}
