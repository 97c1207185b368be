//! TLS towards the collector: a CA bundle from a PEM file and the server name to verify.

use super::TransportError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::sync::Arc;

/// What the client trusts and which name it expects in the server certificate.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM-encoded CA certificates.
    pub ca_pem: Vec<u8>,
    /// Name checked against the server certificate (host of the endpoint by default).
    pub server_name: String,
}

impl TlsSettings {
    /// A rustls client config for OTLP/HTTP over HTTP/1.1.
    pub(super) fn client_config(&self, endpoint: &str) -> Result<ClientConfig, TransportError> {
        let tls_error = |reason: String| TransportError::Tls {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&self.ca_pem) {
            let certificate = certificate.map_err(|e| tls_error(format!("reading CA PEM: {e}")))?;
            roots
                .add(certificate)
                .map_err(|e| tls_error(format!("adding CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(tls_error("the CA file holds no certificate".to_owned()));
        }
        // An explicit provider, because the process-wide default is ambiguous when another
        // crate in the build enables a second rustls backend.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    pub(super) fn server_name(
        &self,
        endpoint: &str,
    ) -> Result<ServerName<'static>, TransportError> {
        ServerName::try_from(self.server_name.clone()).map_err(|e| TransportError::Tls {
            endpoint: endpoint.to_owned(),
            reason: format!("invalid server name {:?}: {e}", self.server_name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_without_certificates_is_an_error() {
        let settings = TlsSettings {
            ca_pem: b"not a certificate".to_vec(),
            server_name: "localhost".to_owned(),
        };
        let error = settings.client_config("localhost:4318").unwrap_err();
        assert!(error.to_string().contains("no certificate"), "{error}");
    }

    #[test]
    fn ip_addresses_are_valid_server_names() {
        let settings = TlsSettings {
            ca_pem: Vec::new(),
            server_name: "127.0.0.1".to_owned(),
        };
        assert!(matches!(
            settings.server_name("127.0.0.1:4318"),
            Ok(ServerName::IpAddress(_))
        ));
    }
}
