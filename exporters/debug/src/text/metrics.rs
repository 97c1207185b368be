//! Metrics and their data points as text.

use super::{Out, resource_line, scope_name, timestamp};
use cormorant_core::pdata::common::KeyValue;
use cormorant_core::pdata::metrics::{
    AggregationTemporality, ExponentialHistogramDataPoint, Gauge, HistogramDataPoint,
    NumberDataPoint, ResourceMetrics, Sum, SummaryDataPoint, metric::Data, number_data_point,
};

pub(super) fn metric_count(resources: &[ResourceMetrics]) -> usize {
    resources
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .map(|s| s.metrics.len())
        .sum()
}

fn number(point: &NumberDataPoint) -> String {
    match point.value {
        Some(number_data_point::Value::AsInt(i)) => i.to_string(),
        Some(number_data_point::Value::AsDouble(d)) => d.to_string(),
        None => "(no value)".to_string(),
    }
}

/// `{k=v,k2=v2}`, the label form metric readers know.
fn labels(attributes: &[KeyValue]) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, super::plain(kv.value.as_ref())))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

pub(super) fn normal(resources: &[ResourceMetrics]) -> String {
    let mut out = Out::new();
    for (r, resource) in resources.iter().enumerate() {
        out.line(
            0,
            resource_line("ResourceMetrics", r, resource.resource.as_ref()),
        );
        for (s, scope) in resource.scope_metrics.iter().enumerate() {
            out.line(
                1,
                format!("ScopeMetrics #{s} {}", scope_name(scope.scope.as_ref())),
            );
            for metric in &scope.metrics {
                let name = &metric.name;
                let lines: Vec<String> = match &metric.data {
                    Some(
                        Data::Gauge(Gauge { data_points, .. }) | Data::Sum(Sum { data_points, .. }),
                    ) => data_points
                        .iter()
                        .map(|p| format!("{name}{} {}", labels(&p.attributes), number(p)))
                        .collect(),
                    Some(Data::Histogram(h)) => h
                        .data_points
                        .iter()
                        .map(|p| {
                            format!(
                                "{name}{} count={} sum={}",
                                labels(&p.attributes),
                                p.count,
                                p.sum.unwrap_or_default()
                            )
                        })
                        .collect(),
                    Some(Data::ExponentialHistogram(h)) => h
                        .data_points
                        .iter()
                        .map(|p| {
                            format!(
                                "{name}{} count={} sum={} scale={}",
                                labels(&p.attributes),
                                p.count,
                                p.sum.unwrap_or_default(),
                                p.scale
                            )
                        })
                        .collect(),
                    Some(Data::Summary(s)) => s
                        .data_points
                        .iter()
                        .map(|p| {
                            format!(
                                "{name}{} count={} sum={}",
                                labels(&p.attributes),
                                p.count,
                                p.sum
                            )
                        })
                        .collect(),
                    None => vec![format!("{name} (no data)")],
                };
                for line in lines {
                    out.line(2, line);
                }
            }
        }
    }
    out.finish()
}

/// The `AggregationTemporality` line of sums and histograms, by its proto name when it has one.
fn temporality_line(out: &mut Out, value: i32) {
    let name = AggregationTemporality::try_from(value)
        .map_or_else(|_| value.to_string(), |t| t.as_str_name().to_string());
    out.line(3, format!("-> AggregationTemporality: {name}"));
}

fn point_times(out: &mut Out, start: u64, time: u64) {
    out.line(4, format!("StartTimestamp: {}", timestamp(start)));
    out.line(4, format!("Timestamp: {}", timestamp(time)));
}

/// The totals explicit-bucket and exponential histograms both carry.
fn histogram_totals(
    out: &mut Out,
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
) {
    out.line(4, format!("Count: {count}"));
    out.line(4, format!("Sum: {}", optional(sum)));
    out.line(4, format!("Min: {}", optional(min)));
    out.line(4, format!("Max: {}", optional(max)));
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "(unset)".to_string(), |v| v.to_string())
}

fn number_points(out: &mut Out, points: &[NumberDataPoint]) {
    for (i, point) in points.iter().enumerate() {
        out.line(3, format!("NumberDataPoints #{i}"));
        out.attributes(4, "Data point attributes", &point.attributes);
        point_times(out, point.start_time_unix_nano, point.time_unix_nano);
        out.line(4, format!("Value: {}", number(point)));
    }
}

fn histogram_points(out: &mut Out, points: &[HistogramDataPoint]) {
    for (i, point) in points.iter().enumerate() {
        out.line(3, format!("HistogramDataPoints #{i}"));
        out.attributes(4, "Data point attributes", &point.attributes);
        point_times(out, point.start_time_unix_nano, point.time_unix_nano);
        histogram_totals(out, point.count, point.sum, point.min, point.max);
        for (b, bound) in point.explicit_bounds.iter().enumerate() {
            out.line(4, format!("ExplicitBounds #{b}: {bound}"));
        }
        for (b, count) in point.bucket_counts.iter().enumerate() {
            out.line(4, format!("Buckets #{b}, Count: {count}"));
        }
    }
}

fn exponential_points(out: &mut Out, points: &[ExponentialHistogramDataPoint]) {
    for (i, point) in points.iter().enumerate() {
        out.line(3, format!("ExponentialHistogramDataPoints #{i}"));
        out.attributes(4, "Data point attributes", &point.attributes);
        point_times(out, point.start_time_unix_nano, point.time_unix_nano);
        histogram_totals(out, point.count, point.sum, point.min, point.max);
        out.line(4, format!("Scale: {}", point.scale));
        out.line(4, format!("ZeroCount: {}", point.zero_count));
        for (side, buckets) in [("Positive", &point.positive), ("Negative", &point.negative)] {
            if let Some(buckets) = buckets {
                out.line(
                    4,
                    format!(
                        "{side} offset {}: {:?}",
                        buckets.offset, buckets.bucket_counts
                    ),
                );
            }
        }
    }
}

fn summary_points(out: &mut Out, points: &[SummaryDataPoint]) {
    for (i, point) in points.iter().enumerate() {
        out.line(3, format!("SummaryDataPoints #{i}"));
        out.attributes(4, "Data point attributes", &point.attributes);
        point_times(out, point.start_time_unix_nano, point.time_unix_nano);
        out.line(4, format!("Count: {}", point.count));
        out.line(4, format!("Sum: {}", point.sum));
        for (q, quantile) in point.quantile_values.iter().enumerate() {
            out.line(
                4,
                format!(
                    "QuantileValue #{q}: Quantile {}, Value {}",
                    quantile.quantile, quantile.value
                ),
            );
        }
    }
}

pub(super) fn detailed(resources: &[ResourceMetrics]) -> String {
    let mut out = Out::new();
    for (r, resource) in resources.iter().enumerate() {
        out.resource(
            "ResourceMetrics",
            r,
            resource.resource.as_ref(),
            &resource.schema_url,
        );
        for (s, scope) in resource.scope_metrics.iter().enumerate() {
            out.scope("ScopeMetrics", s, scope.scope.as_ref(), &scope.schema_url);
            for (i, metric) in scope.metrics.iter().enumerate() {
                out.line(2, format!("Metric #{i}"));
                out.line(2, "Descriptor:");
                out.line(3, format!("-> Name: {}", metric.name));
                out.line(3, format!("-> Description: {}", metric.description));
                out.line(3, format!("-> Unit: {}", metric.unit));
                match &metric.data {
                    Some(Data::Gauge(g)) => {
                        out.line(3, "-> DataType: Gauge");
                        number_points(&mut out, &g.data_points);
                    }
                    Some(Data::Sum(s)) => {
                        out.line(3, "-> DataType: Sum");
                        out.line(3, format!("-> IsMonotonic: {}", s.is_monotonic));
                        temporality_line(&mut out, s.aggregation_temporality);
                        number_points(&mut out, &s.data_points);
                    }
                    Some(Data::Histogram(h)) => {
                        out.line(3, "-> DataType: Histogram");
                        temporality_line(&mut out, h.aggregation_temporality);
                        histogram_points(&mut out, &h.data_points);
                    }
                    Some(Data::ExponentialHistogram(h)) => {
                        out.line(3, "-> DataType: ExponentialHistogram");
                        temporality_line(&mut out, h.aggregation_temporality);
                        exponential_points(&mut out, &h.data_points);
                    }
                    Some(Data::Summary(s)) => {
                        out.line(3, "-> DataType: Summary");
                        summary_points(&mut out, &s.data_points);
                    }
                    None => out.line(3, "-> DataType: Empty"),
                }
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_core::pdata::common::{AnyValue, any_value};
    use cormorant_core::pdata::metrics::{Histogram, Metric, ScopeMetrics};

    fn sample() -> Vec<ResourceMetrics> {
        let label = KeyValue {
            key: "queue".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("orders".into())),
            }),
            ..KeyValue::default()
        };
        let point = |v: i64| NumberDataPoint {
            attributes: vec![label.clone()],
            value: Some(number_data_point::Value::AsInt(v)),
            ..NumberDataPoint::default()
        };
        vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "queue.depth".into(),
                        data: Some(Data::Gauge(Gauge {
                            data_points: vec![point(3), point(4)],
                        })),
                        ..Metric::default()
                    },
                    Metric {
                        name: "requests".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: vec![point(10)],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Metric::default()
                    },
                    Metric {
                        name: "latency".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 5,
                                sum: Some(12.5),
                                explicit_bounds: vec![1.0, 10.0],
                                bucket_counts: vec![1, 3, 1],
                                ..HistogramDataPoint::default()
                            }],
                            aggregation_temporality: 1,
                        })),
                        ..Metric::default()
                    },
                ],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }]
    }

    #[test]
    fn normal_has_one_line_per_data_point() {
        let text = normal(&sample());
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            [
                "ResourceMetrics #0",
                "ScopeMetrics #0 (no scope)",
                "queue.depth{queue=orders} 3",
                "queue.depth{queue=orders} 4",
                "requests{queue=orders} 10",
                "latency count=5 sum=12.5",
            ]
        );
        assert_eq!(metric_count(&sample()), 3);
    }

    #[test]
    fn detailed_shows_descriptors_and_points() {
        let text = detailed(&sample());
        for expected in [
            "-> Name: queue.depth",
            "-> DataType: Gauge",
            "NumberDataPoints #1",
            "-> queue: Str(orders)",
            "Value: 4",
            "-> IsMonotonic: true",
            "-> AggregationTemporality: AGGREGATION_TEMPORALITY_CUMULATIVE",
            "-> DataType: Histogram",
            "Count: 5",
            "Sum: 12.5",
            "Min: (unset)",
            "ExplicitBounds #1: 10",
            "Buckets #2, Count: 1",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
