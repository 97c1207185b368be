//! The `nop` exporter: accepts every payload and discards it.
//!
//! Useful to terminate a pipeline whose receivers or processors are under test, or to measure
//! the collector without a destination. Like otelcol's, it reports nothing as sent: nothing is.

use async_trait::async_trait;
use cormorant_core::{
    ComponentConfig, ConsumeError, Consumer, Exporter, ExporterFactory, FactoryMeta, Lifecycle,
    Payload, Returned, Signal, Stability, exporter_factory,
};
use serde::Deserialize;
use std::sync::Arc;

/// `nop` takes no settings; any key is a mistake worth reporting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NopConfig {}

impl ComponentConfig for NopConfig {}

struct NopExporter;

#[async_trait]
impl Consumer for NopExporter {
    async fn consume(&self, _payload: Payload) -> Result<(), ConsumeError> {
        Ok(())
    }

    /// Never refuses, so there is nothing to hand back (and no copy to keep for it).
    async fn consume_or_return(&self, _payload: Payload) -> Result<(), Returned> {
        Ok(())
    }
}

impl Lifecycle for NopExporter {}

impl Exporter for NopExporter {}

/// The `nop` exporter factory.
pub fn factory() -> Arc<dyn ExporterFactory> {
    let meta = FactoryMeta::new("nop", &Signal::ALL, Stability::Stable);
    exporter_factory(meta, |_settings, _config: NopConfig, _signal| {
        Ok(Arc::new(NopExporter))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_confmap::ConfValue;
    use cormorant_core::{ComponentId, CreateSettings};

    #[tokio::test]
    async fn accepts_everything_and_takes_no_settings() {
        let factory = factory();
        assert_eq!(factory.meta().ty, "nop");
        let settings = CreateSettings {
            id: ComponentId::new("nop"),
        };
        let exporter = factory
            .create(settings, &ConfValue::empty_map(), Signal::Logs)
            .unwrap();
        exporter
            .consume(Payload::empty(Signal::Logs))
            .await
            .unwrap();

        let with_key = cormorant_confmap::parse_yaml("verbosity: detailed").unwrap();
        let error = factory.validate(&with_key).unwrap_err().to_string();
        assert!(error.contains("invalid keys: verbosity"), "{error}");
    }
}
