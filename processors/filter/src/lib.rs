//! The `filter` processor: drops telemetry that matches OTTL conditions, or that otelcol's legacy
//! `include` / `exclude` rules leave out.
//!
//! ```yaml
//! processors:
//!   filter/noise:
//!     error_mode: ignore
//!     traces:
//!       span:
//!         - 'attributes["http.route"] == "/healthz"'
//!         - 'IsMatch(name, "^OPTIONS ")'
//!     metrics:
//!       datapoint:
//!         - 'metric.name == "http.server.duration" and attributes["http.route"] == "/metrics"'
//!     logs:
//!       log_record:
//!         - 'severity_number < SEVERITY_NUMBER_INFO'
//! ```

mod config;
mod rules;

pub use config::{FilterConfig, LegacyLogMatch, LegacyMetricMatch, LegacyRules};
pub use rules::FilterRules;

use cormorant_core::processorhelper::transform_factory;
use cormorant_core::{FactoryMeta, ProcessorFactory, Signal, Stability};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "filter";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Alpha);
    transform_factory(meta, |_, config: &FilterConfig, signal| {
        FilterRules::new(config, signal)
    })
}
