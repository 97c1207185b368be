//! The SkyWalking HTTP endpoints (port 12800), as OAP serves them to the Python agent in HTTP
//! mode and to nginx-lua (APISIX, Kong): `/v3/segment`, `/v3/segments`, `/v3/logs`, and the
//! management calls, which are answered and not kept. Successes are an exact `200` with `{}`:
//! nginx-lua moves on to keep-alives only after one. Bodies may be gzip-compressed.

use crate::ingest::{Deliver, Ingest};
use crate::json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use cormorant_core::client::{self, ClientInfo};
use cormorant_core::server::{ContentEncoding, ErrorReply, decompress, read_limited};
use std::sync::Arc;

#[derive(Clone)]
struct Endpoint {
    ingest: Arc<Ingest>,
    max_body_bytes: usize,
}

pub(crate) fn router(ingest: Ingest, max_body_bytes: usize) -> Router {
    let state = Endpoint {
        ingest: Arc::new(ingest),
        max_body_bytes,
    };
    Router::new()
        .route("/v3/segment", post(segments))
        .route("/v3/segments", post(segments))
        .route("/v3/logs", post(logs))
        .route("/v3/management/reportProperties", post(answer_only))
        .route("/v3/management/keepAlive", post(answer_only))
        .with_state(state)
}

fn ok() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

fn failed(reply: &ErrorReply) -> Response {
    let mut response = error(reply.http_status(), reply.message.clone());
    if let Some(retry_after) = reply.retry_after_header() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after);
    }
    response
}

/// The request body, decompressed, within the size limit.
async fn body(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    request: Request,
) -> Result<Bytes, Response> {
    let encoding = match headers.get(header::CONTENT_ENCODING) {
        None => ContentEncoding::Identity,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(ContentEncoding::from_header)
            .ok_or_else(|| {
                error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported Content-Encoding",
                )
            })?,
    };
    let limit = endpoint.max_body_bytes;
    let raw = read_limited(request.into_body(), limit)
        .await
        .map_err(|e| error(e.http_status(), e.to_string()))?;
    decompress(encoding, raw, limit).map_err(|e| error(e.http_status(), e.to_string()))
}

async fn segments(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    accept(&endpoint, &headers, request, json::segments).await
}

async fn logs(State(endpoint): State<Endpoint>, headers: HeaderMap, request: Request) -> Response {
    accept(&endpoint, &headers, request, json::logs).await
}

/// Reads the body, parses it with `parse`, and hands what it holds to the pipeline.
async fn accept<T: Deliver>(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    request: Request,
    parse: fn(&[u8]) -> Result<Vec<T>, json::JsonError>,
) -> Response {
    let sender = ClientInfo::of_request(request.extensions(), headers, false);
    client::within(sender, ingest_body(endpoint, headers, request, parse)).await
}

async fn ingest_body<T: Deliver>(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    request: Request,
    parse: fn(&[u8]) -> Result<Vec<T>, json::JsonError>,
) -> Response {
    let bytes = match body(endpoint, headers, request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let messages = match parse(&bytes) {
        Ok(messages) => messages,
        Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
    };
    match T::deliver(&endpoint.ingest, messages).await {
        Ok(()) => ok(),
        Err(reply) => failed(&reply),
    }
}

async fn answer_only() -> Response {
    ok()
}
