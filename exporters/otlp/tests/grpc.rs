//! The `otlp_grpc` exporter against a real tonic OTLP server on 127.0.0.1.

mod support;

use cormorant_core::pdata::{
    ExportLogsServiceRequest, ExportLogsServiceResponse, ExportMetricsServiceRequest,
    ExportMetricsServiceResponse, ExportTracePartialSuccess, ExportTraceServiceRequest,
    ExportTraceServiceResponse,
};
use cormorant_core::{ConsumeError, ExporterFactory, Host, Payload, Signal};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{FAST_RETRY, build_exporter, metric, sample};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What the server saw and what it answers next.
#[derive(Default)]
struct State {
    calls: usize,
    received: Vec<(MetadataMap, Payload)>,
    /// Answers for the next calls, in order; afterwards every call succeeds.
    failures: VecDeque<Status>,
    rejected_spans: i64,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<State>>);

impl Collector {
    fn failing_with(failures: Vec<Status>) -> Self {
        let collector = Collector::default();
        collector.0.lock().unwrap().failures = failures.into();
        collector
    }

    fn record(&self, metadata: MetadataMap, payload: Payload) -> Result<(), Status> {
        let mut state = self.0.lock().unwrap();
        state.calls += 1;
        if let Some(status) = state.failures.pop_front() {
            return Err(status);
        }
        state.received.push((metadata, payload));
        Ok(())
    }

    fn calls(&self) -> usize {
        self.0.lock().unwrap().calls
    }

    fn received(&self) -> Vec<(MetadataMap, Payload)> {
        self.0.lock().unwrap().received.clone()
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        self.record(metadata, message.into())?;
        let rejected_spans = self.0.lock().unwrap().rejected_spans;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (rejected_spans > 0).then(|| ExportTracePartialSuccess {
                rejected_spans,
                error_message: "span too old".into(),
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        self.record(metadata, message.into())?;
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        self.record(metadata, message.into())?;
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

fn serve(collector: &Collector, listener: TcpListener, tls: Option<ServerTlsConfig>) {
    let mut server = Server::builder();
    if let Some(tls) = tls {
        server = server.tls_config(tls).unwrap();
    }
    let router = server
        .add_service(
            TraceServiceServer::new(collector.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd),
        )
        .add_service(
            MetricsServiceServer::new(collector.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd),
        )
        .add_service(
            LogsServiceServer::new(collector.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd),
        );
    tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
}

async fn start(collector: &Collector) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve(collector, listener, None);
    addr
}

fn factory() -> Arc<dyn ExporterFactory> {
    cormorant_exporter_otlp::grpc_factory()
}

/// Inline sending (no queue), so `consume` returns the delivery result.
fn inline_config(addr: SocketAddr, extra: &str) -> String {
    format!("endpoint: http://{addr}\nsending_queue: {{enabled: false}}\n{FAST_RETRY}\n{extra}")
}

#[tokio::test]
async fn every_signal_arrives_unchanged_with_each_compression_and_headers() {
    let collector = Collector::default();
    let addr = start(&collector).await;
    let mut expected = Vec::new();
    for compression in ["gzip", "zstd", "none"] {
        for signal in Signal::ALL {
            let yaml = format!(
                "endpoint: {addr}\ntls: {{insecure: true}}\ncompression: {compression}\n\
                 headers: {{x-tenant: acme, authorization: Bearer s3cret}}\n"
            );
            let id = format!("otlp_grpc/{compression}");
            let exporter = build_exporter(&factory(), &id, &yaml, signal);
            exporter.start(&Host::default()).await.unwrap();
            exporter.consume(sample(signal)).await.unwrap();
            exporter
                .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
                .await
                .unwrap();
            expected.push((compression, sample(signal)));
        }
    }
    let received = collector.received();
    assert_eq!(received.len(), expected.len());
    for ((metadata, payload), (compression, sent)) in received.iter().zip(&expected) {
        assert_eq!(payload, sent);
        assert_eq!(metadata.get("x-tenant").unwrap(), "acme");
        assert_eq!(metadata.get("authorization").unwrap(), "Bearer s3cret");
        let user_agent = metadata.get("user-agent").unwrap().to_str().unwrap();
        assert!(user_agent.starts_with("Cormorant/"), "{user_agent}");
        let encoding = metadata.get("grpc-encoding").map(|v| v.to_str().unwrap());
        match *compression {
            "none" => assert_eq!(encoding, None),
            name => assert_eq!(encoding, Some(name)),
        }
    }
    assert_eq!(metric("otelcol_exporter_sent_spans", "otlp_grpc/gzip"), 3.0);
    assert_eq!(
        metric("otelcol_exporter_sent_metric_points", "otlp_grpc/zstd"),
        2.0
    );
    assert_eq!(
        metric("otelcol_exporter_sent_log_records", "otlp_grpc/none"),
        1.0
    );
}

#[tokio::test]
async fn unavailable_is_retried_until_delivered() {
    let collector = Collector::failing_with(vec![
        Status::unavailable("warming up"),
        Status::unavailable("warming up"),
    ]);
    let addr = start(&collector).await;
    let exporter = build_exporter(
        &factory(),
        "otlp/unavailable",
        &inline_config(addr, ""),
        Signal::Traces,
    );
    exporter.consume(sample(Signal::Traces)).await.unwrap();
    assert_eq!(collector.calls(), 3);
    assert_eq!(collector.received().len(), 1);
    assert_eq!(
        metric("otelcol_exporter_sent_spans", "otlp/unavailable"),
        3.0
    );
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "otlp/unavailable"),
        0.0
    );
}

#[tokio::test]
async fn invalid_argument_is_not_retried_and_is_counted() {
    let collector = Collector::failing_with(vec![Status::invalid_argument("bad trace id")]);
    let addr = start(&collector).await;
    let exporter = build_exporter(
        &factory(),
        "otlp/invalid",
        &inline_config(addr, ""),
        Signal::Traces,
    );
    let error = exporter.consume(sample(Signal::Traces)).await.unwrap_err();
    let ConsumeError::Permanent {
        message,
        rejected_items,
    } = error
    else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert!(message.contains("bad trace id"), "{message}");
    assert_eq!(rejected_items, 3);
    assert_eq!(collector.calls(), 1);
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "otlp/invalid"),
        3.0
    );
}

#[tokio::test]
async fn resource_exhausted_is_retried_only_with_retry_info() {
    let throttled = Status::with_error_details(
        Code::ResourceExhausted,
        "over quota",
        ErrorDetails::with_retry_info(Some(Duration::from_millis(300))),
    );
    let collector = Collector::failing_with(vec![throttled]);
    let addr = start(&collector).await;
    let exporter = build_exporter(
        &factory(),
        "otlp/throttled",
        &inline_config(addr, ""),
        Signal::Traces,
    );
    let started = std::time::Instant::now();
    exporter.consume(sample(Signal::Traces)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(collector.calls(), 2);

    let collector = Collector::failing_with(vec![Status::resource_exhausted("too large")]);
    let addr = start(&collector).await;
    let exporter = build_exporter(
        &factory(),
        "otlp/exhausted",
        &inline_config(addr, ""),
        Signal::Traces,
    );
    let error = exporter.consume(sample(Signal::Traces)).await.unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert_eq!(collector.calls(), 1);
}

#[tokio::test]
async fn partial_success_is_counted_as_failed_items() {
    let collector = Collector::default();
    collector.0.lock().unwrap().rejected_spans = 1;
    let addr = start(&collector).await;
    let exporter = build_exporter(
        &factory(),
        "otlp/partial",
        &inline_config(addr, ""),
        Signal::Traces,
    );
    exporter.consume(sample(Signal::Traces)).await.unwrap();
    assert_eq!(collector.calls(), 1);
    assert_eq!(metric("otelcol_exporter_sent_spans", "otlp/partial"), 2.0);
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "otlp/partial"),
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
    let exporter = build_exporter(&factory(), "otlp/late", &yaml, Signal::Logs);
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(sample(Signal::Logs)).await.unwrap();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let collector = Collector::default();
    serve(&collector, TcpListener::bind(addr).await.unwrap(), None);

    exporter
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    let received = collector.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].1, sample(Signal::Logs));
}

#[tokio::test]
async fn tls_with_a_configured_ca() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    let collector = Collector::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = ServerTlsConfig::new().identity(Identity::from_pem(&cert_pem, &key_pem));
    serve(&collector, listener, Some(tls));

    let ca = serde_json::to_string(&cert_pem).unwrap();
    let yaml = format!(
        "endpoint: 127.0.0.1:{port}\ntls: {{ca_pem: {ca}, server_name_override: localhost}}\n\
         sending_queue: {{enabled: false}}\nretry_on_failure: {{enabled: false}}\n"
    );
    let exporter = build_exporter(&factory(), "otlp/tls", &yaml, Signal::Metrics);
    exporter.consume(sample(Signal::Metrics)).await.unwrap();
    assert_eq!(collector.received()[0].1, sample(Signal::Metrics));

    let untrusted = format!(
        "endpoint: 127.0.0.1:{port}\nsending_queue: {{enabled: false}}\n\
         retry_on_failure: {{enabled: false}}\n"
    );
    let exporter = build_exporter(&factory(), "otlp/untrusted", &untrusted, Signal::Metrics);
    assert!(exporter.consume(sample(Signal::Metrics)).await.is_err());
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
    assert!(error("compression: gzip").contains("non-empty \"endpoint\""));
    assert!(error("endpoint: x:4317\ncompression: snappy").contains("unsupported compression"));
    assert!(
        error("endpoint: x:4317\nauth: {authenticator: oauth2client}")
            .contains("not supported yet")
    );
    assert!(error("endpoint: x:4317\nendpont: y").contains("invalid keys: endpont"));
    assert!(
        error("endpoint: x:4317\nsending_queue: {storage: file_storage}").contains("persistent")
    );
    assert!(error("endpoint: ftp://host:21").contains("unsupported scheme"));
    let meta = factory().meta();
    assert_eq!((meta.ty, meta.aliases), ("otlp_grpc", &["otlp"][..]));
}
