//! The routes of the integration listener.

use crate::config::IntegrationReceiverConfig;
use crate::influx;
use crate::otlp::{self, OtlpRoute};
use crate::remote_write_route::remote_write_route;
use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::any;
use cormorant_core::server::AcceptedEncodings;
use cormorant_core::server::ErrorReply;
use cormorant_core::server::otlp_http::text_response;
use cormorant_core::server::otlp_ingest::{Logs, Metrics};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ComponentId, ConsumeError, ReceiverConsumers, SharedConsumer, Signal};
use http::StatusCode;
use http::header::RETRY_AFTER;
use std::sync::Arc;

/// DeepFlow's remote_write path, which Prometheus and Alloy users already point at port 38086.
pub(crate) const PROMETHEUS_PATH: &str = "/api/v1/prometheus";

/// Every route of the listener; a signal without a pipeline has no route (404).
pub(crate) fn router(
    id: &ComponentId,
    config: &IntegrationReceiverConfig,
    consumers: &ReceiverConsumers,
    telemetry: &ReceiverTelemetry,
) -> Router {
    let mut router = Router::new();
    let otlp_route = |consumer: &SharedConsumer| {
        Arc::new(OtlpRoute {
            consumer: consumer.clone(),
            telemetry: telemetry.clone(),
            max_body: config.max_request_body_size,
            encodings: AcceptedEncodings::default(),
            service_name: config.service_name.clone(),
        })
    };
    if let Some(consumer) = &consumers.traces {
        let route = otlp_route(consumer);
        for path in otlp::TRACE_PATHS {
            router = router.route(path, any(otlp::export_traces).with_state(route.clone()));
        }
    }
    if let Some(consumer) = &consumers.metrics {
        router = router.route(
            otlp::METRICS_PATH,
            any(otlp::export::<Metrics>).with_state(otlp_route(consumer)),
        );
        router = router.route(
            PROMETHEUS_PATH,
            remote_write_route(id, consumer, telemetry, config.max_request_body_size),
        );
        router = router.route(
            influx::TELEGRAF_PATH,
            influx::telegraf_route(consumer, telemetry, config),
        );
    }
    if let Some(consumer) = &consumers.logs {
        router = router.route(
            otlp::LOGS_PATH,
            any(otlp::export::<Logs>).with_state(otlp_route(consumer)),
        );
    }
    router.fallback(not_found)
}

/// The answer for every path a listener does not serve.
pub(crate) async fn not_found(request: Request) -> Response {
    text_response(
        StatusCode::NOT_FOUND,
        format!("404 no route for {}", request.uri().path()),
    )
}

/// The answer when the pipeline did not take a request's `points` metric points: the shared
/// status mapping (429/503 with `Retry-After` for back-pressure), with the accepted and refused
/// points counted.
pub(crate) fn metrics_pipeline_error(
    telemetry: &ReceiverTelemetry,
    error: &ConsumeError,
    points: usize,
) -> Response {
    let rejected = match error {
        ConsumeError::Permanent { rejected_items, .. } => (*rejected_items).min(points),
        ConsumeError::Refused { .. } => points,
    };
    telemetry.accepted(Signal::Metrics, points - rejected);
    telemetry.refused(Signal::Metrics, rejected);
    let reply = ErrorReply::from_consume_error(error);
    let mut response = text_response(reply.http_status(), reply.message.clone());
    if let Some(retry_after) = reply.retry_after_header() {
        response.headers_mut().insert(RETRY_AFTER, retry_after);
    }
    response
}
