//! The HTTP endpoints (port 12800) with raw HTTP/1.1 requests: the bodies nginx-lua and the
//! Python agent send, gzip, and the answers bad bodies get.

use async_trait::async_trait;
use cormorant_core::client;
use cormorant_core::testing::Recorder;
use cormorant_core::{
    ComponentId, ConsumeError, Consumer, Host, Lifecycle, Payload, ReceiverConsumers,
};
use cormorant_receiver_skywalking::config::{Protocols, ServerSettings};
use cormorant_receiver_skywalking::{SkyWalkingReceiver, SkyWalkingReceiverConfig};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NGINX_LUA_SEGMENTS: &str = r#"[{"traceId":"6f1e62c2-7cd4-4bd2-8d2b-3a0f4a77b6e1",
  "traceSegmentId":"a3b1e2c4-7cd4-4bd2-8d2b-3a0f4a77b6e1","service":"APISIX",
  "serviceInstance":"apisix-1","spans":[{"spanId":0,"parentSpanId":-1,
  "startTime":1795317148580,"endTime":1795317148590,"operationName":"/orders",
  "peer":"10.0.0.9:51000","spanType":"Entry","spanLayer":"Http","componentId":6000,
  "isError":false,"tags":[{"key":"http.method","value":"GET"}]}]}]"#;

/// A traces consumer that notes which client each payload came from.
#[derive(Default)]
struct Senders(Mutex<Vec<Option<String>>>);

#[async_trait]
impl Consumer for Senders {
    async fn consume(&self, _payload: Payload) -> Result<(), ConsumeError> {
        let sender = client::current().and_then(|client| client.value("client.address"));
        self.0.lock().unwrap().push(sender);
        Ok(())
    }
}

async fn started(max_request_body_size: usize) -> (SkyWalkingReceiver, Arc<Recorder>, SocketAddr) {
    started_with(max_request_body_size, Arc::new(Recorder::default())).await
}

async fn started_with<C: Consumer>(
    max_request_body_size: usize,
    traces: Arc<C>,
) -> (SkyWalkingReceiver, Arc<C>, SocketAddr) {
    let config = SkyWalkingReceiverConfig {
        protocols: Protocols {
            grpc: None,
            http: Some(ServerSettings {
                endpoint: Some("127.0.0.1:0".into()),
                max_request_body_size: Some(max_request_body_size),
                ..Default::default()
            }),
        },
    };
    let consumers = ReceiverConsumers {
        traces: Some(traces.clone()),
        ..Default::default()
    };
    let receiver = SkyWalkingReceiver::new(
        ComponentId::parse("skywalking").unwrap(),
        &config,
        consumers,
    );
    receiver.start(&Host::default()).await.expect("starts");
    let address = receiver.http_addr().await.expect("bound");
    (receiver, traces, address)
}

/// POSTs `body` to `path` and returns the status code and response body.
async fn post(address: SocketAddr, path: &str, body: &[u8], gzip: bool) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let encoding = if gzip {
        "Content-Encoding: gzip\r\n"
    } else {
        ""
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{encoding}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
        .await
        .expect("answered in time")
        .unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

fn spans(recorder: &Recorder) -> usize {
    recorder.take().iter().map(Payload::item_count).sum()
}

#[tokio::test]
async fn nginx_lua_and_python_bodies_are_accepted_with_an_exact_200() {
    let (receiver, traces, address) = started(1 << 20).await;
    let (status, body) = post(
        address,
        "/v3/segments",
        NGINX_LUA_SEGMENTS.as_bytes(),
        false,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "{}"));
    assert_eq!(spans(&traces), 1);

    let one_segment = NGINX_LUA_SEGMENTS
        .trim_start_matches('[')
        .trim_end_matches(']');
    let mut gzipped = GzEncoder::new(Vec::new(), Compression::default());
    gzipped.write_all(one_segment.as_bytes()).unwrap();
    let (status, _) = post(address, "/v3/segment", &gzipped.finish().unwrap(), true).await;
    assert_eq!(status, 200);
    assert_eq!(spans(&traces), 1);

    let (status, _) = post(
        address,
        "/v3/management/keepAlive",
        b"{\"service\":\"x\"}",
        false,
    )
    .await;
    assert_eq!(status, 200);
    receiver
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sender_is_the_pipelines_client() {
    let (receiver, senders, address) = started_with(1 << 20, Arc::new(Senders::default())).await;
    let (status, _) = post(
        address,
        "/v3/segments",
        NGINX_LUA_SEGMENTS.as_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(*senders.0.lock().unwrap(), [Some("127.0.0.1".to_owned())]);
    receiver
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_bodies_are_answered_with_the_reason() {
    let (receiver, traces, address) = started(256).await;
    let (status, body) = post(address, "/v3/segments", b"{not json", false).await;
    assert_eq!(status, 400);
    assert!(body.starts_with("request body is not JSON"), "{body}");

    let (status, body) = post(address, "/v3/segments", b"42", false).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "expected a segment object or an array of them, found a number"
    );

    let (status, _) = post(
        address,
        "/v3/segments",
        NGINX_LUA_SEGMENTS.as_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 413, "over the 256-byte limit");

    let (status, body) = post(address, "/v3/segment", b"not gzip", true).await;
    assert_eq!(status, 400);
    assert!(body.contains("gzip"), "{body}");

    assert_eq!(spans(&traces), 0, "nothing reached the pipeline");
    receiver
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
}
