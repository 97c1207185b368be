//! Prometheus remote_write 2.0 (`io.prometheus.write.v2`): the wire messages, the body decoding
//! and the translation of each series into the remote_write 1.0 shape the rest of the receiver
//! validates and converts, so both versions give the same OTLP metrics.
//!
//! 2.0 replaces label strings by references into one symbol table per request and carries each
//! series' metadata on the series itself. The messages are declared here from the proto field
//! numbers (`prompb/io/prometheus/write/v2/types.proto`) rather than generated, so the build needs
//! no `protoc`. Samples and native histograms reuse the 1.0 messages, which already declare the
//! 2.0 `start_timestamp` fields.

use crate::remote_write::{
    self, DecodeError, Histogram, Label, METRIC_NAME_LABEL, MetricMetadata, MetricType, Sample,
};
use prost::Message;

/// `io.prometheus.write.v2.Request`; fields 1 to 3 are reserved.
#[derive(Clone, PartialEq, Message)]
pub struct Request {
    /// Every string the series refer to; entry 0 must be the empty string.
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// (name, value) pairs of indexes into [`Request::symbols`], sorted by name.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
    /// Milliseconds; set by senders of spec 2.0-rc.3 (before Prometheus 3.8), which later versions
    /// replaced by the samples' and histograms' own `start_timestamp`. 0 when unknown.
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// `io.prometheus.write.v2.Exemplar`.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    /// (name, value) pairs of indexes into [`Request::symbols`].
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`; field 2 is reserved.
#[derive(Clone, PartialEq, Message)]
pub struct Metadata {
    /// `io.prometheus.write.v2.Metadata.MetricType` has 1.0's numbers, with 0 meaning "not
    /// sent" (`METRIC_TYPE_UNSPECIFIED`) where 1.0 says "unknown"; the one enum serves both.
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    /// Index into [`Request::symbols`] of the help text.
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Index into [`Request::symbols`] of the unit.
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// Why a body is not a usable remote_write 2.0 request; the whole request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Snappy or size problems, shared with remote_write 1.0.
    #[error(transparent)]
    Body(#[from] DecodeError),
    #[error("request body is not an io.prometheus.write.v2.Request: {0}")]
    Protobuf(String),
    #[error("symbols[0] must be the empty string, got {0:?}")]
    FirstSymbolNotEmpty(String),
}

/// Why one series' references cannot be resolved; only that series is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    #[error("labels_refs has an odd number of entries ({0}), it must hold name/value pairs")]
    OddLabelRefs(usize),
    #[error("an exemplar's labels_refs has an odd number of entries ({0})")]
    OddExemplarLabelRefs(usize),
    #[error("symbol reference {reference} is out of range, the request has {symbols} symbols")]
    OutOfRange { reference: u32, symbols: usize },
}

/// Undoes the snappy block compression (with remote_write 1.0's size limit) and decodes the
/// message.
pub fn decode(body: &[u8], limit: usize) -> Result<Request, RequestError> {
    let raw = remote_write::decompress(body, limit)?;
    Request::decode(raw.as_slice()).map_err(|e| RequestError::Protobuf(e.to_string()))
}

impl Request {
    /// The spec's one request-wide rule: the symbol table starts with the empty string, which
    /// references use for "no string". An empty table only fails the series that refer into it.
    pub fn check_symbols(&self) -> Result<(), RequestError> {
        match self.symbols.first() {
            Some(first) if !first.is_empty() => {
                Err(RequestError::FirstSymbolNotEmpty(first.clone()))
            }
            _ => Ok(()),
        }
    }
}

/// One 2.0 series in 1.0 form, with the metadata it carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub series: remote_write::TimeSeries,
    /// Present when the sender set a metric type; named after the series' family (see
    /// [`translate`]).
    pub metadata: Option<MetricMetadata>,
}

/// Resolves `series`' references against `symbols`.
///
/// The series' metadata becomes a 1.0 entry for its family: the series' `__name__` without the
/// suffix its type adds (`_bucket`, `_sum`, `_count`, `_created`), so a classic histogram's
/// series find their family as they do with 1.0's separate metadata.
///
/// A series from an rc.3 sender has its start time in `created_timestamp`; it is copied into
/// every sample and histogram that has no start timestamp of its own, so senders of either spec
/// revision give the same result.
pub fn translate(series: TimeSeries, symbols: &[String]) -> Result<Translated, SymbolError> {
    if !series.labels_refs.len().is_multiple_of(2) {
        return Err(SymbolError::OddLabelRefs(series.labels_refs.len()));
    }
    let labels = resolve_labels(&series.labels_refs, symbols)?;
    let exemplars = series
        .exemplars
        .into_iter()
        .map(|exemplar| {
            if !exemplar.labels_refs.len().is_multiple_of(2) {
                return Err(SymbolError::OddExemplarLabelRefs(
                    exemplar.labels_refs.len(),
                ));
            }
            Ok(remote_write::Exemplar {
                labels: resolve_labels(&exemplar.labels_refs, symbols)?,
                value: exemplar.value,
                timestamp: exemplar.timestamp,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = match series.metadata {
        Some(metadata) if metadata.r#type != MetricType::Unknown as i32 => {
            family_metadata(&metadata, &labels, !series.histograms.is_empty(), symbols)?
        }
        _ => None,
    };
    let created = series.created_timestamp;
    let mut samples = series.samples;
    let mut histograms = series.histograms;
    if created != 0 {
        for sample in samples.iter_mut().filter(|s| s.start_timestamp == 0) {
            sample.start_timestamp = created;
        }
        for histogram in histograms.iter_mut().filter(|h| h.start_timestamp == 0) {
            histogram.start_timestamp = created;
        }
    }
    Ok(Translated {
        series: remote_write::TimeSeries {
            labels,
            samples,
            exemplars,
            histograms,
        },
        metadata,
    })
}

fn symbol(symbols: &[String], reference: u32) -> Result<&str, SymbolError> {
    usize::try_from(reference)
        .ok()
        .and_then(|index| symbols.get(index))
        .map(String::as_str)
        .ok_or(SymbolError::OutOfRange {
            reference,
            symbols: symbols.len(),
        })
}

/// `refs` has an even length (checked by the callers, which name the message at fault).
fn resolve_labels(refs: &[u32], symbols: &[String]) -> Result<Vec<Label>, SymbolError> {
    refs.chunks_exact(2)
        .map(|pair| {
            Ok(Label {
                name: symbol(symbols, pair[0])?.to_string(),
                value: symbol(symbols, pair[1])?.to_string(),
            })
        })
        .collect()
}

/// The 1.0 metadata entry for a series' family; `None` for a series without `__name__`, which
/// validation refuses anyway.
fn family_metadata(
    metadata: &Metadata,
    series_labels: &[Label],
    native: bool,
    symbols: &[String],
) -> Result<Option<MetricMetadata>, SymbolError> {
    let help = symbol(symbols, metadata.help_ref)?;
    let unit = symbol(symbols, metadata.unit_ref)?;
    let kind = MetricType::try_from(metadata.r#type).unwrap_or(MetricType::Unknown);
    Ok(series_labels
        .iter()
        .find(|label| label.name == METRIC_NAME_LABEL)
        .map(|name| MetricMetadata {
            r#type: metadata.r#type,
            metric_family_name: family_name(&name.value, kind, native).to_string(),
            help: help.to_string(),
            unit: unit.to_string(),
        }))
}

/// The family a series named `name` belongs to.
///
/// 2.0 repeats the family's metadata on each of its series, whose names carry the suffixes the
/// exposition formats add; 1.0 metadata names the family itself. A classic histogram's
/// `_bucket`, `_sum` and `_count` series (a summary's `_sum` and `_count`, any counter's or
/// histogram's `_created`) therefore give their family's name, so the conversion groups and
/// types them exactly as with 1.0 metadata. A counter's `_total` series keeps its name, which
/// the conversion also recognises. Native histogram series carry no suffix.
fn family_name(name: &str, kind: MetricType, native: bool) -> &str {
    let suffixes: &[&str] = match kind {
        MetricType::Counter => &["_created"],
        MetricType::Histogram | MetricType::Gaugehistogram if !native => {
            &["_bucket", "_sum", "_count", "_created"]
        }
        MetricType::Summary => &["_sum", "_count", "_created"],
        _ => &[],
    };
    suffixes
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|family| !family.is_empty())
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn sample(timestamp: i64, start_timestamp: i64) -> Sample {
        Sample {
            value: 1.0,
            timestamp,
            start_timestamp,
        }
    }

    #[test]
    fn resolves_labels_exemplars_and_metadata() {
        let table = symbols(&[
            "",
            "__name__",
            "requests_total",
            "job",
            "api",
            "trace_id",
            "ab",
        ]);
        let series = TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![sample(10, 0)],
            exemplars: vec![Exemplar {
                labels_refs: vec![5, 6],
                value: 0.5,
                timestamp: 9,
            }],
            metadata: Some(Metadata {
                r#type: MetricType::Counter as i32,
                help_ref: 4,
                unit_ref: 0,
            }),
            ..Default::default()
        };
        let translated = translate(series, &table).unwrap();
        let labels: Vec<_> = translated
            .series
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(labels, [("__name__", "requests_total"), ("job", "api")]);
        assert_eq!(translated.series.exemplars[0].labels[0].name, "trace_id");
        assert_eq!(translated.series.exemplars[0].labels[0].value, "ab");
        assert_eq!(
            translated.metadata,
            Some(MetricMetadata {
                r#type: MetricType::Counter as i32,
                metric_family_name: "requests_total".into(),
                help: "api".into(),
                unit: String::new(),
            })
        );
    }

    #[test]
    fn created_timestamp_fills_only_missing_start_timestamps() {
        let table = symbols(&["", "__name__", "up"]);
        let series = TimeSeries {
            labels_refs: vec![1, 2],
            samples: vec![sample(10, 0), sample(20, 7)],
            histograms: vec![Histogram::default()],
            created_timestamp: 5,
            ..Default::default()
        };
        let translated = translate(series, &table).unwrap();
        let starts: Vec<_> = translated
            .series
            .samples
            .iter()
            .map(|s| s.start_timestamp)
            .collect();
        assert_eq!(starts, [5, 7]);
        assert_eq!(translated.series.histograms[0].start_timestamp, 5);
        assert_eq!(translated.metadata, None);
    }

    #[test]
    fn refuses_broken_references() {
        let table = symbols(&["", "__name__", "up"]);
        let odd = TimeSeries {
            labels_refs: vec![1, 2, 1],
            ..Default::default()
        };
        assert_eq!(translate(odd, &table), Err(SymbolError::OddLabelRefs(3)));
        let out_of_range = TimeSeries {
            labels_refs: vec![1, 3],
            ..Default::default()
        };
        assert_eq!(
            translate(out_of_range, &table),
            Err(SymbolError::OutOfRange {
                reference: 3,
                symbols: 3
            })
        );
        let bad_help = TimeSeries {
            labels_refs: vec![1, 2],
            metadata: Some(Metadata {
                r#type: MetricType::Gauge as i32,
                help_ref: 99,
                unit_ref: 0,
            }),
            ..Default::default()
        };
        assert!(matches!(
            translate(bad_help, &table),
            Err(SymbolError::OutOfRange { reference: 99, .. })
        ));
        let bad_exemplar = TimeSeries {
            labels_refs: vec![1, 2],
            exemplars: vec![Exemplar {
                labels_refs: vec![1],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            translate(bad_exemplar, &table),
            Err(SymbolError::OddExemplarLabelRefs(1))
        );
    }

    #[test]
    fn metadata_names_the_family_without_type_suffixes() {
        assert_eq!(
            family_name("latency_bucket", MetricType::Histogram, false),
            "latency"
        );
        assert_eq!(
            family_name("latency_sum", MetricType::Summary, false),
            "latency"
        );
        assert_eq!(
            family_name("jobs_created", MetricType::Counter, false),
            "jobs"
        );
        assert_eq!(
            family_name("jobs_total", MetricType::Counter, false),
            "jobs_total"
        );
        assert_eq!(
            family_name("queue_count", MetricType::Gauge, false),
            "queue_count"
        );
        assert_eq!(
            family_name("rpc_count", MetricType::Histogram, true),
            "rpc_count"
        );
        assert_eq!(family_name("_sum", MetricType::Summary, false), "_sum");
    }

    #[test]
    fn first_symbol_must_be_empty() {
        let request = Request {
            symbols: symbols(&["x"]),
            timeseries: Vec::new(),
        };
        assert_eq!(
            request.check_symbols(),
            Err(RequestError::FirstSymbolNotEmpty("x".into()))
        );
        assert_eq!(Request::default().check_symbols(), Ok(()));
    }
}
