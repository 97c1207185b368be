//! `otlp_grpc` settings: otelcol's `configgrpc` client keys plus the exporter helper's.

use crate::common::{Compression, default_compression, validate_shared_keys};
use cormorant_core::config::optional_duration;
use cormorant_core::exporterhelper::{
    QueueSetting, QueuedExporterSettings, RetrySetting, TimeoutSetting,
};
use cormorant_core::tls::TlsClientSetting;
use cormorant_core::{ComponentConfig, ConfigError};
use http::Uri;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcExporterConfig {
    /// `host:port` (TLS unless `tls.insecure`), or a URL whose scheme decides: `http` is
    /// plaintext, `https` is TLS.
    #[serde(default)]
    pub endpoint: String,
    #[serde(default = "default_compression")]
    pub compression: Compression,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    #[serde(default)]
    pub tls: TlsClientSetting,
    #[serde(default)]
    pub keepalive: Option<KeepaliveSetting>,
    /// Accepted for compatibility: gRPC connects to one address, so every policy behaves as
    /// `pick_first`.
    #[serde(default)]
    pub balancer_name: Option<String>,
    /// Accepted for compatibility: hyper sizes its connection buffers itself.
    #[serde(default)]
    pub write_buffer_size: Option<usize>,
    /// Accepted for compatibility: hyper sizes its connection buffers itself.
    #[serde(default)]
    pub read_buffer_size: Option<usize>,
    #[serde(default)]
    pub auth: Option<IgnoredAny>,
    #[serde(default)]
    pub timeout: TimeoutSetting,
    #[serde(default)]
    pub retry_on_failure: RetrySetting,
    #[serde(default)]
    pub sending_queue: QueueSetting,
}

/// HTTP/2 keepalive pings, so a silently dropped connection is noticed before a send hangs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepaliveSetting {
    /// Ping after this long without activity.
    #[serde(default, deserialize_with = "optional_duration")]
    pub time: Option<Duration>,
    /// Close the connection when a ping is not answered within this time.
    #[serde(default, deserialize_with = "optional_duration")]
    pub timeout: Option<Duration>,
    /// Ping even when no request is in flight.
    #[serde(default)]
    pub permit_without_stream: bool,
}

impl GrpcExporterConfig {
    /// The URI to connect to: the endpoint with its scheme made explicit.
    pub fn target(&self) -> Result<Uri, ConfigError> {
        let endpoint = self.endpoint.trim();
        if endpoint.is_empty() {
            return Err(ConfigError::Invalid(
                "requires a non-empty \"endpoint\"".into(),
            ));
        }
        let url = if endpoint.contains("://") {
            endpoint.to_string()
        } else if self.tls.insecure {
            format!("http://{endpoint}")
        } else {
            format!("https://{endpoint}")
        };
        let uri: Uri = url.parse().map_err(|e| {
            ConfigError::Invalid(format!(
                "endpoint \"{endpoint}\" is not a valid address: {e}"
            ))
        })?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => Ok(uri),
            Some("http" | "https") => Err(ConfigError::Invalid(format!(
                "endpoint \"{endpoint}\" has no host"
            ))),
            _ => Err(ConfigError::Invalid(format!(
                "endpoint \"{endpoint}\": unsupported scheme; use host:port, http:// or https://"
            ))),
        }
    }

    pub fn helper_settings(&self) -> QueuedExporterSettings {
        QueuedExporterSettings {
            timeout: self.timeout,
            retry_on_failure: self.retry_on_failure.clone(),
            sending_queue: self.sending_queue.clone(),
        }
    }
}

impl ComponentConfig for GrpcExporterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.target()?;
        if self.compression == Compression::Deflate {
            return Err(ConfigError::Invalid(
                "compression \"deflate\" is not available for gRPC: use gzip, zstd or none".into(),
            ));
        }
        match self.balancer_name.as_deref() {
            None | Some("" | "pick_first" | "round_robin") => {}
            Some(name) => {
                return Err(ConfigError::Invalid(format!(
                    "balancer_name \"{name}\" is unknown: use pick_first or round_robin"
                )));
            }
        }
        validate_shared_keys(
            &self.headers,
            &self.auth,
            &self.retry_on_failure,
            &self.sending_queue,
        )
    }
}
