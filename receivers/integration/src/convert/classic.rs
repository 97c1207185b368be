//! Classic histograms and summaries: the `_bucket{le}`/`{quantile}`, `_sum` and `_count` series of
//! one family, one label set and one timestamp become one OTLP histogram or summary point — but
//! only when the samples say exactly what such a point can hold, so the exporter can turn it back
//! into the same samples. Anything else stays number points.

use super::family::{Aggregate, Part, Role};
use super::output::{attributes, nanos};
use crate::remote_write::{Label, TimeSeries};
use cormorant_core::pdata::metrics::summary_data_point::ValueAtQuantile;
use cormorant_core::pdata::metrics::{HistogramDataPoint, SummaryDataPoint};
use cormorant_core::prometheus::METRIC_NAME_LABEL;
use std::collections::HashMap;

/// The bit pattern Prometheus writes when a series goes away.
pub(crate) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Counts above this are not all representable as `f64`, so a sample could not say them exactly.
const MAX_EXACT_COUNT: f64 = 9_007_199_254_740_992.0;

/// One grouped point and the samples it was made of.
pub(super) struct Grouped<'a> {
    pub(super) family: &'a str,
    /// The point's labels: the series' labels without `__name__` and `le`/`quantile`.
    pub(super) labels: Vec<&'a Label>,
    pub(super) point: GroupedPoint,
    /// (series index, sample index) of every sample in the point.
    pub(super) members: Vec<(usize, usize)>,
}

pub(super) enum GroupedPoint {
    Histogram {
        bucket_labels: Vec<String>,
        point: HistogramDataPoint,
    },
    Summary {
        quantile_labels: Vec<String>,
        point: SummaryDataPoint,
    },
}

#[derive(PartialEq, Eq, Hash)]
struct Key<'a> {
    family: &'a str,
    aggregate: Aggregate,
    labels: Vec<(&'a str, &'a str)>,
    timestamp: i64,
}

struct Member<'a> {
    series: usize,
    sample: usize,
    part: Part<'a>,
    value: f64,
    start: i64,
}

struct Group<'a> {
    family: &'a str,
    aggregate: Aggregate,
    labels: Vec<&'a Label>,
    timestamp: i64,
    members: Vec<Member<'a>>,
}

/// Groups the samples of the series whose role is [`Role::Member`] and returns the groups that
/// make exact points, in the order their first sample appeared.
pub(super) fn group<'a>(series: &'a [TimeSeries], roles: &[Role<'a>]) -> Vec<Grouped<'a>> {
    let mut index: HashMap<Key<'a>, usize> = HashMap::new();
    let mut groups: Vec<Group<'a>> = Vec::new();
    for (series_index, (one, role)) in series.iter().zip(roles).enumerate() {
        let Role::Member {
            family,
            aggregate,
            part,
        } = *role
        else {
            continue;
        };
        let is_bound = matches!(part, Part::Bound(_));
        let labels: Vec<&Label> = one
            .labels
            .iter()
            .filter(|label| label.name != METRIC_NAME_LABEL)
            .filter(|label| !(is_bound && label.name == aggregate.bound_label()))
            .collect();
        let key_labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|label| (label.name.as_str(), label.value.as_str()))
            .collect();
        for (sample_index, sample) in one.samples.iter().enumerate() {
            let key = Key {
                family,
                aggregate,
                labels: key_labels.clone(),
                timestamp: sample.timestamp,
            };
            let at = *index.entry(key).or_insert_with(|| {
                groups.push(Group {
                    family,
                    aggregate,
                    labels: labels.clone(),
                    timestamp: sample.timestamp,
                    members: Vec::new(),
                });
                groups.len() - 1
            });
            groups[at].members.push(Member {
                series: series_index,
                sample: sample_index,
                part,
                value: sample.value,
                start: sample.start_timestamp,
            });
        }
    }
    groups.into_iter().filter_map(build).collect()
}

/// The parts of a group, each present once.
struct Parts<'a> {
    /// (parsed bound, label text, sample value), sorted by bound.
    bounds: Vec<(f64, &'a str, f64)>,
    sum: f64,
    count: u64,
    start: i64,
}

fn parts<'a>(members: &[Member<'a>]) -> Option<Parts<'a>> {
    let start = members.first()?.start;
    let mut sum = None;
    let mut count = None;
    let mut bounds = Vec::new();
    for member in members {
        if member.value.to_bits() == STALE_NAN_BITS || member.start != start {
            return None;
        }
        let duplicate = match member.part {
            Part::Sum => sum.replace(member.value).is_some(),
            Part::Count => count.replace(member.value).is_some(),
            Part::Bound(text) => {
                bounds.push((text.parse::<f64>().ok()?, text, member.value));
                false
            }
        };
        if duplicate {
            return None;
        }
    }
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Strictly increasing also refuses duplicated and NaN bounds (NaN compares false).
    if !bounds.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        return None;
    }
    Some(Parts {
        bounds,
        sum: sum?,
        count: exact_count(count?)?,
        start,
    })
}

fn build(group: Group<'_>) -> Option<Grouped<'_>> {
    let parts = parts(&group.members)?;
    let start_time_unix_nano = nanos(parts.start);
    let time_unix_nano = nanos(group.timestamp);
    let point = match group.aggregate {
        Aggregate::Histogram => {
            let (bucket_labels, explicit_bounds, bucket_counts) = buckets(&parts)?;
            GroupedPoint::Histogram {
                bucket_labels,
                point: HistogramDataPoint {
                    attributes: attributes(&group.labels),
                    start_time_unix_nano,
                    time_unix_nano,
                    count: parts.count,
                    sum: Some(parts.sum),
                    bucket_counts,
                    explicit_bounds,
                    ..Default::default()
                },
            }
        }
        Aggregate::Summary => {
            if !parts
                .bounds
                .iter()
                .all(|(quantile, _, _)| (0.0..=1.0).contains(quantile))
            {
                return None;
            }
            GroupedPoint::Summary {
                quantile_labels: parts.bounds.iter().map(|b| b.1.to_string()).collect(),
                point: SummaryDataPoint {
                    attributes: attributes(&group.labels),
                    start_time_unix_nano,
                    time_unix_nano,
                    count: parts.count,
                    sum: parts.sum,
                    quantile_values: parts
                        .bounds
                        .iter()
                        .map(|&(quantile, _, value)| ValueAtQuantile { quantile, value })
                        .collect(),
                    flags: 0,
                },
            }
        }
    };
    Some(Grouped {
        family: group.family,
        labels: group.labels,
        point,
        members: group
            .members
            .iter()
            .map(|member| (member.series, member.sample))
            .collect(),
    })
}

/// The bucket label texts, finite bounds and per-bucket counts of a histogram whose buckets are
/// exact: finite bounds then `+Inf`, integral cumulative counts that never decrease and end at
/// `_count`.
fn buckets(parts: &Parts<'_>) -> Option<(Vec<String>, Vec<f64>, Vec<u64>)> {
    let (last, finite) = parts.bounds.split_last()?;
    if last.0 != f64::INFINITY || !finite.iter().all(|bound| bound.0.is_finite()) {
        return None;
    }
    let mut counts = Vec::with_capacity(parts.bounds.len());
    let mut previous = 0u64;
    for &(_, _, value) in &parts.bounds {
        let cumulative = exact_count(value)?;
        counts.push(cumulative.checked_sub(previous)?);
        previous = cumulative;
    }
    if previous != parts.count {
        return None;
    }
    let texts = parts.bounds.iter().map(|b| b.1.to_string()).collect();
    let bounds = finite.iter().map(|b| b.0).collect();
    Some((texts, bounds, counts))
}

/// The integer a count sample holds, when it holds one exactly (finite, non-negative, integral,
/// at most 2^53, and not `-0`, which would not come back as the same bits).
pub(crate) fn exact_count(value: f64) -> Option<u64> {
    if !(0.0..=MAX_EXACT_COUNT).contains(&value) {
        return None;
    }
    let count = value as u64;
    ((count as f64).to_bits() == value.to_bits()).then_some(count)
}
