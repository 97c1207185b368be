//! The `transform` processor: OTTL statements edit spans, span events, metrics, data points, log
//! records and resources in place.
//!
//! ```yaml
//! processors:
//!   transform:
//!     error_mode: ignore
//!     trace_statements:
//!       - 'set(span.attributes["deployment.environment"], resource.attributes["env"])'
//!       - context: span
//!         conditions: ['kind == SPAN_KIND_SERVER']
//!         statements:
//!           - 'replace_pattern(name, "/users/\\d+", "/users/{id}")'
//!           - 'delete_key(attributes, "http.request.header.cookie")'
//!     log_statements:
//!       - 'set(log.severity_text, "WARN") where log.severity_number == SEVERITY_NUMBER_WARN'
//! ```

mod config;
mod rules;

pub use config::{StatementGroup, TransformConfig};
pub use rules::TransformRules;

use cormorant_core::processorhelper::transform_factory;
use cormorant_core::{FactoryMeta, ProcessorFactory, Signal, Stability};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "transform";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Alpha);
    transform_factory(meta, |_, config: &TransformConfig, signal| {
        TransformRules::new(config, signal)
    })
}
