//! Settings and plumbing both OTLP exporters share: compression names, custom headers, the checks
//! of the keys both configs have, the TLS connector, the User-Agent, and the partial-success
//! reading of a response.

use cormorant_core::ConfigError;
use cormorant_core::exporterhelper::{QueueSetting, RetrySetting, SendOutcome};
use cormorant_core::tls::TlsClientSetting;
use http::{HeaderMap, HeaderName, HeaderValue};
use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use indexmap::IndexMap;
use rustls::pki_types::ServerName;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::fmt;

/// `Cormorant/<version>`, sent as User-Agent so destinations can tell who is sending.
pub(crate) fn user_agent() -> String {
    format!("Cormorant/{}", cormorant_core::VERSION)
}

/// `compression`: how request bodies are compressed. Which ones a transport supports is checked
/// by its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Deflate,
}

/// Requests are gzip-compressed when `compression` is not set, over either transport, as
/// otelcol's OTLP exporters do.
pub(crate) fn default_compression() -> Compression {
    Compression::Gzip
}

impl TryFrom<String> for Compression {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "" | "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "deflate" => Ok(Compression::Deflate),
            other => Err(format!(
                "unsupported compression \"{other}\": supported are gzip, zstd, deflate and none"
            )),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Deflate => "deflate",
        })
    }
}

/// Checks the `headers` map once at config time, so a bad name or value is a config error and
/// not a failure on every request.
pub(crate) fn header_map(headers: &IndexMap<String, String>) -> Result<HeaderMap, ConfigError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::Invalid(format!("headers: \"{name}\" is not a valid header name"))
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            ConfigError::Invalid(format!(
                "headers: the value of \"{name}\" is not a valid header value"
            ))
        })?;
        map.insert(header, value);
    }
    Ok(map)
}

/// The `auth` key names an authenticator extension, which Cormorant does not have yet; refusing
/// it is safer than sending unauthenticated data.
fn reject_auth<T>(auth: &Option<T>) -> Result<(), ConfigError> {
    match auth {
        Some(_) => Err(ConfigError::Invalid(
            "auth: authenticator extensions are not supported yet; set the credentials in `headers`"
                .into(),
        )),
        None => Ok(()),
    }
}

/// Checks the keys both exporters' configs share beside their transport's own, so `otlp_grpc` and
/// `otlp_http` accept and refuse them alike.
pub(crate) fn validate_shared_keys(
    headers: &IndexMap<String, String>,
    auth: &Option<IgnoredAny>,
    retry_on_failure: &RetrySetting,
    sending_queue: &QueueSetting,
) -> Result<(), ConfigError> {
    header_map(headers)?;
    reject_auth(auth)?;
    retry_on_failure.validate()?;
    sending_queue.validate()
}

/// A connector that speaks TLS (rustls, configured from the `tls` block) to `https` URIs and
/// plaintext to `http` ones, offering exactly the given HTTP versions through ALPN.
pub(crate) fn https_connector(
    tls: &TlsClientSetting,
    http1: bool,
) -> Result<HttpsConnector<HttpConnector>, ConfigError> {
    let config = tls
        .build_client_config(&[])
        .map_err(|e| ConfigError::Invalid(format!("tls: {e}")))?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http();
    let builder = match &tls.server_name_override {
        Some(name) => {
            let name =
                ServerName::try_from(name.trim_matches(['[', ']']).to_string()).map_err(|_| {
                    ConfigError::Invalid(format!(
                        "tls: server_name_override \"{name}\" is not a valid name"
                    ))
                })?;
            builder.with_server_name_resolver(FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    Ok(if http1 {
        builder.enable_all_versions().wrap_connector(http)
    } else {
        builder.enable_http2().wrap_connector(http)
    })
}

/// Reads an OTLP `partial_success`: the rejected count and the destination's message.
pub(crate) fn partial_success(rejected: i64, message: String) -> SendOutcome {
    SendOutcome::partially_rejected(usize::try_from(rejected).unwrap_or(0), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_names() {
        assert_eq!(Compression::try_from(String::new()), Ok(Compression::None));
        assert_eq!(
            Compression::try_from("gzip".to_string()),
            Ok(Compression::Gzip)
        );
        assert!(
            Compression::try_from("snappy".to_string())
                .unwrap_err()
                .contains("unsupported compression \"snappy\"")
        );
    }

    #[test]
    fn headers_are_checked() {
        let mut headers = IndexMap::new();
        headers.insert("x-tenant".to_string(), "acme".to_string());
        assert_eq!(header_map(&headers).unwrap()["x-tenant"], "acme");
        headers.insert("bad header".to_string(), "v".to_string());
        assert!(
            header_map(&headers)
                .unwrap_err()
                .to_string()
                .contains("\"bad header\" is not a valid header name")
        );
    }
}
