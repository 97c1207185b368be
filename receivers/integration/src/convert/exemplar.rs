//! Exemplars: a remote_write exemplar is a labelled sample attached to a series; OTLP attaches it
//! to a data point. The `trace_id` and `span_id` labels that Prometheus client libraries write
//! become the exemplar's ids, so the trace can be looked up; other labels are kept as the
//! exemplar's filtered attributes.

use super::output::{PointRef, nanos};
use crate::remote_write;
use cormorant_core::pdata::metrics::{Exemplar, exemplar};
use cormorant_core::pdata::string_attribute;

const TRACE_ID_LABEL: &str = "trace_id";
const SPAN_ID_LABEL: &str = "span_id";
const TRACE_ID_BYTES: usize = 16;
const SPAN_ID_BYTES: usize = 8;

/// The OTLP form of an exemplar. An id label that is not hex of the right length stays an
/// attribute, so nothing the sender wrote is lost.
pub(super) fn convert(sent: &remote_write::Exemplar) -> Exemplar {
    let mut converted = Exemplar {
        time_unix_nano: nanos(sent.timestamp),
        value: Some(exemplar::Value::AsDouble(sent.value)),
        ..Default::default()
    };
    for label in &sent.labels {
        let id = match label.name.as_str() {
            TRACE_ID_LABEL if converted.trace_id.is_empty() => {
                decode_hex(&label.value, TRACE_ID_BYTES).map(|id| converted.trace_id = id)
            }
            SPAN_ID_LABEL if converted.span_id.is_empty() => {
                decode_hex(&label.value, SPAN_ID_BYTES).map(|id| converted.span_id = id)
            }
            _ => None,
        };
        if id.is_none() {
            converted
                .filtered_attributes
                .push(string_attribute(&label.name, &label.value));
        }
    }
    converted
}

/// The point an exemplar belongs to: the one of the series with the exemplar's timestamp, else
/// the latest one. `points` are a series' (timestamp in ms, point) pairs.
pub(super) fn target(points: &[(i64, PointRef)], timestamp: i64) -> Option<PointRef> {
    points
        .iter()
        .find(|(at, _)| *at == timestamp)
        .or_else(|| points.iter().max_by_key(|(at, _)| *at))
        .map(|(_, point)| *point)
}

fn decode_hex(text: &str, bytes: usize) -> Option<Vec<u8>> {
    if text.len() != bytes * 2 {
        return None;
    }
    let nibble = |digit: u8| char::from(digit).to_digit(16);
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? * 16 + nibble(pair[1])?) as u8))
        .collect()
}
