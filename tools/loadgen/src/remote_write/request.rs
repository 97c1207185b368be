//! remote_write 1.0 request bodies, encoded once and refreshed in place.
//!
//! A `WriteRequest` of one-sample series ends every series with its sample, whose value is a
//! fixed 8-byte double and whose millisecond timestamp is a varint of the same length for every
//! current time (6 bytes until the year 2109). So after encoding a request once, the generator
//! only overwrites those bytes for every round and snappy-compresses the result; its CPU stays
//! small next to the receivers it measures.
//!
//! The messages are declared here from the proto field numbers (`prompb/types.proto`) rather
//! than taken from the receiver, so the generator checks the receiver against an independent
//! encoder.

use super::series::SeriesSpec;
use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};
use thiserror::Error;

/// `prometheus.WriteRequest` (field 2 is reserved; metadata, field 3, is never sent here).
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries` without exemplars and histograms.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// A timestamp that does not fit the bytes reserved for it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("timestamp {timestamp_ms} ms is not a {expected}-byte varint like the encoded one")]
    TimestampWidth { timestamp_ms: i64, expected: usize },
}

/// Where one series' sample sits in the encoded body.
#[derive(Debug, Clone)]
struct SampleSlot {
    value_at: usize,
    timestamp_at: usize,
}

/// One encoded `WriteRequest` whose samples can be rewritten for each round.
#[derive(Debug, Clone)]
pub struct EncodedRequest {
    body: Vec<u8>,
    slots: Vec<SampleSlot>,
    series: Vec<SeriesSpec>,
    timestamp_width: usize,
}

impl EncodedRequest {
    /// Encodes `series` with one sample each, stamped `timestamp_ms` (whose varint width every
    /// later timestamp must share).
    pub fn encode(series: Vec<SeriesSpec>, timestamp_ms: i64) -> Self {
        let timestamp_width = encoded_len_varint(timestamp_ms as u64);
        let mut body = Vec::new();
        let mut slots = Vec::with_capacity(series.len());
        for spec in &series {
            // A non-zero value, so that prost writes the field (it skips zeros) and the slot
            // exists; [`Self::render`] may later write any value there, zero included.
            let first_value = match spec.value(0) {
                0.0 => f64::MIN_POSITIVE,
                value => value,
            };
            let message = TimeSeries {
                labels: spec
                    .labels
                    .iter()
                    .map(|(name, value)| Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                samples: vec![Sample {
                    value: first_value,
                    timestamp: timestamp_ms,
                }],
            };
            prost::encoding::message::encode(1, &message, &mut body);
            // The sample is the last field of the series: tag 0x09, 8 value bytes, tag 0x10,
            // the timestamp varint.
            let timestamp_at = body.len() - timestamp_width;
            slots.push(SampleSlot {
                value_at: timestamp_at - 1 - 8,
                timestamp_at,
            });
        }
        EncodedRequest {
            body,
            slots,
            series,
            timestamp_width,
        }
    }

    /// Series (and samples) in the request.
    pub fn series_count(&self) -> usize {
        self.slots.len()
    }

    /// Rewrites every sample with its value for `round` at `timestamp_ms` and returns the
    /// encoded body.
    pub fn render(&mut self, round: u64, timestamp_ms: i64) -> Result<&[u8], RequestError> {
        let mut timestamp = Vec::with_capacity(10);
        encode_varint(timestamp_ms as u64, &mut timestamp);
        if timestamp.len() != self.timestamp_width {
            return Err(RequestError::TimestampWidth {
                timestamp_ms,
                expected: self.timestamp_width,
            });
        }
        for (slot, spec) in self.slots.iter().zip(&self.series) {
            self.body[slot.value_at..slot.value_at + 8]
                .copy_from_slice(&spec.value(round).to_le_bytes());
            self.body[slot.timestamp_at..slot.timestamp_at + timestamp.len()]
                .copy_from_slice(&timestamp);
        }
        Ok(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::series::catalogue;

    const NOW_MS: i64 = 1_790_000_000_000;

    #[test]
    fn rendered_bodies_decode_to_the_series_with_fresh_samples() {
        let series = catalogue(250);
        let mut request = EncodedRequest::encode(series.clone(), NOW_MS);
        assert_eq!(request.series_count(), 250);
        for (round, timestamp) in [(0, NOW_MS), (7, NOW_MS + 15_000)] {
            let body = request.render(round, timestamp).unwrap();
            let decoded = WriteRequest::decode(body).unwrap();
            assert_eq!(decoded.timeseries.len(), 250);
            for (message, spec) in decoded.timeseries.iter().zip(&series) {
                let labels: Vec<(String, String)> = message
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                assert_eq!(labels, spec.labels);
                assert_eq!(
                    message.samples,
                    vec![Sample {
                        value: spec.value(round),
                        timestamp,
                    }]
                );
            }
        }
    }

    #[test]
    fn a_timestamp_of_another_width_is_refused_not_corrupting() {
        let mut request = EncodedRequest::encode(catalogue(3), NOW_MS);
        let before = request.render(1, NOW_MS).unwrap().to_vec();
        assert_eq!(
            request.render(2, 5),
            Err(RequestError::TimestampWidth {
                timestamp_ms: 5,
                expected: 6
            })
        );
        assert_eq!(request.render(1, NOW_MS).unwrap(), before.as_slice());
    }
}
