//! Number points: types from metadata, attributes, resources, timestamps and stale markers.

use super::*;
use cormorant_core::pdata::metrics::{AggregationTemporality, DataPointFlags};
use cormorant_core::prometheus::SCOPE_NAME;

#[test]
fn counter_from_metadata_is_a_monotonic_cumulative_sum_without_name_attribute() {
    let types = types(&[("http_requests", MetricType::Counter)]);
    let mut counted = series(
        &[
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("instance", "web-1:9100"),
            ("job", "shop/frontend"),
        ],
        &[(5.0, 1_700_000_000_123), (7.0, 1_700_000_015_123)],
    );
    counted.samples[1].start_timestamp = 1_699_999_999_000;
    let conversion = types.convert(&[counted]);
    assert_eq!(conversion.samples, 2);
    assert_eq!(conversion.resource_metrics.len(), 1);
    let resource = &conversion.resource_metrics[0];
    assert_eq!(
        string_pairs(&resource.resource.as_ref().unwrap().attributes),
        pairs(&[
            ("service.namespace", "shop"),
            ("service.name", "frontend"),
            ("service.instance.id", "web-1:9100"),
        ])
    );
    assert_eq!(
        resource.scope_metrics[0].scope.as_ref().unwrap().name,
        SCOPE_NAME
    );
    let metric = only(&conversion, "http_requests_total");
    assert_eq!(metric.description, "http_requests help");
    let Some(metric::Data::Sum(sum)) = &metric.data else {
        panic!("a counter must be a sum: {metric:?}");
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    assert_eq!(sum.data_points.len(), 2);
    assert_eq!(
        string_pairs(&sum.data_points[0].attributes),
        pairs(&[
            ("code", "200"),
            ("instance", "web-1:9100"),
            ("job", "shop/frontend")
        ])
    );
    assert_eq!(sum.data_points[0].time_unix_nano, 1_700_000_000_123_000_000);
    assert_eq!(sum.data_points[0].start_time_unix_nano, 0);
    assert_eq!(
        sum.data_points[1].start_time_unix_nano,
        1_699_999_999_000_000_000
    );
    assert_eq!(bits(&sum.data_points[1]), 7.0f64.to_bits());
}

#[test]
fn gauges_unknowns_and_series_without_metadata_are_gauges_with_stale_markers_kept() {
    let types = types(&[
        ("temperature", MetricType::Gauge),
        ("build", MetricType::Info),
        ("state", MetricType::Stateset),
    ]);
    let conversion = types.convert(&[
        series(
            &[("__name__", "temperature"), ("job", "a")],
            &[(f64::from_bits(STALE_NAN), 10)],
        ),
        series(&[("__name__", "build"), ("job", "a")], &[(1.0, 10)]),
        series(&[("__name__", "state"), ("job", "a")], &[(1.0, 10)]),
        series(&[("__name__", "mystery_total"), ("job", "a")], &[(3.0, 10)]),
    ]);
    for name in ["temperature", "build", "state", "mystery_total"] {
        let (points, sum) = number_points(only(&conversion, name));
        assert_eq!(sum, None, "{name} must be a gauge");
        assert_eq!(points.len(), 1);
    }
    let (points, _) = number_points(only(&conversion, "temperature"));
    assert_eq!(bits(&points[0]), STALE_NAN);
    assert_eq!(points[0].flags, DataPointFlags::NoRecordedValueMask as u32);
    let (points, _) = number_points(only(&conversion, "build"));
    assert_eq!(points[0].flags, 0);
    assert_eq!(only(&conversion, "mystery_total").description, "");
}

#[test]
fn suffixes_only_find_families_of_a_fitting_type() {
    let types = types(&[
        ("queue", MetricType::Gauge),
        ("jobs", MetricType::Counter),
        ("latency", MetricType::Histogram),
    ]);
    let conversion = types.convert(&[
        // A gauge family has no `_count` series: this is another metric.
        series(&[("__name__", "queue_count")], &[(1.0, 1)]),
        series(&[("__name__", "jobs_created")], &[(1.5e9, 1)]),
        series(&[("__name__", "latency_created")], &[(1.5e9, 1)]),
    ]);
    let queue = only(&conversion, "queue_count");
    assert_eq!(number_points(queue).1, None);
    assert_eq!(queue.description, "");
    for name in ["jobs_created", "latency_created"] {
        let created = only(&conversion, name);
        assert_eq!(number_points(created).1, None, "{name} holds a time");
        assert!(created.description.ends_with(" help"));
    }
}

#[test]
fn series_of_one_name_share_a_metric_and_targets_make_resources() {
    let conversion = MetricTypes::default().convert(&[
        series(
            &[("__name__", "up"), ("instance", "a:1"), ("job", "node")],
            &[(1.0, 1)],
        ),
        series(
            &[("__name__", "up"), ("instance", "b:1"), ("job", "node")],
            &[(0.0, 1)],
        ),
        series(
            &[
                ("__name__", "up"),
                ("instance", "a:1"),
                ("job", "node"),
                ("zone", "x"),
            ],
            &[(1.0, 2)],
        ),
        series(&[("__name__", "up")], &[(1.0, 3)]),
    ]);
    assert_eq!(conversion.resource_metrics.len(), 3);
    let first = &conversion.resource_metrics[0];
    assert_eq!(first.scope_metrics[0].metrics.len(), 1);
    let (points, _) = number_points(&first.scope_metrics[0].metrics[0]);
    assert_eq!(points.len(), 2, "same target and name: one metric");
    let last = &conversion.resource_metrics[2];
    assert!(last.resource.as_ref().unwrap().attributes.is_empty());
    assert_eq!(conversion.samples, 4);
}

#[test]
fn metadata_is_remembered_and_updated_across_requests() {
    let types = MetricTypes::default();
    let request = [series(&[("__name__", "hits")], &[(1.0, 1)])];
    assert_eq!(
        number_points(only(&types.convert(&request), "hits")).1,
        None
    );
    types.remember(&[MetricMetadata {
        r#type: MetricType::Counter as i32,
        metric_family_name: "hits".into(),
        help: "Hits.".into(),
        unit: "1".into(),
    }]);
    let conversion = types.convert(&request);
    let hits = only(&conversion, "hits");
    assert_eq!(number_points(hits).1, Some(true));
    assert_eq!(
        (hits.description.as_str(), hits.unit.as_str()),
        ("Hits.", "1")
    );
}
