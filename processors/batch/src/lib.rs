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

use cormorant_core::{FactoryMeta, ProcessorFactory, Signal, Stability, processor_factory};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "batch";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Beta);
    processor_factory(meta, |settings, config: BatchConfig, signal, next| {
        Ok(Arc::new(BatchProcessor::new(
            settings.id,
            signal,
            &config,
            next,
        )))
    })
}
