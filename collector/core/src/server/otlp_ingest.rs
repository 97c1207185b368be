//! What every OTLP transport does with a decoded request: hand it to the pipeline, count it, and turn
//! the result into a success, a partial success, or an error.
//!
//! [`OtlpSignal`] ties each signal to its request and response messages, so the gRPC services and
//! the HTTP handlers of every receiver that speaks OTLP are written once, generically.

use crate::client::{ClientInfo, within};
use crate::consumer::{ConsumeError, SharedConsumer};
use crate::pdata::Payload;
use crate::pdata::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use crate::server::ErrorReply;
use crate::telemetry::ReceiverTelemetry;
use serde::de::DeserializeOwned;

/// A signal's OTLP request and response messages.
pub trait OtlpSignal: Send + Sync + 'static {
    /// The `partialSuccess` counter's JSON name.
    const REJECTED_JSON_FIELD: &'static str;
    type Request: prost::Message + Default + DeserializeOwned + Into<Payload> + Send + 'static;
    type Response: prost::Message + Default + Send + 'static;

    fn partial_response(rejected: i64, message: String) -> Self::Response;
}

pub struct Traces;
pub struct Metrics;
pub struct Logs;

impl OtlpSignal for Traces {
    const REJECTED_JSON_FIELD: &'static str = "rejectedSpans";
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;

    fn partial_response(rejected: i64, message: String) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            }),
        }
    }
}

impl OtlpSignal for Metrics {
    const REJECTED_JSON_FIELD: &'static str = "rejectedDataPoints";
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;

    fn partial_response(rejected: i64, message: String) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message: message,
            }),
        }
    }
}

impl OtlpSignal for Logs {
    const REJECTED_JSON_FIELD: &'static str = "rejectedLogRecords";
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;

    fn partial_response(rejected: i64, message: String) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Accepted,
    /// Some items were dropped for good; the client must not retry.
    Partial {
        rejected: i64,
        message: String,
    },
    Failed(ErrorReply),
}

impl Outcome {
    /// The success message for this outcome, or the error.
    pub fn into_response<S: OtlpSignal>(self) -> Result<S::Response, ErrorReply> {
        match self {
            Outcome::Accepted => Ok(S::Response::default()),
            Outcome::Partial { rejected, message } => Ok(S::partial_response(rejected, message)),
            Outcome::Failed(reply) => Err(reply),
        }
    }
}

/// Sends one request's data down the pipeline, as `client`'s, and records the receiver metrics.
pub async fn ingest(
    consumer: &SharedConsumer,
    telemetry: &ReceiverTelemetry,
    payload: Payload,
    client: ClientInfo,
) -> Outcome {
    let signal = payload.signal();
    let items = payload.item_count();
    // An empty request is a success (OTLP spec); there is nothing to give the pipeline.
    if items == 0 {
        return Outcome::Accepted;
    }
    match within(client, consumer.consume(payload)).await {
        Ok(()) => {
            telemetry.accepted(signal, items);
            Outcome::Accepted
        }
        Err(ConsumeError::Permanent {
            message,
            rejected_items,
        }) if rejected_items < items => {
            telemetry.accepted(signal, items - rejected_items);
            telemetry.refused(signal, rejected_items);
            Outcome::Partial {
                rejected: i64::try_from(rejected_items).unwrap_or(i64::MAX),
                message,
            }
        }
        Err(error) => {
            telemetry.refused(signal, items);
            Outcome::Failed(ErrorReply::from_consume_error(&error))
        }
    }
}
