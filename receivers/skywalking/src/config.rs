//! `receivers::skywalking` settings, with the keys and defaults of contrib's `skywalking`
//! receiver: `protocols.grpc` (OAP's port 11800) and `protocols.http` (12800).

use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{ComponentConfig, ConfigError};
use serde::{Deserialize, Deserializer};

pub const DEFAULT_GRPC_ENDPOINT: &str = "localhost:11800";
pub const DEFAULT_HTTP_ENDPOINT: &str = "localhost:12800";
/// gRPC messages and HTTP bodies up to this size (after decompression) are accepted.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 20 * 1024 * 1024;

/// The whole `skywalking` receiver block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkyWalkingReceiverConfig {
    /// Without a `protocols` block both listeners run on their default endpoints; with one, only
    /// the protocols it names.
    #[serde(default = "Protocols::both")]
    pub protocols: Protocols,
}

impl Default for SkyWalkingReceiverConfig {
    fn default() -> Self {
        SkyWalkingReceiverConfig {
            protocols: Protocols::both(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<ServerSettings>,
    #[serde(default, deserialize_with = "present")]
    pub http: Option<ServerSettings>,
}

impl Protocols {
    fn both() -> Self {
        Protocols {
            grpc: Some(ServerSettings::default()),
            http: Some(ServerSettings::default()),
        }
    }
}

/// A present key with a null value still means "on, with defaults", as in otelcol.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ServerSettings>, D::Error> {
    Option::<ServerSettings>::deserialize(deserializer).map(|value| Some(value.unwrap_or_default()))
}

/// One listener. The endpoint defaults by protocol (see [`Protocols`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub endpoint: Option<String>,
    pub tls: Option<TlsServerSetting>,
    /// gRPC: the largest message, in MiB (otelcol's key).
    pub max_recv_msg_size_mib: Option<usize>,
    /// HTTP: the largest body, in bytes (otelcol's key).
    pub max_request_body_size: Option<usize>,
    /// Accepted for compatibility, with no effect: this receiver gives the pipeline the sender's
    /// address (`from_context: client.address`) but not its headers.
    pub include_metadata: bool,
}

impl ServerSettings {
    pub fn endpoint_or(&self, default: &str) -> String {
        self.endpoint.clone().unwrap_or_else(|| default.to_owned())
    }

    pub fn max_message_bytes(&self) -> usize {
        self.max_recv_msg_size_mib
            .map(|mib| mib.saturating_mul(1024 * 1024))
            .or(self.max_request_body_size)
            .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
    }
}

impl ComponentConfig for SkyWalkingReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let Protocols { grpc, http } = &self.protocols;
        if grpc.is_none() && http.is_none() {
            return Err(ConfigError::Invalid(
                "must specify at least one protocol when using the SkyWalking receiver".into(),
            ));
        }
        for (name, settings) in [("grpc", grpc), ("http", http)] {
            if settings.as_ref().and_then(|s| s.endpoint.as_deref()) == Some("") {
                return Err(ConfigError::Invalid(format!(
                    "protocols.{name}.endpoint is empty"
                )));
            }
        }
        Ok(())
    }
}
