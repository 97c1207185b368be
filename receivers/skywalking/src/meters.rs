//! SkyWalking meters as OTLP metrics.
//!
//! - Readings of one service instance share a resource, as segments do.
//! - A single value is a gauge point (the protocol does not say whether it counts or measures);
//!   labels are its attributes.
//! - A histogram is a cumulative OTLP histogram point. SkyWalking names each bucket by its lower
//!   bound, so the bounds of buckets 2..n are the OTLP explicit bounds and the counts keep their
//!   order; the first bucket becomes OTLP's open lower bucket. The sum is unknown.
//! - A reading without service, instance or time takes them from the stream's earlier readings
//!   ([`MeterCarry`]).

use crate::proto::{Label, MeterData, MeterHistogram, MeterSingleValue, MeterValue};
use crate::traces::{instance_entry, nanos};
use cormorant_core::pdata::common::KeyValue;
use cormorant_core::pdata::metrics::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
};
use cormorant_core::pdata::string_attribute;

/// The service, instance and time of a stream's latest reading that had them.
#[derive(Debug, Default)]
pub struct MeterCarry {
    service: String,
    service_instance: String,
    timestamp: i64,
}

impl MeterCarry {
    /// Fills what `reading` leaves out from earlier readings, and remembers what it sets.
    pub fn fill(&mut self, reading: &mut MeterData) {
        let remember = |mine: &mut String, carried: &mut String| {
            if mine.is_empty() {
                mine.clone_from(carried);
            } else {
                carried.clone_from(mine);
            }
        };
        remember(&mut reading.service, &mut self.service);
        remember(&mut reading.service_instance, &mut self.service_instance);
        if reading.timestamp == 0 {
            reading.timestamp = self.timestamp;
        } else {
            self.timestamp = reading.timestamp;
        }
    }
}

/// Converts `readings`, grouping them by service instance.
pub fn convert_meters(readings: impl IntoIterator<Item = MeterData>) -> Vec<ResourceMetrics> {
    let mut resources: Vec<ResourceMetrics> = Vec::new();
    for reading in readings {
        let Some(value) = reading.metric else {
            continue;
        };
        let at = instance_entry(
            &mut resources,
            &reading.service,
            &reading.service_instance,
            |r| r.resource.as_ref(),
            |resource, scope| ResourceMetrics {
                resource: Some(resource),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        let time = nanos(reading.timestamp);
        let metric = match value {
            MeterValue::SingleValue(single) => gauge(single, time),
            MeterValue::Histogram(histogram) => cumulative_histogram(histogram, time),
        };
        resources[at].scope_metrics[0].metrics.push(metric);
    }
    resources
}

fn attributes(labels: Vec<Label>) -> Vec<KeyValue> {
    labels
        .into_iter()
        .map(|label| string_attribute(&label.name, label.value))
        .collect()
}

fn gauge(single: MeterSingleValue, time: u64) -> Metric {
    Metric {
        name: single.name,
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: attributes(single.labels),
                time_unix_nano: time,
                value: Some(number_data_point::Value::AsDouble(single.value)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    }
}

fn cumulative_histogram(histogram: MeterHistogram, time: u64) -> Metric {
    let mut buckets = histogram.values;
    buckets.sort_by(|a, b| {
        let bound = |bucket: &crate::proto::MeterBucketValue| {
            if bucket.is_negative_infinity {
                f64::NEG_INFINITY
            } else {
                bucket.bucket
            }
        };
        bound(a).total_cmp(&bound(b))
    });
    let bucket_counts: Vec<u64> = buckets
        .iter()
        .map(|bucket| u64::try_from(bucket.count).unwrap_or(0))
        .collect();
    let explicit_bounds = buckets.iter().skip(1).map(|bucket| bucket.bucket).collect();
    Metric {
        name: histogram.name,
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: attributes(histogram.labels),
                time_unix_nano: time,
                count: bucket_counts.iter().sum(),
                bucket_counts,
                explicit_bounds,
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    }
}
