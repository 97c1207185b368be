//! Assembling converted points into OTLP: one resource per (`job`, `instance`) target, one scope
//! ([`SCOPE_NAME`]), and one metric per name and shape within a resource, so the series of one
//! family share a metric instead of each carrying its own copy of the name and help text.

use super::classic::STALE_NAN_BITS;
use super::family::{FamilyInfo, NumberKind};
use crate::remote_write::Label;
use cormorant_core::pdata::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use cormorant_core::pdata::metrics::{
    AggregationTemporality, DataPointFlags, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, metric,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::string_attribute;
use cormorant_core::prometheus::{
    BUCKET_LABELS_KEY, METRIC_NAME_LABEL, QUANTILE_LABELS_KEY, SCOPE_NAME,
};
use std::collections::HashMap;
use std::hash::Hash;

/// Where a point was put, so exemplars can be attached to it afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PointRef {
    Number(usize, usize),
    Histogram(usize, usize),
    Summary(usize, usize),
    Exponential(usize, usize),
}

/// The metric a point belongs to: the labels naming its resource, its name, and the family
/// metadata giving its help text and unit.
pub(super) struct Target<'a, 'l> {
    pub(super) labels: &'l [&'a Label],
    pub(super) name: &'a str,
    pub(super) info: Option<&'a FamilyInfo>,
}

/// The metrics of one OTLP shape being filled, keyed by resource, name and what else must be
/// equal for points to share a metric (`K`).
struct Metrics<'a, K, P> {
    index: HashMap<(usize, &'a str, K), usize>,
    slots: Vec<Slot<'a, K, P>>,
}

struct Slot<'a, K, P> {
    resource: usize,
    /// Creation order among the metrics of every shape, so the output follows the input.
    order: usize,
    name: &'a str,
    info: Option<&'a FamilyInfo>,
    key: K,
    points: Vec<P>,
}

impl<K, P> Default for Metrics<'_, K, P> {
    fn default() -> Self {
        Metrics {
            index: HashMap::new(),
            slots: Vec::new(),
        }
    }
}

impl<'a, K: Clone + Eq + Hash, P> Metrics<'a, K, P> {
    /// Adds a point, returning (metric slot, point index).
    fn push(
        &mut self,
        resource: usize,
        target: &Target<'a, '_>,
        key: K,
        point: P,
        order: &mut usize,
    ) -> (usize, usize) {
        let slots = &mut self.slots;
        let slot = *self
            .index
            .entry((resource, target.name, key.clone()))
            .or_insert_with(|| {
                slots.push(Slot {
                    resource,
                    order: *order,
                    name: target.name,
                    info: target.info,
                    key,
                    points: Vec::new(),
                });
                *order += 1;
                slots.len() - 1
            });
        let points = &mut self.slots[slot].points;
        points.push(point);
        (slot, points.len() - 1)
    }

    fn finish(
        self,
        mut data: impl FnMut(K, Vec<P>) -> (Vec<KeyValue>, metric::Data),
    ) -> impl Iterator<Item = (usize, usize, Metric)> {
        self.slots.into_iter().map(move |slot| {
            let (metadata, data) = data(slot.key, slot.points);
            let metric = Metric {
                name: slot.name.to_string(),
                description: slot.info.map(|info| info.help.clone()).unwrap_or_default(),
                unit: slot.info.map(|info| info.unit.clone()).unwrap_or_default(),
                metadata,
                data: Some(data),
            };
            (slot.order, slot.resource, metric)
        })
    }
}

/// The resources and metrics being built for one request.
#[derive(Default)]
pub(super) struct Output<'a> {
    resources: Vec<ResourceMetrics>,
    by_target: HashMap<(Option<&'a str>, Option<&'a str>), usize>,
    order: usize,
    numbers: Metrics<'a, NumberKind, NumberDataPoint>,
    /// Keyed by the classic bucket label texts; `None` for native histograms with custom buckets.
    histograms: Metrics<'a, Option<Vec<String>>, HistogramDataPoint>,
    summaries: Metrics<'a, Vec<String>, SummaryDataPoint>,
    exponentials: Metrics<'a, (), ExponentialHistogramDataPoint>,
}

impl<'a> Output<'a> {
    fn resource(&mut self, labels: &[&'a Label]) -> usize {
        let job = label_value(labels, "job");
        let instance = label_value(labels, "instance");
        let resources = &mut self.resources;
        *self.by_target.entry((job, instance)).or_insert_with(|| {
            resources.push(resource_metrics(job, instance));
            resources.len() - 1
        })
    }

    pub(super) fn push_number(
        &mut self,
        target: &Target<'a, '_>,
        kind: NumberKind,
        point: NumberDataPoint,
    ) -> PointRef {
        let resource = self.resource(target.labels);
        let (slot, index) = self
            .numbers
            .push(resource, target, kind, point, &mut self.order);
        PointRef::Number(slot, index)
    }

    pub(super) fn push_histogram(
        &mut self,
        target: &Target<'a, '_>,
        bucket_labels: Option<Vec<String>>,
        point: HistogramDataPoint,
    ) -> PointRef {
        let resource = self.resource(target.labels);
        let (slot, index) =
            self.histograms
                .push(resource, target, bucket_labels, point, &mut self.order);
        PointRef::Histogram(slot, index)
    }

    pub(super) fn push_summary(
        &mut self,
        target: &Target<'a, '_>,
        quantile_labels: Vec<String>,
        point: SummaryDataPoint,
    ) -> PointRef {
        let resource = self.resource(target.labels);
        let (slot, index) =
            self.summaries
                .push(resource, target, quantile_labels, point, &mut self.order);
        PointRef::Summary(slot, index)
    }

    pub(super) fn push_exponential(
        &mut self,
        target: &Target<'a, '_>,
        point: ExponentialHistogramDataPoint,
    ) -> PointRef {
        let resource = self.resource(target.labels);
        let (slot, index) = self
            .exponentials
            .push(resource, target, (), point, &mut self.order);
        PointRef::Exponential(slot, index)
    }

    /// Adds an exemplar to a point; false for summary points, which OTLP gives no exemplars.
    pub(super) fn attach(&mut self, at: PointRef, exemplar: Exemplar) -> bool {
        let exemplars = match at {
            PointRef::Number(slot, point) => &mut self.numbers.slots[slot].points[point].exemplars,
            PointRef::Histogram(slot, point) => {
                &mut self.histograms.slots[slot].points[point].exemplars
            }
            PointRef::Exponential(slot, point) => {
                &mut self.exponentials.slots[slot].points[point].exemplars
            }
            PointRef::Summary(..) => return false,
        };
        exemplars.push(exemplar);
        true
    }

    pub(super) fn finish(self) -> Vec<ResourceMetrics> {
        let cumulative = AggregationTemporality::Cumulative as i32;
        let mut metrics: Vec<(usize, usize, Metric)> = Vec::with_capacity(self.order);
        metrics.extend(self.numbers.finish(|kind, data_points| {
            let data = match kind {
                NumberKind::Gauge => metric::Data::Gauge(Gauge { data_points }),
                NumberKind::MonotonicSum | NumberKind::CumulativeSum => metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: cumulative,
                    is_monotonic: kind == NumberKind::MonotonicSum,
                }),
            };
            (Vec::new(), data)
        }));
        metrics.extend(self.histograms.finish(|bucket_labels, data_points| {
            let metadata = bucket_labels
                .map(|texts| vec![string_array(BUCKET_LABELS_KEY, &texts)])
                .unwrap_or_default();
            let data = metric::Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: cumulative,
            });
            (metadata, data)
        }));
        metrics.extend(self.summaries.finish(|quantile_labels, data_points| {
            let metadata = vec![string_array(QUANTILE_LABELS_KEY, &quantile_labels)];
            (metadata, metric::Data::Summary(Summary { data_points }))
        }));
        metrics.extend(self.exponentials.finish(|(), data_points| {
            let data = metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points,
                aggregation_temporality: cumulative,
            });
            (Vec::new(), data)
        }));
        metrics.sort_by_key(|(order, _, _)| *order);
        let mut resources = self.resources;
        for (_, resource, metric) in metrics {
            resources[resource].scope_metrics[0].metrics.push(metric);
        }
        resources
    }
}

fn label_value<'a>(labels: &[&'a Label], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|label| label.name == name)
        .map(|label| label.value.as_str())
}

/// A point's attributes: its labels except `__name__` (the metric's name says it); the caller
/// already left out `le`/`quantile` for histogram and summary points.
pub(super) fn attributes(labels: &[&Label]) -> Vec<KeyValue> {
    labels
        .iter()
        .filter(|label| label.name != METRIC_NAME_LABEL)
        .map(|label| string_attribute(&label.name, &label.value))
        .collect()
}

fn string_value(value: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(value.to_string())),
    }
}

fn string_array(key: &str, values: &[String]) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: values.iter().map(|value| string_value(value)).collect(),
            })),
        }),
        ..Default::default()
    }
}

fn resource_metrics(job: Option<&str>, instance: Option<&str>) -> ResourceMetrics {
    let mut attributes = Vec::new();
    if let Some(job) = job {
        match job.rsplit_once('/') {
            Some((namespace, name)) => {
                attributes.push(string_attribute("service.namespace", namespace));
                attributes.push(string_attribute("service.name", name));
            }
            None => attributes.push(string_attribute("service.name", job)),
        }
    }
    if let Some(instance) = instance {
        attributes.push(string_attribute("service.instance.id", instance));
    }
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// OTLP's "no recorded value" flag for a value that is Prometheus' stale marker, so consumers
/// that know OTLP but not Prometheus see the series end; the value itself is kept bit for bit.
pub(super) fn stale_flags(value: f64) -> u32 {
    if value.to_bits() == STALE_NAN_BITS {
        DataPointFlags::NoRecordedValueMask as u32
    } else {
        0
    }
}

/// Milliseconds since the epoch as OTLP nanoseconds; negative times were refused by validation.
pub(super) fn nanos(milliseconds: i64) -> u64 {
    u64::try_from(milliseconds)
        .unwrap_or_default()
        .saturating_mul(1_000_000)
}
