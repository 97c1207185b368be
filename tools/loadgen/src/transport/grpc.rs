//! OTLP/gRPC over a tonic channel.
//!
//! The request is already encoded (see `payload`), so the channel is driven through
//! `tonic::client::Grpc` with a pass-through codec on the same `Export` method paths the
//! generated OTLP clients use; the generated clients would re-encode the message for every
//! request, which is exactly the per-request cost the generator avoids.

use super::{Accepted, SendFailure, Target, TransportError, accepted_from_response, rpc_status};
use crate::transport::Compression;
use bytes::{Buf, BufMut, Bytes};
use cormorant_core::Signal;
use http::uri::PathAndQuery;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

pub struct GrpcSender {
    client: tonic::client::Grpc<Channel>,
    path: PathAndQuery,
    signal: Signal,
}

impl GrpcSender {
    pub(super) fn new(signal: Signal, target: &Target) -> Result<Self, TransportError> {
        let scheme = if target.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let invalid = |reason: String| TransportError::InvalidEndpoint {
            endpoint: target.endpoint.clone(),
            reason,
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", target.endpoint))
            .map_err(|e| invalid(e.to_string()))?
            .timeout(target.timeout)
            .connect_timeout(target.timeout)
            .tcp_nodelay(true);
        if let Some(tls) = &target.tls {
            let config = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&tls.ca_pem))
                .domain_name(tls.server_name.clone());
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| TransportError::Tls {
                    endpoint: target.endpoint.clone(),
                    reason: e.to_string(),
                })?;
        }
        let mut client = tonic::client::Grpc::new(endpoint.connect_lazy());
        if target.compression == Compression::Gzip {
            client = client
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        Ok(Self {
            client,
            path: PathAndQuery::from_static(export_path(signal)),
            signal,
        })
    }

    pub(super) async fn send(&mut self, request: Bytes) -> Result<Accepted, SendFailure> {
        self.client
            .ready()
            .await
            .map_err(|e| SendFailure::retryable(format!("gRPC channel not ready: {e}"), None))?;
        let response = self
            .client
            .unary(
                tonic::Request::new(request),
                self.path.clone(),
                EncodedCodec,
            )
            .await
            .map_err(|status| classify(&status))?;
        accepted_from_response(self.signal, response.get_ref())
    }
}

fn export_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

/// Applies the OTLP/gRPC retry rules: the transient codes are retryable, RESOURCE_EXHAUSTED
/// only when the server attached `RetryInfo`, everything else is permanent.
fn classify(status: &Status) -> SendFailure {
    let message = format!("gRPC {:?}: {}", status.code(), status.message());
    let delay = rpc_status::retry_delay(status.details());
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => SendFailure::retryable(message, delay),
        Code::ResourceExhausted if delay.is_some() => SendFailure::retryable(message, delay),
        _ => SendFailure::permanent(message),
    }
}

/// Passes already-encoded messages through and hands responses back undecoded.
#[derive(Debug, Clone, Copy, Default)]
struct EncodedCodec;

impl Codec for EncodedCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = EncodedCodec;
    type Decoder = EncodedCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for EncodedCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for EncodedCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Retry;
    use std::time::Duration;

    #[test]
    fn transient_codes_are_retryable_and_others_are_not() {
        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::Aborted] {
            assert_eq!(
                classify(&Status::new(code, "x")).retry,
                Retry::Allowed(None)
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::Internal,
            Code::Unknown,
            Code::Unimplemented,
            Code::ResourceExhausted,
        ] {
            assert_eq!(classify(&Status::new(code, "x")).retry, Retry::Never);
        }
    }

    #[test]
    fn resource_exhausted_with_retry_info_waits_the_given_delay() {
        let delay = Duration::from_millis(250);
        let details = rpc_status::encode_with_retry_delay(8, "throttled", delay);
        let status = Status::with_details(Code::ResourceExhausted, "throttled", details.into());
        let failure = classify(&status);
        assert_eq!(failure.retry, Retry::Allowed(Some(delay)));
        assert!(failure.message.contains("throttled"));
    }
}
