//! The `otlp_http` exporter against a real axum OTLP/HTTP server on 127.0.0.1.

mod support;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cormorant_core::pdata::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use cormorant_core::tls::TlsServerSetting;
use cormorant_core::{ConsumeError, ExporterFactory, Host, Payload, Signal};
use http::{HeaderMap, StatusCode, Uri};
use prost::Message;
use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{FAST_RETRY, build_exporter, metric, sample};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// One request as the server saw it, body decompressed and decoded.
#[derive(Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    raw_body: Vec<u8>,
    payload: Payload,
}

/// An answer other than a plain 200.
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

impl Reply {
    fn status(code: u16) -> Self {
        Reply {
            status: StatusCode::from_u16(code).unwrap(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

#[derive(Default)]
struct State_ {
    calls: usize,
    received: Vec<Received>,
    replies: VecDeque<Reply>,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<State_>>);

impl Collector {
    fn replying(replies: Vec<Reply>) -> Self {
        let collector = Collector::default();
        collector.0.lock().unwrap().replies = replies.into();
        collector
    }

    fn calls(&self) -> usize {
        self.0.lock().unwrap().calls
    }

    fn received(&self) -> Vec<Received> {
        self.0.lock().unwrap().received.clone()
    }
}

fn decompress(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("deflate") => {
            flate2::read::ZlibDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("zstd") => out = zstd::decode_all(body).unwrap(),
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    out
}

fn decode(path: &str, json: bool, body: &[u8]) -> Payload {
    let signal = Signal::ALL
        .into_iter()
        .find(|s| path.ends_with(s.as_str()))
        .expect("path names a signal");
    match (signal, json) {
        (Signal::Traces, false) => ExportTraceServiceRequest::decode(body).unwrap().into(),
        (Signal::Metrics, false) => ExportMetricsServiceRequest::decode(body).unwrap().into(),
        (Signal::Logs, false) => ExportLogsServiceRequest::decode(body).unwrap().into(),
        (Signal::Traces, true) => serde_json::from_slice::<ExportTraceServiceRequest>(body)
            .unwrap()
            .into(),
        (Signal::Metrics, true) => serde_json::from_slice::<ExportMetricsServiceRequest>(body)
            .unwrap()
            .into(),
        (Signal::Logs, true) => serde_json::from_slice::<ExportLogsServiceRequest>(body)
            .unwrap()
            .into(),
    }
}

async fn handle(
    State(collector): State<Collector>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = collector.0.lock().unwrap();
    state.calls += 1;
    if let Some(reply) = state.replies.pop_front() {
        let mut response = (reply.status, reply.body).into_response();
        for (name, value) in reply.headers {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        return response;
    }
    let encoding = headers.get("content-encoding").map(|v| v.to_str().unwrap());
    let raw_body = decompress(encoding, &body);
    let json = headers["content-type"] == "application/json";
    let payload = decode(uri.path(), json, &raw_body);
    state.received.push(Received {
        path: uri.path().to_string(),
        headers,
        raw_body,
        payload,
    });
    StatusCode::OK.into_response()
}

fn serve(collector: &Collector, listener: TcpListener) {
    let app = Router::new().fallback(handle).with_state(collector.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

async fn start(collector: &Collector) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve(collector, listener);
    addr
}

fn factory() -> Arc<dyn ExporterFactory> {
    cormorant_exporter_otlp::http_factory()
}

/// Inline sending (no queue), so `consume` returns the delivery result.
fn inline_config(addr: SocketAddr, extra: &str) -> String {
    format!("endpoint: http://{addr}\nsending_queue: {{enabled: false}}\n{FAST_RETRY}\n{extra}")
}

#[tokio::test]
async fn protobuf_arrives_unchanged_with_each_compression() {
    let collector = Collector::default();
    let addr = start(&collector).await;
    let mut expected = Vec::new();
    for compression in ["gzip", "zstd", "deflate", "none"] {
        for signal in Signal::ALL {
            let yaml = format!(
                "endpoint: http://{addr}/\ncompression: {compression}\n\
                 headers: {{x-tenant: acme}}\n"
            );
            let id = format!("otlp_http/{compression}");
            let exporter = build_exporter(&factory(), &id, &yaml, signal);
            exporter.start(&Host::default()).await.unwrap();
            exporter.consume(sample(signal)).await.unwrap();
            exporter
                .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
                .await
                .unwrap();
            expected.push((compression, signal));
        }
    }
    let received = collector.received();
    assert_eq!(received.len(), expected.len());
    for (request, (compression, signal)) in received.iter().zip(expected) {
        assert_eq!(request.path, format!("/v1/{signal}"));
        assert_eq!(request.payload, sample(signal));
        assert_eq!(request.headers["content-type"], "application/x-protobuf");
        assert_eq!(request.headers["x-tenant"], "acme");
        let user_agent = request.headers["user-agent"].to_str().unwrap();
        assert!(user_agent.starts_with("Cormorant/"), "{user_agent}");
        let encoding = request.headers.get("content-encoding");
        match compression {
            "none" => assert!(encoding.is_none()),
            name => assert_eq!(encoding.unwrap(), name),
        }
    }
    assert_eq!(metric("otelcol_exporter_sent_spans", "otlp_http/zstd"), 3.0);
    assert_eq!(
        metric("otelcol_exporter_sent_metric_points", "otlp_http/deflate"),
        2.0
    );
    assert_eq!(
        metric("otelcol_exporter_sent_log_records", "otlp_http/none"),
        1.0
    );
}

#[tokio::test]
async fn json_encoding_uses_hex_ids_and_arrives_unchanged() {
    let collector = Collector::default();
    let addr = start(&collector).await;
    for signal in Signal::ALL {
        let config = inline_config(addr, "encoding: json");
        let exporter = build_exporter(&factory(), "otlphttp/json", &config, signal);
        exporter.consume(sample(signal)).await.unwrap();
    }
    let received = collector.received();
    assert_eq!(received.len(), 3);
    for (request, signal) in received.iter().zip(Signal::ALL) {
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.payload, sample(signal));
    }
    let json: serde_json::Value = serde_json::from_slice(&received[0].raw_body).unwrap();
    let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], "5b".repeat(16));
    assert_eq!(span["spanId"], "01".repeat(8));
}

#[tokio::test]
async fn signal_endpoints_override_the_base_url() {
    let collector = Collector::default();
    let addr = start(&collector).await;
    let config = inline_config(
        addr,
        &format!("traces_endpoint: http://{addr}/custom/ingest/traces"),
    );
    let exporter = build_exporter(&factory(), "otlphttp/paths", &config, Signal::Traces);
    exporter.consume(sample(Signal::Traces)).await.unwrap();
    let exporter = build_exporter(&factory(), "otlphttp/paths", &config, Signal::Logs);
    exporter.consume(sample(Signal::Logs)).await.unwrap();
    let paths: Vec<String> = collector.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/custom/ingest/traces", "/v1/logs"]);
}

#[tokio::test]
async fn service_unavailable_is_retried_after_retry_after() {
    let busy = Reply {
        headers: vec![("retry-after", "1")],
        ..Reply::status(503)
    };
    let collector = Collector::replying(vec![busy, Reply::status(429)]);
    let addr = start(&collector).await;
    let exporter = build_exporter(
        &factory(),
        "otlphttp/busy",
        &inline_config(addr, ""),
        Signal::Metrics,
    );
    let started = std::time::Instant::now();
    exporter.consume(sample(Signal::Metrics)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(collector.calls(), 3);
    assert_eq!(collector.received()[0].payload, sample(Signal::Metrics));
    assert_eq!(
        metric("otelcol_exporter_sent_metric_points", "otlphttp/busy"),
        2.0
    );
}

#[tokio::test]
async fn bad_request_is_not_retried_and_is_counted() {
    let status = tonic_types::pb::Status {
        code: 3,
        message: "span id must be 8 bytes".into(),
        details: Vec::new(),
    };
    let rejected = Reply {
        headers: vec![("content-type", "application/x-protobuf")],
        body: status.encode_to_vec(),
        ..Reply::status(400)
    };
    let collector = Collector::replying(vec![rejected]);
    let addr = start(&collector).await;
    let exporter = build_exporter(
        &factory(),
        "otlphttp/bad",
        &inline_config(addr, ""),
        Signal::Traces,
    );
    let error = exporter.consume(sample(Signal::Traces)).await.unwrap_err();
    let ConsumeError::Permanent { message, .. } = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert!(message.contains("400"), "{message}");
    assert!(message.contains("span id must be 8 bytes"), "{message}");
    assert_eq!(collector.calls(), 1);
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "otlphttp/bad"),
        3.0
    );
}

#[tokio::test]
async fn partial_success_in_json_is_counted() {
    let partial = Reply {
        headers: vec![("content-type", "application/json")],
        body: br#"{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"too old"}}"#.to_vec(),
        ..Reply::status(200)
    };
    let collector = Collector::replying(vec![partial]);
    let addr = start(&collector).await;
    let config = inline_config(addr, "encoding: json");
    let exporter = build_exporter(&factory(), "otlphttp/partial", &config, Signal::Logs);
    exporter.consume(sample(Signal::Logs)).await.unwrap();
    assert_eq!(collector.calls(), 1);
    assert_eq!(
        metric("otelcol_exporter_sent_log_records", "otlphttp/partial"),
        0.0
    );
    assert_eq!(
        metric(
            "otelcol_exporter_send_failed_log_records",
            "otlphttp/partial"
        ),
        1.0
    );
}

#[tokio::test]
async fn a_server_that_comes_up_late_still_gets_the_data() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let yaml = format!(
        "endpoint: http://{addr}\n\
         retry_on_failure: {{initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 10s}}\n"
    );
    let exporter = build_exporter(&factory(), "otlphttp/late", &yaml, Signal::Traces);
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(sample(Signal::Traces)).await.unwrap();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let collector = Collector::default();
    serve(&collector, TcpListener::bind(addr).await.unwrap());

    exporter
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    let received = collector.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].payload, sample(Signal::Traces));
}

/// Accepts TLS connections for axum, skipping clients whose handshake fails.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[tokio::test]
async fn https_with_a_configured_ca() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let server_tls = TlsServerSetting {
        cert_pem: Some(cert_pem.clone()),
        key_pem: Some(certified.signing_key.serialize_pem()),
        ..TlsServerSetting::default()
    };
    let listener = TlsListener {
        tcp: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        acceptor: TlsAcceptor::from(server_tls.server_config().unwrap()),
    };
    let port = listener.tcp.local_addr().unwrap().port();
    let collector = Collector::default();
    let app = Router::new().fallback(handle).with_state(collector.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let ca = serde_json::to_string(&cert_pem).unwrap();
    let yaml = format!(
        "endpoint: https://localhost:{port}\ntls: {{ca_pem: {ca}}}\n\
         sending_queue: {{enabled: false}}\nretry_on_failure: {{enabled: false}}\n"
    );
    let exporter = build_exporter(&factory(), "otlphttp/tls", &yaml, Signal::Logs);
    exporter.consume(sample(Signal::Logs)).await.unwrap();
    assert_eq!(collector.received()[0].payload, sample(Signal::Logs));

    let plaintext = yaml.replace("https://", "http://");
    let exporter = build_exporter(&factory(), "otlphttp/plaintext", &plaintext, Signal::Logs);
    assert!(exporter.consume(sample(Signal::Logs)).await.is_err());
    assert_eq!(collector.received().len(), 1);
}

#[test]
fn config_errors_are_explained() {
    let error = |yaml: &str| {
        factory()
            .validate(&cormorant_confmap::parse_yaml(yaml).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(error("encoding: proto").contains("at least one endpoint"));
    assert!(error("endpoint: localhost:4318").contains("http:// or https://"));
    assert!(error("endpoint: http://h\nencoding: xml").contains("encoding"));
    assert!(error("endpoint: http://h\ncompression: lz4").contains("unsupported compression"));
    assert!(error("endpoint: http://h\nproxy_url: http://p").contains("not supported yet"));
    assert!(error("endpoint: http://h\nheaders: {\"a b\": c}").contains("header name"));
    let meta = factory().meta();
    assert_eq!((meta.ty, meta.aliases), ("otlp_http", &["otlphttp"][..]));
}
