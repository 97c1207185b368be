//! Validation against the built-in registry: each otelcol error class gives its message.

use super::config::validate;
use crate::registry::Registry;
use cormorant_confmap::parse_yaml;
use cormorant_core::Signal;

fn errors_of(yaml: &str) -> Vec<String> {
    let value = parse_yaml(yaml).expect("test YAML parses");
    match validate(&value, &Registry::builtin()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}

fn assert_has(errors: &[String], expected: &str) {
    assert!(
        errors.iter().any(|e| e == expected),
        "expected {expected:?} in {errors:#?}"
    );
}

const VALID: &str = r#"
receivers:
  otlp:
    protocols:
      grpc:
      http:
        endpoint: 127.0.0.1:4318
processors:
  batch:
  batch/big:
    send_batch_size: 10000
  memory_limiter:
    check_interval: 1s
    limit_mib: 100
exporters:
  otlp:
    endpoint: localhost:4317
  otlphttp/archive:
    endpoint: http://localhost:4318
  debug:
    verbosity: detailed
extensions:
  health_check:
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp, otlphttp/archive]
    traces/2:
      receivers: [otlp]
      processors: [batch/big]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      exporters: [debug]
  telemetry:
    logs:
      level: debug
    metrics:
      address: 127.0.0.1:8888
"#;

#[test]
fn otelcol_config_validates_with_deprecated_aliases_warned() {
    let value = parse_yaml(VALID).unwrap();
    let (config, warnings) =
        validate(&value, &Registry::builtin()).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(config.pipelines.len(), 3);
    assert_eq!(config.pipelines[1].signal, Signal::Traces);
    assert_eq!(config.pipelines[1].processors[0].to_string(), "batch/big");
    assert_eq!(
        config
            .telemetry
            .metrics
            .listen_address()
            .unwrap()
            .as_deref(),
        Some("127.0.0.1:8888")
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("\"otlp\" alias is deprecated; use \"otlp_grpc\"")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("\"otlphttp\" alias is deprecated; use \"otlp_http\"")),
        "{warnings:?}"
    );
}

#[test]
fn undefined_references_use_otelcol_wording() {
    let errors = errors_of(
        r#"
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {debug: {}}
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      processors: [batch/x]
      exporters: [debug, otlp]
"#,
    );
    assert_has(
        &errors,
        "service::pipelines::traces: references processor \"batch/x\" which is not configured",
    );
    assert_has(
        &errors,
        "service::pipelines::traces: references receiver \"zipkin\" which is not configured",
    );
    assert_has(
        &errors,
        "service::pipelines::traces: references exporter \"otlp\" which is not configured",
    );
    assert_has(
        &errors,
        "service::extensions: references extension \"health_check\" which is not configured",
    );
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

#[test]
fn unknown_keys_name_their_full_path() {
    let errors = errors_of(
        r#"
receivers: {otlp: {protocols: {grpc: {endpont: "x:1"}}}}
exporters: {debug: {verbosity: basic, colour: red}}
service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
bogus: 1
"#,
    );
    assert_has(
        &errors,
        "receivers::otlp: 'protocols.grpc' has invalid keys: endpont",
    );
    assert_has(&errors, "exporters::debug: '' has invalid keys: colour");
    assert_has(&errors, "'' has invalid keys: bogus");
}

#[test]
fn unknown_types_and_bad_ids() {
    let errors = errors_of(
        r#"
receivers: {otlp: {protocols: {grpc: {}}}, "nosuch/a": {}, "otlp/": {}}
exporters: {debug: {}}
service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}, spans: {receivers: [otlp], exporters: [debug]}}}
"#,
    );
    assert!(
        errors.iter().any(|e| e.starts_with(
            "receivers: unknown type: \"nosuch\" for id: \"nosuch/a\" (valid values: [otlp"
        )),
        "{errors:#?}"
    );
    assert_has(
        &errors,
        "receivers: in \"otlp/\" id: the part after / should not be empty",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("service::pipelines::spans: unknown signal \"spans\"")),
        "{errors:#?}"
    );
}

#[test]
fn pipelines_need_receivers_exporters_and_unique_processors() {
    let errors = errors_of(
        r#"
receivers: {otlp: {protocols: {grpc: {}}}}
processors: {batch: {}}
exporters: {debug: {}}
service:
  pipelines:
    traces: {receivers: [], processors: [batch, batch], exporters: []}
"#,
    );
    assert_has(
        &errors,
        "service::pipelines::traces: must have at least one receiver",
    );
    assert_has(
        &errors,
        "service::pipelines::traces: must have at least one exporter",
    );
    assert_has(
        &errors,
        "service::pipelines::traces: references processor \"batch\" multiple times",
    );
}

#[test]
fn empty_config_and_missing_sections() {
    assert_has(
        &errors_of("{}"),
        "no receiver configuration specified in config",
    );
    assert_has(
        &errors_of("{}"),
        "no exporter configuration specified in config",
    );
    assert_has(&errors_of("{}"), "service must have at least one pipeline");
}

#[test]
fn component_validation_errors_are_prefixed_with_the_component() {
    let errors = errors_of(
        r#"
receivers: {otlp: {protocols: {}}}
processors: {batch: {send_batch_size: 100, send_batch_max_size: 10}}
exporters: {debug: {}}
service: {pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [debug]}}}
"#,
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("receivers::otlp: must specify at least one protocol")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("processors::batch: ") && e.contains("send_batch_max_size")),
        "{errors:#?}"
    );
}

#[test]
fn telemetry_settings_are_checked() {
    let errors = errors_of(
        r#"
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {debug: {}}
service:
  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}
  telemetry: {logs: {level: loud}, metrics: {readers: [{periodic: {}}]}}
"#,
    );
    assert_has(
        &errors,
        "service::telemetry::logs: unrecognized level: \"loud\"",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("service::telemetry::metrics: periodic metric readers")),
        "{errors:#?}"
    );
}

#[test]
fn prometheusremotewrite_receiver_is_registered_for_metrics() {
    let errors = errors_of(
        r#"
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:9090
    path: /receive
exporters:
  debug:
service:
  pipelines:
    metrics:
      receivers: [prometheusremotewrite]
      exporters: [debug]
"#,
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let listing = crate::components::render(&Registry::builtin());
    assert!(
        listing.contains(
            "    - name: prometheusremotewrite\n      stability:\n        metrics: Alpha\n"
        ),
        "{listing}"
    );
}

#[test]
fn ebpf_receiver_is_registered_for_traces_and_metrics() {
    let errors = errors_of(
        r#"
receivers:
  ebpf:
    protocols: [http, redis]
    ports: {include: [8080]}
    metrics: {interval: 5s}
    optional: true
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [ebpf]
      exporters: [debug]
    metrics:
      receivers: [ebpf]
      exporters: [debug]
"#,
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let errors = errors_of(
        r#"
receivers:
  ebpf:
    ring_buffer_size: 1000
exporters:
  debug:
service:
  pipelines:
    logs:
      receivers: [ebpf]
      exporters: [debug]
"#,
    );
    let text = format!("{errors:?}");
    assert!(text.contains("power of two"), "{text}");
    assert!(text.contains("logs"), "{text}");
    let listing = crate::components::render(&Registry::builtin());
    assert!(
        listing.contains(
            "    - name: ebpf\n      stability:\n        traces: Development\n        metrics: Development\n"
        ),
        "{listing}"
    );
}
