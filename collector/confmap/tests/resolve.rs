mod common;

use common::{TempFile, env};
use cormorant_confmap::{
    ConfError, ConfValue, Resolved, Resolver, decode, parse_yaml, resolve, to_yaml_string,
};

fn resolve_with(
    uris: &[String],
    sets: &[&str],
    vars: &[(&str, &str)],
) -> Result<Resolved, ConfError> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Resolver::with_env(env(vars)).resolve(uris, &sets)
}

fn yaml(text: &str) -> ConfValue {
    parse_yaml(text).unwrap()
}

const BASE: &str = "\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318
processors:
  batch:
    timeout: 1s
exporters:
  debug:
    verbosity: basic
service:
  extensions: [health_check, pprof]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
";

#[test]
fn two_files_merge_deeply_replace_lists_and_null_maps() {
    let base = TempFile::new(BASE);
    let overlay = TempFile::new(
        "\
receivers:
  otlp:
    protocols:
      grpc:
        max_recv_msg_size_mib: 16
processors:
exporters:
  debug: {}
service:
  extensions: [zpages]
",
    );
    let resolved = resolve_with(&[base.path(), overlay.path()], &[], &[]).unwrap();
    let value = resolved.value;
    assert_eq!(
        value.get(&["receivers", "otlp", "protocols", "grpc"]),
        Some(&yaml(
            "{endpoint: '0.0.0.0:4317', max_recv_msg_size_mib: 16}"
        ))
    );
    assert_eq!(
        value.get(&["receivers", "otlp", "protocols", "http", "endpoint"]),
        Some(&ConfValue::String("0.0.0.0:4318".into()))
    );
    assert_eq!(value.get(&["processors"]), Some(&ConfValue::Null));
    assert_eq!(
        value.get(&["exporters", "debug"]),
        Some(&yaml("verbosity: basic"))
    );
    assert_eq!(
        value.get(&["service", "extensions"]),
        Some(&yaml("[zpages]"))
    );
    assert_eq!(
        value.get(&["service", "pipelines", "traces", "receivers"]),
        Some(&yaml("[otlp]"))
    );
    assert!(resolved.warnings.is_empty());
}

#[test]
fn later_source_wins_and_order_matters() {
    let a = TempFile::new("exporters: {debug: {verbosity: basic}}");
    let b = TempFile::new("exporters: {debug: {verbosity: detailed}}");
    let ab = resolve_with(&[a.path(), b.path()], &[], &[]).unwrap().value;
    let ba = resolve_with(&[b.path(), a.path()], &[], &[]).unwrap().value;
    let verbosity = |v: &ConfValue| v.get(&["exporters", "debug", "verbosity"]).cloned();
    assert_eq!(verbosity(&ab), Some(ConfValue::String("detailed".into())));
    assert_eq!(verbosity(&ba), Some(ConfValue::String("basic".into())));
}

#[test]
fn bare_path_and_file_scheme_are_the_same() {
    let file = TempFile::new(BASE);
    let bare = resolve_with(&[file.path()], &[], &[]).unwrap();
    let schemed = resolve_with(&[format!("file:{}", file.path())], &[], &[]).unwrap();
    assert_eq!(bare, schemed);
    assert_eq!(bare.value, yaml(BASE));
}

#[test]
fn set_applies_after_every_config_with_dotted_keys() {
    let file = TempFile::new(BASE);
    let resolved = resolve_with(
        &[
            file.path(),
            "yaml:processors::batch::timeout: 5s".to_string(),
        ],
        &[
            "processors.batch.timeout=2s",
            "service.pipelines.traces.exporters=[debug, otlp]",
            "exporters.otlp.endpoint=collector:4317",
            "exporters.otlp.headers.x=a=b",
        ],
        &[],
    )
    .unwrap();
    let value = resolved.value;
    assert_eq!(
        value.get(&["processors", "batch", "timeout"]),
        Some(&ConfValue::String("2s".into()))
    );
    assert_eq!(
        value.get(&["service", "pipelines", "traces", "exporters"]),
        Some(&yaml("[debug, otlp]"))
    );
    assert_eq!(
        value.get(&["exporters", "otlp"]),
        Some(&yaml("{endpoint: 'collector:4317', headers: {x: 'a=b'}}"))
    );
    assert_eq!(
        value.get(&["exporters", "debug"]),
        Some(&yaml("verbosity: basic"))
    );
}

#[test]
fn set_without_equal_sign_is_rejected() {
    let file = TempFile::new(BASE);
    let err = resolve_with(&[file.path()], &["processors.batch"], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid --set value "processors.batch": missing equal sign"#
    );
}

#[test]
fn yaml_uri_nests_double_colon_keys() {
    let resolved = resolve_with(
        &[
            "yaml:exporters::otlp::endpoint: x:4317".to_string(),
            "yaml:exporters::otlp::tls::insecure: true".to_string(),
            "yaml:".to_string(),
        ],
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        resolved.value,
        yaml("exporters: {otlp: {endpoint: 'x:4317', tls: {insecure: true}}}")
    );
}

#[test]
fn env_uri_reads_yaml_from_a_variable() {
    let vars = [
        (
            "OTEL_CONFIG",
            "exporters:\n  debug:\n    verbosity: ${env:LEVEL}\n",
        ),
        ("LEVEL", "detailed"),
    ];
    let resolved = resolve_with(&["env:OTEL_CONFIG".to_string()], &[], &vars).unwrap();
    assert_eq!(
        resolved.value,
        yaml("exporters: {debug: {verbosity: detailed}}")
    );

    let err = resolve_with(&["env:NOPE".to_string()], &[], &vars).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot load config "env:NOPE": environment variable "NOPE" is not set"#
    );
    let err = resolve_with(&["env:BAD-NAME".to_string()], &[], &vars).unwrap_err();
    assert!(
        err.to_string().starts_with(
            r#"cannot load config "env:BAD-NAME": environment variable "BAD-NAME" has invalid name"#
        ),
        "{err}"
    );
}

#[test]
fn expansion_runs_after_merging_and_collects_warnings() {
    let file = TempFile::new(
        "exporters:\n  otlp:\n    endpoint: http://${env:HOST}:4317\n    headers: {auth: '${env:TOKEN}'}\n",
    );
    let resolved = resolve_with(
        &[file.path()],
        &["exporters.otlp.compression=${env:COMPRESSION:-gzip}"],
        &[("HOST", "gateway")],
    )
    .unwrap();
    assert_eq!(
        resolved.value,
        yaml(
            "exporters: {otlp: {endpoint: 'http://gateway:4317', headers: {auth: ''}, compression: gzip}}"
        )
    );
    assert_eq!(
        resolved.warnings,
        [r#"Configuration references unset environment variable "TOKEN""#]
    );
}

#[test]
fn resolved_config_decodes_into_typed_structs() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        send_batch_size: u32,
        timeout: String,
    }
    let file =
        TempFile::new("processors:\n  batch:\n    send_batch_size: ${env:SIZE}\n    timeout: 1s\n");
    let value = resolve_with(&[file.path()], &[], &[("SIZE", "8192")])
        .unwrap()
        .value;
    let batch: Batch = decode(value.get(&["processors", "batch"]).unwrap()).unwrap();
    assert_eq!(
        (batch.send_batch_size, batch.timeout.as_str()),
        (8192, "1s")
    );
}

#[test]
fn missing_file_names_the_file_and_the_cause() {
    let path = std::env::temp_dir().join("cormorant-confmap-missing.yaml");
    let path = path.to_string_lossy().into_owned();
    let err = resolve_with(std::slice::from_ref(&path), &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(r#"cannot read config file "{path}": No such file or directory"#)
    );
    let err = resolve_with(&[format!("file:{path}")], &[], &[]).unwrap_err();
    assert_eq!(
        err,
        ConfError::ReadFile {
            path,
            reason: "No such file or directory".into()
        }
    );
}

#[test]
fn empty_files_are_rejected() {
    for contents in ["", "  \n\t\n", "# nothing but a comment\n"] {
        let file = TempFile::new(contents);
        let err = resolve_with(&[file.path()], &[], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                r#"cannot load config "{}": empty configuration file"#,
                file.path()
            )
        );
    }
}

#[test]
fn yaml_syntax_error_names_the_source_and_position() {
    let file = TempFile::new("receivers:\n  otlp:\n    protocols: [grpc\n");
    let err = resolve_with(&[file.path()], &[], &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(r#"cannot parse config "{}": "#, file.path())),
        "{err}"
    );
    assert!(err.contains("line 4 column 1"), "{err}");
}

#[test]
fn top_level_must_be_a_map() {
    let file = TempFile::new("- a\n- b\n");
    let err = resolve_with(&[file.path()], &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            r#"cannot load config "{}": the top level must be a map, got list"#,
            file.path()
        )
    );
    let err = resolve_with(&["yaml:just text".to_string()], &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot load config "yaml:just text": the top level must be a map, got string"#
    );
}

#[test]
fn uri_count_and_scheme_errors() {
    assert_eq!(
        resolve(&[], &[]).unwrap_err().to_string(),
        "at least one config flag must be provided"
    );
    let many = vec!["yaml:a: 1".to_string(); 101];
    assert_eq!(
        resolve_with(&many, &[], &[]).unwrap_err(),
        ConfError::TooManyUris { count: 101 }
    );
    assert!(resolve_with(&many[..100], &[], &[]).is_ok());
    assert_eq!(
        resolve_with(&["https://example.com/otel.yaml".to_string()], &[], &[])
            .unwrap_err()
            .to_string(),
        r#"the "https" config provider is not supported in this build (uri "https://example.com/otel.yaml")"#
    );
    assert_eq!(
        resolve_with(&["s3:bucket/otel.yaml".to_string()], &[], &[])
            .unwrap_err()
            .to_string(),
        r#"scheme "s3" is not supported for uri "s3:bucket/otel.yaml""#
    );
}

#[test]
fn resolved_config_round_trips_through_yaml() {
    let file = TempFile::new(BASE);
    let value = resolve_with(
        &[file.path()],
        &["service.telemetry.metrics.level=detailed"],
        &[],
    )
    .unwrap()
    .value;
    let printed = TempFile::new(&to_yaml_string(&value));
    assert_eq!(
        resolve_with(&[printed.path()], &[], &[]).unwrap().value,
        value
    );
}
