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

use cormorant_core::{ExtensionFactory, FactoryMeta, Stability, extension_factory};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "health_check";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ExtensionFactory> {
    let meta = FactoryMeta::new(TYPE, &[], Stability::Beta);
    extension_factory(meta, |settings, config: HealthCheckConfig| {
        Ok(Arc::new(HealthCheckExtension::new(settings.id, config)))
    })
}
