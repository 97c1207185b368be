//! The `health_check` extension: an HTTP readiness endpoint compatible with otelcol's.
//!
//! `GET <path>` on `<endpoint>` (default `localhost:13133`, path `/`) answers 200 with
//! `{"status":"Server available","upSince":…,"uptime":…}` once the service reports itself ready,
//! and 503 with `"Server not available"` before that and during shutdown, so load balancers and
//! Kubernetes probes can use it unchanged.

mod config;
mod server;
mod status;

pub use config::{CheckCollectorPipeline, HealthCheckConfig, ResponseBody};
pub use server::HealthCheckExtension;

use cormorant_core::config::ConfValue;
use cormorant_core::{
    ConfigError, CreateSettings, Extension, ExtensionFactory, FactoryMeta, Stability, parse_config,
};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "health_check";

/// Builds `health_check` extensions.
pub struct HealthCheckFactory;

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ExtensionFactory> {
    Arc::new(HealthCheckFactory)
}

impl ExtensionFactory for HealthCheckFactory {
    fn meta(&self) -> FactoryMeta {
        FactoryMeta {
            ty: TYPE,
            aliases: &[],
            signals: &[],
            stability: Stability::Beta,
        }
    }

    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError> {
        parse_config::<HealthCheckConfig>(config).map(drop)
    }

    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
    ) -> Result<Arc<dyn Extension>, ConfigError> {
        let config: HealthCheckConfig = parse_config(config)?;
        Ok(Arc::new(HealthCheckExtension::new(settings.id, config)))
    }
}
