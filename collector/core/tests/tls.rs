//! The `tls` settings against real rustls handshakes over loopback TCP.

use cormorant_core::tls::{TlsClientSetting, TlsError, TlsServerSetting};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::ServerName;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A fresh directory for one test's PEM files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cormorant-tls-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &std::path::Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A self-signed `localhost` certificate and its key, as PEM.
fn self_signed() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// A CA plus a server and a client certificate it signed, as PEM.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let issue = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.as_ref().pem(),
        server: issue("localhost"),
        client: issue("client.local"),
    }
}

/// Runs one handshake and a ping/pong; returns the negotiated ALPN protocol on success.
async fn handshake(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
) -> Result<Option<Vec<u8>>, std::io::Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server);
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        Ok::<_, std::io::Error>(buf)
    });
    let connector = TlsConnector::from(client);
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let client_result = async {
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(b"ping").await?;
        let mut reply = [0u8; 4];
        tls.read_exact(&mut reply).await?;
        assert_eq!(&reply, b"pong");
        Ok::<_, std::io::Error>(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
    }
    .await;
    let server_result = server_task.await.unwrap();
    let alpn = client_result?;
    assert_eq!(&server_result?, b"ping");
    Ok(alpn)
}

#[tokio::test]
async fn self_signed_server_trusted_through_ca_file_negotiates_h2() {
    let dir = scratch_dir("ca-file");
    let (cert, key) = self_signed();
    let server = TlsServerSetting {
        cert_file: Some(write(&dir, "cert.pem", &cert)),
        key_file: Some(write(&dir, "key.pem", &key)),
        ..Default::default()
    };
    let client = TlsClientSetting {
        ca_file: Some(write(&dir, "ca.pem", &cert)),
        ..Default::default()
    };
    let alpn = handshake(
        server.server_config().unwrap(),
        Arc::new(client.build_client_config(&[b"h2"]).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn inline_pem_works_like_files() {
    let (cert, key) = self_signed();
    let server = TlsServerSetting {
        cert_pem: Some(cert.clone()),
        key_pem: Some(key),
        ..Default::default()
    };
    let client = TlsClientSetting {
        ca_pem: Some(cert.clone()),
        ..Default::default()
    };
    assert_eq!(
        client.ca_pem_bytes().unwrap().as_deref(),
        Some(cert.as_bytes())
    );
    let alpn = handshake(
        server.server_config().unwrap(),
        client.client_config().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(alpn, None);
}

#[tokio::test]
async fn unknown_certificate_is_rejected_unless_verification_is_skipped() {
    let (cert, key) = self_signed();
    let server = TlsServerSetting {
        cert_pem: Some(cert),
        key_pem: Some(key),
        ..Default::default()
    }
    .server_config()
    .unwrap();
    let strict = TlsClientSetting::default().client_config().unwrap();
    assert!(handshake(server.clone(), strict).await.is_err());

    let skip = TlsClientSetting {
        insecure_skip_verify: true,
        ..Default::default()
    }
    .client_config()
    .unwrap();
    handshake(server, skip).await.unwrap();
}

#[tokio::test]
async fn client_ca_file_requires_a_client_certificate_signed_by_it() {
    let dir = scratch_dir("mtls");
    let pki = pki();
    let ca_path = write(&dir, "ca.pem", &pki.ca);
    let server = TlsServerSetting {
        cert_pem: Some(pki.server.0.clone()),
        key_pem: Some(pki.server.1.clone()),
        client_ca_file: Some(ca_path.clone()),
        ..Default::default()
    }
    .server_config()
    .unwrap();

    let anonymous = TlsClientSetting {
        ca_file: Some(ca_path.clone()),
        ..Default::default()
    };
    assert!(
        handshake(server.clone(), anonymous.client_config().unwrap())
            .await
            .is_err()
    );

    let with_identity = TlsClientSetting {
        ca_file: Some(ca_path),
        cert_file: Some(write(&dir, "client.pem", &pki.client.0)),
        key_file: Some(write(&dir, "client-key.pem", &pki.client.1)),
        ..Default::default()
    };
    let (cert, key) = with_identity.identity_pem_bytes().unwrap().unwrap();
    assert_eq!(cert, pki.client.0.as_bytes());
    assert_eq!(key, pki.client.1.as_bytes());
    handshake(server, with_identity.client_config().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn disjoint_version_ranges_fail_the_handshake() {
    let (cert, key) = self_signed();
    let server = TlsServerSetting {
        cert_pem: Some(cert.clone()),
        key_pem: Some(key),
        min_version: Some("1.3".into()),
        ..Default::default()
    }
    .server_config()
    .unwrap();
    let tls12_only = TlsClientSetting {
        ca_pem: Some(cert.clone()),
        max_version: Some("1.2".into()),
        ..Default::default()
    };
    assert!(
        handshake(server.clone(), tls12_only.client_config().unwrap())
            .await
            .is_err()
    );
    let default = TlsClientSetting {
        ca_pem: Some(cert),
        ..Default::default()
    };
    handshake(server, default.client_config().unwrap())
        .await
        .unwrap();
}

#[test]
fn errors_name_the_failing_file_or_key() {
    let missing = PathBuf::from("/nonexistent/cormorant/cert.pem");
    let err = TlsServerSetting {
        cert_file: Some(missing.clone()),
        key_pem: Some("x".into()),
        ..Default::default()
    }
    .server_config()
    .unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/cormorant/cert.pem"));

    let dir = scratch_dir("garbage");
    let garbage = write(&dir, "garbage.pem", "not a certificate");
    let err = TlsClientSetting {
        ca_file: Some(garbage),
        ..Default::default()
    }
    .client_config()
    .unwrap_err();
    assert!(matches!(err, TlsError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("garbage.pem"), "{err}");

    let (cert, _) = self_signed();
    let err = TlsServerSetting {
        cert_pem: Some(cert.clone()),
        key_pem: Some(cert.clone()),
        ..Default::default()
    }
    .server_config()
    .unwrap_err();
    assert!(err.to_string().contains("key_pem"), "{err}");
}

#[test]
fn inconsistent_settings_are_refused() {
    let (cert, key) = self_signed();
    let both = TlsServerSetting {
        cert_file: Some("/tmp/a.pem".into()),
        cert_pem: Some(cert.clone()),
        key_pem: Some(key.clone()),
        ..Default::default()
    };
    assert!(matches!(
        both.server_config().unwrap_err(),
        TlsError::BothFileAndPem { what: "cert" }
    ));

    let no_key = TlsClientSetting {
        cert_pem: Some(cert.clone()),
        ..Default::default()
    };
    assert!(matches!(
        no_key.client_config().unwrap_err(),
        TlsError::CertWithoutKey
    ));
    assert!(matches!(
        no_key.identity_pem_bytes().unwrap_err(),
        TlsError::CertWithoutKey
    ));

    assert!(matches!(
        TlsServerSetting::default().server_config().unwrap_err(),
        TlsError::ServerWithoutCert
    ));

    let with_identity = |patch: fn(&mut TlsServerSetting)| {
        let mut setting = TlsServerSetting {
            cert_pem: Some(cert.clone()),
            key_pem: Some(key.clone()),
            ..Default::default()
        };
        patch(&mut setting);
        setting.server_config().unwrap_err().to_string()
    };
    assert!(with_identity(|s| s.min_version = Some("1.1".into())).contains("\"1.1\""));
    assert!(
        with_identity(|s| {
            s.min_version = Some("1.3".into());
            s.max_version = Some("1.2".into());
        })
        .contains("greater than")
    );
    assert!(
        with_identity(|s| s.cipher_suites = vec!["TLS_RSA_WITH_RC4_128_SHA".into()])
            .contains("TLS_RSA_WITH_RC4_128_SHA")
    );
    assert!(with_identity(|s| s.curve_preferences = vec!["P521".into()]).contains("P521"));
}

#[tokio::test]
async fn cipher_suites_and_curves_narrow_the_handshake() {
    let (cert, key) = self_signed();
    let server = TlsServerSetting {
        cert_pem: Some(cert.clone()),
        key_pem: Some(key),
        cipher_suites: vec!["TLS13_CHACHA20_POLY1305_SHA256".into()],
        curve_preferences: vec!["P256".into()],
        ..Default::default()
    }
    .server_config()
    .unwrap();
    let matching = TlsClientSetting {
        ca_pem: Some(cert.clone()),
        ..Default::default()
    };
    handshake(server.clone(), matching.client_config().unwrap())
        .await
        .unwrap();
    let other_suite = TlsClientSetting {
        ca_pem: Some(cert),
        cipher_suites: vec!["TLS13_AES_128_GCM_SHA256".into()],
        ..Default::default()
    };
    assert!(
        handshake(server, other_suite.client_config().unwrap())
            .await
            .is_err()
    );
}
