//! The `batch` processor: groups items into larger requests by size and by age.
//!
//! It reads otelcol's `processors::batch` settings. Unlike otelcol's, it does not lose data when
//! the next consumer refuses a batch: the batch is kept and retried, and back-pressure reaches the
//! receivers through a bounded amount of pending data (see [`BatchProcessor`]). With
//! `metadata_keys` it batches per tenant (see [`PartitionedBatch`]).

mod config;
mod flusher;
mod partitioned;
mod pending;
mod processor;
mod telemetry;

pub use config::BatchConfig;
pub use partitioned::{PartitionedBatch, TOO_MANY_COMBINATIONS};
pub use processor::BatchProcessor;

use cormorant_core::{
    FactoryMeta, Processor, ProcessorFactory, Signal, Stability, processor_factory,
};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "batch";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Beta);
    processor_factory(meta, |settings, config: BatchConfig, signal, next| {
        let processor: Arc<dyn Processor> = if config.metadata_keys.is_empty() {
            Arc::new(BatchProcessor::new(settings.id, signal, &config, next))
        } else {
            Arc::new(PartitionedBatch::new(settings.id, signal, &config, next))
        };
        Ok(processor)
    })
}
