//! OTLP/HTTP bodies: encoding requests (protobuf or JSON, then compression) and reading the
//! destination's answer (partial success, error message, `Retry-After`).

use super::config::Encoding;
use crate::common::{Compression, partial_success};
use cormorant_core::exporterhelper::SendOutcome;
use cormorant_core::pdata::logs::ResourceLogs;
use cormorant_core::pdata::metrics::ResourceMetrics;
use cormorant_core::pdata::trace::ResourceSpans;
use cormorant_core::pdata::{
    ExportLogsServiceResponse, ExportMetricsServiceResponse, ExportTraceServiceResponse, Payload,
    Signal,
};
use flate2::write::{GzEncoder, ZlibEncoder};
use prost::Message;
use serde::Serialize;
use std::io::Write;
use std::time::{Duration, SystemTime};

/// The tag of field 1 (`resource_*`, length-delimited) in every `Export*ServiceRequest`.
const RESOURCE_FIELD_TAG: u8 = (1 << 3) | 2;

/// Encodes the request message straight from the borrowed payload, without building (and so
/// cloning into) an `Export*ServiceRequest`: the request is just field 1 repeated.
pub(crate) fn encode_proto(payload: &Payload) -> Vec<u8> {
    fn repeated<M: Message>(items: &[M]) -> Vec<u8> {
        let size: usize = items.iter().map(|m| m.encoded_len() + 11).sum();
        let mut buf = Vec::with_capacity(size);
        for item in items {
            buf.push(RESOURCE_FIELD_TAG);
            item.encode_length_delimited(&mut buf)
                .expect("a Vec grows as needed");
        }
        buf
    }
    match payload {
        Payload::Traces(items) => repeated(items),
        Payload::Metrics(items) => repeated(items),
        Payload::Logs(items) => repeated(items),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonTraces<'a> {
    resource_spans: &'a [ResourceSpans],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonMetrics<'a> {
    resource_metrics: &'a [ResourceMetrics],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLogs<'a> {
    resource_logs: &'a [ResourceLogs],
}

/// OTLP/JSON: hex trace and span ids, 64-bit integers as strings (opentelemetry-proto's serde).
pub(crate) fn encode_json(payload: &Payload) -> Result<Vec<u8>, serde_json::Error> {
    match payload {
        Payload::Traces(items) => serde_json::to_vec(&JsonTraces {
            resource_spans: items,
        }),
        Payload::Metrics(items) => serde_json::to_vec(&JsonMetrics {
            resource_metrics: items,
        }),
        Payload::Logs(items) => serde_json::to_vec(&JsonLogs {
            resource_logs: items,
        }),
    }
}

pub(crate) fn content_type(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Proto => "application/x-protobuf",
        Encoding::Json => "application/json",
    }
}

/// Compresses a body; `deflate` is the zlib format, as HTTP's `Content-Encoding: deflate` is.
pub(crate) fn compress(compression: Compression, body: Vec<u8>) -> std::io::Result<Vec<u8>> {
    match compression {
        Compression::None => Ok(body),
        Compression::Gzip => {
            let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&body)?;
            encoder.finish()
        }
        Compression::Deflate => {
            let mut encoder = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&body)?;
            encoder.finish()
        }
        Compression::Zstd => zstd::encode_all(body.as_slice(), zstd::DEFAULT_COMPRESSION_LEVEL),
    }
}

/// Reads the partial success of a 2xx answer. An empty or unreadable body is a full success:
/// the data was accepted, and a body the exporter cannot parse is no reason to resend it.
pub(crate) fn read_success(signal: Signal, content_type: Option<&str>, body: &[u8]) -> SendOutcome {
    if body.is_empty() {
        return SendOutcome::accepted();
    }
    let partial = if is_json(content_type) {
        json_partial_success(signal, body)
    } else {
        proto_partial_success(signal, body)
    };
    partial.map_or_else(SendOutcome::accepted, |(rejected, message)| {
        partial_success(rejected, message)
    })
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| t.trim_start().starts_with("application/json"))
}

fn proto_partial_success(signal: Signal, body: &[u8]) -> Option<(i64, String)> {
    match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(body)
            .ok()?
            .partial_success
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .ok()?
            .partial_success
            .map(|p| (p.rejected_data_points, p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .ok()?
            .partial_success
            .map(|p| (p.rejected_log_records, p.error_message)),
    }
}

/// OTLP/JSON writes 64-bit counts as strings, but numbers are accepted too.
fn json_partial_success(signal: Signal, body: &[u8]) -> Option<(i64, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let partial = value
        .get("partialSuccess")
        .or_else(|| value.get("partial_success"))?;
    let field = |camel: &str, snake: &str| partial.get(camel).or_else(|| partial.get(snake));
    let (camel, snake) = match signal {
        Signal::Traces => ("rejectedSpans", "rejected_spans"),
        Signal::Metrics => ("rejectedDataPoints", "rejected_data_points"),
        Signal::Logs => ("rejectedLogRecords", "rejected_log_records"),
    };
    let rejected = match field(camel, snake) {
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    let message = field("errorMessage", "error_message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some((rejected, message))
}

/// The destination's explanation of a failure: the `message` of a `google.rpc.Status` body (as
/// OTLP servers send), else the start of the body as text.
pub(crate) fn error_message(content_type: Option<&str>, body: &[u8]) -> String {
    const MAX_CHARS: usize = 512;
    let from_status = if is_json(content_type) {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_string))
    } else if content_type.is_some_and(|t| t.contains("protobuf")) {
        tonic_types::pb::Status::decode(body)
            .ok()
            .map(|s| s.message)
    } else {
        None
    };
    let message = from_status.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let message = message.trim();
    match message.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_core::pdata::trace::{ScopeSpans, Span};
    use cormorant_core::pdata::{ExportLogsPartialSuccess, ExportTraceServiceRequest};
    use std::io::Read;

    fn traces() -> Payload {
        Payload::Traces(vec![
            ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: "checkout".into(),
                        trace_id: vec![0xab; 16],
                        span_id: vec![0xcd; 8],
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            };
            2
        ])
    }

    #[test]
    fn proto_encoding_is_the_export_request() {
        let payload = traces();
        let decoded = ExportTraceServiceRequest::decode(encode_proto(&payload).as_slice()).unwrap();
        assert_eq!(Payload::from(decoded), payload);
    }

    #[test]
    fn json_encoding_uses_hex_ids_and_camel_case() {
        let json: serde_json::Value =
            serde_json::from_slice(&encode_json(&traces()).unwrap()).unwrap();
        let span = &json["resourceSpans"][1]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "ab".repeat(16));
        assert_eq!(span["spanId"], "cd".repeat(8));
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
    }

    #[test]
    fn compression_round_trips() {
        let body = encode_proto(&traces());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(
            compress(Compression::Gzip, body.clone())
                .unwrap()
                .as_slice(),
        )
        .read_to_end(&mut out)
        .unwrap();
        assert_eq!(out, body);
        out.clear();
        flate2::read::ZlibDecoder::new(
            compress(Compression::Deflate, body.clone())
                .unwrap()
                .as_slice(),
        )
        .read_to_end(&mut out)
        .unwrap();
        assert_eq!(out, body);
        let zstd_body = compress(Compression::Zstd, body.clone()).unwrap();
        assert_eq!(zstd::decode_all(zstd_body.as_slice()).unwrap(), body);
        assert_eq!(compress(Compression::None, body.clone()).unwrap(), body);
    }

    #[test]
    fn partial_success_is_read_from_proto_and_json() {
        let body = ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: 3,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec();
        let outcome = read_success(Signal::Logs, Some("application/x-protobuf"), &body);
        assert_eq!(outcome, SendOutcome::partially_rejected(3, "too old"));

        let json = br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad ids"}}"#;
        let outcome = read_success(Signal::Traces, Some("application/json"), json);
        assert_eq!(outcome, SendOutcome::partially_rejected(2, "bad ids"));

        assert_eq!(
            read_success(Signal::Traces, None, b""),
            SendOutcome::accepted()
        );
        assert_eq!(
            read_success(Signal::Traces, Some("application/json"), b"{}"),
            SendOutcome::accepted()
        );
    }

    #[test]
    fn error_messages_come_from_status_bodies() {
        let status = tonic_types::pb::Status {
            code: 3,
            message: "invalid span".into(),
            details: Vec::new(),
        };
        assert_eq!(
            error_message(Some("application/x-protobuf"), &status.encode_to_vec()),
            "invalid span"
        );
        assert_eq!(
            error_message(
                Some("application/json"),
                br#"{"code":3,"message":"bad json"}"#
            ),
            "bad json"
        );
        assert_eq!(
            error_message(Some("text/plain"), b" overloaded \n"),
            "overloaded"
        );
        assert_eq!(error_message(None, &[b'x'; 600]).chars().count(), 513);
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }
}
