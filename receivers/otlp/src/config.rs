//! `receivers::otlp` settings, with otelcol's keys and defaults (`receiver/otlpreceiver/config.go`,
//! `config/configgrpc`, `config/confighttp`).
//!
//! Some keys are accepted so that existing otelcol configs load, but have no effect here; each is
//! documented on its field.

use cormorant_core::config::optional_duration;
use cormorant_core::server::AcceptedEncodings;
use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{ComponentConfig, ConfigError};
use indexmap::IndexMap;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::time::Duration;

pub const DEFAULT_GRPC_ENDPOINT: &str = "localhost:4317";
pub const DEFAULT_HTTP_ENDPOINT: &str = "localhost:4318";
pub const DEFAULT_MAX_RECV_MSG_SIZE_MIB: u64 = 4;
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: usize = 20 * 1024 * 1024;

/// The whole `otlp` receiver block.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    #[serde(default)]
    pub protocols: Protocols,
}

/// Which protocols are served. A protocol is on when its key is present, even with no value
/// (`grpc:`), as in otelcol.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<GrpcConfig>,
    #[serde(default, deserialize_with = "present")]
    pub http: Option<HttpConfig>,
}

/// A present key with a null value still means "on, with defaults".
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(|value| Some(value.unwrap_or_default()))
}

/// `protocols.grpc` (otelcol `configgrpc.ServerConfig`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    pub endpoint: String,
    /// `tcp` (or `tcp4`/`tcp6`); Unix sockets are not supported.
    pub transport: String,
    pub tls: Option<TlsServerSetting>,
    /// Largest accepted message, after decompression.
    pub max_recv_msg_size_mib: u64,
    /// HTTP/2 streams per connection; 0 leaves it unlimited.
    pub max_concurrent_streams: u32,
    /// Accepted for compatibility: Go's socket buffer sizes; the kernel tunes them here.
    pub read_buffer_size: Option<u64>,
    /// Accepted for compatibility, like `read_buffer_size`.
    pub write_buffer_size: Option<u64>,
    pub keepalive: Option<KeepaliveConfig>,
    /// Keep request headers (gRPC metadata) as the client's, for processors that read them
    /// (`attributes` with `from_context: metadata.<name>`) before any `batch`.
    pub include_metadata: bool,
    /// Authenticator extensions; rejected while none exist.
    pub auth: Option<IgnoredAny>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: DEFAULT_GRPC_ENDPOINT.to_string(),
            transport: "tcp".to_string(),
            tls: None,
            max_recv_msg_size_mib: DEFAULT_MAX_RECV_MSG_SIZE_MIB,
            max_concurrent_streams: 0,
            read_buffer_size: None,
            write_buffer_size: None,
            keepalive: None,
            include_metadata: false,
            auth: None,
        }
    }
}

impl GrpcConfig {
    /// The decoding limit in bytes (0 MiB means the default, as in gRPC-Go).
    pub fn max_message_bytes(&self) -> usize {
        let mib = match self.max_recv_msg_size_mib {
            0 => DEFAULT_MAX_RECV_MSG_SIZE_MIB,
            mib => mib,
        };
        usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

/// `protocols.grpc.keepalive`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveConfig {
    pub server_parameters: Option<KeepaliveServerParameters>,
    /// Accepted for compatibility: HTTP/2 ping policing of clients is not enforced.
    pub enforcement_policy: Option<KeepaliveEnforcementPolicy>,
}

/// `keepalive.server_parameters`. `time` and `timeout` drive HTTP/2 pings; the connection-age
/// limits are accepted for compatibility and not enforced.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveServerParameters {
    #[serde(deserialize_with = "optional_duration")]
    pub max_connection_idle: Option<Duration>,
    #[serde(deserialize_with = "optional_duration")]
    pub max_connection_age: Option<Duration>,
    #[serde(deserialize_with = "optional_duration")]
    pub max_connection_age_grace: Option<Duration>,
    /// Ping an idle connection after this long.
    #[serde(deserialize_with = "optional_duration")]
    pub time: Option<Duration>,
    /// Close the connection when a ping is not answered within this time.
    #[serde(deserialize_with = "optional_duration")]
    pub timeout: Option<Duration>,
}

/// `keepalive.enforcement_policy`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveEnforcementPolicy {
    #[serde(deserialize_with = "optional_duration")]
    pub min_time: Option<Duration>,
    pub permit_without_stream: bool,
}

/// `protocols.http` (otelcol `confighttp.ServerConfig` plus the OTLP paths).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub endpoint: String,
    /// `tcp` (or `tcp4`/`tcp6`); Unix sockets are not supported.
    pub transport: String,
    pub tls: Option<TlsServerSetting>,
    pub traces_url_path: String,
    pub metrics_url_path: String,
    pub logs_url_path: String,
    /// Largest accepted body, both as received and after decompression.
    pub max_request_body_size: usize,
    pub cors: Option<CorsConfig>,
    /// Keep request headers (gRPC metadata) as the client's, for processors that read them
    /// (`attributes` with `from_context: metadata.<name>`) before any `batch`.
    pub include_metadata: bool,
    /// Headers added to every response.
    pub response_headers: IndexMap<String, String>,
    /// Accepted `Content-Encoding`s; uncompressed bodies are always accepted.
    pub compression_algorithms: Option<Vec<String>>,
    /// Accepted for compatibility (Go `http.Server` timeouts); hyper's own header-read timeout
    /// and HTTP/2 keepalive bound slow clients here.
    #[serde(deserialize_with = "optional_duration")]
    pub read_timeout: Option<Duration>,
    #[serde(deserialize_with = "optional_duration")]
    pub read_header_timeout: Option<Duration>,
    #[serde(deserialize_with = "optional_duration")]
    pub write_timeout: Option<Duration>,
    #[serde(deserialize_with = "optional_duration")]
    pub idle_timeout: Option<Duration>,
    /// Accepted for compatibility; connections are always kept alive.
    pub keepalives_enabled: Option<bool>,
    /// Authenticator extensions; rejected while none exist.
    pub auth: Option<IgnoredAny>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: DEFAULT_HTTP_ENDPOINT.to_string(),
            transport: "tcp".to_string(),
            tls: None,
            traces_url_path: "/v1/traces".to_string(),
            metrics_url_path: "/v1/metrics".to_string(),
            logs_url_path: "/v1/logs".to_string(),
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            cors: None,
            include_metadata: false,
            response_headers: IndexMap::new(),
            compression_algorithms: None,
            read_timeout: None,
            read_header_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            keepalives_enabled: None,
            auth: None,
        }
    }
}

impl HttpConfig {
    /// The accepted encodings: otelcol's full list unless `compression_algorithms` narrows it.
    pub fn accepted_encodings(&self) -> Result<AcceptedEncodings, ConfigError> {
        match &self.compression_algorithms {
            None => Ok(AcceptedEncodings::default()),
            Some(names) => AcceptedEncodings::from_names(names)
                .map_err(|e| ConfigError::Invalid(format!("protocols.http: {e}"))),
        }
    }

    /// A path as routed: otelcol adds a missing leading `/`.
    pub fn route_path(path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        }
    }
}

/// `protocols.http.cors`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Exact origins, `*`, or patterns with one `*` (`https://*.example.com`).
    pub allowed_origins: Vec<String>,
    /// Headers a browser may send beyond the CORS-safelisted ones; `*` allows any.
    pub allowed_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer; 0 sends no `Access-Control-Max-Age`.
    pub max_age: u64,
}

impl ComponentConfig for OtlpReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let protocols = &self.protocols;
        if protocols.grpc.is_none() && protocols.http.is_none() {
            return Err(ConfigError::Invalid(
                "must specify at least one protocol when using the OTLP receiver".into(),
            ));
        }
        if let Some(grpc) = &protocols.grpc {
            check_common("grpc", &grpc.endpoint, &grpc.transport, grpc.auth.is_some())?;
        }
        if let Some(http) = &protocols.http {
            check_common("http", &http.endpoint, &http.transport, http.auth.is_some())?;
            http.accepted_encodings()?;
            for (name, value) in &http.response_headers {
                let valid = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                    && http::HeaderValue::from_str(value).is_ok();
                if !valid {
                    return Err(ConfigError::Invalid(format!(
                        "protocols.http.response_headers: invalid header {name:?}: {value:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn check_common(
    protocol: &str,
    endpoint: &str,
    transport: &str,
    has_auth: bool,
) -> Result<(), ConfigError> {
    if has_auth {
        return Err(ConfigError::Invalid(format!(
            "protocols.{protocol}.auth: auth extensions are not supported yet"
        )));
    }
    if !matches!(transport, "tcp" | "tcp4" | "tcp6") {
        return Err(ConfigError::Invalid(format!(
            "protocols.{protocol}.transport: unsupported transport {transport:?} (only tcp)"
        )));
    }
    match endpoint.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(ConfigError::Invalid(format!(
            "protocols.{protocol}.endpoint: {endpoint:?} is not host:port"
        ))),
    }
}
