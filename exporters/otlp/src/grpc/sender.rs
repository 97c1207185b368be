//! Delivery over OTLP/gRPC with the opentelemetry-proto tonic clients.

use super::config::GrpcExporterConfig;
use super::force_tls::{ForceTls, with_scheme};
use crate::common::{Compression, header_map, partial_success};
use async_trait::async_trait;
use cormorant_core::ConfigError;
use cormorant_core::exporterhelper::{SendError, SendOutcome, Sender};
use cormorant_core::http_client::{HttpVersions, https_connector, user_agent};
use cormorant_core::pdata::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, Payload,
};
use http::HeaderMap;
use http::uri::Scheme;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

pub(crate) struct GrpcSender {
    channel: Channel,
    compression: Option<CompressionEncoding>,
    headers: HeaderMap,
}

impl GrpcSender {
    /// Builds a lazily connecting channel: the destination may be down at startup, and the first
    /// send (with its retries) is what finds out.
    pub(crate) fn new(config: &GrpcExporterConfig) -> Result<Self, ConfigError> {
        let target = config.target()?;
        let tls = target.scheme() == Some(&Scheme::HTTPS);
        let mut endpoint = if tls {
            Endpoint::from(with_scheme(target.clone(), Scheme::HTTP)).origin(target)
        } else {
            Endpoint::from(target)
        };
        endpoint = endpoint
            .user_agent(user_agent())
            .map_err(|e| ConfigError::Invalid(format!("user agent: {e}")))?
            .tcp_nodelay(true);
        if let Some(keepalive) = &config.keepalive {
            if let Some(time) = keepalive.time {
                endpoint = endpoint.http2_keep_alive_interval(time);
            }
            if let Some(timeout) = keepalive.timeout {
                endpoint = endpoint.keep_alive_timeout(timeout);
            }
            endpoint = endpoint.keep_alive_while_idle(keepalive.permit_without_stream);
        }
        let connector = https_connector(&config.tls, HttpVersions::Http2Only)?;
        let channel = if tls {
            endpoint.connect_with_connector_lazy(ForceTls(connector))
        } else {
            endpoint.connect_with_connector_lazy(connector)
        };
        Ok(GrpcSender {
            channel,
            compression: match config.compression {
                Compression::Gzip => Some(CompressionEncoding::Gzip),
                Compression::Zstd => Some(CompressionEncoding::Zstd),
                Compression::Deflate => Some(CompressionEncoding::Deflate),
                Compression::None => None,
            },
            headers: header_map(&config.headers)?,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        tonic::Request::from_parts(
            MetadataMap::from_headers(self.headers.clone()),
            tonic::Extensions::default(),
            message,
        )
    }
}

/// Applies the configured request compression and accepts compressed responses.
macro_rules! client {
    ($client:ident, $sender:expr) => {{
        let client = $client::new($sender.channel.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        match $sender.compression {
            Some(encoding) => client.send_compressed(encoding),
            None => client,
        }
    }};
}

#[async_trait]
impl Sender for GrpcSender {
    async fn send(&self, payload: &Payload) -> Result<SendOutcome, SendError> {
        let partial = match payload {
            Payload::Traces(resource_spans) => client!(TraceServiceClient, self)
                .export(self.request(ExportTraceServiceRequest {
                    resource_spans: resource_spans.clone(),
                }))
                .await
                .map_err(classify)?
                .into_inner()
                .partial_success
                .map(|p| (p.rejected_spans, p.error_message)),
            Payload::Metrics(resource_metrics) => client!(MetricsServiceClient, self)
                .export(self.request(ExportMetricsServiceRequest {
                    resource_metrics: resource_metrics.clone(),
                }))
                .await
                .map_err(classify)?
                .into_inner()
                .partial_success
                .map(|p| (p.rejected_data_points, p.error_message)),
            Payload::Logs(resource_logs) => client!(LogsServiceClient, self)
                .export(self.request(ExportLogsServiceRequest {
                    resource_logs: resource_logs.clone(),
                }))
                .await
                .map_err(classify)?
                .into_inner()
                .partial_success
                .map(|p| (p.rejected_log_records, p.error_message)),
        };
        Ok(
            partial.map_or_else(SendOutcome::accepted, |(rejected, message)| {
                partial_success(rejected, message)
            }),
        )
    }
}

/// Sorts a gRPC failure by the OTLP retry rules. RESOURCE_EXHAUSTED is only worth retrying when
/// the server says when (RetryInfo); without it the request itself is too big or over a quota.
pub(crate) fn classify(status: Status) -> SendError {
    let retry_after = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    let message = format!(
        "gRPC status {:?} from the destination: {}",
        status.code(),
        status.message()
    );
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => SendError::Retryable {
            message,
            retry_after,
        },
        Code::ResourceExhausted if retry_after.is_some() => SendError::Retryable {
            message,
            retry_after,
        },
        _ => SendError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn status_codes_follow_the_otlp_retry_rules() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::DataLoss,
        ] {
            assert!(matches!(
                classify(Status::new(code, "x")),
                SendError::Retryable { .. }
            ));
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Internal,
            Code::Unknown,
            Code::ResourceExhausted,
        ] {
            assert!(matches!(
                classify(Status::new(code, "x")),
                SendError::Permanent(_)
            ));
        }
    }

    #[test]
    fn retry_info_delay_is_decoded() {
        let status = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(1500))),
        );
        assert_eq!(
            classify(status),
            SendError::Retryable {
                message: "gRPC status ResourceExhausted from the destination: slow down".into(),
                retry_after: Some(Duration::from_millis(1500)),
            }
        );
    }
}
