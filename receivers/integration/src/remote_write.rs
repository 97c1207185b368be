//! Prometheus remote_write 1.0 (`package prometheus`): the wire messages, the body decoding and
//! the per-series checks the spec asks of receivers.
//!
//! The messages are declared here from the proto field numbers (`prompb/types.proto`) rather
//! than generated, so the build needs no `protoc`.

use crate::convert::{NativeHistogramError, check_native_histogram};
use prost::Message;

/// `prometheus.WriteRequest`; field 2 is reserved.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A float sample. remote_write 2.0's `Sample` is the same message plus `start_timestamp`
/// (field 3), which 1.0 senders never set, so one type serves both versions.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// When the series (counter, histogram) started counting, in milliseconds; 0 when unknown.
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// `prometheus.Exemplar`; remote_write 2.0 exemplars are turned into this shape once their
/// label references are resolved.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A native histogram sample (`prometheus.Histogram`). remote_write 2.0's message is identical
/// up to field 16 and adds `start_timestamp` (field 17), so one type serves both versions.
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    #[prost(oneof = "histogram::Count", tags = "1, 2")]
    pub count: Option<histogram::Count>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket boundaries are `2^(2^-schema)` apart; -53 means custom bounds in `custom_values`.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(oneof = "histogram::ZeroCount", tags = "6, 7")]
    pub zero_count: Option<histogram::ZeroCount>,
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Integer histograms: each bucket's count as the difference to the previous bucket.
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Float histograms: absolute bucket counts.
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    #[prost(enumeration = "ResetHint", tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// Upper bounds of the custom buckets when `schema` is -53.
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
    /// remote_write 2.0 (Prometheus ≥ 3.8) only; milliseconds, 0 when unknown.
    #[prost(int64, tag = "17")]
    pub start_timestamp: i64,
}

/// The oneofs of [`Histogram`]: integer histograms use the `Int` variants, float histograms the
/// `Float` ones.
pub mod histogram {
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        #[prost(uint64, tag = "1")]
        Int(u64),
        #[prost(double, tag = "2")]
        Float(f64),
    }

    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        #[prost(uint64, tag = "6")]
        Int(u64),
        #[prost(double, tag = "7")]
        Float(f64),
    }
}

/// A run of `length` consecutive buckets starting `offset` buckets after the previous run.
#[derive(Clone, PartialEq, Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResetHint {
    Unknown = 0,
    Yes = 1,
    No = 2,
    Gauge = 3,
}

#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Unknown = 0,
    Counter = 1,
    Gauge = 2,
    Histogram = 3,
    Gaugehistogram = 4,
    Summary = 5,
    Info = 6,
    Stateset = 7,
}

/// The label holding the metric name, as the shared Prometheus convention names it.
pub use cormorant_core::prometheus::METRIC_NAME_LABEL;

/// Why a body is not a remote_write 1.0 request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("request body is not valid snappy block data: {0}")]
    Snappy(String),
    #[error("decompressed request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body is not a prometheus.WriteRequest: {0}")]
    Protobuf(String),
}

/// Undoes the snappy block compression and decodes the message.
pub fn decode(body: &[u8], limit: usize) -> Result<WriteRequest, DecodeError> {
    let raw = decompress(body, limit)?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))
}

/// Undoes the snappy block compression both remote_write versions use, refusing before
/// allocating when the declared length is over `limit`, so a small body cannot claim gigabytes.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let length = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if length > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))
}

/// Why one series breaks the spec's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error("series has a label with an empty name")]
    EmptyLabelName,
    #[error("label {0:?} has an empty value")]
    EmptyLabelValue(String),
    #[error("labels are not sorted by name: {previous:?} comes before {next:?}")]
    Unsorted { previous: String, next: String },
    #[error("label {0:?} appears more than once")]
    Duplicate(String),
    #[error("series has no __name__ label")]
    MissingName,
    #[error("sample timestamp {0} is before the Unix epoch")]
    NegativeTimestamp(i64),
    #[error("series {series:?} has a native histogram that cannot be converted exactly: {reason}")]
    NativeHistogram {
        series: String,
        reason: NativeHistogramError,
    },
}

/// Checks the rules of remote_write 1.0 §labels on one series: names non-empty, sorted, unique,
/// `__name__` present, values non-empty; that its samples and native histograms can be given
/// OTLP timestamps; and that its native histograms convert exactly
/// ([`crate::convert::check_native_histogram`]).
pub fn validate(series: &TimeSeries) -> Result<(), SeriesError> {
    let mut previous: Option<&str> = None;
    for label in &series.labels {
        if label.name.is_empty() {
            return Err(SeriesError::EmptyLabelName);
        }
        if label.value.is_empty() {
            return Err(SeriesError::EmptyLabelValue(label.name.clone()));
        }
        if let Some(previous) = previous {
            match previous.cmp(label.name.as_str()) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err(SeriesError::Duplicate(label.name.clone()));
                }
                std::cmp::Ordering::Greater => {
                    return Err(SeriesError::Unsorted {
                        previous: previous.to_string(),
                        next: label.name.clone(),
                    });
                }
            }
        }
        previous = Some(&label.name);
    }
    let name = metric_name(series).ok_or(SeriesError::MissingName)?;
    if let Some(sample) = series.samples.iter().find(|s| s.timestamp < 0) {
        return Err(SeriesError::NegativeTimestamp(sample.timestamp));
    }
    for histogram in &series.histograms {
        if histogram.timestamp < 0 {
            return Err(SeriesError::NegativeTimestamp(histogram.timestamp));
        }
        check_native_histogram(histogram).map_err(|reason| SeriesError::NativeHistogram {
            series: name.to_string(),
            reason,
        })?;
    }
    Ok(())
}

/// The value of `__name__`, if present.
pub fn metric_name(series: &TimeSeries) -> Option<&str> {
    series
        .labels
        .iter()
        .find(|label| label.name == METRIC_NAME_LABEL)
        .map(|label| label.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(labels: &[(&str, &str)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(name, value)| Label {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect(),
            samples: vec![Sample {
                value: 1.0,
                timestamp: 1,
                start_timestamp: 0,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    #[test]
    fn accepts_sorted_named_series() {
        assert_eq!(
            validate(&series(&[("__name__", "up"), ("job", "a")])),
            Ok(())
        );
    }

    #[test]
    fn refuses_each_broken_rule() {
        assert_eq!(
            validate(&series(&[("__name__", "up"), ("a", "1"), ("a", "2")])),
            Err(SeriesError::Duplicate("a".into()))
        );
        assert_eq!(
            validate(&series(&[("job", "a")])),
            Err(SeriesError::MissingName)
        );
        assert_eq!(
            validate(&series(&[("", "x"), ("__name__", "up")])),
            Err(SeriesError::EmptyLabelName)
        );
        assert_eq!(
            validate(&series(&[("__name__", "up"), ("job", "")])),
            Err(SeriesError::EmptyLabelValue("job".into()))
        );
        let mut negative = series(&[("__name__", "up")]);
        negative.samples[0].timestamp = -1;
        assert_eq!(validate(&negative), Err(SeriesError::NegativeTimestamp(-1)));
    }

    #[test]
    fn refuses_oversized_decompression_before_allocating() {
        let body = snap::raw::Encoder::new()
            .compress_vec(&[0u8; 1000])
            .unwrap();
        assert_eq!(
            decode(&body, 999),
            Err(DecodeError::TooLarge { limit: 999 })
        );
    }
}
