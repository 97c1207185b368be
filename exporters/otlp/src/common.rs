//! Settings and plumbing both OTLP exporters share: compression names, custom headers, the checks
//! of the keys both configs have, and the partial-success reading of a response. The TLS
//! connector and the User-Agent come from `cormorant_core::http_client`, shared with every HTTP
//! exporter.

use cormorant_core::ConfigError;
use cormorant_core::exporterhelper::{QueueSetting, RetrySetting, SendOutcome};
use http::{HeaderMap, HeaderName, HeaderValue};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::fmt;

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
