//! OTLP/HTTP request decoding and replies, shared by every receiver that accepts OTLP over HTTP
//! (`receiver/otlpreceiver/otlphttp.go` behaviour): protobuf or JSON by `Content-Type`, any
//! accepted `Content-Encoding`, and answers in the request's encoding — the OTLP response message
//! on success, a `google.rpc.Status` with `Retry-After` where it applies on failure.

use crate::server::otlp_ingest::{OtlpSignal, Outcome};
use crate::server::otlp_json;
use crate::server::{AcceptedEncodings, BodyError, ContentEncoding, ErrorReply};
use crate::server::{decompress, read_limited};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use prost::Message;
use tonic::Code;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// Bodies received larger than this are decompressed and decoded on the blocking pool, so one
/// large request does not stall the other connections of the same runtime worker.
const OFFLOAD_BYTES: usize = 64 * 1024;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpFormat {
    Protobuf,
    Json,
}

impl OtlpFormat {
    /// From `Content-Type`, ignoring parameters such as `charset`.
    pub fn from_headers(headers: &HeaderMap) -> Option<OtlpFormat> {
        let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case(PROTOBUF) {
            Some(OtlpFormat::Protobuf)
        } else if essence.eq_ignore_ascii_case(JSON) {
            Some(OtlpFormat::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            OtlpFormat::Protobuf => PROTOBUF,
            OtlpFormat::Json => JSON,
        })
    }

    fn decode<S: OtlpSignal>(self, body: &[u8]) -> Result<S::Request, String> {
        match self {
            OtlpFormat::Protobuf => S::Request::decode(body)
                .map_err(|e| format!("failed to decode protobuf request body: {e}")),
            OtlpFormat::Json => otlp_json::decode(body).map_err(|e| e.to_string()),
        }
    }
}

/// A request refused before it reached the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestError {
    MethodNotAllowed,
    UnsupportedMediaType,
    /// The body could not be read, decompressed or decoded; answered in the request's encoding.
    Rejected {
        format: OtlpFormat,
        status: StatusCode,
        reply: ErrorReply,
    },
}

impl RequestError {
    fn body(format: OtlpFormat, error: &BodyError) -> Self {
        let code = match error {
            BodyError::TooLarge { .. } => Code::ResourceExhausted,
            _ => Code::InvalidArgument,
        };
        RequestError::Rejected {
            format,
            status: error.http_status(),
            reply: ErrorReply::new(code, error.to_string()),
        }
    }

    pub fn into_response(self) -> Response {
        match self {
            RequestError::MethodNotAllowed => {
                let mut response = text_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "405 method not allowed, supported: [POST]",
                );
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
                response
            }
            RequestError::UnsupportedMediaType => text_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "415 unsupported media type, supported: [application/json, application/x-protobuf]",
            ),
            RequestError::Rejected {
                format,
                status,
                reply,
            } => error_response(format, status, &reply),
        }
    }
}

/// Checks method and `Content-Type`, reads the body within `max_body` (before and after
/// decompression) and decodes it as signal `S`'s export request.
pub async fn decode_request<S: OtlpSignal>(
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    max_body: usize,
    encodings: &AcceptedEncodings,
) -> Result<(OtlpFormat, S::Request), RequestError> {
    if method != Method::POST {
        return Err(RequestError::MethodNotAllowed);
    }
    let format = OtlpFormat::from_headers(headers).ok_or(RequestError::UnsupportedMediaType)?;
    let encoding = encodings
        .negotiate(headers.get(CONTENT_ENCODING))
        .map_err(|error| RequestError::body(format, &error))?;
    let received = read_limited(body, max_body)
        .await
        .map_err(|error| RequestError::body(format, &error))?;
    let request = if received.len() > OFFLOAD_BYTES {
        tokio::task::spawn_blocking(move || decode_body::<S>(format, encoding, received, max_body))
            .await
            .unwrap_or_else(|error| {
                Err(RequestError::Rejected {
                    format,
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    reply: ErrorReply::new(Code::Internal, format!("decoding failed: {error}")),
                })
            })?
    } else {
        decode_body::<S>(format, encoding, received, max_body)?
    };
    Ok((format, request))
}

/// Decompresses (within `limit` again) and decodes a received body.
fn decode_body<S: OtlpSignal>(
    format: OtlpFormat,
    encoding: ContentEncoding,
    received: Bytes,
    limit: usize,
) -> Result<S::Request, RequestError> {
    let body = decompress(encoding, received, limit).map_err(|e| RequestError::body(format, &e))?;
    format
        .decode::<S>(&body)
        .map_err(|message| RequestError::Rejected {
            format,
            status: StatusCode::BAD_REQUEST,
            reply: ErrorReply::new(Code::InvalidArgument, message),
        })
}

/// The reply for a request that reached the pipeline: 200 with the (possibly partial-success)
/// response message, or the pipeline's error.
pub fn outcome_response<S: OtlpSignal>(format: OtlpFormat, outcome: Outcome) -> Response {
    match outcome {
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

fn success(format: OtlpFormat, protobuf: Vec<u8>, json: &[u8]) -> Response {
    let body = match format {
        OtlpFormat::Protobuf => Body::from(protobuf),
        OtlpFormat::Json => Body::from(json.to_vec()),
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, format.content_type());
    response
}

/// A `google.rpc.Status` body in the request's encoding, with `Retry-After` where it applies.
fn error_response(format: OtlpFormat, status: StatusCode, reply: &ErrorReply) -> Response {
    let body = match format {
        OtlpFormat::Protobuf => reply.protobuf_body(),
        OtlpFormat::Json => reply.json_body(),
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

/// A plain-text reply, for requests that are not OTLP at all (unknown path, wrong method).
pub fn text_response(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = Response::new(Body::from(message.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
