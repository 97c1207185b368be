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

use cormorant_core::config::ConfValue;
use cormorant_core::{
    ConfigError, CreateSettings, FactoryMeta, Processor, ProcessorFactory, SharedConsumer, Signal,
    Stability, parse_config,
};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "memory_limiter";

/// Builds `memory_limiter` processors.
pub struct MemoryLimiterFactory;

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    Arc::new(MemoryLimiterFactory)
}

impl ProcessorFactory for MemoryLimiterFactory {
    fn meta(&self) -> FactoryMeta {
        FactoryMeta {
            ty: TYPE,
            aliases: &[],
            signals: &Signal::ALL,
            stability: Stability::Beta,
        }
    }

    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError> {
        parse_config::<MemoryLimiterConfig>(config).map(drop)
    }

    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<Arc<dyn Processor>, ConfigError> {
        let config: MemoryLimiterConfig = parse_config(config)?;
        Ok(Arc::new(MemoryLimiterProcessor::new(
            settings.id,
            signal,
            config,
            next,
        )?))
    }
}
