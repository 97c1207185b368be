//! Turns one payload into the bytes appended to the file, in contrib fileexporter's layout:
//! uncompressed JSON as one line per request, everything else (protobuf, or any compressed
//! message) as a 4-byte big-endian length followed by the message.

use crate::config::{Compression, Format};
use cormorant_core::Payload;
use cormorant_core::pdata::logs::ResourceLogs;
use cormorant_core::pdata::metrics::ResourceMetrics;
use cormorant_core::pdata::trace::ResourceSpans;
use serde::Serialize;

/// zstd's own default level: a balance of speed and ratio for a debugging sink.
const ZSTD_LEVEL: i32 = 3;

/// Why a payload could not be encoded. Each makes the payload permanently unexportable.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot encode OTLP JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot compress with zstd: {0}")]
    Zstd(#[source] std::io::Error),
    #[error("an encoded message of {0} bytes does not fit the 4-byte length prefix")]
    TooLarge(usize),
}

/// Encodes payloads for one exporter's format and compression.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    format: Format,
    compression: Compression,
}

impl Encoder {
    pub fn new(format: Format, compression: Compression) -> Self {
        Encoder {
            format,
            compression,
        }
    }

    /// The framed bytes for one payload, ready to be written as they are.
    pub fn encode(&self, payload: &Payload) -> Result<Vec<u8>, EncodeError> {
        let message = match self.format {
            Format::Json => to_json(payload)?,
            Format::Proto => to_protobuf(payload),
        };
        match (self.format, self.compression) {
            (Format::Json, Compression::None) => {
                let mut line = message;
                line.push(b'\n');
                Ok(line)
            }
            (Format::Proto, Compression::None) => length_prefixed(&message),
            (_, Compression::Zstd) => {
                let compressed =
                    zstd::bulk::compress(&message, ZSTD_LEVEL).map_err(EncodeError::Zstd)?;
                length_prefixed(&compressed)
            }
        }
    }
}

/// The OTLP JSON body of an `Export*ServiceRequest`, borrowing the payload instead of cloning
/// it into a request: each request type has exactly one field, the resource list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum JsonRequest<'a> {
    #[serde(rename = "resourceSpans")]
    Traces(&'a [ResourceSpans]),
    #[serde(rename = "resourceMetrics")]
    Metrics(&'a [ResourceMetrics]),
    #[serde(rename = "resourceLogs")]
    Logs(&'a [ResourceLogs]),
}

/// The payload as the OTLP JSON of its `Export*ServiceRequest` (hex IDs, camelCase keys, 64-bit
/// integers as strings), the same shape an OTLP/HTTP JSON client sends.
fn to_json(payload: &Payload) -> Result<Vec<u8>, serde_json::Error> {
    let request = match payload {
        Payload::Traces(list) => JsonRequest::Traces(list),
        Payload::Metrics(list) => JsonRequest::Metrics(list),
        Payload::Logs(list) => JsonRequest::Logs(list),
    };
    serde_json::to_vec(&request)
}

/// The payload as the protobuf of its `Export*ServiceRequest`. The request's only field is the
/// repeated resource list (field 1), so encoding each element as field 1 produces the same bytes
/// without cloning the payload.
fn to_protobuf(payload: &Payload) -> Vec<u8> {
    let mut out = Vec::new();
    match payload {
        Payload::Traces(list) => prost::encoding::message::encode_repeated(1, list, &mut out),
        Payload::Metrics(list) => prost::encoding::message::encode_repeated(1, list, &mut out),
        Payload::Logs(list) => prost::encoding::message::encode_repeated(1, list, &mut out),
    }
    out
}

fn length_prefixed(message: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let length = u32::try_from(message.len()).map_err(|_| EncodeError::TooLarge(message.len()))?;
    let mut framed = Vec::with_capacity(4 + message.len());
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(message);
    Ok(framed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_core::pdata::ExportTraceServiceRequest;
    use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value};
    use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    fn payload() -> Payload {
        Payload::Traces(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![0xab; 16],
                    span_id: vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
                    name: "line\nbreak".into(),
                    start_time_unix_nano: 1_700_000_000_123_456_789,
                    attributes: vec![KeyValue {
                        key: "count".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::IntValue(-7)),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }])
    }

    #[test]
    fn json_is_one_otlp_line_with_hex_ids_and_string_integers() {
        let bytes = Encoder::new(Format::Json, Compression::None)
            .encode(&payload())
            .unwrap();
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(bytes.last(), Some(&b'\n'));
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "ab".repeat(16));
        assert_eq!(span["spanId"], "0102030405060708");
        assert_eq!(span["name"], "line\nbreak");
        assert_eq!(span["startTimeUnixNano"], "1700000000123456789");
        assert_eq!(span["attributes"][0]["value"]["intValue"], "-7");
    }

    #[test]
    fn proto_is_length_prefixed_request() {
        let bytes = Encoder::new(Format::Proto, Compression::None)
            .encode(&payload())
            .unwrap();
        let length = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(length, bytes.len() - 4);
        let request = ExportTraceServiceRequest::decode(&bytes[4..]).unwrap();
        let Payload::Traces(expected) = payload() else {
            unreachable!("built as traces")
        };
        assert_eq!(request.resource_spans, expected);
        assert_eq!(
            bytes[4..],
            ExportTraceServiceRequest {
                resource_spans: expected
            }
            .encode_to_vec()
        );
    }

    #[test]
    fn compressed_json_is_length_prefixed_zstd() {
        let bytes = Encoder::new(Format::Json, Compression::Zstd)
            .encode(&payload())
            .unwrap();
        let length = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(length, bytes.len() - 4);
        let json = zstd::stream::decode_all(&bytes[4..]).unwrap();
        let parsed: ExportTraceServiceRequest = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            parsed.resource_spans[0].scope_spans[0].spans[0].name,
            "line\nbreak"
        );
    }

    #[test]
    fn compressed_proto_round_trips() {
        let bytes = Encoder::new(Format::Proto, Compression::Zstd)
            .encode(&payload())
            .unwrap();
        let raw = zstd::stream::decode_all(&bytes[4..]).unwrap();
        let request = ExportTraceServiceRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(request.resource_spans.len(), 1);
    }
}
