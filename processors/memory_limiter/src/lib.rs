//! The `memory_limiter` processor: refuses data with a retryable error above a memory limit.
//!
//! It reads otelcol's `processors::memory_limiter` settings. Above the soft limit (hard limit
//! minus spike) every request is refused with `data refused due to high memory usage`, which
//! receivers answer with OTLP/HTTP 503 or gRPC UNAVAILABLE so clients retry later. It should be
//! the first processor of a pipeline, so data is refused before any other work is done on it.
//!
//! otelcol's GC settings are accepted and have no effect: Rust has no garbage collector to force,
//! memory is freed as soon as data is dropped.

mod config;
mod memory;
mod processor;
mod telemetry;

pub use config::{Limits, MemoryLimiterConfig};
pub use memory::{MemoryUsage, ProcessRss, SystemMemory};
pub use processor::{MemoryLimiterProcessor, REFUSED_MESSAGE};

use cormorant_core::{FactoryMeta, ProcessorFactory, Signal, Stability, processor_factory};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "memory_limiter";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Beta);
    processor_factory(
        meta,
        |settings, config: MemoryLimiterConfig, signal, next| {
            let processor = MemoryLimiterProcessor::new(settings.id, signal, config, next)?;
            Ok(Arc::new(processor))
        },
    )
}
