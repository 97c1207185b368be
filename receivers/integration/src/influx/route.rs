//! The `/api/v1/telegraf` handler: reads, decompresses and parses the body, forwards the valid
//! points and answers for the whole request.

use super::convert::convert;
use super::parser::{self, Precision};
use crate::config::IntegrationReceiverConfig;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use cormorant_core::server::otlp_http::{RequestError, text_response};
use cormorant_core::server::{AcceptedEncodings, decompress, read_limited};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{Payload, SharedConsumer, Signal};
use http::header::CONTENT_ENCODING;
use http::{Method, StatusCode};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The path Telegraf is pointed at.
pub(crate) const TELEGRAF_PATH: &str = "/api/v1/telegraf";

/// How many bad lines a 400 reply names; the rest are only counted.
const ERRORS_IN_REPLY: usize = 5;

struct TelegrafRoute {
    consumer: SharedConsumer,
    telemetry: ReceiverTelemetry,
    max_body: usize,
    encodings: AcceptedEncodings,
    service_name: String,
}

/// The line protocol endpoint for the metrics pipeline `consumer`.
pub(crate) fn telegraf_route(
    consumer: &SharedConsumer,
    telemetry: &ReceiverTelemetry,
    config: &IntegrationReceiverConfig,
) -> MethodRouter {
    let route = Arc::new(TelegrafRoute {
        consumer: consumer.clone(),
        telemetry: telemetry.clone(),
        max_body: config.max_request_body_size,
        encodings: AcceptedEncodings::default(),
        service_name: config.service_name.clone(),
    });
    any(write).with_state(route)
}

fn precision(query: Option<&str>) -> Result<Precision, parser::PrecisionError> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "precision")
        .map_or(Ok(Precision::default()), |(_, value)| value.parse())
}

fn receive_time_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

async fn write(State(route): State<Arc<TelegrafRoute>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return RequestError::MethodNotAllowed.into_response();
    }
    let precision = match precision(parts.uri.query()) {
        Ok(precision) => precision,
        Err(error) => return text_response(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let body = route
        .encodings
        .negotiate(parts.headers.get(CONTENT_ENCODING))
        .map(|encoding| (encoding, body));
    let (encoding, body) = match body {
        Ok(negotiated) => negotiated,
        Err(error) => return text_response(error.http_status(), error.to_string()),
    };
    let body = match read_limited(body, route.max_body)
        .await
        .and_then(|raw| decompress(encoding, raw, route.max_body))
    {
        Ok(body) => body,
        Err(error) => return text_response(error.http_status(), error.to_string()),
    };
    let parsed = parser::parse(&body, precision);
    let converted = convert(&parsed.lines, &route.service_name, receive_time_unix_nano());
    // A bad line's fields are unknown, so each counts as one refused point.
    route.telemetry.refused(
        Signal::Metrics,
        parsed.errors.len() + converted.dropped_string_fields,
    );
    let points = converted.data_points;
    if points > 0 {
        let payload = Payload::Metrics(converted.resource_metrics);
        if let Err(error) = route.consumer.consume(payload).await {
            return crate::http::metrics_pipeline_error(&route.telemetry, &error, points);
        }
        route.telemetry.accepted(Signal::Metrics, points);
    }
    if parsed.errors.is_empty() {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        return response;
    }
    let listed: Vec<String> = parsed
        .errors
        .iter()
        .take(ERRORS_IN_REPLY)
        .map(ToString::to_string)
        .collect();
    text_response(
        StatusCode::BAD_REQUEST,
        format!(
            "{} bad lines rejected ({}); {} valid lines with {points} data points were written",
            parsed.errors.len(),
            listed.join("; "),
            parsed.lines.len(),
        ),
    )
}
