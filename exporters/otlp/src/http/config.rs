//! `otlp_http` settings: otelcol's `confighttp` client keys plus the exporter's own.

use crate::common::{Compression, default_compression, validate_shared_keys};
use cormorant_core::config::optional_duration;
use cormorant_core::exporterhelper::{
    QueueSetting, QueuedExporterSettings, RetrySetting, TimeoutSetting,
};
use cormorant_core::pdata::Signal;
use cormorant_core::tls::TlsClientSetting;
use cormorant_core::{ComponentConfig, ConfigError};
use http::Uri;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::time::Duration;

/// The body format of requests (and the expected format of responses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Proto,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExporterConfig {
    /// Base URL; `/v1/traces`, `/v1/metrics` or `/v1/logs` is appended.
    #[serde(default)]
    pub endpoint: String,
    /// Full URL for traces, used as is instead of `endpoint` + `/v1/traces`.
    #[serde(default)]
    pub traces_endpoint: Option<String>,
    #[serde(default)]
    pub metrics_endpoint: Option<String>,
    #[serde(default)]
    pub logs_endpoint: Option<String>,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default = "default_compression")]
    pub compression: Compression,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    #[serde(default)]
    pub tls: TlsClientSetting,
    /// Idle connections kept per destination (the pool is per host, so this is the same bound).
    #[serde(default)]
    pub max_idle_conns: Option<usize>,
    #[serde(default)]
    pub max_idle_conns_per_host: Option<usize>,
    /// Close pooled connections idle for longer than this (otelcol default 90s).
    #[serde(default, deserialize_with = "optional_duration")]
    pub idle_conn_timeout: Option<Duration>,
    /// Open a new connection for every request.
    #[serde(default)]
    pub disable_keep_alives: bool,
    /// HTTP/2: ping a connection that has been quiet for this long.
    #[serde(default, deserialize_with = "optional_duration")]
    pub http2_read_idle_timeout: Option<Duration>,
    /// HTTP/2: close the connection when a ping is not answered within this time.
    #[serde(default, deserialize_with = "optional_duration")]
    pub http2_ping_timeout: Option<Duration>,
    /// Accepted for compatibility: hyper does not cap connections per host.
    #[serde(default)]
    pub max_conns_per_host: Option<usize>,
    /// Accepted for compatibility: hyper sizes its connection buffers itself.
    #[serde(default)]
    pub read_buffer_size: Option<usize>,
    /// Accepted for compatibility: hyper sizes its connection buffers itself.
    #[serde(default)]
    pub write_buffer_size: Option<usize>,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub auth: Option<IgnoredAny>,
    #[serde(default)]
    pub timeout: TimeoutSetting,
    #[serde(default)]
    pub retry_on_failure: RetrySetting,
    #[serde(default)]
    pub sending_queue: QueueSetting,
}

impl HttpExporterConfig {
    fn specific_url(&self, signal: Signal) -> (&'static str, Option<&str>) {
        let (key, url) = match signal {
            Signal::Traces => ("traces_endpoint", &self.traces_endpoint),
            Signal::Metrics => ("metrics_endpoint", &self.metrics_endpoint),
            Signal::Logs => ("logs_endpoint", &self.logs_endpoint),
        };
        (key, url.as_deref().map(str::trim).filter(|u| !u.is_empty()))
    }

    /// Whether data of `signal` has somewhere to go.
    pub fn has_url(&self, signal: Signal) -> bool {
        self.specific_url(signal).1.is_some() || !self.endpoint.trim().is_empty()
    }

    /// The URL data of `signal` is posted to.
    pub fn url(&self, signal: Signal) -> Result<Uri, ConfigError> {
        let (key, specific) = self.specific_url(signal);
        let (key, url) = match specific {
            Some(url) => (key, url.to_string()),
            None => {
                let base = self.endpoint.trim();
                if base.is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "no endpoint for {signal}: set \"endpoint\" or \"{key}\""
                    )));
                }
                let path = format!("v1/{}", signal.as_str());
                let url = if base.ends_with('/') {
                    format!("{base}{path}")
                } else {
                    format!("{base}/{path}")
                };
                ("endpoint", url)
            }
        };
        let not_a_url = || {
            ConfigError::Invalid(format!(
                "{key} \"{url}\" must be an http:// or https:// URL with a host"
            ))
        };
        let uri: Uri = url.parse().map_err(|_| not_a_url())?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => Ok(uri),
            _ => Err(not_a_url()),
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

impl ComponentConfig for HttpExporterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let configured: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|signal| self.has_url(*signal))
            .collect();
        if configured.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one endpoint must be specified: \"endpoint\" or a per-signal \
                 \"traces_endpoint\", \"metrics_endpoint\", \"logs_endpoint\""
                    .into(),
            ));
        }
        for signal in configured {
            self.url(signal)?;
        }
        if self.proxy_url.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(ConfigError::Invalid(
                "proxy_url: proxies are not supported yet".into(),
            ));
        }
        validate_shared_keys(
            &self.headers,
            &self.auth,
            &self.retry_on_failure,
            &self.sending_queue,
        )
    }
}
