//! The `prometheusremotewrite` receiver: only the remote_write endpoint of the `integration`
//! receiver (1.0 and 2.0), under the contrib component's name, port and path, so a config written
//! for contrib keeps working, and default remote_write 1.0 senders can use it too.
//!
//! Validation, conversion, status codes and telemetry are the `integration` receiver's own
//! (`remote_write_route.rs`); this module only chooses where the route is served.

use crate::config::DEFAULT_MAX_REQUEST_BODY_SIZE;
use crate::http;
use crate::remote_write_route::remote_write_route;
use async_trait::async_trait;
use axum::Router;
use cormorant_core::server::ReceiverListener;
use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{
    ComponentConfig, ComponentError, ComponentId, ConfigError, Host, Lifecycle, Receiver,
    ReceiverConsumers,
};
use serde::Deserialize;
use std::net::SocketAddr;
use tokio::time::Instant;

/// The component type in config IDs, as contrib names it.
pub const TYPE: &str = "prometheusremotewrite";
/// Contrib's port 9090 (Prometheus' own); loopback only, as otelcol's defaults are, until the
/// config asks for more.
pub const DEFAULT_ENDPOINT: &str = "localhost:9090";
/// Prometheus' own remote_write receiver path, which contrib also serves.
pub const DEFAULT_PATH: &str = "/api/v1/write";

/// The whole `prometheusremotewrite` receiver block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusRemoteWriteConfig {
    pub endpoint: String,
    /// The one path served; every other path answers 404.
    pub path: String,
    /// Largest accepted body, both as received and after snappy decompression.
    pub max_request_body_size: usize,
    pub tls: Option<TlsServerSetting>,
}

impl Default for PrometheusRemoteWriteConfig {
    fn default() -> Self {
        PrometheusRemoteWriteConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            path: DEFAULT_PATH.to_string(),
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            tls: None,
        }
    }
}

impl ComponentConfig for PrometheusRemoteWriteConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoint.is_empty() {
            return Err(ConfigError::Invalid("endpoint must not be empty".into()));
        }
        // The router takes `{...}` and `*` as captures; a literal path is all a sender can use.
        if !self.path.starts_with('/') || self.path.contains(['{', '}', '*']) {
            return Err(ConfigError::Invalid(format!(
                "path {:?} must start with '/' and contain no '{{', '}}' or '*'",
                self.path
            )));
        }
        if self.max_request_body_size == 0 {
            return Err(ConfigError::Invalid(
                "max_request_body_size must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}

/// One `prometheusremotewrite` receiver: one listener serving one remote_write path.
pub struct PrometheusRemoteWriteReceiver {
    config: PrometheusRemoteWriteConfig,
    consumers: ReceiverConsumers,
    listener: ReceiverListener,
}

impl PrometheusRemoteWriteReceiver {
    pub fn new(
        id: ComponentId,
        config: PrometheusRemoteWriteConfig,
        consumers: ReceiverConsumers,
    ) -> Self {
        let listener = ReceiverListener::http(id, config.endpoint.clone(), config.tls.clone());
        PrometheusRemoteWriteReceiver {
            config,
            consumers,
            listener,
        }
    }

    /// The bound address once started (the real port when the endpoint asked for port 0).
    pub async fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().await
    }
}

#[async_trait]
impl Lifecycle for PrometheusRemoteWriteReceiver {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        self.listener
            .start(|id, telemetry| {
                let mut router = Router::new();
                if let Some(consumer) = &self.consumers.metrics {
                    let route = remote_write_route(
                        id,
                        consumer,
                        telemetry,
                        self.config.max_request_body_size,
                    );
                    router = router.route(&self.config.path, route);
                }
                router.fallback(http::not_found)
            })
            .await
    }

    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        self.listener.shutdown(deadline).await
    }
}

impl Receiver for PrometheusRemoteWriteReceiver {}
