//! Rows of the Prometheus samples table: the metrics converted from Prometheus series (scope
//! [`SCOPE_NAME`]) turned back into the samples they came from, by the convention of
//! `cormorant_core::prometheus`.
//!
//! - a gauge or sum point is one sample `{__name__=<metric name>, <attributes>}`, an integer
//!   value as its `Float64`;
//! - a histogram point is `<name>_bucket{le=…}` per bucket (cumulative counts), `<name>_sum` (when
//!   the point has a sum) and `<name>_count`; the `le` texts are the metric's
//!   [`BUCKET_LABELS_KEY`] metadata, or [`format_float`] of the bounds and `+Inf` when that is
//!   missing or does not match the point's buckets;
//! - a summary point is `<name>{quantile=…}` per quantile ([`QUANTILE_LABELS_KEY`] or
//!   [`format_float`]), `<name>_sum` and `<name>_count`;
//! - an exponential histogram point (a native histogram) has no classic samples: it is stored in
//!   the exponential histogram table only.
//!
//! Labels are the point's attributes except `__name__` (and `le`/`quantile` where the sample adds
//! its own), sorted by name as Prometheus keeps them, with values rendered like every other
//! attribute map. Values are written bit for bit, so Prometheus' stale marker (a NaN with its
//! own payload) comes back as itself; a point flagged "no recorded value" (OTLP's equivalent of
//! the stale marker) gives stale markers, and a number point with no value and no flag gives no
//! sample.

use super::attributes::write_value_as_string;
use super::writer::RowBinaryWriter;
use super::{EncodedTable, Table};
use cormorant_core::pdata::common::{KeyValue, any_value::Value};
use cormorant_core::pdata::metrics::{
    DataPointFlags, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, SummaryDataPoint,
    metric::Data, number_data_point,
};
use cormorant_core::prometheus::{
    BUCKET_LABELS_KEY, METRIC_NAME_LABEL, QUANTILE_LABELS_KEY, SCOPE_NAME, format_float,
};
use std::borrow::Cow;

pub(crate) const COLUMNS: &[&str] = &["MetricName", "Labels", "Timestamp", "Value"];

/// The bits of Prometheus' stale marker, the NaN that ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

const BUCKET_LABEL: &str = "le";
const QUANTILE_LABEL: &str = "quantile";
const NANOS_PER_MILLI: u64 = 1_000_000;
/// Rough size of one sample row: the metric name, a handful of labels, timestamp and value.
const ESTIMATED_SAMPLE_BYTES: usize = 192;

/// The samples of every Prometheus-converted metric in `resource_metrics`, or `None` when there
/// are none.
pub(crate) fn encode(resource_metrics: &[ResourceMetrics]) -> Option<EncodedTable> {
    let prometheus_scopes = || {
        resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .filter(|s| {
                s.scope
                    .as_ref()
                    .is_some_and(|scope| scope.name == SCOPE_NAME)
            })
    };
    // Sized up front: a batch holds tens of thousands of samples, and growing the buffer would
    // copy it over and over.
    let number_points: usize = prometheus_scopes()
        .flat_map(|s| &s.metrics)
        .map(|metric| match &metric.data {
            Some(Data::Gauge(gauge)) => gauge.data_points.len(),
            Some(Data::Sum(sum)) => sum.data_points.len(),
            _ => 0,
        })
        .sum();
    let mut samples = Samples {
        writer: RowBinaryWriter::with_capacity(number_points * ESTIMATED_SAMPLE_BYTES),
        ..Samples::default()
    };
    for scope_metrics in prometheus_scopes() {
        for metric in &scope_metrics.metrics {
            match &metric.data {
                Some(Data::Gauge(gauge)) => samples.numbers(&metric.name, &gauge.data_points),
                Some(Data::Sum(sum)) => samples.numbers(&metric.name, &sum.data_points),
                Some(Data::Histogram(histogram)) => {
                    samples.histograms(metric, &histogram.data_points)
                }
                Some(Data::Summary(summary)) => samples.summaries(metric, &summary.data_points),
                Some(Data::ExponentialHistogram(_)) | None => {}
            }
        }
    }
    samples.finish()
}

/// The samples table being filled.
#[derive(Default)]
struct Samples {
    writer: RowBinaryWriter,
    rows: usize,
    /// Data points that gave at least one sample.
    points: usize,
    /// The labels of the point being written.
    labels: PointLabels,
    scratch: Vec<u8>,
}

impl Samples {
    fn numbers(&mut self, name: &str, points: &[NumberDataPoint]) {
        for point in points {
            let value = if has_no_recorded_value(point.flags) {
                f64::from_bits(STALE_NAN_BITS)
            } else {
                match point.value {
                    Some(number_data_point::Value::AsDouble(value)) => value,
                    Some(number_data_point::Value::AsInt(value)) => value as f64,
                    None => continue,
                }
            };
            self.labels.set(&point.attributes, None, &mut self.scratch);
            self.sample(name, None, point.time_unix_nano, value);
            self.points += 1;
        }
    }

    fn histograms(&mut self, metric: &Metric, points: &[HistogramDataPoint]) {
        let (bucket_name, sum_name, count_name) = (
            format!("{}_bucket", metric.name),
            format!("{}_sum", metric.name),
            format!("{}_count", metric.name),
        );
        for point in points {
            let value = sample_value(point.flags);
            let bounds = &point.explicit_bounds;
            let texts = label_texts(metric, BUCKET_LABELS_KEY, bounds.len() + 1);
            self.labels
                .set(&point.attributes, Some(BUCKET_LABEL), &mut self.scratch);
            let mut cumulative = 0u64;
            for (index, count) in point
                .bucket_counts
                .iter()
                .take(bounds.len() + 1)
                .enumerate()
            {
                cumulative = cumulative.saturating_add(*count);
                let le = match (&texts, bounds.get(index)) {
                    (Some(texts), _) => Cow::Borrowed(texts[index]),
                    (None, Some(bound)) => Cow::Owned(format_float(*bound)),
                    (None, None) => Cow::Borrowed("+Inf"),
                };
                self.sample(
                    &bucket_name,
                    Some((BUCKET_LABEL, le.as_ref())),
                    point.time_unix_nano,
                    value(cumulative as f64),
                );
            }
            if let Some(sum) = point.sum {
                self.sample(&sum_name, None, point.time_unix_nano, value(sum));
            }
            let count = value(point.count as f64);
            self.sample(&count_name, None, point.time_unix_nano, count);
            self.points += 1;
        }
    }

    fn summaries(&mut self, metric: &Metric, points: &[SummaryDataPoint]) {
        let (sum_name, count_name) = (
            format!("{}_sum", metric.name),
            format!("{}_count", metric.name),
        );
        for point in points {
            let value = sample_value(point.flags);
            let quantiles = &point.quantile_values;
            let texts = label_texts(metric, QUANTILE_LABELS_KEY, quantiles.len());
            self.labels
                .set(&point.attributes, Some(QUANTILE_LABEL), &mut self.scratch);
            for (index, quantile) in quantiles.iter().enumerate() {
                let text = match &texts {
                    Some(texts) => Cow::Borrowed(texts[index]),
                    None => Cow::Owned(format_float(quantile.quantile)),
                };
                self.sample(
                    &metric.name,
                    Some((QUANTILE_LABEL, text.as_ref())),
                    point.time_unix_nano,
                    value(quantile.value),
                );
            }
            self.sample(&sum_name, None, point.time_unix_nano, value(point.sum));
            let count = value(point.count as f64);
            self.sample(&count_name, None, point.time_unix_nano, count);
            self.points += 1;
        }
    }

    /// One row: `MetricName, Labels, Timestamp, Value`, with the current point's labels plus
    /// `own` (the `le` or `quantile` label of a bucket or quantile sample) in its sorted place.
    fn sample(&mut self, name: &str, own: Option<(&str, &str)>, time_unix_nano: u64, value: f64) {
        let (w, labels) = (&mut self.writer, &self.labels);
        w.string(name);
        let count = labels.before_count + labels.after_count + usize::from(own.is_some());
        w.var_uint(count as u64);
        w.raw(labels.before.as_bytes());
        if let Some((key, text)) = own {
            w.string(key);
            w.string(text);
        }
        w.raw(labels.after.as_bytes());
        // Below 2^64 / 10^6, so always in range.
        w.i64((time_unix_nano / NANOS_PER_MILLI) as i64);
        w.f64(value);
        self.rows += 1;
    }

    fn finish(self) -> Option<EncodedTable> {
        (self.rows > 0).then(|| EncodedTable {
            table: Table::PrometheusSamples,
            columns: COLUMNS,
            rows: self.rows,
            items: self.points,
            row_binary: self.writer.into_bytes(),
        })
    }
}

/// A point's labels encoded once for all its samples, split around the label each sample adds.
#[derive(Default)]
struct PointLabels {
    /// Labels sorting before the sample's own label (all of them when there is none).
    before: RowBinaryWriter,
    before_count: usize,
    after: RowBinaryWriter,
    after_count: usize,
}

impl PointLabels {
    /// Encodes `attributes`, sorted by name, without `__name__` and without `own_label`, which
    /// the samples supply themselves. Of repeated names the first is kept.
    fn set(&mut self, attributes: &[KeyValue], own_label: Option<&str>, scratch: &mut Vec<u8>) {
        let mut sorted: Vec<&KeyValue> = attributes
            .iter()
            .filter(|kv| kv.key != METRIC_NAME_LABEL && Some(kv.key.as_str()) != own_label)
            .collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        sorted.dedup_by(|later, earlier| later.key == earlier.key);
        self.before.clear();
        self.after.clear();
        self.before_count = 0;
        self.after_count = 0;
        for attribute in sorted {
            let after = own_label.is_some_and(|own| attribute.key.as_str() > own);
            let (w, count) = if after {
                (&mut self.after, &mut self.after_count)
            } else {
                (&mut self.before, &mut self.before_count)
            };
            w.string(&attribute.key);
            write_value_as_string(w, attribute.value.as_ref(), scratch);
            *count += 1;
        }
    }
}

fn has_no_recorded_value(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

/// The value of each sample of a histogram or summary point: as is, or the stale marker when the
/// point has no recorded value.
fn sample_value(flags: u32) -> impl Fn(f64) -> f64 {
    let stale = has_no_recorded_value(flags);
    move |value| {
        if stale {
            f64::from_bits(STALE_NAN_BITS)
        } else {
            value
        }
    }
}

/// The label texts stored in the metric's metadata under `key` (a string array), when there are
/// exactly `expected` of them.
fn label_texts<'a>(metric: &'a Metric, key: &str, expected: usize) -> Option<Vec<&'a str>> {
    let entry = metric.metadata.iter().find(|kv| kv.key == key)?;
    let Some(Value::ArrayValue(array)) = entry.value.as_ref()?.value.as_ref() else {
        return None;
    };
    let texts: Vec<&str> = array
        .values
        .iter()
        .map(|item| match item.value.as_ref()? {
            Value::StringValue(text) => Some(text.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (texts.len() == expected).then_some(texts)
}
