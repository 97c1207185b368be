//! OTLP/HTTP: one POST route per signal that has a pipeline, protobuf or JSON, any supported
//! `Content-Encoding`, answers in the request's encoding (`receiver/otlpreceiver/otlphttp.go`).

use crate::config::HttpConfig;
use crate::cors::Cors;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::map_response_with_state;
use axum::response::Response;
use axum::routing::any;
use cormorant_core::client::ClientInfo;
use cormorant_core::server::AcceptedEncodings;
use cormorant_core::server::otlp_http::{decode_request, outcome_response, text_response};
use cormorant_core::server::otlp_ingest::{Logs, Metrics, OtlpSignal, Traces, ingest};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ConfigError, ReceiverConsumers, SharedConsumer};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::sync::Arc;

/// What every route shares.
struct Shared {
    telemetry: ReceiverTelemetry,
    max_body: usize,
    encodings: AcceptedEncodings,
    cors: Option<Cors>,
    /// Keep request headers as the client's metadata (`from_context: metadata.*`).
    include_metadata: bool,
}

/// One signal's route.
struct Route {
    shared: Arc<Shared>,
    consumer: SharedConsumer,
}

/// The OTLP/HTTP routes for the signals that have a pipeline.
pub(crate) fn router(
    config: &HttpConfig,
    consumers: &ReceiverConsumers,
    telemetry: &ReceiverTelemetry,
) -> Result<Router, ConfigError> {
    let shared = Arc::new(Shared {
        telemetry: telemetry.clone(),
        max_body: config.max_request_body_size,
        encodings: config.accepted_encodings()?,
        cors: config.cors.as_ref().and_then(Cors::new),
        include_metadata: config.include_metadata,
    });
    let route = |consumer: &SharedConsumer| {
        Arc::new(Route {
            shared: shared.clone(),
            consumer: consumer.clone(),
        })
    };
    let mut router = Router::new();
    if let Some(consumer) = &consumers.traces {
        let path = HttpConfig::route_path(&config.traces_url_path);
        router = router.route(&path, any(handle::<Traces>).with_state(route(consumer)));
    }
    if let Some(consumer) = &consumers.metrics {
        let path = HttpConfig::route_path(&config.metrics_url_path);
        router = router.route(&path, any(handle::<Metrics>).with_state(route(consumer)));
    }
    if let Some(consumer) = &consumers.logs {
        let path = HttpConfig::route_path(&config.logs_url_path);
        router = router.route(&path, any(handle::<Logs>).with_state(route(consumer)));
    }
    let extra_headers = Arc::new(response_headers(config)?);
    Ok(router
        .fallback(|| async { text_response(StatusCode::NOT_FOUND, "404 page not found") })
        .layer(map_response_with_state(extra_headers, add_headers)))
}

fn response_headers(config: &HttpConfig) -> Result<HeaderMap, ConfigError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &config.response_headers {
        let invalid = || {
            ConfigError::Invalid(format!(
                "protocols.http.response_headers: invalid header {name:?}: {value:?}"
            ))
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

async fn add_headers(State(extra): State<Arc<HeaderMap>>, mut response: Response) -> Response {
    for (name, value) in extra.iter() {
        response.headers_mut().insert(name, value.clone());
    }
    response
}

async fn handle<S: OtlpSignal>(State(route): State<Arc<Route>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let cors = route.shared.cors.as_ref();
    if parts.method == Method::OPTIONS
        && let Some(cors) = cors
    {
        return cors.preflight(&parts.headers);
    }
    let client = ClientInfo::of_request(
        &parts.extensions,
        &parts.headers,
        route.shared.include_metadata,
    );
    let mut response = export::<S>(&route, &parts.method, &parts.headers, body, client).await;
    if let Some(cors) = cors {
        cors.decorate(&parts.headers, &mut response);
    }
    response
}

async fn export<S: OtlpSignal>(
    route: &Route,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    client: ClientInfo,
) -> Response {
    let shared = &route.shared;
    match decode_request::<S>(method, headers, body, shared.max_body, &shared.encodings).await {
        Ok((format, request)) => {
            let outcome = ingest(&route.consumer, &shared.telemetry, request.into(), client).await;
            outcome_response::<S>(format, outcome)
        }
        Err(error) => error.into_response(),
    }
}
