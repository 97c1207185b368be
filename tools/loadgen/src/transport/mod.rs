//! Sending encoded requests over OTLP/gRPC or OTLP/HTTP and classifying the answers the
//! way the OTLP specification tells a client to (retryable, permanent, partial success).

mod grpc;
mod http;
mod rpc_status;
mod tls;

pub use tls::TlsSettings;

use bytes::Bytes;
use cormorant_core::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::time::Duration;
use thiserror::Error;

/// The wire protocol of the OTLP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Grpc,
    Http,
}

/// Request compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    None,
    Gzip,
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` of the collector.
    pub endpoint: String,
    pub protocol: Protocol,
    /// Request path for OTLP/HTTP (`/v1/traces` …); unused for gRPC.
    pub http_path: String,
    pub compression: Compression,
    /// `None` sends plaintext.
    pub tls: Option<TlsSettings>,
    /// Per-attempt limit for connecting plus sending plus reading the answer.
    pub timeout: Duration,
}

/// A request the collector took, possibly with some items rejected (partial success).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    pub rejected_items: u64,
    pub message: String,
}

/// A request the collector did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub retry: Retry,
    pub message: String,
}

/// Whether the OTLP retry rules allow sending the same request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Never,
    /// Retry, after the server's requested delay when it gave one.
    Allowed(Option<Duration>),
}

impl SendFailure {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            retry: Retry::Never,
            message: message.into(),
        }
    }

    fn retryable(message: impl Into<String>, after: Option<Duration>) -> Self {
        Self {
            retry: Retry::Allowed(after),
            message: message.into(),
        }
    }
}

/// Setting up a sender failed before anything was sent.
#[derive(Debug, Error)]
pub enum TransportError {
    #[error("invalid OTLP endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("TLS setup for {endpoint}: {reason}")]
    Tls { endpoint: String, reason: String },
}

/// One connection to the collector, owned by one worker.
pub enum Sender {
    Grpc(grpc::GrpcSender),
    Http(http::HttpSender),
}

impl Sender {
    /// Prepares a sender; connections are opened on the first request, so a collector that
    /// is not up yet shows as failed requests rather than a setup error.
    pub fn new(signal: Signal, target: &Target) -> Result<Self, TransportError> {
        match target.protocol {
            Protocol::Grpc => grpc::GrpcSender::new(signal, target).map(Sender::Grpc),
            Protocol::Http => http::HttpSender::new(signal, target).map(Sender::Http),
        }
    }

    /// Sends one encoded `Export*ServiceRequest`.
    pub async fn send(&mut self, request: Bytes) -> Result<Accepted, SendFailure> {
        match self {
            Sender::Grpc(sender) => sender.send(request).await,
            Sender::Http(sender) => sender.send(request).await,
        }
    }
}

/// Reads `partial_success` out of an encoded `Export*ServiceResponse`.
fn accepted_from_response(signal: Signal, body: &[u8]) -> Result<Accepted, SendFailure> {
    let undecodable = |error: prost::DecodeError| {
        SendFailure::permanent(format!("undecodable {signal} export response: {error}"))
    };
    let partial = match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(body)
            .map_err(undecodable)?
            .partial_success
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .map_err(undecodable)?
            .partial_success
            .map(|p| (p.rejected_data_points, p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .map_err(undecodable)?
            .partial_success
            .map(|p| (p.rejected_log_records, p.error_message)),
    };
    Ok(
        partial.map_or_else(Accepted::default, |(rejected, message)| Accepted {
            rejected_items: u64::try_from(rejected).unwrap_or(0),
            message,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    #[test]
    fn partial_success_is_read_from_the_response() {
        let response = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 7,
                error_message: "too old".to_owned(),
            }),
        };
        let accepted = accepted_from_response(Signal::Traces, &response.encode_to_vec()).unwrap();
        assert_eq!(
            accepted,
            Accepted {
                rejected_items: 7,
                message: "too old".to_owned()
            }
        );
        assert_eq!(
            accepted_from_response(Signal::Logs, &[]).unwrap(),
            Accepted::default()
        );
    }

    #[test]
    fn an_undecodable_response_is_a_permanent_failure() {
        let failure = accepted_from_response(Signal::Metrics, &[0x0a, 0x05, 0x01]).unwrap_err();
        assert_eq!(failure.retry, Retry::Never);
        assert!(failure.message.contains("metrics"), "{}", failure.message);
    }
}
