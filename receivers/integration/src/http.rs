//! The routes of the integration listener and the remote_write handler.

use crate::config::IntegrationReceiverConfig;
use crate::convert::MetricTypes;
use crate::influx;
use crate::otlp::{self, OtlpRoute};
use crate::remote_write::{self, DecodeError, validate};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use cormorant_core::server::otlp_http::{RequestError, text_response};
use cormorant_core::server::otlp_ingest::{Logs, Metrics};
use cormorant_core::server::{AcceptedEncodings, ErrorReply, read_limited};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ConsumeError, Payload, ReceiverConsumers, SharedConsumer, Signal};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use std::sync::Arc;

/// DeepFlow's remote_write path, which Prometheus and Alloy users already point at port 38086.
pub(crate) const PROMETHEUS_PATH: &str = "/api/v1/prometheus";

/// The remote_write 2.0 message name; recognised only to refuse it with a clear 415.
const RW2_PROTO: &str = "io.prometheus.write.v2.Request";

/// What the remote_write route needs.
pub(crate) struct PrometheusRoute {
    pub(crate) consumer: SharedConsumer,
    pub(crate) telemetry: ReceiverTelemetry,
    pub(crate) max_body: usize,
    pub(crate) types: MetricTypes,
}

/// Every route of the listener; a signal without a pipeline has no route (404).
pub(crate) fn router(
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
            remote_write_route(consumer, telemetry, config.max_request_body_size),
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

/// The remote_write 1.0 endpoint, shared by the `integration` and `prometheusremotewrite`
/// receivers so both validate, convert and answer identically.
pub(crate) fn remote_write_route(
    consumer: &SharedConsumer,
    telemetry: &ReceiverTelemetry,
    max_body: usize,
) -> MethodRouter {
    let route = Arc::new(PrometheusRoute {
        consumer: consumer.clone(),
        telemetry: telemetry.clone(),
        max_body,
        types: MetricTypes::default(),
    });
    any(prometheus).with_state(route)
}

/// The answer for every path a listener does not serve.
pub(crate) async fn not_found(request: Request) -> Response {
    text_response(
        StatusCode::NOT_FOUND,
        format!("404 no route for {}", request.uri().path()),
    )
}

async fn prometheus(State(route): State<Arc<PrometheusRoute>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return RequestError::MethodNotAllowed.into_response();
    }
    if let Some(refusal) = refuse_unsupported_format(&parts.headers) {
        return refusal;
    }
    let received = match read_limited(body, route.max_body).await {
        Ok(received) => received,
        Err(error) => return text_response(error.http_status(), error.to_string()),
    };
    let request = match remote_write::decode(&received, route.max_body) {
        Ok(request) => request,
        Err(error @ DecodeError::TooLarge { .. }) => {
            return text_response(StatusCode::PAYLOAD_TOO_LARGE, error.to_string());
        }
        Err(error) => return text_response(StatusCode::BAD_REQUEST, error.to_string()),
    };
    route.types.remember(&request.metadata);
    write(&route, request).await
}

/// remote_write 1.0 is snappy-compressed protobuf; anything else is refused (415) before the body
/// is read.
fn refuse_unsupported_format(headers: &HeaderMap) -> Option<Response> {
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !encoding.trim().eq_ignore_ascii_case("snappy") {
        return Some(text_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("415 unsupported Content-Encoding {encoding:?}, supported: [snappy]"),
        ));
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let mut parameters = content_type.split(';').map(str::trim);
    let essence = parameters.next().unwrap_or("");
    let proto = parameters.find_map(|parameter| parameter.strip_prefix("proto="));
    if !essence.eq_ignore_ascii_case("application/x-protobuf") || proto == Some(RW2_PROTO) {
        return Some(text_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "415 unsupported Content-Type {content_type:?}, supported: \
                 [application/x-protobuf;proto=prometheus.WriteRequest] (remote_write 1.0)"
            ),
        ));
    }
    None
}

/// Forwards the valid series and answers for the whole request.
///
/// A series that breaks the rules is dropped and the others are still written, as remote_write
/// 1.0 allows; the reply is then 400 naming the first problem, which senders never retry, so the
/// written series are not duplicated.
async fn write(route: &PrometheusRoute, request: remote_write::WriteRequest) -> Response {
    let mut valid = Vec::with_capacity(request.timeseries.len());
    let mut invalid_series = 0usize;
    let mut invalid_samples = 0usize;
    let mut first_error = None;
    for series in request.timeseries {
        match validate(&series) {
            Ok(()) => valid.push(series),
            Err(error) => {
                invalid_series += 1;
                invalid_samples += series.samples.len();
                first_error.get_or_insert(error);
            }
        }
    }
    route.telemetry.refused(Signal::Metrics, invalid_samples);
    let payload = Payload::Metrics(route.types.convert(&valid).resource_metrics);
    let samples = payload.item_count();
    if samples > 0 {
        if let Err(error) = route.consumer.consume(payload).await {
            return pipeline_error(route, &error, samples);
        }
        route.telemetry.accepted(Signal::Metrics, samples);
    }
    match first_error {
        None => empty(StatusCode::NO_CONTENT),
        Some(error) => text_response(
            StatusCode::BAD_REQUEST,
            format!(
                "{invalid_series} series ({invalid_samples} samples) rejected, the first because {error}; \
                 {} valid series were written",
                valid.len()
            ),
        ),
    }
}

fn pipeline_error(route: &PrometheusRoute, error: &ConsumeError, samples: usize) -> Response {
    let rejected = match error {
        ConsumeError::Permanent { rejected_items, .. } => (*rejected_items).min(samples),
        ConsumeError::Refused { .. } => samples,
    };
    route
        .telemetry
        .accepted(Signal::Metrics, samples - rejected);
    route.telemetry.refused(Signal::Metrics, rejected);
    let reply = ErrorReply::from_consume_error(error);
    let mut response = text_response(reply.http_status(), reply.message.clone());
    if let Some(retry_after) = reply.retry_after_header() {
        response.headers_mut().insert(RETRY_AFTER, retry_after);
    }
    response
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}
