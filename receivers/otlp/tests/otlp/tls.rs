//! Both protocols behind TLS with a self-signed certificate.

use crate::common::{PROTOBUF, Recorder, start, traces};
use bytes::Bytes;
use cormorant_core::Payload;
use cormorant_core::tls::TlsClientSetting;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

#[tokio::test]
async fn grpc_and_http_serve_over_tls() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = certified.cert.pem();
    let tls = serde_json::json!({
        "cert_pem": cert,
        "key_pem": certified.signing_key.serialize_pem(),
    });
    let recorder = Recorder::new();
    let running = start(
        "tls",
        &recorder,
        &["traces"],
        serde_json::json!({"grpc": {"tls": tls.clone()}, "http": {"tls": tls}}),
    )
    .await;

    let channel = Channel::from_shared(format!("https://{}", running.grpc))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&cert))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    TraceServiceClient::new(channel)
        .export(traces())
        .await
        .unwrap();

    let client = TlsClientSetting {
        ca_pem: Some(cert),
        ..Default::default()
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(
        client.build_client_config(&[b"http/1.1"]).unwrap(),
    ));
    let tcp = tokio::net::TcpStream::connect(running.http).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::post("/v1/traces")
        .header("host", "localhost")
        .header("content-type", PROTOBUF)
        .body(Full::new(Bytes::from(traces().encode_to_vec())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();

    assert_eq!(
        recorder.received(),
        vec![Payload::from(traces()), Payload::from(traces())]
    );

    let plaintext = Channel::from_shared(format!("http://{}", running.grpc))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plaintext {
        assert!(
            TraceServiceClient::new(channel)
                .export(traces())
                .await
                .is_err()
        );
    }
    running.stop().await;
}
