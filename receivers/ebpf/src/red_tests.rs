use cormorant_core::pdata::common::{AnyValue, any_value::Value};
use cormorant_core::pdata::metrics::metric::Data;

use super::*;

const MS: u64 = 1_000_000;

fn key(pid: u32, endpoint: &str, status_class: &'static str, kind: RedKind) -> RedKey {
    RedKey {
        pid,
        protocol: "http",
        endpoint: endpoint.to_owned(),
        status_class,
        kind,
    }
}

fn resource_of(pid: u32) -> Vec<KeyValue> {
    vec![KeyValue {
        key: "process.pid".to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(Value::IntValue(i64::from(pid))),
        }),
    }]
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> &'a str {
    let value = attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref());
    match value {
        Some(Value::StringValue(text)) => text,
        other => panic!("{key}: {other:?}"),
    }
}

/// The metric `name` of the process `pid` in a collect's output.
fn metric<'a>(collected: &'a [ResourceMetrics], pid: u32, name: &str) -> &'a Metric {
    let process = collected
        .iter()
        .find(|rm| rm.resource.as_ref().unwrap().attributes == resource_of(pid))
        .unwrap_or_else(|| panic!("no resource for pid {pid}"));
    process.scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn sum_points(metric: &Metric) -> &[NumberDataPoint] {
    let Some(Data::Sum(sum)) = &metric.data else {
        panic!("{} is not a sum", metric.name)
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    &sum.data_points
}

fn histogram_points(metric: &Metric) -> &[HistogramDataPoint] {
    let Some(Data::Histogram(histogram)) = &metric.data else {
        panic!("{} is not a histogram", metric.name)
    };
    assert_eq!(
        histogram.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    &histogram.data_points
}

/// The integer value of the data point with the given endpoint.
fn int_at(points: &[NumberDataPoint], endpoint: &str) -> i64 {
    let point = points
        .iter()
        .find(|p| attribute(&p.attributes, "cormorant.endpoint") == endpoint)
        .unwrap_or_else(|| panic!("no point for {endpoint}"));
    match point.value {
        Some(number_data_point::Value::AsInt(value)) => value,
        other => panic!("{other:?}"),
    }
}

#[test]
fn counts_requests_and_errors_per_process_and_series() {
    let mut red = RedMetrics::new(DEFAULT_DURATION_BOUNDS.to_vec());
    for _ in 0..3 {
        red.record(key(10, "/api/v1", "2xx", RedKind::Server), 2 * MS, false);
    }
    red.record(key(10, "/api/v1", "5xx", RedKind::Server), 3 * MS, true);
    red.record(key(10, "/api/v1", "5xx", RedKind::Server), 4 * MS, true);
    red.record(key(20, "/health", "2xx", RedKind::Client), MS, false);

    let collected = red.collect(1_000, 2_000, resource_of);
    assert_eq!(collected.len(), 2, "one ResourceMetrics per process");
    let scope = collected[0].scope_metrics[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, SCOPE_NAME);
    let names: Vec<&str> = collected[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, [REQUESTS_METRIC, ERRORS_METRIC, DURATION_METRIC]);

    let requests = sum_points(metric(&collected, 10, REQUESTS_METRIC));
    assert_eq!(requests.len(), 2);
    let by_class = |points: &[NumberDataPoint], class: &str| {
        points
            .iter()
            .find(|p| attribute(&p.attributes, "cormorant.status_class") == class)
            .map(|p| p.value)
            .unwrap()
    };
    assert_eq!(
        by_class(requests, "2xx"),
        Some(number_data_point::Value::AsInt(3))
    );
    assert_eq!(
        by_class(requests, "5xx"),
        Some(number_data_point::Value::AsInt(2))
    );
    let errors = sum_points(metric(&collected, 10, ERRORS_METRIC));
    assert_eq!(
        by_class(errors, "2xx"),
        Some(number_data_point::Value::AsInt(0))
    );
    assert_eq!(
        by_class(errors, "5xx"),
        Some(number_data_point::Value::AsInt(2))
    );

    let client = &sum_points(metric(&collected, 20, REQUESTS_METRIC))[0];
    assert_eq!(
        attribute(&client.attributes, "cormorant.l7.protocol"),
        "http"
    );
    assert_eq!(
        attribute(&client.attributes, "cormorant.endpoint"),
        "/health"
    );
    assert_eq!(attribute(&client.attributes, "span.kind"), "client");
    assert_eq!(client.start_time_unix_nano, 1_000);
    assert_eq!(client.time_unix_nano, 2_000);
}

#[test]
fn histogram_buckets_are_upper_inclusive() {
    let mut red = RedMetrics::new(DEFAULT_DURATION_BOUNDS.to_vec());
    let series = key(1, "GET", "ok", RedKind::Client);
    for duration_ns in [
        0,              // bucket 0: (-inf, 0.0005]
        500_000,        // exactly 0.0005 s: still bucket 0
        500_001,        // bucket 1: (0.0005, 0.001]
        1_000_000,      // exactly 0.001 s: bucket 1
        2_500_000_000,  // exactly 2.5 s: bucket 11
        10_000_000_000, // exactly 10 s: bucket 13, the last bounded one
        10_000_000_001, // above every bound: bucket 14
    ] {
        red.record(series.clone(), duration_ns, false);
    }
    let collected = red.collect(0, 1, resource_of);
    let point = &histogram_points(metric(&collected, 1, DURATION_METRIC))[0];
    assert_eq!(point.explicit_bounds, DEFAULT_DURATION_BOUNDS);
    let mut expected = vec![0u64; DEFAULT_DURATION_BOUNDS.len() + 1];
    expected[0] = 2;
    expected[1] = 2;
    expected[11] = 1;
    expected[13] = 1;
    expected[14] = 1;
    assert_eq!(point.bucket_counts, expected);
    assert_eq!(point.count, 7);
    assert_eq!(point.min, Some(0.0));
    assert_eq!(point.max, Some(10.000000001));
    let sum = point.sum.unwrap();
    assert!((sum - 22.502000002).abs() < 1e-9, "{sum}");
}

#[test]
fn metrics_are_cumulative_and_keep_their_start_time() {
    let mut red = RedMetrics::new(DEFAULT_DURATION_BOUNDS.to_vec());
    red.record(key(5, "/a", "2xx", RedKind::Server), 20 * MS, false);
    let first = red.collect(100, 200, resource_of);
    assert_eq!(
        int_at(sum_points(metric(&first, 5, REQUESTS_METRIC)), "/a"),
        1
    );

    red.record(key(5, "/a", "2xx", RedKind::Server), 40 * MS, false);
    red.record(key(5, "/b", "2xx", RedKind::Server), 40 * MS, false);
    let second = red.collect(200, 300, resource_of);
    let requests = sum_points(metric(&second, 5, REQUESTS_METRIC));
    assert_eq!(int_at(requests, "/a"), 2);
    assert_eq!(int_at(requests, "/b"), 1);
    let start_of = |endpoint: &str| {
        requests
            .iter()
            .find(|p| attribute(&p.attributes, "cormorant.endpoint") == endpoint)
            .unwrap()
            .start_time_unix_nano
    };
    assert_eq!(
        start_of("/a"),
        100,
        "start time of the interval it appeared in"
    );
    assert_eq!(start_of("/b"), 200);

    let durations = histogram_points(metric(&second, 5, DURATION_METRIC));
    let a = durations
        .iter()
        .find(|p| attribute(&p.attributes, "cormorant.endpoint") == "/a")
        .unwrap();
    assert_eq!(a.count, 2);
    assert_eq!(a.min, Some(0.02));
    assert_eq!(a.max, Some(0.04));
    assert_eq!(a.time_unix_nano, 300);

    let quiet = red.collect(300, 400, resource_of);
    assert_eq!(
        int_at(sum_points(metric(&quiet, 5, REQUESTS_METRIC)), "/a"),
        2,
        "an idle series is still reported with its total"
    );
}

#[test]
fn series_beyond_the_cap_fold_into_the_overflow_series() {
    let mut red = RedMetrics::with_max_series(DEFAULT_DURATION_BOUNDS.to_vec(), 2);
    red.record(key(1, "/one", "2xx", RedKind::Server), MS, false);
    red.record(key(1, "/two", "2xx", RedKind::Server), MS, false);
    red.record(key(1, "/three", "2xx", RedKind::Server), MS, false);
    red.record(key(1, "/four", "5xx", RedKind::Server), MS, true);
    red.record(key(1, "/five", "5xx", RedKind::Server), MS, true);
    // Existing series keep counting.
    red.record(key(1, "/one", "2xx", RedKind::Server), MS, false);
    assert_eq!(red.overflowed(), 3);
    assert_eq!(red.series_count(), 4, "/one, /two, other 2xx, other 5xx");

    let collected = red.collect(0, 1, resource_of);
    let points = sum_points(metric(&collected, 1, REQUESTS_METRIC));
    assert_eq!(int_at(points, "/one"), 2);
    assert_eq!(int_at(points, "/two"), 1);
    let total: i64 = points
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(value)) => value,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 6, "no request is lost to the cap");
    let errors = sum_points(metric(&collected, 1, ERRORS_METRIC));
    let other_errors: i64 = errors
        .iter()
        .filter(|p| attribute(&p.attributes, "cormorant.endpoint") == OVERFLOW_ENDPOINT)
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(value)) => value,
            _ => 0,
        })
        .sum();
    assert_eq!(other_errors, 2);
}

#[test]
fn a_forgotten_process_is_exported_once_more_then_dropped() {
    let mut red = RedMetrics::with_max_series(DEFAULT_DURATION_BOUNDS.to_vec(), 1);
    red.record(key(7, "/gone", "2xx", RedKind::Server), MS, false);
    red.forget_process(7);
    let last = red.collect(0, 1, resource_of);
    assert_eq!(
        int_at(sum_points(metric(&last, 7, REQUESTS_METRIC)), "/gone"),
        1
    );
    assert!(red.collect(1, 2, resource_of).is_empty());
    assert_eq!(red.series_count(), 0);

    // The freed slot is available again: no overflow.
    red.record(key(8, "/new", "2xx", RedKind::Server), MS, false);
    assert_eq!(red.overflowed(), 0);
    let collected = red.collect(2, 3, resource_of);
    assert_eq!(
        int_at(sum_points(metric(&collected, 8, REQUESTS_METRIC)), "/new"),
        1
    );
}

#[test]
fn bounds_are_sanitized_and_nothing_recorded_means_nothing_collected() {
    let mut red = RedMetrics::new(vec![1.0, f64::NAN, 0.5, 1.0, f64::INFINITY]);
    assert!(red.collect(0, 1, resource_of).is_empty());
    red.record(key(3, "/", "2xx", RedKind::Server), 750 * MS, false);
    let collected = red.collect(0, 1, resource_of);
    let point = &histogram_points(metric(&collected, 3, DURATION_METRIC))[0];
    assert_eq!(point.explicit_bounds, [0.5, 1.0]);
    assert_eq!(point.bucket_counts, [0, 1, 0]);
}
