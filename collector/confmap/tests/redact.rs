use cormorant_confmap::{ConfValue, REDACTED, parse_yaml, redact, to_yaml_string};

const CONFIG: &str = "\
extensions:
  basicauth/client:
    client_auth:
      username: otel
      password: hunter2
  oauth2client:
    client_id: agent
    client_secret: s3cr3t
    token_url: https://auth.example.com/token
  bearertokenauth:
    token: abc
    scheme: Bearer
exporters:
  otlp_http:
    endpoint: https://otlp.example.com
    headers:
      Authorization: Bearer abc
      X-API-Key: k1
      x-honeycomb-team-token: t1
      DD-API-KEY: k2
      x-scope-orgid: tenant-1
    tls:
      key_pem: '-----BEGIN PRIVATE KEY-----'
      key_file: /etc/tls/key.pem
      cert_file: /etc/tls/cert.pem
  datadog:
    api:
      API_KEY: dd
      site: datadoghq.eu
  kafka:
    auth:
      sasl: {username: u, password: null}
service:
  telemetry:
    logs: {level: info}
";

fn text(value: Option<&ConfValue>) -> Option<&str> {
    value.and_then(ConfValue::as_str)
}

#[test]
fn secrets_are_replaced_and_everything_else_kept() {
    let original = parse_yaml(CONFIG).unwrap();
    let redacted = redact(&original);
    for path in [
        &["extensions", "basicauth/client", "client_auth", "password"][..],
        &["extensions", "oauth2client", "client_secret"],
        &["extensions", "bearertokenauth", "token"],
        &["exporters", "otlp_http", "headers", "Authorization"],
        &["exporters", "otlp_http", "headers", "X-API-Key"],
        &[
            "exporters",
            "otlp_http",
            "headers",
            "x-honeycomb-team-token",
        ],
        &["exporters", "otlp_http", "headers", "DD-API-KEY"],
        &["exporters", "otlp_http", "tls", "key_pem"],
        &["exporters", "datadog", "api", "API_KEY"],
    ] {
        assert_eq!(text(redacted.get(path)), Some(REDACTED), "{path:?}");
    }
    for (path, expected) in [
        (
            &["extensions", "basicauth/client", "client_auth", "username"][..],
            "otel",
        ),
        (&["extensions", "oauth2client", "client_id"], "agent"),
        (
            &["extensions", "oauth2client", "token_url"],
            "https://auth.example.com/token",
        ),
        (&["extensions", "bearertokenauth", "scheme"], "Bearer"),
        (
            &["exporters", "otlp_http", "headers", "x-scope-orgid"],
            "tenant-1",
        ),
        (
            &["exporters", "otlp_http", "tls", "key_file"],
            "/etc/tls/key.pem",
        ),
        (&["exporters", "datadog", "api", "site"], "datadoghq.eu"),
        (&["service", "telemetry", "logs", "level"], "info"),
    ] {
        assert_eq!(text(redacted.get(path)), Some(expected), "{path:?}");
    }
    assert_eq!(
        redacted.get(&["exporters", "kafka", "auth", "sasl", "password"]),
        Some(&ConfValue::Null)
    );
    // The input is untouched: redaction is only for printing.
    assert_eq!(original, parse_yaml(CONFIG).unwrap());
}

#[test]
fn redacted_yaml_carries_no_secret_text() {
    let printed = to_yaml_string(&redact(&parse_yaml(CONFIG).unwrap()));
    for secret in [
        "hunter2",
        "s3cr3t",
        "Bearer abc",
        "k1",
        "t1",
        "k2",
        "BEGIN PRIVATE KEY",
        ": dd",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
    }
    assert!(printed.contains("x-scope-orgid: tenant-1"), "{printed}");
}

#[test]
fn non_map_headers_and_lists_are_walked() {
    let value = parse_yaml("list: [{password: p}, {name: n}]\nheaders: [authorization]").unwrap();
    assert_eq!(
        redact(&value),
        parse_yaml("list: [{password: '[REDACTED]'}, {name: n}]\nheaders: [authorization]")
            .unwrap()
    );
}
