//! Plumbing every HTTP-speaking exporter shares: the TLS-capable connector built from the `tls`
//! block, the User-Agent, and readable transport errors.
//!
//! Kept here rather than in each exporter so that `tls` means the same thing for every one of
//! them (same trust roots, same `server_name_override` handling) and a fix lands everywhere.

use crate::component::ConfigError;
use crate::tls::TlsClientSetting;
use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::ServerName;

/// `Cormorant/<version>`, sent as User-Agent so destinations can tell who is sending.
pub fn user_agent() -> String {
    format!("Cormorant/{}", crate::VERSION)
}

/// Which HTTP versions a connector offers through ALPN on TLS connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersions {
    /// HTTP/1.1 and HTTP/2, whichever the server picks.
    Any,
    /// HTTP/2 only (gRPC).
    Http2Only,
}

/// A connector that speaks TLS (rustls, configured from the `tls` block) to `https` URIs and
/// plaintext to `http` ones.
pub fn https_connector(
    tls: &TlsClientSetting,
    versions: HttpVersions,
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
    Ok(match versions {
        HttpVersions::Any => builder.enable_all_versions().wrap_connector(http),
        HttpVersions::Http2Only => builder.enable_http2().wrap_connector(http),
    })
}

/// An error with all its causes. hyper's client errors say little at the top
/// ("client error (Connect)"); what went wrong is further down the chain.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_lists_every_cause() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(error_chain(&ChainLink(inner)), "connect failed: refused");
    }

    #[test]
    fn bad_server_name_override_is_a_config_error() {
        let tls = TlsClientSetting {
            server_name_override: Some("not a name!".into()),
            ..TlsClientSetting::default()
        };
        let error = https_connector(&tls, HttpVersions::Any).unwrap_err();
        assert!(
            error.to_string().contains("server_name_override"),
            "{error}"
        );
    }

    #[derive(Debug)]
    struct ChainLink(std::io::Error);

    impl std::fmt::Display for ChainLink {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connect failed")
        }
    }

    impl std::error::Error for ChainLink {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
