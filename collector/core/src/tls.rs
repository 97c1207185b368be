//! otelcol's `tls` settings (`config/configtls`) for servers and clients, turned into rustls configs.
//!
//! Every TLS-capable receiver and exporter reads the same keys, so they are decoded here once, with
//! unknown keys rejected, and certificates are loaded with errors that name the file (or the inline
//! `*_pem` key) that failed. Only the `ring` crypto provider is used, matching the workspace's rustls
//! features. Certificates are read once when the config is built: `reload_interval` and
//! `reload_client_ca_file` are accepted so existing otelcol configs load, but files are not
//! watched — a restart picks up rotated certificates.

use crate::config::optional_duration;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, DigitallySignedStruct, NamedGroup, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A certificate chain and its private key, as PEM bytes `(cert, key)`.
pub type PemIdentity = (Vec<u8>, Vec<u8>);

/// A parsed certificate chain and its private key.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// PEM bytes and where they came from.
type PemSource = (Vec<u8>, PemOrigin);

/// ALPN protocols an HTTP server offers when it serves both HTTP/2 (and so gRPC) and HTTP/1.1.
pub const ALPN_H2_HTTP11: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Where a piece of PEM came from, so errors point at the right config key or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemOrigin {
    /// A file named by a `*_file` key.
    File(PathBuf),
    /// Inline PEM in the named `*_pem` key.
    Inline(&'static str),
}

impl fmt::Display for PemOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemOrigin::File(path) => write!(f, "file {}", path.display()),
            PemOrigin::Inline(key) => write!(f, "inline `{key}`"),
        }
    }
}

/// Why TLS settings could not be turned into a working config.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read {what} {origin}: {source}")]
    Read {
        what: &'static str,
        origin: PemOrigin,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {what} in {origin}: {message}")]
    Pem {
        what: &'static str,
        origin: PemOrigin,
        message: String,
    },
    #[error("no {what} found in {origin}")]
    Empty {
        what: &'static str,
        origin: PemOrigin,
    },
    #[error("provide the {what} either as `{what}_file` or as `{what}_pem`, not both")]
    BothFileAndPem { what: &'static str },
    #[error("a certificate needs a key and a key needs a certificate: set both or neither")]
    CertWithoutKey,
    #[error(
        "a TLS server needs a certificate and a key (`cert_file`/`cert_pem` and `key_file`/`key_pem`)"
    )]
    ServerWithoutCert,
    #[error("invalid TLS version {0:?}: supported are \"1.2\" and \"1.3\"")]
    Version(String),
    #[error("min_version {min} is greater than max_version {max}")]
    VersionRange { min: String, max: String },
    #[error(
        "unsupported cipher suite {0:?} (the ring provider offers TLS 1.2 ECDHE AES-GCM/CHACHA20 and TLS 1.3 suites)"
    )]
    CipherSuite(String),
    #[error("unsupported curve {0:?}: supported are X25519, P256 and P384")]
    Curve(String),
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
}

/// Server-side `tls` block (otelcol `configtls.ServerConfig`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerSetting {
    /// CA bundle. otelcol loads it as the root pool, which a server handshake does not consult;
    /// it is still loaded so a broken file is reported at startup as otelcol does.
    pub ca_file: Option<PathBuf>,
    pub ca_pem: Option<String>,
    /// Accepted for compatibility; servers never verify against system roots.
    #[serde(default)]
    pub include_system_ca_certs_pool: bool,
    pub cert_file: Option<PathBuf>,
    pub cert_pem: Option<String>,
    pub key_file: Option<PathBuf>,
    pub key_pem: Option<String>,
    /// CA bundle that client certificates must chain to; setting it requires client certificates
    /// (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
    /// Accepted; certificates are read once at startup (see the module docs).
    #[serde(default)]
    pub reload_client_ca_file: bool,
    /// `"1.2"` (default) or `"1.3"`.
    pub min_version: Option<String>,
    /// `"1.2"` or `"1.3"` (default).
    pub max_version: Option<String>,
    /// IANA names, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`; empty keeps the provider's list.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Go names: `X25519`, `P256`, `P384`; empty keeps the provider's list.
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    /// Accepted; certificates are read once at startup (see the module docs).
    #[serde(default, deserialize_with = "optional_duration")]
    pub reload_interval: Option<Duration>,
}

/// Client-side `tls` block (otelcol `configtls.ClientConfig`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsClientSetting {
    /// gRPC only: connect in plaintext. HTTP clients choose by the URL scheme instead.
    #[serde(default)]
    pub insecure: bool,
    /// Encrypt but accept any server certificate and name. For tests; never for production.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    pub ca_file: Option<PathBuf>,
    pub ca_pem: Option<String>,
    /// Trust the system roots in addition to `ca_file`/`ca_pem`.
    #[serde(default)]
    pub include_system_ca_certs_pool: bool,
    pub cert_file: Option<PathBuf>,
    pub cert_pem: Option<String>,
    pub key_file: Option<PathBuf>,
    pub key_pem: Option<String>,
    /// The name sent as SNI and checked against the server certificate instead of the host.
    pub server_name_override: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    /// Accepted; certificates are read once at startup (see the module docs).
    #[serde(default, deserialize_with = "optional_duration")]
    pub reload_interval: Option<Duration>,
}

impl TlsServerSetting {
    /// A server config offering HTTP/2 and HTTP/1.1 through ALPN, ready for a shared listener.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        self.build_server_config(&ALPN_H2_HTTP11).map(Arc::new)
    }

    /// A server config offering exactly `alpn` (empty: no ALPN), for callers that need other
    /// protocols or want to adjust the config further.
    pub fn build_server_config(&self, alpn: &[&[u8]]) -> Result<ServerConfig, TlsError> {
        let provider = crypto_provider(&self.cipher_suites, &self.curve_preferences)?;
        let versions = protocol_versions(self.min_version.as_deref(), self.max_version.as_deref())?;
        if self.ca_file.is_some() || self.ca_pem.is_some() {
            load_roots(&self.ca_file, &self.ca_pem, "ca")?;
        }
        let (cert, key) = identity_sources(
            &self.cert_file,
            &self.cert_pem,
            &self.key_file,
            &self.key_pem,
        )?
        .ok_or(TlsError::ServerWithoutCert)?;
        let (certs, key) = parse_identity(cert, key)?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let builder = match &self.client_ca_file {
            Some(path) => {
                let roots = load_roots(&Some(path.clone()), &None, "client_ca")?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(certs, key)?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

impl TlsClientSetting {
    /// The configured CA bundle as PEM bytes (`ca_file` read, or `ca_pem`), for clients such as
    /// tonic's `Certificate::from_pem`. `None` when no CA is configured.
    pub fn ca_pem_bytes(&self) -> Result<Option<Vec<u8>>, TlsError> {
        read_pem_source(&self.ca_file, &self.ca_pem, "ca")
    }

    /// The client certificate chain and key as PEM bytes `(cert, key)`, for clients such as tonic's
    /// `Identity::from_pem`. `None` when no client certificate is configured.
    pub fn identity_pem_bytes(&self) -> Result<Option<PemIdentity>, TlsError> {
        Ok(self
            .identity_sources()?
            .map(|((cert, _), (key, _))| (cert, key)))
    }

    /// A client config without ALPN: HTTP/1.1 clients can use it as is.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        self.build_client_config(&[]).map(Arc::new)
    }

    /// A client config offering exactly `alpn` (gRPC needs `h2`).
    ///
    /// Trust: `ca_file`/`ca_pem` when given (plus system roots if `include_system_ca_certs_pool`),
    /// otherwise the system roots, falling back to the bundled Mozilla roots when the system has
    /// none (minimal containers). `insecure_skip_verify` accepts any certificate but still checks
    /// handshake signatures, so the session is encrypted to whoever answered.
    pub fn build_client_config(&self, alpn: &[&[u8]]) -> Result<ClientConfig, TlsError> {
        let provider = crypto_provider(&self.cipher_suites, &self.curve_preferences)?;
        let versions = protocol_versions(self.min_version.as_deref(), self.max_version.as_deref())?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        let mut config = match self.identity_sources()? {
            Some((cert, key)) => {
                let (certs, key) = parse_identity(cert, key)?;
                builder.with_client_auth_cert(certs, key)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let configured = self.ca_file.is_some() || self.ca_pem.is_some();
        let mut roots = if configured {
            load_roots(&self.ca_file, &self.ca_pem, "ca")?
        } else {
            RootCertStore::empty()
        };
        if !configured || self.include_system_ca_certs_pool {
            add_system_roots(&mut roots);
        }
        Ok(roots)
    }

    fn identity_sources(&self) -> Result<Option<(PemSource, PemSource)>, TlsError> {
        identity_sources(
            &self.cert_file,
            &self.cert_pem,
            &self.key_file,
            &self.key_pem,
        )
    }
}

/// The ring provider, narrowed to the configured cipher suites and curves; in an `Arc` because
/// the config builder and the certificate verifiers share it.
fn crypto_provider(
    cipher_suites: &[String],
    curve_preferences: &[String],
) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !cipher_suites.is_empty() {
        let mut chosen = Vec::with_capacity(cipher_suites.len());
        for name in cipher_suites {
            let suite = provider
                .cipher_suites
                .iter()
                .find(|s| suite_is_named(s, name))
                .ok_or_else(|| TlsError::CipherSuite(name.clone()))?;
            chosen.push(*suite);
        }
        // Go applies `cipher_suites` to TLS 1.2 only; keep TLS 1.3 usable unless it was narrowed.
        if !chosen.iter().any(is_tls13) {
            chosen.extend(provider.cipher_suites.iter().filter(|s| is_tls13(s)));
        }
        provider.cipher_suites = chosen;
    }
    if !curve_preferences.is_empty() {
        let mut chosen = Vec::with_capacity(curve_preferences.len());
        for name in curve_preferences {
            let group = match name.as_str() {
                "X25519" => NamedGroup::X25519,
                "P256" | "P-256" => NamedGroup::secp256r1,
                "P384" | "P-384" => NamedGroup::secp384r1,
                _ => return Err(TlsError::Curve(name.clone())),
            };
            let kx = provider
                .kx_groups
                .iter()
                .find(|g| g.name() == group)
                .ok_or_else(|| TlsError::Curve(name.clone()))?;
            chosen.push(*kx);
        }
        provider.kx_groups = chosen;
    }
    Ok(Arc::new(provider))
}

/// The protocol versions between `min_version` (default 1.2) and `max_version` (default 1.3).
fn protocol_versions(
    min_version: Option<&str>,
    max_version: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let min = parse_version(min_version, 2)?;
    let max = parse_version(max_version, 3)?;
    if min > max {
        return Err(TlsError::VersionRange {
            min: format!("1.{min}"),
            max: format!("1.{max}"),
        });
    }
    let mut versions = Vec::with_capacity(2);
    if min <= 3 && max >= 3 {
        versions.push(&rustls::version::TLS13);
    }
    if min <= 2 {
        versions.push(&rustls::version::TLS12);
    }
    Ok(versions)
}

/// The certificate chain and key as PEM, if configured; one without the other is an error.
fn identity_sources(
    cert_file: &Option<PathBuf>,
    cert_pem: &Option<String>,
    key_file: &Option<PathBuf>,
    key_pem: &Option<String>,
) -> Result<Option<(PemSource, PemSource)>, TlsError> {
    let cert = pem_source(cert_file, cert_pem, "cert")?;
    let key = pem_source(key_file, key_pem, "key")?;
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some((cert, key))),
        (None, None) => Ok(None),
        _ => Err(TlsError::CertWithoutKey),
    }
}

/// Parses the certificate chain and private key found by [`identity_sources`].
fn parse_identity(
    (cert_bytes, cert_origin): PemSource,
    (key_bytes, key_origin): PemSource,
) -> Result<Identity, TlsError> {
    let certs = parse_certificates(&cert_bytes, &cert_origin, "certificate")?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            what: "private key",
            origin: key_origin.clone(),
        },
        other => TlsError::Pem {
            what: "private key",
            origin: key_origin.clone(),
            message: other.to_string(),
        },
    })?;
    Ok((certs, key))
}

/// Matches rustls' names and the IANA/Go spelling of TLS 1.3 suites (`TLS_AES_128_GCM_SHA256`).
fn suite_is_named(suite: &SupportedCipherSuite, name: &str) -> bool {
    let Some(own) = suite.suite().as_str() else {
        return false;
    };
    own == name || (is_tls13(suite) && own.strip_prefix("TLS13_") == name.strip_prefix("TLS_"))
}

fn is_tls13(suite: &SupportedCipherSuite) -> bool {
    matches!(suite, SupportedCipherSuite::Tls13(_))
}

/// `"1.2"` → 2, `"1.3"` → 3; TLS 1.0/1.1 are refused because rustls does not implement them.
fn parse_version(value: Option<&str>, default: u8) -> Result<u8, TlsError> {
    match value {
        None | Some("") => Ok(default),
        Some("1.2") => Ok(2),
        Some("1.3") => Ok(3),
        Some(other) => Err(TlsError::Version(other.to_string())),
    }
}

/// Reads `*_file` or takes `*_pem`, refusing both at once as otelcol does.
fn pem_source(
    file: &Option<PathBuf>,
    inline: &Option<String>,
    what: &'static str,
) -> Result<Option<PemSource>, TlsError> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(TlsError::BothFileAndPem { what }),
        (Some(path), None) => {
            let origin = PemOrigin::File(path.clone());
            std::fs::read(path)
                .map(|bytes| Some((bytes, origin.clone())))
                .map_err(|source| TlsError::Read {
                    what,
                    origin,
                    source,
                })
        }
        (None, Some(pem)) => Ok(Some((pem.clone().into_bytes(), inline_origin(what)))),
        (None, None) => Ok(None),
    }
}

fn read_pem_source(
    file: &Option<PathBuf>,
    inline: &Option<String>,
    what: &'static str,
) -> Result<Option<Vec<u8>>, TlsError> {
    Ok(pem_source(file, inline, what)?.map(|(bytes, _)| bytes))
}

fn inline_origin(what: &'static str) -> PemOrigin {
    PemOrigin::Inline(match what {
        "ca" => "ca_pem",
        "cert" => "cert_pem",
        "key" => "key_pem",
        _ => "pem",
    })
}

fn parse_certificates(
    bytes: &[u8],
    origin: &PemOrigin,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            origin: origin.clone(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what,
            origin: origin.clone(),
        });
    }
    Ok(certs)
}

fn load_roots(
    file: &Option<PathBuf>,
    inline: &Option<String>,
    what: &'static str,
) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let Some((bytes, origin)) = pem_source(file, inline, what)? else {
        return Ok(roots);
    };
    for cert in parse_certificates(&bytes, &origin, "CA certificate")? {
        roots.add(cert).map_err(|e| TlsError::Pem {
            what: "CA certificate",
            origin: origin.clone(),
            message: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// Adds the platform's trusted roots; if the platform has none (a scratch container), the bundled
/// Mozilla roots, so HTTPS to public endpoints still works.
fn add_system_roots(roots: &mut RootCertStore) {
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "could not load some system CA certificates");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
}

/// `insecure_skip_verify`: trusts any certificate chain and name, yet verifies the handshake
/// signatures with the presented key so the connection is at least bound to that key.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
