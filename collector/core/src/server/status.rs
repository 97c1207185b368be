//! One answer for a failed request, rendered for gRPC (`tonic::Status`) or HTTP (status code,
//! `Retry-After`, and a `google.rpc.Status` body).
//!
//! Receivers decide *what* went wrong as a gRPC code (otelcol does the same and derives the HTTP
//! status from it, `receiver/otlpreceiver/internal/errors`), so both transports of a receiver
//! agree and a client sees the same retry semantics whichever protocol it speaks.

use crate::consumer::ConsumeError;
use http::{HeaderValue, StatusCode};
use prost::Message;
use std::time::Duration;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The `@type` of a `google.rpc.RetryInfo` detail in JSON error bodies.
const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// A request failure, independent of the transport that reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: Code,
    pub message: String,
    /// Sent as gRPC `RetryInfo` and, on 429/503, as HTTP `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl ErrorReply {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ErrorReply {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A pipeline refusal is retryable back-pressure: UNAVAILABLE, or RESOURCE_EXHAUSTED when the
    /// consumer asked the client to slow down (the spec makes RESOURCE_EXHAUSTED retryable only
    /// with `RetryInfo`, so a throttle always carries a delay, at least one second). A permanent
    /// rejection of the whole request is INTERNAL, as in otelcol; receivers turn a rejection of
    /// only part of a request into a partial success before getting here.
    pub fn from_consume_error(error: &ConsumeError) -> Self {
        match error {
            ConsumeError::Refused {
                message,
                retry_after,
                throttled,
            } => {
                let (code, retry_after) = if *throttled {
                    let delay = retry_after.unwrap_or(Duration::from_secs(1));
                    (Code::ResourceExhausted, Some(delay))
                } else {
                    (Code::Unavailable, *retry_after)
                };
                ErrorReply {
                    code,
                    message: message.clone(),
                    retry_after,
                }
            }
            ConsumeError::Permanent { message, .. } => ErrorReply::new(Code::Internal, message),
        }
    }

    /// The gRPC status, with a `RetryInfo` detail when a delay is known.
    pub fn to_grpc(&self) -> tonic::Status {
        match self.retry_after {
            Some(delay) => tonic::Status::with_error_details(
                self.code,
                self.message.clone(),
                ErrorDetails::with_retry_info(Some(delay)),
            ),
            None => tonic::Status::new(self.code, self.message.clone()),
        }
    }

    /// The HTTP status otelcol maps this gRPC code to.
    pub fn http_status(&self) -> StatusCode {
        http_status_for(self.code)
    }

    /// `Retry-After: <seconds>` (rounded up) for 429 and 503, the only codes it means anything on.
    pub fn retry_after_header(&self) -> Option<HeaderValue> {
        let delay = self.retry_after?;
        let status = self.http_status();
        if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        Some(HeaderValue::from(seconds.max(1)))
    }

    /// The `google.rpc.Status` message, protobuf-encoded, as the body of an HTTP error.
    pub fn protobuf_body(&self) -> Vec<u8> {
        // `to_grpc` already encodes the details as a `google.rpc.Status`; reuse them.
        let details = match self.retry_after {
            Some(_) => tonic_types::Status::decode(self.to_grpc().details())
                .map(|status| status.details)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        tonic_types::Status {
            code: self.code as i32,
            message: self.message.clone(),
            details,
        }
        .encode_to_vec()
    }

    /// The `google.rpc.Status` message in the proto3 JSON mapping, as the body of an HTTP error.
    pub fn json_body(&self) -> Vec<u8> {
        let mut status = serde_json::json!({
            "code": self.code as i32,
            "message": self.message,
        });
        if let Some(delay) = self.retry_after {
            status["details"] = serde_json::json!([{
                "@type": RETRY_INFO_TYPE_URL,
                "retryDelay": json_duration(delay),
            }]);
        }
        serde_json::to_vec(&status).expect("a JSON value always serializes")
    }
}

/// otelcol's gRPC → HTTP status table (`GetHTTPStatusCodeFromStatus`).
pub fn http_status_for(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => StatusCode::SERVICE_UNAVAILABLE,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unimplemented => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A `google.protobuf.Duration` in JSON: decimal seconds with an `s` suffix (`"1.500s"`).
fn json_duration(delay: Duration) -> String {
    match delay.subsec_nanos() {
        0 => format!("{}s", delay.as_secs()),
        nanos => {
            let fraction = format!("{nanos:09}");
            format!("{}.{}s", delay.as_secs(), fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_retryable_codes() {
        let unavailable = ErrorReply::from_consume_error(&ConsumeError::unavailable("full"));
        assert_eq!(unavailable.code, Code::Unavailable);
        assert_eq!(unavailable.http_status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.retry_after_header(), None);

        let throttled = ErrorReply::from_consume_error(&ConsumeError::throttled(
            "slow down",
            Duration::from_millis(2500),
        ));
        assert_eq!(throttled.code, Code::ResourceExhausted);
        assert_eq!(throttled.http_status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(throttled.retry_after_header().unwrap(), "3");
        let grpc = throttled.to_grpc();
        assert_eq!(grpc.code(), Code::ResourceExhausted);
        assert_eq!(
            grpc.get_details_retry_info().unwrap().retry_delay,
            Some(Duration::from_millis(2500))
        );

        let permanent = ErrorReply::from_consume_error(&ConsumeError::permanent("bad", 3));
        assert_eq!(permanent.http_status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn retry_after_only_on_429_and_503() {
        let mut reply = ErrorReply::new(Code::InvalidArgument, "bad");
        reply.retry_after = Some(Duration::from_secs(5));
        assert_eq!(reply.retry_after_header(), None);
        reply.code = Code::Unavailable;
        assert_eq!(reply.retry_after_header().unwrap(), "5");
    }

    #[test]
    fn bodies_carry_code_message_and_retry_info() {
        let mut reply = ErrorReply::new(Code::Unavailable, "busy");
        reply.retry_after = Some(Duration::from_millis(1500));
        let decoded = tonic_types::Status::decode(reply.protobuf_body().as_slice()).unwrap();
        assert_eq!(decoded.code, Code::Unavailable as i32);
        assert_eq!(decoded.message, "busy");
        assert_eq!(decoded.details.len(), 1);
        assert_eq!(decoded.details[0].type_url, RETRY_INFO_TYPE_URL);

        let json: serde_json::Value = serde_json::from_slice(&reply.json_body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "code": 14,
                "message": "busy",
                "details": [{"@type": RETRY_INFO_TYPE_URL, "retryDelay": "1.5s"}],
            })
        );
    }

    #[test]
    fn grpc_codes_follow_otelcol_http_table() {
        assert_eq!(
            http_status_for(Code::DataLoss),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(http_status_for(Code::Unimplemented), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status_for(Code::PermissionDenied),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            http_status_for(Code::Unauthenticated),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            http_status_for(Code::FailedPrecondition),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
