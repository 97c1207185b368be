//! The `health_check` settings, with otelcol's keys and defaults.

use cormorant_core::config::optional_duration;
use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{ComponentConfig, ConfigError};
use serde::Deserialize;
use std::time::Duration;

/// `extensions::health_check` as otelcol reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// `host:port` to listen on.
    pub endpoint: String,
    /// Where the status is served. A path ending in `/` also answers everything below it, as Go's
    /// HTTP mux does (so the default `/` answers every path).
    pub path: String,
    /// Fixed bodies instead of the JSON status document.
    pub response_body: Option<ResponseBody>,
    /// otelcol documents this as not working and removed its implementation; accepted so
    /// existing configs load, with no effect.
    pub check_collector_pipeline: Option<CheckCollectorPipeline>,
    /// Serve HTTPS with these certificates.
    pub tls: Option<TlsServerSetting>,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            path: "/".into(),
            response_body: None,
            check_collector_pipeline: None,
            tls: None,
        }
    }
}

/// `response_body`: what to answer instead of the JSON document. An unset side is an empty body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseBody {
    pub healthy: String,
    pub unhealthy: String,
}

/// `check_collector_pipeline`: accepted and ignored (broken and unimplemented in otelcol).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckCollectorPipeline {
    pub enabled: bool,
    #[serde(deserialize_with = "optional_duration")]
    pub interval: Option<Duration>,
    pub exporter_failure_threshold: u32,
}

impl ComponentConfig for HealthCheckConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoint.trim().is_empty() {
            return Err(ConfigError::Invalid("endpoint must not be empty".into()));
        }
        if !self.path.starts_with('/') {
            return Err(ConfigError::Invalid(format!(
                "path must start with \"/\", got {:?}",
                self.path
            )));
        }
        Ok(())
    }
}
