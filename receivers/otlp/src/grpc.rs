//! OTLP/gRPC: the three `Export` services, each registered only when its signal is in a pipeline
//! (any other service or signal gets UNIMPLEMENTED from tonic's fallback route).

use crate::config::GrpcConfig;
use cormorant_core::ReceiverConsumers;
use cormorant_core::SharedConsumer;
use cormorant_core::client::ClientInfo;
use cormorant_core::pdata::{
    ExportLogsServiceRequest, ExportLogsServiceResponse, ExportMetricsServiceRequest,
    ExportMetricsServiceResponse, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use cormorant_core::server::ServeOptions;
use cormorant_core::server::otlp_ingest::{Logs, Metrics, OtlpSignal, Traces, ingest};
use cormorant_core::telemetry::ReceiverTelemetry;
use http::HeaderValue;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use std::marker::PhantomData;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::{Code, Request, Response, Status};

/// The header carrying the status of a trailers-only gRPC response.
const GRPC_STATUS: &str = "grpc-status";

/// One signal's `Export` service.
struct ExportService<S> {
    consumer: SharedConsumer,
    telemetry: ReceiverTelemetry,
    /// Keep gRPC metadata as the client's (`from_context: metadata.<name>`).
    include_metadata: bool,
    signal: PhantomData<fn() -> S>,
}

impl<S: OtlpSignal> ExportService<S> {
    fn new(consumer: SharedConsumer, telemetry: ReceiverTelemetry, include_metadata: bool) -> Self {
        ExportService {
            consumer,
            telemetry,
            include_metadata,
            signal: PhantomData,
        }
    }

    async fn export(&self, request: Request<S::Request>) -> Result<Response<S::Response>, Status> {
        let headers = if self.include_metadata {
            request.metadata().clone().into_headers()
        } else {
            http::HeaderMap::new()
        };
        let client = ClientInfo::of_request(request.extensions(), &headers, self.include_metadata);
        let payload = request.into_inner().into();
        ingest(&self.consumer, &self.telemetry, payload, client)
            .await
            .into_response::<S>()
            .map(Response::new)
            .map_err(|reply| reply.to_grpc())
    }
}

#[tonic::async_trait]
impl TraceService for ExportService<Traces> {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        ExportService::export(self, request).await
    }
}

#[tonic::async_trait]
impl MetricsService for ExportService<Metrics> {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        ExportService::export(self, request).await
    }
}

#[tonic::async_trait]
impl LogsService for ExportService<Logs> {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        ExportService::export(self, request).await
    }
}

/// Applies the settings every service shares: request compression and the size limit.
macro_rules! configure {
    ($server:expr, $limit:expr) => {
        $server
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Deflate)
            .max_decoding_message_size($limit)
    };
}

/// The gRPC routes for the signals that have a pipeline.
pub(crate) fn router(
    config: &GrpcConfig,
    consumers: &ReceiverConsumers,
    telemetry: &ReceiverTelemetry,
) -> axum::Router {
    let limit = config.max_message_bytes();
    let mut routes = Routes::default();
    if let Some(consumer) = &consumers.traces {
        let service = ExportService::<Traces>::new(
            consumer.clone(),
            telemetry.clone(),
            config.include_metadata,
        );
        routes = routes.add_service(configure!(TraceServiceServer::new(service), limit));
    }
    if let Some(consumer) = &consumers.metrics {
        let service = ExportService::<Metrics>::new(
            consumer.clone(),
            telemetry.clone(),
            config.include_metadata,
        );
        routes = routes.add_service(configure!(MetricsServiceServer::new(service), limit));
    }
    if let Some(consumer) = &consumers.logs {
        let service = ExportService::<Logs>::new(
            consumer.clone(),
            telemetry.clone(),
            config.include_metadata,
        );
        routes = routes.add_service(configure!(LogsServiceServer::new(service), limit));
    }
    routes
        .into_axum_router()
        .layer(axum::middleware::map_response(
            oversize_is_resource_exhausted,
        ))
}

/// tonic rejects a message over `max_decoding_message_size` with OUT_OF_RANGE, which the OTLP
/// spec lists as retryable, so clients would resend the same oversized message forever. The spec
/// asks for RESOURCE_EXHAUSTED (not retryable without `RetryInfo`). The services here never
/// answer OUT_OF_RANGE themselves, so every trailers-only OUT_OF_RANGE is that rejection.
async fn oversize_is_resource_exhausted(
    mut response: axum::response::Response,
) -> axum::response::Response {
    let out_of_range = HeaderValue::from(Code::OutOfRange as i32);
    if response.headers().get(GRPC_STATUS) == Some(&out_of_range) {
        response.headers_mut().insert(
            GRPC_STATUS,
            HeaderValue::from(Code::ResourceExhausted as i32),
        );
    }
    response
}

/// Listener options from the gRPC settings: stream limit and keepalive pings.
pub(crate) fn serve_options(config: &GrpcConfig) -> ServeOptions {
    let server_parameters = config
        .keepalive
        .as_ref()
        .and_then(|keepalive| keepalive.server_parameters.as_ref());
    ServeOptions {
        tls: None,
        http2_max_concurrent_streams: match config.max_concurrent_streams {
            0 => None,
            streams => Some(streams),
        },
        http2_keepalive_interval: server_parameters.and_then(|p| p.time),
        http2_keepalive_timeout: server_parameters.and_then(|p| p.timeout),
    }
}
