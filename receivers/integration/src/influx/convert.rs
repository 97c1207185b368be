//! Line protocol points → OTLP gauges.
//!
//! - Every numeric field of a line becomes one data point of the gauge named
//!   `<measurement>_<field>` (Telegraf's Prometheus naming, so `cpu usage_idle=5` is
//!   `cpu_usage_idle`); points of the same name in one request share one metric.
//! - Each point carries the line's tags as attributes, plus `measurement` and `field` holding the
//!   original names, so the split of the metric name is never ambiguous. A tag named `measurement`
//!   or `field` is replaced by these.
//! - Floats stay doubles; integers are ints; unsigned values are ints when they fit in `i64`,
//!   doubles above it; booleans are ints 1 and 0.
//! - String fields carry no number, so they are dropped and counted in
//!   [`Converted::dropped_string_fields`].
//! - All points go under one resource whose `service.name` is the receiver's `service_name`, and a
//!   line without a timestamp is stamped with the receive time.

use super::parser::{FieldValue, Line};
use cormorant_core::pdata::common::{InstrumentationScope, KeyValue};
use cormorant_core::pdata::metrics::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::string_attribute;
use std::collections::HashMap;

/// The scope every converted metric is put under.
pub const SCOPE_NAME: &str = "cormorant/receiver/integration/influx";
/// The point attribute holding the line's measurement.
pub const MEASUREMENT_ATTRIBUTE: &str = "measurement";
/// The point attribute holding the field's key.
pub const FIELD_ATTRIBUTE: &str = "field";

/// The OTLP form of a request's points.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// Empty when no line had a numeric field.
    pub resource_metrics: Vec<ResourceMetrics>,
    pub data_points: usize,
    pub dropped_string_fields: usize,
}

/// Converts parsed lines; `receive_time_unix_nano` stamps lines without a timestamp.
pub fn convert(lines: &[Line], service_name: &str, receive_time_unix_nano: u64) -> Converted {
    let mut metrics: Vec<Metric> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut data_points = 0;
    let mut dropped_string_fields = 0;
    for line in lines {
        for (field, value) in &line.fields {
            let Some(value) = number(value) else {
                dropped_string_fields += 1;
                continue;
            };
            let name = format!("{}_{}", line.measurement, field);
            let index = *by_name.entry(name.clone()).or_insert_with(|| {
                metrics.push(gauge(name));
                metrics.len() - 1
            });
            let point = NumberDataPoint {
                attributes: attributes(line, field),
                time_unix_nano: line.timestamp_unix_nano.unwrap_or(receive_time_unix_nano),
                value: Some(value),
                ..Default::default()
            };
            if let Some(metric::Data::Gauge(gauge)) = &mut metrics[index].data {
                gauge.data_points.push(point);
            }
            data_points += 1;
        }
    }
    let resource_metrics = if metrics.is_empty() {
        Vec::new()
    } else {
        vec![resource_metrics(service_name, metrics)]
    };
    Converted {
        resource_metrics,
        data_points,
        dropped_string_fields,
    }
}

fn number(value: &FieldValue) -> Option<number_data_point::Value> {
    use number_data_point::Value::{AsDouble, AsInt};
    match value {
        FieldValue::Float(value) => Some(AsDouble(*value)),
        FieldValue::Integer(value) => Some(AsInt(*value)),
        FieldValue::Unsigned(value) => Some(
            i64::try_from(*value)
                .map(AsInt)
                .unwrap_or(AsDouble(*value as f64)),
        ),
        FieldValue::Boolean(value) => Some(AsInt(i64::from(*value))),
        FieldValue::String(_) => None,
    }
}

fn attributes(line: &Line, field: &str) -> Vec<KeyValue> {
    let mut attributes: Vec<KeyValue> = line
        .tags
        .iter()
        .filter(|(key, _)| key != MEASUREMENT_ATTRIBUTE && key != FIELD_ATTRIBUTE)
        .map(|(key, value)| string_attribute(key, value))
        .collect();
    attributes.push(string_attribute(MEASUREMENT_ATTRIBUTE, &line.measurement));
    attributes.push(string_attribute(FIELD_ATTRIBUTE, field));
    attributes
}

fn gauge(name: String) -> Metric {
    Metric {
        name,
        data: Some(metric::Data::Gauge(Gauge::default())),
        ..Default::default()
    }
}

fn resource_metrics(service_name: &str, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![string_attribute("service.name", service_name)],
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_string(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::influx::parser::{Precision, parse};
    use cormorant_core::pdata::common::any_value;
    use number_data_point::Value::{AsDouble, AsInt};

    fn key_values(list: &[KeyValue]) -> Vec<(String, String)> {
        list.iter()
            .map(
                |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => (kv.key.clone(), s.clone()),
                    other => panic!("unexpected attribute value {other:?}"),
                },
            )
            .collect()
    }

    #[test]
    fn one_gauge_per_field_with_typed_values() {
        let body = b"sys,host=a,field=shadowed load=1.5,procs=3i,big=18446744073709551615u,up=t,name=\"x\" 10\nsys,host=b load=2 20\nsys,host=c up=F";
        let parsed = parse(body, Precision::Nanoseconds);
        let converted = convert(&parsed.lines, "telegraf", 99);
        assert_eq!(converted.data_points, 6);
        assert_eq!(converted.dropped_string_fields, 1);
        let resource = &converted.resource_metrics[0];
        assert_eq!(
            key_values(&resource.resource.as_ref().unwrap().attributes),
            [("service.name".to_string(), "telegraf".to_string())]
        );
        let metrics = &resource.scope_metrics[0].metrics;
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["sys_load", "sys_procs", "sys_big", "sys_up"]);
        let points = |index: usize| match &metrics[index].data {
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.clone(),
            other => panic!("not a gauge: {other:?}"),
        };
        let load = points(0);
        assert_eq!(load.len(), 2);
        assert_eq!(load[0].value, Some(AsDouble(1.5)));
        assert_eq!(load[1].time_unix_nano, 20);
        assert_eq!(
            key_values(&load[0].attributes),
            [
                ("host".to_string(), "a".to_string()),
                ("measurement".to_string(), "sys".to_string()),
                ("field".to_string(), "load".to_string()),
            ]
        );
        assert_eq!(points(1)[0].value, Some(AsInt(3)));
        assert_eq!(points(2)[0].value, Some(AsDouble(u64::MAX as f64)));
        let up = points(3);
        assert_eq!(up[0].value, Some(AsInt(1)));
        assert_eq!(up[1].value, Some(AsInt(0)));
        assert_eq!(up[1].time_unix_nano, 99, "receive time without timestamp");
    }

    #[test]
    fn only_strings_give_no_resource() {
        let parsed = parse(b"log msg=\"hi\"", Precision::Nanoseconds);
        let converted = convert(&parsed.lines, "s", 1);
        assert!(converted.resource_metrics.is_empty());
        assert_eq!(converted.data_points, 0);
        assert_eq!(converted.dropped_string_fields, 1);
    }
}
