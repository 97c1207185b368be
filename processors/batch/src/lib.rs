//! The `batch` processor: groups items into larger requests by size and by age.
//!
//! It reads otelcol's `processors::batch` settings. Unlike otelcol's, it does not lose data when
//! the next consumer refuses a batch: the batch is kept and retried, and back-pressure reaches the
//! receivers through a bounded amount of pending data (see [`BatchProcessor`]).

mod config;
mod flusher;
mod pending;
mod processor;
mod telemetry;

pub use config::BatchConfig;
pub use processor::BatchProcessor;

use cormorant_core::config::ConfValue;
use cormorant_core::{
    ConfigError, CreateSettings, FactoryMeta, Processor, ProcessorFactory, SharedConsumer, Signal,
    Stability, parse_config,
};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "batch";

/// Builds `batch` processors.
pub struct BatchProcessorFactory;

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    Arc::new(BatchProcessorFactory)
}

impl ProcessorFactory for BatchProcessorFactory {
    fn meta(&self) -> FactoryMeta {
        FactoryMeta {
            ty: TYPE,
            aliases: &[],
            signals: &Signal::ALL,
            stability: Stability::Beta,
        }
    }

    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError> {
        parse_config::<BatchConfig>(config).map(drop)
    }

    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<Arc<dyn Processor>, ConfigError> {
        let config: BatchConfig = parse_config(config)?;
        Ok(Arc::new(BatchProcessor::new(
            settings.id,
            signal,
            &config,
            next,
        )))
    }
}
