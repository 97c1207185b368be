//! `receivers::integration` settings.

use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{ComponentConfig, ConfigError};
use serde::Deserialize;

/// DeepFlow agents listen here, so senders already configured for it need no change.
pub const DEFAULT_ENDPOINT: &str = "0.0.0.0:38086";
/// The same limit as the `otlp` receiver's HTTP side.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: usize = 20 * 1024 * 1024;
/// The OpenTelemetry SDKs' name for a service that did not say who it is.
pub const DEFAULT_SERVICE_NAME: &str = "unknown_service";

/// The whole `integration` receiver block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationReceiverConfig {
    pub endpoint: String,
    /// Largest accepted body, both as received and after snappy decompression.
    pub max_request_body_size: usize,
    pub tls: Option<TlsServerSetting>,
    /// `service.name` given to OTLP trace resources that have none (APISIX sends none unless
    /// configured to).
    pub service_name: String,
}

impl Default for IntegrationReceiverConfig {
    fn default() -> Self {
        IntegrationReceiverConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            tls: None,
            service_name: DEFAULT_SERVICE_NAME.to_string(),
        }
    }
}

impl ComponentConfig for IntegrationReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoint.is_empty() {
            return Err(ConfigError::Invalid("endpoint must not be empty".into()));
        }
        if self.service_name.is_empty() {
            return Err(ConfigError::Invalid(
                "service_name must not be empty".into(),
            ));
        }
        if self.max_request_body_size == 0 {
            return Err(ConfigError::Invalid(
                "max_request_body_size must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}
