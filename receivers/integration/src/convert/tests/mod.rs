//! Conversion rules, one test per rule or fallback, against hand-built remote_write series.

mod classic;
mod exemplars;
mod native;
mod numbers;

use super::{Conversion, MetricTypes};
use crate::remote_write::{Label, MetricMetadata, MetricType, Sample, TimeSeries};
use cormorant_core::pdata::common::{KeyValue, any_value};
use cormorant_core::pdata::metrics::{Metric, NumberDataPoint, metric, number_data_point};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn labels(list: &[(&str, &str)]) -> Vec<Label> {
    let mut labels: Vec<Label> = list
        .iter()
        .map(|(name, value)| Label {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// A series with the given labels (sorted here) and (value, timestamp ms) samples.
fn series(list: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: labels(list),
        samples: samples
            .iter()
            .map(|&(value, timestamp)| Sample {
                value,
                timestamp,
                start_timestamp: 0,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

fn types(families: &[(&str, MetricType)]) -> MetricTypes {
    let types = MetricTypes::default();
    let metadata: Vec<MetricMetadata> = families
        .iter()
        .map(|(name, kind)| MetricMetadata {
            r#type: *kind as i32,
            metric_family_name: name.to_string(),
            help: format!("{name} help"),
            unit: String::new(),
        })
        .collect();
    types.remember(&metadata);
    types
}

fn all_metrics(conversion: &Conversion) -> Vec<&Metric> {
    conversion
        .resource_metrics
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .collect()
}

/// The metrics named `name`, in output order.
fn named<'a>(conversion: &'a Conversion, name: &str) -> Vec<&'a Metric> {
    all_metrics(conversion)
        .into_iter()
        .filter(|metric| metric.name == name)
        .collect()
}

/// The only metric named `name`.
fn only<'a>(conversion: &'a Conversion, name: &str) -> &'a Metric {
    let found = named(conversion, name);
    assert_eq!(found.len(), 1, "metrics named {name}: {found:?}");
    found[0]
}

fn string_pairs(list: &[KeyValue]) -> Vec<(String, String)> {
    list.iter()
        .map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => (kv.key.clone(), s.clone()),
                other => panic!("attribute {} is not a string: {other:?}", kv.key),
            },
        )
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The string array stored under `key` in a metric's metadata.
fn metadata_texts(metric: &Metric, key: &str) -> Option<Vec<String>> {
    let entry = metric.metadata.iter().find(|kv| kv.key == key)?;
    let Some(any_value::Value::ArrayValue(array)) =
        entry.value.as_ref().and_then(|v| v.value.as_ref())
    else {
        panic!("metadata {key} is not an array: {entry:?}");
    };
    Some(
        array
            .values
            .iter()
            .map(|value| match &value.value {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => panic!("metadata {key} holds {other:?}"),
            })
            .collect(),
    )
}

/// The number points of a gauge or sum metric with (is sum, is monotonic).
fn number_points(metric: &Metric) -> (&[NumberDataPoint], Option<bool>) {
    match &metric.data {
        Some(metric::Data::Gauge(gauge)) => (&gauge.data_points, None),
        Some(metric::Data::Sum(sum)) => (&sum.data_points, Some(sum.is_monotonic)),
        other => panic!("{} is not a number metric: {other:?}", metric.name),
    }
}

fn bits(point: &NumberDataPoint) -> u64 {
    match point.value {
        Some(number_data_point::Value::AsDouble(value)) => value.to_bits(),
        other => panic!("point value {other:?}"),
    }
}
