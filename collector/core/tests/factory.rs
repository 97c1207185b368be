//! The typed factory adapters: what `validate` accepts and refuses, and that `create` hands the
//! build function the decoded config, the settings and the pipeline wiring, and never builds from
//! a config `validate` would refuse.

use async_trait::async_trait;
use cormorant_confmap::{ConfValue, parse_yaml};
use cormorant_core::{
    ComponentConfig, ComponentId, ConfigError, ConsumeError, Consumer, CreateSettings, Exporter,
    Extension, FactoryMeta, Lifecycle, Payload, Processor, Receiver, ReceiverConsumers,
    SharedConsumer, Signal, Stability, exporter_factory, extension_factory, processor_factory,
    receiver_factory,
};
use serde::Deserialize;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelConfig {
    label: String,
    #[serde(default)]
    repeat: u32,
}

impl ComponentConfig for LabelConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.label.is_empty() {
            return Err(ConfigError::Invalid("label must not be empty".into()));
        }
        Ok(())
    }
}

/// What each build call received, in order.
type Calls = Arc<Mutex<Vec<(ComponentId, LabelConfig, Option<Signal>)>>>;

/// A component of every kind that does nothing but pass data on when it has somewhere to send it.
struct Relay {
    next: Option<SharedConsumer>,
}

#[async_trait]
impl Consumer for Relay {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        match &self.next {
            Some(next) => next.consume(payload).await,
            None => Ok(()),
        }
    }
}

impl Lifecycle for Relay {}
impl Receiver for Relay {}
impl Processor for Relay {}
impl Exporter for Relay {}
impl Extension for Relay {}

/// Counts the items that reach the end of the chain.
#[derive(Default)]
struct Sink {
    items: Mutex<usize>,
}

#[async_trait]
impl Consumer for Sink {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        *self.items.lock().unwrap() += payload.item_count();
        Ok(())
    }
}

const META: FactoryMeta =
    FactoryMeta::new("label", &[Signal::Logs], Stability::Alpha).with_aliases(&["labeller"]);

fn settings(id: &str) -> CreateSettings {
    CreateSettings {
        id: ComponentId::parse(id).unwrap(),
    }
}

fn yaml(text: &str) -> ConfValue {
    parse_yaml(text).unwrap()
}

fn label(label: &str, repeat: u32) -> LabelConfig {
    LabelConfig {
        label: label.into(),
        repeat,
    }
}

fn one_log() -> Payload {
    use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
    Payload::Logs(vec![ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord::default()],
            ..ScopeLogs::default()
        }],
        ..ResourceLogs::default()
    }])
}

#[test]
fn validate_decodes_and_runs_the_config_checks() {
    let factory = exporter_factory(META, |_, _: LabelConfig, _| {
        Ok(Arc::new(Relay { next: None }))
    });
    assert!(factory.validate(&yaml("label: a\nrepeat: 3")).is_ok());

    let unknown = factory.validate(&yaml("label: a\nlabels: b")).unwrap_err();
    assert_eq!(unknown.to_string(), "'' has invalid keys: labels");
    let wrong_type = factory
        .validate(&yaml("label: a\nrepeat: many"))
        .unwrap_err();
    assert!(wrong_type.to_string().contains("repeat"), "{wrong_type}");
    let refused = factory.validate(&yaml("label: ''")).unwrap_err();
    assert_eq!(
        refused,
        ConfigError::Invalid("label must not be empty".into())
    );
}

#[test]
fn meta_is_reported_as_declared() {
    let factory = extension_factory(META, |_, _: LabelConfig| Ok(Arc::new(Relay { next: None })));
    let meta = factory.meta();
    assert_eq!(
        (meta.ty, meta.aliases, meta.signals, meta.stability),
        (
            "label",
            &["labeller"][..],
            &[Signal::Logs][..],
            Stability::Alpha
        )
    );
    let plain = FactoryMeta::new("plain", &[], Stability::Beta);
    assert!(plain.aliases.is_empty() && plain.signals.is_empty());
}

#[tokio::test]
async fn processor_create_passes_the_decoded_config_and_feeds_next() {
    let calls = Calls::default();
    let seen = Arc::clone(&calls);
    let factory = processor_factory(META, move |settings, config: LabelConfig, signal, next| {
        seen.lock()
            .unwrap()
            .push((settings.id, config, Some(signal)));
        Ok(Arc::new(Relay { next: Some(next) }))
    });
    let sink = Arc::new(Sink::default());
    let processor = factory
        .create(
            settings("label/first"),
            &yaml("label: x\nrepeat: 2"),
            Signal::Logs,
            sink.clone(),
        )
        .unwrap();
    processor.consume(one_log()).await.unwrap();

    assert_eq!(*sink.items.lock().unwrap(), 1);
    assert_eq!(
        *calls.lock().unwrap(),
        [(
            ComponentId::parse("label/first").unwrap(),
            label("x", 2),
            Some(Signal::Logs)
        )]
    );
}

#[test]
fn create_never_builds_from_a_refused_config() {
    let calls = Calls::default();
    let seen = Arc::clone(&calls);
    let factory = receiver_factory(META, move |settings, config: LabelConfig, _| {
        seen.lock().unwrap().push((settings.id, config, None));
        Ok(Arc::new(Relay { next: None }))
    });
    let consumers = ReceiverConsumers::default;

    let refused = factory.create(settings("label"), &yaml("label: ''"), consumers());
    assert!(matches!(refused, Err(ConfigError::Invalid(_))));
    let unknown = factory.create(settings("label"), &yaml("label: a\nx: 1"), consumers());
    assert!(matches!(unknown, Err(ConfigError::Decode(_))));
    assert!(calls.lock().unwrap().is_empty());

    factory
        .create(settings("label/ok"), &yaml("label: a"), consumers())
        .unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        [(ComponentId::parse("label/ok").unwrap(), label("a", 0), None)]
    );
}

#[test]
fn build_errors_reach_the_caller() {
    let factory = exporter_factory(META, |_, config: LabelConfig, signal| {
        Err(ConfigError::Invalid(format!(
            "{} cannot export {signal}",
            config.label
        )))
    });
    let error = factory
        .create(settings("label"), &yaml("label: tape"), Signal::Metrics)
        .err()
        .unwrap();
    assert_eq!(error.to_string(), "tape cannot export metrics");
}

#[test]
fn extension_create_gets_the_settings_and_config() {
    let calls = Calls::default();
    let seen = Arc::clone(&calls);
    let factory = extension_factory(META, move |settings, config: LabelConfig| {
        seen.lock().unwrap().push((settings.id, config, None));
        Ok(Arc::new(Relay { next: None }))
    });
    factory
        .create(settings("label/ext"), &yaml("label: e\nrepeat: 7"))
        .unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        [(
            ComponentId::parse("label/ext").unwrap(),
            label("e", 7),
            None
        )]
    );
}
