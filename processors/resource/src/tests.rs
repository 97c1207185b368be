use super::*;
use cormorant_confmap::parse_yaml;
use cormorant_core::parse_config;
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value::Value};
use cormorant_core::pdata::logs::ResourceLogs;
use cormorant_core::pdata::metrics::ResourceMetrics;
use cormorant_core::pdata::trace::ResourceSpans;

fn transform(yaml: &str) -> Result<ResourceTransform, ConfigError> {
    let config: ResourceConfig = parse_config(&parse_yaml(yaml).expect("valid YAML"))?;
    ResourceTransform::new(&config)
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn with_attributes(attributes: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

#[test]
fn actions_run_on_every_resource_of_every_signal() {
    let transform = transform(
        r#"
attributes:
  - {key: deployment.environment, value: production, action: upsert}
  - {key: host.id, action: delete}
  - {key: k8s.pod.uid, action: hash}
"#,
    )
    .unwrap();
    let before = vec![
        kv("host.id", Value::StringValue("i-123".into())),
        kv("deployment.environment", Value::StringValue("dev".into())),
        kv("k8s.pod.uid", Value::StringValue("abc".into())),
    ];
    let expected = vec![
        kv(
            "deployment.environment",
            Value::StringValue("production".into()),
        ),
        kv(
            "k8s.pod.uid",
            Value::StringValue(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            ),
        ),
    ];
    let mut payloads = [
        Payload::Traces(vec![ResourceSpans {
            resource: with_attributes(before.clone()),
            ..Default::default()
        }]),
        Payload::Metrics(vec![ResourceMetrics {
            resource: with_attributes(before.clone()),
            ..Default::default()
        }]),
        Payload::Logs(vec![ResourceLogs {
            resource: with_attributes(before),
            ..Default::default()
        }]),
    ];
    for payload in &mut payloads {
        transform.transform(payload);
    }
    let [
        Payload::Traces(traces),
        Payload::Metrics(metrics),
        Payload::Logs(logs),
    ] = &payloads
    else {
        panic!("signals are kept");
    };
    assert_eq!(traces[0].resource, with_attributes(expected.clone()));
    assert_eq!(metrics[0].resource, with_attributes(expected.clone()));
    assert_eq!(logs[0].resource, with_attributes(expected));
}

#[test]
fn a_batch_without_a_resource_gets_one_for_inserts() {
    let transform = transform("attributes: [{key: team, value: core, action: insert}]").unwrap();
    let mut payload = Payload::Traces(vec![ResourceSpans::default()]);
    transform.transform(&mut payload);
    let Payload::Traces(traces) = payload else {
        panic!("traces");
    };
    assert_eq!(
        traces[0].resource,
        with_attributes(vec![kv("team", Value::StringValue("core".into()))])
    );
}

#[test]
fn configs_without_actions_or_with_bad_ones_are_refused() {
    let missing = transform("{}").err().expect("refused").to_string();
    assert_eq!(missing, "missing required field \"attributes\"");
    let bad = transform("attributes: [{key: a, action: extract}]")
        .err()
        .expect("refused")
        .to_string();
    assert_eq!(bad, "attributes[0]: action \"extract\" needs \"pattern\"");
    let unknown = transform("actions: [{key: a, action: delete}]")
        .err()
        .expect("refused")
        .to_string();
    assert!(unknown.contains("actions"), "{unknown}");
}
