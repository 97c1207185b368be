//! OTLP/HTTP: one POST route per signal that has a pipeline, protobuf or JSON, any supported
//! `Content-Encoding`, answers in the request's encoding (`receiver/otlpreceiver/otlphttp.go`).

use crate::config::HttpConfig;
use crate::cors::Cors;
use crate::ingest::{Logs, Metrics, OtlpSignal, Outcome, Traces, ingest};
use crate::json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::map_response_with_state;
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;
use cormorant_core::server::{
    AcceptedEncodings, BodyError, ContentEncoding, ErrorReply, decompress, read_limited,
};
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{ConfigError, ReceiverConsumers, SharedConsumer};
use http::header::{ALLOW, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use prost::Message;
use std::sync::Arc;
use tonic::Code;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// Bodies received larger than this are decompressed and decoded on the blocking pool, so one
/// large request does not stall the other connections of the same runtime worker.
const OFFLOAD_BYTES: usize = 64 * 1024;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    /// From `Content-Type`, ignoring parameters such as `charset`.
    fn from_headers(headers: &HeaderMap) -> Option<Format> {
        let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case(PROTOBUF) {
            Some(Format::Protobuf)
        } else if essence.eq_ignore_ascii_case(JSON) {
            Some(Format::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        })
    }

    fn decode<S: OtlpSignal>(self, body: &[u8]) -> Result<S::Request, String> {
        match self {
            Format::Protobuf => S::Request::decode(body)
                .map_err(|e| format!("failed to decode protobuf request body: {e}")),
            Format::Json => json::decode(body).map_err(|e| e.to_string()),
        }
    }
}

/// What every route shares.
struct Shared {
    telemetry: ReceiverTelemetry,
    max_body: usize,
    encodings: AcceptedEncodings,
    cors: Option<Cors>,
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
        .fallback(|| async { text(StatusCode::NOT_FOUND, "404 page not found") })
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
    let mut response = export::<S>(&route, &parts.method, &parts.headers, body).await;
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
) -> Response {
    if method != Method::POST {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 method not allowed, supported: [POST]",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let Some(format) = Format::from_headers(headers) else {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "415 unsupported media type, supported: [application/json, application/x-protobuf]",
        );
    };
    let shared = &route.shared;
    let encoding = match shared.encodings.negotiate(headers.get(CONTENT_ENCODING)) {
        Ok(encoding) => encoding,
        Err(error) => return Rejection::body(&error).render(format),
    };
    let received = match read_limited(body, shared.max_body).await {
        Ok(received) => received,
        Err(error) => return Rejection::body(&error).render(format),
    };
    let limit = shared.max_body;
    let decoded = if received.len() > OFFLOAD_BYTES {
        tokio::task::spawn_blocking(move || decode_body::<S>(format, encoding, received, limit))
            .await
            .unwrap_or_else(|error| {
                Err(Rejection {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    reply: ErrorReply::new(Code::Internal, format!("decoding failed: {error}")),
                })
            })
    } else {
        decode_body::<S>(format, encoding, received, limit)
    };
    let request = match decoded {
        Ok(request) => request,
        Err(rejection) => return rejection.render(format),
    };
    match ingest(&route.consumer, &shared.telemetry, request.into()).await {
        Outcome::Accepted => success(format, S::Response::default().encode_to_vec(), b"{}"),
        Outcome::Partial { rejected, message } => {
            let json = serde_json::json!({
                "partialSuccess": {
                    S::REJECTED_JSON_FIELD: rejected.to_string(),
                    "errorMessage": message,
                }
            });
            let protobuf = S::partial_response(rejected, message).encode_to_vec();
            success(
                format,
                protobuf,
                &serde_json::to_vec(&json).unwrap_or_default(),
            )
        }
        Outcome::Failed(reply) => error_response(format, reply.http_status(), &reply),
    }
}

/// A request refused before it reached the pipeline.
struct Rejection {
    status: StatusCode,
    reply: ErrorReply,
}

impl Rejection {
    fn body(error: &BodyError) -> Self {
        let code = match error {
            BodyError::TooLarge { .. } => Code::ResourceExhausted,
            _ => Code::InvalidArgument,
        };
        Rejection {
            status: error.http_status(),
            reply: ErrorReply::new(code, error.to_string()),
        }
    }

    fn render(&self, format: Format) -> Response {
        error_response(format, self.status, &self.reply)
    }
}

/// Decompresses (within `max_request_body_size` again) and decodes a received body.
fn decode_body<S: OtlpSignal>(
    format: Format,
    encoding: ContentEncoding,
    received: Bytes,
    limit: usize,
) -> Result<S::Request, Rejection> {
    let body = decompress(encoding, received, limit).map_err(|e| Rejection::body(&e))?;
    format.decode::<S>(&body).map_err(|message| Rejection {
        status: StatusCode::BAD_REQUEST,
        reply: ErrorReply::new(Code::InvalidArgument, message),
    })
}

fn success(format: Format, protobuf: Vec<u8>, json: &[u8]) -> Response {
    let body = match format {
        Format::Protobuf => Body::from(protobuf),
        Format::Json => Body::from(json.to_vec()),
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, format.content_type());
    response
}

/// A `google.rpc.Status` body in the request's encoding, with `Retry-After` where it applies.
fn error_response(format: Format, status: StatusCode, reply: &ErrorReply) -> Response {
    let body = match format {
        Format::Protobuf => reply.protobuf_body(),
        Format::Json => reply.json_body(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, format.content_type());
    if let Some(retry_after) = reply.retry_after_header() {
        response.headers_mut().insert(RETRY_AFTER, retry_after);
    }
    response
}

fn text(status: StatusCode, message: &'static str) -> Response {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
