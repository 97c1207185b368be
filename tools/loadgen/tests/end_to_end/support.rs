//! Small but real OTLP servers (tonic gRPC and axum HTTP) that count what they receive, and
//! a helper that runs the `cormorant-loadgen` binary against them.
//!
//! `fixtures/tls/` holds a throwaway test CA and a server certificate for `localhost` and
//! `127.0.0.1`, made with openssl for these tests only.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::collections::HashSet;
use std::io::Read;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Status};

pub const CA_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
const SERVER_PEM: &[u8] = include_bytes!("../fixtures/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("../fixtures/tls/server.key");

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// Refuse the first `n` requests with a retryable error (gRPC UNAVAILABLE / HTTP 503),
    /// then accept.
    RefuseFirst(u64),
    /// Answer every request with a permanent error (gRPC INVALID_ARGUMENT / HTTP 400).
    RejectAll,
    /// Accept, but report this many spans of each request as rejected.
    PartialSuccess(i64),
}

/// What a server received.
#[derive(Debug, Default)]
pub struct Received {
    pub requests: AtomicU64,
    pub refused: AtomicU64,
    pub spans: AtomicU64,
    pub points: AtomicU64,
    pub logs: AtomicU64,
    pub gzip_requests: AtomicU64,
    pub trace_ids: Mutex<HashSet<Vec<u8>>>,
}

impl Received {
    pub fn spans(&self) -> u64 {
        self.spans.load(Ordering::SeqCst)
    }

    pub fn distinct_trace_ids(&self) -> usize {
        self.trace_ids.lock().unwrap().len()
    }

    fn record_traces(&self, request: &ExportTraceServiceRequest) {
        let mut ids = self.trace_ids.lock().unwrap();
        for span in request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
        {
            ids.insert(span.trace_id.clone());
            self.spans.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn record_metrics(&self, request: &ExportMetricsServiceRequest) {
        let payload = cormorant_core::Payload::from(request.clone());
        self.points
            .fetch_add(payload.item_count() as u64, Ordering::SeqCst);
    }

    fn record_logs(&self, request: &ExportLogsServiceRequest) {
        let payload = cormorant_core::Payload::from(request.clone());
        self.logs
            .fetch_add(payload.item_count() as u64, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Collector {
    behaviour: Behaviour,
    received: Arc<Received>,
}

/// The outcome the behaviour dictates for the next request.
enum Verdict {
    Take,
    Refuse,
    Reject,
}

impl Collector {
    fn verdict(&self) -> Verdict {
        let seen = self.received.requests.fetch_add(1, Ordering::SeqCst);
        match self.behaviour {
            Behaviour::RefuseFirst(n) if seen < n => {
                self.received.refused.fetch_add(1, Ordering::SeqCst);
                Verdict::Refuse
            }
            Behaviour::RejectAll => Verdict::Reject,
            _ => Verdict::Take,
        }
    }

    fn grpc_verdict(&self) -> Result<(), Status> {
        match self.verdict() {
            Verdict::Take => Ok(()),
            Verdict::Refuse => Err(Status::unavailable("busy, try again")),
            Verdict::Reject => Err(Status::invalid_argument("spans are not welcome here")),
        }
    }

    fn trace_response(&self) -> ExportTraceServiceResponse {
        let partial_success = match self.behaviour {
            Behaviour::PartialSuccess(rejected) => Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: "span too old".to_owned(),
            }),
            _ => None,
        };
        ExportTraceServiceResponse { partial_success }
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        self.grpc_verdict()?;
        self.received.record_traces(request.get_ref());
        Ok(tonic::Response::new(self.trace_response()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        self.grpc_verdict()?;
        self.received.record_metrics(request.get_ref());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        self.grpc_verdict()?;
        self.received.record_logs(request.get_ref());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// Starts an OTLP/gRPC server on 127.0.0.1 (TLS when `tls`); returns its address.
pub async fn start_grpc(behaviour: Behaviour, tls: bool) -> (SocketAddr, Arc<Received>) {
    let received = Arc::new(Received::default());
    let collector = Collector {
        behaviour,
        received: received.clone(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut builder = Server::builder();
    if tls {
        let identity = Identity::from_pem(SERVER_PEM, SERVER_KEY);
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(identity))
            .unwrap();
    }
    let router = builder
        .add_service(
            TraceServiceServer::new(collector.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            MetricsServiceServer::new(collector.clone())
                .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            LogsServiceServer::new(collector).accept_compressed(CompressionEncoding::Gzip),
        );
    tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
    (address, received)
}

/// Starts an OTLP/HTTP (protobuf) server on 127.0.0.1; returns its address.
pub async fn start_http(behaviour: Behaviour) -> (SocketAddr, Arc<Received>) {
    let received = Arc::new(Received::default());
    let collector = Collector {
        behaviour,
        received: received.clone(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = http_routes(collector);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, received)
}

/// Starts an OTLP/HTTP server behind TLS with the fixture certificate.
pub async fn start_https(behaviour: Behaviour) -> (SocketAddr, Arc<Received>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let received = Arc::new(Received::default());
    let app = http_routes(Collector {
        behaviour,
        received: received.clone(),
    });
    let certificates = CertificateDer::pem_slice_iter(SERVER_PEM)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(tcp).await {
                    let _closed = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            });
        }
    });
    (address, received)
}

fn http_routes(collector: Collector) -> Router {
    Router::new()
        .route("/v1/traces", post(http_traces))
        .route("/v1/metrics", post(http_metrics))
        .route("/v1/logs", post(http_logs))
        .with_state(collector)
}

fn http_body(
    collector: &Collector,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<u8>, Box<Response>> {
    if headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()) != Some(b"application/x-protobuf") {
        return Err(Box::new(
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "protobuf only").into_response(),
        ));
    }
    match collector.verdict() {
        Verdict::Take => {}
        Verdict::Refuse => {
            let busy = (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "0")],
                "busy",
            );
            return Err(Box::new(busy.into_response()));
        }
        Verdict::Reject => {
            let rejected = (StatusCode::BAD_REQUEST, "spans are not welcome here");
            return Err(Box::new(rejected.into_response()));
        }
    }
    if headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) == Some(b"gzip") {
        collector
            .received
            .gzip_requests
            .fetch_add(1, Ordering::SeqCst);
        let mut plain = Vec::new();
        GzDecoder::new(body)
            .read_to_end(&mut plain)
            .map_err(|e| Box::new((StatusCode::BAD_REQUEST, e.to_string()).into_response()))?;
        return Ok(plain);
    }
    Ok(body.to_vec())
}

/// Decodes an export request of type `M`, records it and answers with `reply`.
fn export<M: Message + Default>(
    collector: &Collector,
    headers: &HeaderMap,
    body: &[u8],
    record: impl FnOnce(&Received, &M),
    reply: &impl Message,
) -> Response {
    let plain = match http_body(collector, headers, body) {
        Ok(plain) => plain,
        Err(response) => return *response,
    };
    match M::decode(plain.as_slice()) {
        Ok(request) => {
            record(&collector.received, &request);
            (
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                reply.encode_to_vec(),
            )
                .into_response()
        }
        Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    }
}

async fn http_traces(
    State(collector): State<Collector>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = collector.trace_response();
    export(&collector, &headers, &body, Received::record_traces, &reply)
}

async fn http_metrics(
    State(collector): State<Collector>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ExportMetricsServiceResponse::default();
    export(
        &collector,
        &headers,
        &body,
        Received::record_metrics,
        &reply,
    )
}

async fn http_logs(
    State(collector): State<Collector>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = ExportLogsServiceResponse::default();
    export(&collector, &headers, &body, Received::record_logs, &reply)
}

/// The result of one `cormorant-loadgen` run.
#[derive(Debug)]
pub struct LoadgenRun {
    pub success: bool,
    pub summary: String,
    pub stderr: String,
}

impl LoadgenRun {
    /// A `key=value` number from the summary line.
    pub fn field(&self, key: &str) -> u64 {
        let prefix = format!("{key}=");
        self.summary
            .split([' ', ','])
            .find_map(|token| token.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key} in summary {:?}", self.summary))
            .parse()
            .unwrap()
    }
}

/// Runs the real binary with `args` (off the async runtime, which keeps serving).
pub async fn loadgen(args: &[&str]) -> LoadgenRun {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_cormorant-loadgen"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    LoadgenRun {
        success: output.status.success(),
        summary: String::from_utf8(output.stdout).unwrap().trim().to_owned(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
