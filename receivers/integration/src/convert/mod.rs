//! remote_write series → OTLP metrics, following the convention of
//! [`cormorant_core::prometheus`] so the ClickHouse exporter can turn the metrics back into the
//! same Prometheus samples:
//!
//! - every metric is under the scope [`SCOPE_NAME`]; `job` and `instance` become the resource's
//!   `service.name` (with the part before the last `/` as `service.namespace`) and
//!   `service.instance.id`, and stay point attributes too;
//! - a point's attributes are its series' labels except `__name__`, which names the metric, and
//!   except `le`/`quantile` on histogram and summary points;
//! - the type comes from metadata, which Prometheus sends in separate requests, so the receiver
//!   remembers it ([`MetricTypes`]): a `COUNTER` is a monotonic cumulative sum, a `GAUGE`,
//!   `UNKNOWN`, `INFO` or `STATESET` family or a series without metadata a gauge;
//! - a classic `HISTOGRAM` or `SUMMARY` family's series of one request are grouped into histogram
//!   or summary points when that is exact (module `classic`); otherwise they stay number points
//!   (`_bucket` and `_count` monotonic sums, `_sum` a non-monotonic cumulative sum, quantiles
//!   gauges), so no sample is ever lost;
//! - native histograms become exponential histogram points, or explicit-bound histogram points
//!   for custom buckets (module `native`);
//! - exemplars are attached to the point of their series with the same timestamp, else to the
//!   series' latest point (module `exemplar`);
//! - millisecond timestamps become nanoseconds; values, the stale-marker NaN included, are copied
//!   bit for bit, and a stale marker also sets the point's "no recorded value" flag.

mod classic;
mod exemplar;
mod family;
mod native;
mod output;
#[cfg(test)]
mod tests;

pub use cormorant_core::prometheus::SCOPE_NAME;
pub use native::{
    BUCKET_SPAN_PER_BUCKET, BucketSide, MIN_BUCKET_SPAN_LIMIT, NativeHistogramError,
    check as check_native_histogram,
};

use crate::remote_write::{Label, MetricMetadata, TimeSeries, metric_name};
use classic::GroupedPoint;
use cormorant_core::pdata::metrics::{NumberDataPoint, ResourceMetrics, number_data_point};
use family::{FamilyInfo, Role, classify};
use native::NativePoint;
use output::{Output, PointRef, Target, attributes, nanos, stale_flags};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// How many metric families' types are remembered; beyond it, new families stay unknown (gauges)
/// until a restart, which bounds memory against senders with unbounded metric names.
const MAX_REMEMBERED_FAMILIES: usize = 100_000;

/// The OTLP metrics made from one request's series, and what they held.
#[derive(Debug, Default)]
pub struct Conversion {
    pub resource_metrics: Vec<ResourceMetrics>,
    /// Float samples converted.
    pub samples: usize,
    /// Native histogram samples converted.
    pub histograms: usize,
    /// Exemplars converted.
    pub exemplars: usize,
}

/// Metric family metadata seen so far, by family name.
#[derive(Debug, Default)]
pub struct MetricTypes {
    families: Mutex<HashMap<String, FamilyInfo>>,
}

impl MetricTypes {
    /// Records (or updates) the metadata of a request.
    pub fn remember(&self, metadata: &[MetricMetadata]) {
        if metadata.is_empty() {
            return;
        }
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for entry in metadata {
            if families.len() < MAX_REMEMBERED_FAMILIES
                || families.contains_key(&entry.metric_family_name)
            {
                families.insert(
                    entry.metric_family_name.clone(),
                    FamilyInfo::from_metadata(entry),
                );
            }
        }
    }

    /// Converts series that passed [`crate::remote_write::validate`].
    pub fn convert(&self, series: &[TimeSeries]) -> Conversion {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        convert_with(&families, series)
    }
}

/// Where each sample and native histogram of one series went.
#[derive(Default, Clone)]
struct Placed {
    samples: Vec<Option<PointRef>>,
    histograms: Vec<Option<PointRef>>,
}

impl Placed {
    fn place_sample(&mut self, sample: usize, at: PointRef) {
        if let Some(slot) = self.samples.get_mut(sample) {
            *slot = Some(at);
        }
    }
}

fn convert_with(families: &HashMap<String, FamilyInfo>, series: &[TimeSeries]) -> Conversion {
    let classified: Vec<_> = series
        .iter()
        .map(|one| classify(metric_name(one).unwrap_or_default(), one, families))
        .collect();
    let roles: Vec<_> = classified.iter().map(|(_, role)| *role).collect();
    let grouped = classic::group(series, &roles);
    // Only series with exemplars need to know where their points went.
    let mut placed: Vec<Placed> = series
        .iter()
        .map(|one| {
            if one.exemplars.is_empty() {
                Placed::default()
            } else {
                Placed {
                    samples: vec![None; one.samples.len()],
                    histograms: vec![None; one.histograms.len()],
                }
            }
        })
        .collect();
    let mut output = Output::default();
    let mut conversion = Conversion::default();
    series_points(
        series,
        &classified,
        &grouped,
        &mut output,
        &mut placed,
        &mut conversion,
    );
    for group in grouped {
        let target = Target {
            labels: &group.labels,
            name: group.family,
            info: group.members.first().and_then(|&(at, _)| classified[at].0),
        };
        let at = match group.point {
            GroupedPoint::Histogram {
                bucket_labels,
                point,
            } => output.push_histogram(&target, Some(bucket_labels), point),
            GroupedPoint::Summary {
                quantile_labels,
                point,
            } => output.push_summary(&target, quantile_labels, point),
        };
        for (series_index, sample_index) in group.members {
            placed[series_index].place_sample(sample_index, at);
        }
    }
    conversion.exemplars = attach_exemplars(series, &placed, &mut output);
    conversion.resource_metrics = output.finish();
    conversion
}

/// The number points of every sample not in a group, and the native histogram points.
fn series_points<'a>(
    series: &'a [TimeSeries],
    classified: &[(Option<&'a FamilyInfo>, Role<'a>)],
    grouped: &[classic::Grouped<'a>],
    output: &mut Output<'a>,
    placed: &mut [Placed],
    conversion: &mut Conversion,
) {
    let in_group: HashSet<(usize, usize)> = grouped
        .iter()
        .flat_map(|group| group.members.iter().copied())
        .collect();
    for (index, one) in series.iter().enumerate() {
        let (info, role) = classified[index];
        let labels: Vec<&Label> = one.labels.iter().collect();
        let target = Target {
            labels: &labels,
            name: metric_name(one).unwrap_or_default(),
            info,
        };
        // Each point owns its attributes: the last point of the series takes the list built
        // here and only the others copy it, so the common one-sample series copies nothing.
        let mut uses = one.histograms.len()
            + (0..one.samples.len())
                .filter(|&sample_index| !in_group.contains(&(index, sample_index)))
                .count();
        let mut point_attributes = (uses > 0).then(|| attributes(&labels));
        let mut next_attributes = || {
            uses -= 1;
            if uses == 0 {
                point_attributes.take().unwrap_or_default()
            } else {
                point_attributes.clone().unwrap_or_default()
            }
        };
        for (sample_index, sample) in one.samples.iter().enumerate() {
            conversion.samples += 1;
            if !in_group.is_empty() && in_group.contains(&(index, sample_index)) {
                continue;
            }
            let point = NumberDataPoint {
                attributes: next_attributes(),
                start_time_unix_nano: nanos(sample.start_timestamp),
                time_unix_nano: nanos(sample.timestamp),
                value: Some(number_data_point::Value::AsDouble(sample.value)),
                flags: stale_flags(sample.value),
                ..Default::default()
            };
            let at = output.push_number(&target, role.number_kind(), point);
            placed[index].place_sample(sample_index, at);
        }
        for (histogram_index, histogram) in one.histograms.iter().enumerate() {
            let at = match native::point(histogram, next_attributes()) {
                Ok(NativePoint::Exponential(point)) => output.push_exponential(&target, point),
                Ok(NativePoint::Custom(point)) => output.push_histogram(&target, None, point),
                // Refused by validation; a caller that skipped it gets the rest converted.
                Err(_) => continue,
            };
            conversion.histograms += 1;
            if let Some(slot) = placed[index].histograms.get_mut(histogram_index) {
                *slot = Some(at);
            }
        }
    }
}

/// Attaches every exemplar to a point of its series; returns how many found one.
fn attach_exemplars(series: &[TimeSeries], placed: &[Placed], output: &mut Output<'_>) -> usize {
    let mut attached = 0;
    for (one, placed) in series.iter().zip(placed) {
        if one.exemplars.is_empty() {
            continue;
        }
        let points: Vec<(i64, PointRef)> = one
            .samples
            .iter()
            .map(|sample| sample.timestamp)
            .zip(&placed.samples)
            .chain(
                one.histograms
                    .iter()
                    .map(|histogram| histogram.timestamp)
                    .zip(&placed.histograms),
            )
            .filter_map(|(timestamp, at)| at.map(|at| (timestamp, at)))
            .collect();
        for sent in &one.exemplars {
            if let Some(at) = exemplar::target(&points, sent.timestamp)
                && output.attach(at, exemplar::convert(sent))
            {
                attached += 1;
            }
        }
    }
    attached
}
