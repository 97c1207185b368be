//! The shared listener: real connections over loopback, TLS, and graceful shutdown.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use cormorant_core::ComponentError;
use cormorant_core::server::{ServeOptions, bind, serve};
use cormorant_core::tls::{TlsClientSetting, TlsServerSetting};
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

fn router() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "never"
            }),
        )
}

/// One HTTP/1.1 GET over `io`; returns status and body.
async fn get_http1<I>(io: I, path: &str) -> (u16, String)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// One HTTP/2 (prior knowledge or ALPN) GET over `io`.
async fn get_http2<I>(io: I, path: &str) -> (u16, String)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get(format!("http://localhost{path}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn start(options: ServeOptions) -> cormorant_core::server::RunningServer {
    let listener = bind("127.0.0.1:0").await.unwrap();
    serve(listener, router(), options).unwrap()
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

#[tokio::test]
async fn serves_http1_and_h2c_on_one_port() {
    let server = start(ServeOptions::default()).await;
    let addr = server.local_addr();
    assert_eq!(
        get_http1(connect(addr).await, "/hello").await,
        (200, "hello".into())
    );
    assert_eq!(
        get_http2(connect(addr).await, "/hello").await,
        (200, "hello".into())
    );
    server
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener must be closed"
    );
}

#[tokio::test]
async fn busy_port_is_a_listen_error_naming_the_endpoint() {
    let first = bind("127.0.0.1:0").await.unwrap();
    let endpoint = first.local_addr().unwrap().to_string();
    let error = bind(&endpoint).await.unwrap_err();
    assert!(matches!(error, ComponentError::Listen { .. }));
    assert!(error.to_string().contains(&endpoint), "{error}");

    let error = bind("no-port-here").await.unwrap_err();
    assert!(error.to_string().contains("no-port-here"), "{error}");
}

#[tokio::test]
async fn localhost_and_empty_host_endpoints_bind() {
    let local = bind("localhost:0").await.unwrap();
    assert!(local.local_addr().unwrap().ip().is_loopback());
    let any = bind(":0").await.unwrap();
    assert!(any.local_addr().unwrap().ip().is_unspecified());
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_requests() {
    let server = start(ServeOptions::default()).await;
    let addr = server.local_addr();
    let request = tokio::spawn(async move { get_http1(connect(addr).await, "/slow").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    server
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(request.await.unwrap(), (200, "slow".into()));
}

#[tokio::test]
async fn shutdown_cuts_requests_still_running_at_the_deadline() {
    let server = start(ServeOptions::default()).await;
    let addr = server.local_addr();
    let stream = connect(addr).await;
    let request = tokio::spawn(async move {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::get("/stuck")
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.send_request(request).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let error = server
        .shutdown(Instant::now() + Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(error.to_string().contains("still busy"), "{error}");
    assert!(request.await.unwrap().is_err(), "the cut request must fail");
}

#[tokio::test]
async fn tls_listener_negotiates_http1_and_h2_by_alpn() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = certified.cert.pem();
    let server_tls = TlsServerSetting {
        cert_pem: Some(cert.clone()),
        key_pem: Some(certified.signing_key.serialize_pem()),
        ..Default::default()
    };
    let server = start(ServeOptions {
        tls: Some(server_tls.server_config().unwrap()),
        ..Default::default()
    })
    .await;
    let addr = server.local_addr();
    let client = TlsClientSetting {
        ca_pem: Some(cert),
        ..Default::default()
    };
    let name = ServerName::try_from("localhost").unwrap();

    let http1 = tokio_rustls::TlsConnector::from(Arc::new(
        client.build_client_config(&[b"http/1.1"]).unwrap(),
    ));
    let stream = http1
        .connect(name.clone(), connect(addr).await)
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(get_http1(stream, "/hello").await, (200, "hello".into()));

    let h2 =
        tokio_rustls::TlsConnector::from(Arc::new(client.build_client_config(&[b"h2"]).unwrap()));
    let stream = h2.connect(name, connect(addr).await).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(get_http2(stream, "/hello").await, (200, "hello".into()));

    // A cleartext client gets no HTTP answer from a TLS port.
    let plain = tokio::time::timeout(
        Duration::from_secs(5),
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(connect(addr).await)),
    )
    .await
    .unwrap();
    let (mut sender, connection) = plain.unwrap();
    tokio::spawn(connection);
    let request = Request::get("/hello")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    assert!(sender.send_request(request).await.is_err());
    server
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
}
