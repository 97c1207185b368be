//! The health_check extension over real HTTP and HTTPS connections on loopback.

use bytes::Bytes;
use cormorant_core::config::{ConfValue, parse_duration};
use cormorant_core::tls::{TlsClientSetting, TlsServerSetting};
use cormorant_core::{ComponentError, ComponentId, Host, Lifecycle, Stability, parse_config};
use cormorant_extension_health_check::{
    HealthCheckConfig, HealthCheckExtension, ResponseBody, factory,
};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// Status, content type and body of one answer.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        assert_eq!(self.content_type, "application/json");
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn request_over<S>(stream: S, path: &str) -> Answer
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    request_over(TcpStream::connect(addr).await.unwrap(), path).await
}

fn config(path: &str) -> HealthCheckConfig {
    HealthCheckConfig {
        endpoint: "127.0.0.1:0".into(),
        path: path.into(),
        ..HealthCheckConfig::default()
    }
}

async fn started(config: HealthCheckConfig, host: &Host) -> (HealthCheckExtension, SocketAddr) {
    let extension = HealthCheckExtension::new(ComponentId::new("health_check"), config);
    extension.start(host).await.unwrap();
    let addr = extension.local_addr().unwrap();
    (extension, addr)
}

#[tokio::test]
async fn answers_503_until_ready_then_200_with_otelcol_fields() {
    let host = Host::default();
    let (extension, addr) = started(config("/"), &host).await;

    let before = get(addr, "/").await;
    assert_eq!(before.status, StatusCode::SERVICE_UNAVAILABLE);
    let document = before.json();
    assert_eq!(document["status"], "Server not available");
    let up_since = document["upSince"].as_str().unwrap();
    assert_eq!(
        humantime::parse_rfc3339(up_since).unwrap(),
        host.health.since(),
        "upSince is when the service started, to the nanosecond"
    );

    host.health.set_ready(true);
    let ready = get(addr, "/").await;
    assert_eq!(ready.status, StatusCode::OK);
    let document = ready.json();
    assert_eq!(document["status"], "Server available");
    assert_eq!(document["upSince"], up_since);
    let uptime = parse_duration(document["uptime"].as_str().unwrap()).unwrap();
    let elapsed = SystemTime::now()
        .duration_since(host.health.since())
        .unwrap();
    assert!(uptime <= elapsed, "uptime {uptime:?} > elapsed {elapsed:?}");
    assert_eq!(
        document.as_object().unwrap().len(),
        3,
        "exactly otelcol's fields: {document}"
    );

    host.health.set_ready(false);
    assert_eq!(get(addr, "/").await.status, StatusCode::SERVICE_UNAVAILABLE);
    extension
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_default_path_answers_every_path_like_gos_mux() {
    let host = Host::default();
    host.health.set_ready(true);
    let (_extension, addr) = started(config("/"), &host).await;
    assert_eq!(get(addr, "/anything/below").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_custom_path_is_served_alone() {
    let host = Host::default();
    host.health.set_ready(true);
    let (_extension, addr) = started(config("/health/status"), &host).await;

    assert_eq!(get(addr, "/health/status").await.status, StatusCode::OK);
    for other in ["/", "/health", "/health/status/more"] {
        let answer = get(addr, other).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{other}");
    }
}

#[tokio::test]
async fn custom_bodies_replace_the_json_document() {
    let host = Host::default();
    let mut settings = config("/");
    settings.response_body = Some(ResponseBody {
        healthy: "all good".into(),
        unhealthy: "not yet".into(),
    });
    let (_extension, addr) = started(settings, &host).await;

    let answer = get(addr, "/").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "not yet")
    );
    host.health.set_ready(true);
    let answer = get(addr, "/").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "all good")
    );
    assert!(answer.content_type.starts_with("text/plain"));
}

#[tokio::test]
async fn an_endpoint_in_use_is_a_listen_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = taken.local_addr().unwrap().to_string();
    let extension = HealthCheckExtension::new(
        ComponentId::new("health_check"),
        HealthCheckConfig {
            endpoint: endpoint.clone(),
            ..HealthCheckConfig::default()
        },
    );
    let err = extension.start(&Host::default()).await.unwrap_err();
    assert!(
        matches!(&err, ComponentError::Listen { endpoint: e, .. } if *e == endpoint),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cannot listen on {endpoint}"))
    );
}

#[tokio::test]
async fn shutdown_closes_the_listener() {
    let host = Host::default();
    let (extension, addr) = started(config("/"), &host).await;
    assert_eq!(get(addr, "/").await.status, StatusCode::SERVICE_UNAVAILABLE);

    extension
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
    assert!(extension.local_addr().is_none());
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    std::net::TcpListener::bind(addr).expect("the port is free again");
}

/// A self-signed `localhost` certificate and its key, as PEM.
fn self_signed() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let (cert, key) = self_signed();
    let host = Host::default();
    host.health.set_ready(true);
    let mut settings = config("/");
    settings.tls = Some(TlsServerSetting {
        cert_pem: Some(cert.clone()),
        key_pem: Some(key),
        ..TlsServerSetting::default()
    });
    let (_extension, addr) = started(settings, &host).await;

    let client = TlsClientSetting {
        ca_pem: Some(cert),
        ..TlsClientSetting::default()
    }
    .client_config()
    .unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(client)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let answer = request_over(tls, "/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["status"], "Server available");
}

#[tokio::test]
async fn unusable_tls_settings_fail_start() {
    let mut settings = config("/");
    settings.tls = Some(TlsServerSetting::default());
    let extension = HealthCheckExtension::new(ComponentId::new("health_check"), settings);
    let err = extension.start(&Host::default()).await.unwrap_err();
    assert!(
        matches!(&err, ComponentError::Failed(message) if message.contains("tls") && message.contains("certificate")),
        "{err}"
    );
}

fn conf(entries: &[(&str, ConfValue)]) -> ConfValue {
    let mut value = ConfValue::empty_map();
    let map = value.as_map_mut().unwrap();
    for (key, entry) in entries {
        map.insert(key.to_string(), entry.clone());
    }
    value
}

#[test]
fn settings_match_otelcol() {
    let defaults: HealthCheckConfig = parse_config(&ConfValue::empty_map()).unwrap();
    assert_eq!(defaults.endpoint, "localhost:13133");
    assert_eq!(defaults.path, "/");

    let mut pipeline = ConfValue::empty_map();
    let map = pipeline.as_map_mut().unwrap();
    map.insert("enabled".into(), ConfValue::Bool(true));
    map.insert("interval".into(), ConfValue::String("5m".into()));
    map.insert("exporter_failure_threshold".into(), ConfValue::Int(5));
    let mut bodies = ConfValue::empty_map();
    bodies
        .as_map_mut()
        .unwrap()
        .insert("healthy".into(), ConfValue::String("up".into()));
    let config: HealthCheckConfig = parse_config(&conf(&[
        ("endpoint", ConfValue::String("0.0.0.0:13133".into())),
        ("path", ConfValue::String("/health/status".into())),
        ("check_collector_pipeline", pipeline),
        ("response_body", bodies),
    ]))
    .unwrap();
    assert_eq!(config.path, "/health/status");
    assert_eq!(
        config.response_body,
        Some(ResponseBody {
            healthy: "up".into(),
            unhealthy: String::new(),
        })
    );

    let err =
        parse_config::<HealthCheckConfig>(&conf(&[("path", ConfValue::String("health".into()))]))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "path must start with \"/\", got \"health\""
    );
    let err = parse_config::<HealthCheckConfig>(&conf(&[("port", ConfValue::Int(1))])).unwrap_err();
    assert_eq!(err.to_string(), "'' has invalid keys: port");
}

#[test]
fn factory_describes_the_extension() {
    let factory = factory();
    let meta = factory.meta();
    assert_eq!(meta.ty, "health_check");
    assert!(meta.signals.is_empty());
    assert_eq!(meta.stability, Stability::Beta);
    assert!(factory.validate(&ConfValue::empty_map()).is_ok());
    assert!(
        factory
            .validate(&conf(&[("endpoint", ConfValue::String(String::new()))]))
            .is_err()
    );
}
