//! The `attributes` processor: otelcol's action list applied to the attributes of spans, log
//! records and metric data points, optionally only to those picked by `include` / `exclude`.
//!
//! ```yaml
//! processors:
//!   attributes/redact:
//!     include: {match_type: regexp, services: ["^checkout"]}
//!     actions:
//!       - {key: deployment.environment, value: production, action: insert}
//!       - {key: user.email, action: hash}
//!       - {pattern: "^http\\.request\\.header\\.", action: delete}
//! ```

mod config;
mod processor;

pub use config::AttributesConfig;
pub use processor::AttributesTransform;

use cormorant_core::processorhelper::transform_factory;
use cormorant_core::{FactoryMeta, ProcessorFactory, Signal, Stability};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "attributes";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Beta);
    transform_factory(meta, |_, config: &AttributesConfig, signal| {
        AttributesTransform::new(config, signal)
    })
}
