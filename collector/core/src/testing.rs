//! Test support for component crates (feature `testing`): a processor built by its factory from
//! YAML, the way the collector builds it, feeding a consumer that records what reaches it; and
//! attribute look-up for assertions.

use crate::component::{ComponentId, ConfigError, CreateSettings, Processor, ProcessorFactory};
use crate::consumer::{ConsumeError, Consumer};
use crate::pdata::common::{KeyValue, any_value};
use crate::pdata::{Payload, Signal};
use async_trait::async_trait;
use std::sync::{Arc, Mutex, PoisonError};

/// A next consumer that takes everything and keeps it for the test to inspect.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<Payload>>);

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(payload);
        Ok(())
    }
}

impl Recorder {
    /// The payloads received since the last call, oldest first.
    pub fn take(&self) -> Vec<Payload> {
        std::mem::take(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Validates `yaml` with `factory` and builds the processor `<type>/test` for `signal`, feeding a
/// fresh [`Recorder`]. Panics on YAML that does not parse: that is a broken test, not a case.
pub fn build_processor(
    factory: &dyn ProcessorFactory,
    yaml: &str,
    signal: Signal,
) -> Result<(Arc<dyn Processor>, Arc<Recorder>), ConfigError> {
    let recorder = Arc::new(Recorder::default());
    let config = cormorant_confmap::parse_yaml(yaml).expect("the test's YAML parses");
    factory.validate(&config)?;
    let id = ComponentId::parse(&format!("{}/test", factory.meta().ty)).expect("a valid id");
    let processor = factory.create(CreateSettings { id }, &config, signal, recorder.clone())?;
    Ok((processor, recorder))
}

/// The value of attribute `key` in `attributes`, if it is there and set.
pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}
