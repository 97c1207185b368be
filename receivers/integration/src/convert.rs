//! remote_write 1.0 series → OTLP metrics, following the OpenTelemetry Prometheus compatibility
//! rules:
//!
//! - one OTLP metric per series, named after `__name__`, with one data point per sample;
//! - the type comes from metadata: `COUNTER` becomes a monotonic cumulative sum, everything else
//!   (gauge, unknown, and the `_bucket`/`_sum`/`_count` series of classic histograms and
//!   summaries, which are not reassembled) a gauge. Without metadata the type is unknown, hence a
//!   gauge, whatever the name ends in. Prometheus sends metadata in separate requests, so the
//!   receiver remembers the types it has seen ([`MetricTypes`]);
//! - `job` and `instance` become the resource's `service.name` (with the part before the last
//!   `/` as `service.namespace`) and `service.instance.id`; series are grouped by that pair;
//! - every original label, `__name__`, `job` and `instance` included, is kept as a data point
//!   attribute, so nothing of the series identity is lost;
//! - millisecond timestamps become nanoseconds; values, the stale-marker NaN included, are copied
//!   bit for bit.

use crate::remote_write::{MetricMetadata, MetricType, TimeSeries, metric_name};
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use cormorant_core::pdata::metrics::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use cormorant_core::pdata::resource::Resource;
use std::collections::HashMap;
use std::sync::Mutex;

/// The scope every converted metric is put under.
pub const SCOPE_NAME: &str = "cormorant/receiver/integration/prometheus";

/// How many metric families' types are remembered; beyond it, new families stay unknown (gauges)
/// until a restart, which bounds memory against senders with unbounded metric names.
const MAX_REMEMBERED_FAMILIES: usize = 100_000;

/// What one family's metadata says, as far as the conversion needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FamilyInfo {
    kind: MetricType,
    help: String,
    unit: String,
}

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
            let info = FamilyInfo {
                kind: MetricType::try_from(entry.r#type).unwrap_or(MetricType::Unknown),
                help: entry.help.clone(),
                unit: entry.unit.clone(),
            };
            if families.len() < MAX_REMEMBERED_FAMILIES
                || families.contains_key(&entry.metric_family_name)
            {
                families.insert(entry.metric_family_name.clone(), info);
            }
        }
    }

    /// Converts series that passed [`crate::remote_write::validate`].
    pub fn convert(&self, series: &[TimeSeries]) -> Conversion {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let mut resources: Vec<ResourceMetrics> = Vec::new();
        let mut by_target: HashMap<(Option<&str>, Option<&str>), usize> = HashMap::new();
        for one in series {
            let name = metric_name(one).unwrap_or_default();
            let job = label(one, "job");
            let instance = label(one, "instance");
            let index = *by_target.entry((job, instance)).or_insert_with(|| {
                resources.push(resource_metrics(job, instance));
                resources.len() - 1
            });
            // OpenMetrics names a counter family without its `_total` suffix.
            let info = families
                .get(name)
                .or_else(|| name.strip_suffix("_total").and_then(|f| families.get(f)));
            resources[index].scope_metrics[0]
                .metrics
                .push(metric_of(one, name, info));
        }
        Conversion {
            resource_metrics: resources,
            samples: series.iter().map(|one| one.samples.len()).sum(),
            histograms: 0,
            exemplars: 0,
        }
    }
}

fn label<'a>(series: &'a TimeSeries, name: &str) -> Option<&'a str> {
    series
        .labels
        .iter()
        .find(|label| label.name == name)
        .map(|label| label.value.as_str())
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
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

fn metric_of(series: &TimeSeries, name: &str, info: Option<&FamilyInfo>) -> Metric {
    let attributes: Vec<KeyValue> = series
        .labels
        .iter()
        .map(|label| string_attribute(&label.name, &label.value))
        .collect();
    let data_points = series
        .samples
        .iter()
        .map(|sample| NumberDataPoint {
            attributes: attributes.clone(),
            time_unix_nano: u64::try_from(sample.timestamp)
                .unwrap_or_default()
                .saturating_mul(1_000_000),
            value: Some(number_data_point::Value::AsDouble(sample.value)),
            ..Default::default()
        })
        .collect();
    let data = match info.map(|info| info.kind) {
        Some(MetricType::Counter) => metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        _ => metric::Data::Gauge(Gauge { data_points }),
    };
    Metric {
        name: name.to_string(),
        description: info.map(|info| info.help.clone()).unwrap_or_default(),
        unit: info.map(|info| info.unit.clone()).unwrap_or_default(),
        data: Some(data),
        ..Default::default()
    }
}
