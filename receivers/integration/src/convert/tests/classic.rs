//! Classic histograms and summaries: grouped when exact, number points otherwise.

use super::*;
use cormorant_core::pdata::metrics::{HistogramDataPoint, SummaryDataPoint};
use cormorant_core::prometheus::{BUCKET_LABELS_KEY, QUANTILE_LABELS_KEY};

const LATENCY: &[(&str, &str)] = &[("instance", "web:80"), ("job", "api"), ("path", "/a")];

/// The series of one `latency` histogram with (le, cumulative count) buckets, sum and count,
/// all at `timestamp`.
fn histogram_series(
    buckets: &[(&str, f64)],
    sum: f64,
    count: f64,
    timestamp: i64,
) -> Vec<TimeSeries> {
    fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        LATENCY.iter().chain(extra).copied().collect()
    }
    let mut all: Vec<TimeSeries> = buckets
        .iter()
        .map(|&(le, value)| {
            series(
                &with(&[("__name__", "latency_bucket"), ("le", le)]),
                &[(value, timestamp)],
            )
        })
        .collect();
    all.push(series(
        &with(&[("__name__", "latency_sum")]),
        &[(sum, timestamp)],
    ));
    all.push(series(
        &with(&[("__name__", "latency_count")]),
        &[(count, timestamp)],
    ));
    all
}

fn histogram_points(metric: &Metric) -> &[HistogramDataPoint] {
    match &metric.data {
        Some(metric::Data::Histogram(histogram)) => &histogram.data_points,
        other => panic!("{} is not a histogram: {other:?}", metric.name),
    }
}

fn summary_points(metric: &Metric) -> &[SummaryDataPoint] {
    match &metric.data {
        Some(metric::Data::Summary(summary)) => &summary.data_points,
        other => panic!("{} is not a summary: {other:?}", metric.name),
    }
}

fn histogram_types() -> MetricTypes {
    types(&[("latency", MetricType::Histogram)])
}

/// Every series fell back to number points: `_bucket` and `_count` monotonic sums, `_sum` a
/// non-monotonic sum, with `le` still an attribute.
fn assert_fell_back(conversion: &Conversion, buckets: usize) {
    assert!(named(conversion, "latency").is_empty(), "nothing grouped");
    let (points, monotonic) = number_points(only(conversion, "latency_bucket"));
    assert_eq!((points.len(), monotonic), (buckets, Some(true)));
    assert!(
        string_pairs(&points[0].attributes)
            .iter()
            .any(|(k, _)| k == "le")
    );
    assert_eq!(
        number_points(only(conversion, "latency_sum")).1,
        Some(false)
    );
    assert_eq!(
        number_points(only(conversion, "latency_count")).1,
        Some(true)
    );
}

#[test]
fn exact_classic_histogram_becomes_one_histogram_point() {
    let mut request = histogram_series(&[("+Inf", 4.0), ("0.1", 1.0), ("1", 3.0)], 2.5, 4.0, 1_000);
    for one in &mut request {
        one.samples[0].start_timestamp = 500;
    }
    let conversion = histogram_types().convert(&request);
    assert_eq!(conversion.samples, 5);
    assert!(named(&conversion, "latency_bucket").is_empty());
    let metric = only(&conversion, "latency");
    assert_eq!(metric.description, "latency help");
    assert_eq!(
        metadata_texts(metric, BUCKET_LABELS_KEY).unwrap(),
        ["0.1", "1", "+Inf"]
    );
    let points = histogram_points(metric);
    assert_eq!(points.len(), 1);
    let point = &points[0];
    assert_eq!(point.explicit_bounds, [0.1, 1.0]);
    assert_eq!(point.bucket_counts, [1, 2, 1]);
    assert_eq!((point.count, point.sum), (4, Some(2.5)));
    assert_eq!(point.time_unix_nano, 1_000_000_000);
    assert_eq!(point.start_time_unix_nano, 500_000_000);
    assert_eq!(string_pairs(&point.attributes), pairs(LATENCY));
}

#[test]
fn one_metric_per_bucket_layout_and_one_point_per_timestamp() {
    let mut request = histogram_series(&[("0.5", 1.0), ("+Inf", 2.0)], 1.0, 2.0, 1_000);
    request.extend(histogram_series(
        &[("0.5", 2.0), ("+Inf", 3.0)],
        1.5,
        3.0,
        2_000,
    ));
    // Same bounds written differently: a different layout.
    request.extend(histogram_series(
        &[("0.50", 1.0), ("+Inf", 1.0)],
        0.2,
        1.0,
        3_000,
    ));
    let conversion = histogram_types().convert(&request);
    let metrics = named(&conversion, "latency");
    assert_eq!(metrics.len(), 2);
    assert_eq!(
        metadata_texts(metrics[0], BUCKET_LABELS_KEY).unwrap(),
        ["0.5", "+Inf"]
    );
    assert_eq!(histogram_points(metrics[0]).len(), 2);
    assert_eq!(
        metadata_texts(metrics[1], BUCKET_LABELS_KEY).unwrap(),
        ["0.50", "+Inf"]
    );
    assert_eq!(
        histogram_points(metrics[1])[0].time_unix_nano,
        3_000_000_000
    );
}

#[test]
fn histogram_split_across_two_requests_stays_number_points() {
    let types = histogram_types();
    let mut request = histogram_series(&[("1", 1.0), ("+Inf", 2.0)], 3.0, 2.0, 1_000);
    let second = request.split_off(2);
    let first = types.convert(&request);
    assert!(named(&first, "latency").is_empty());
    let (points, monotonic) = number_points(only(&first, "latency_bucket"));
    assert_eq!((points.len(), monotonic), (2, Some(true)));
    let second = types.convert(&second);
    assert_eq!(number_points(only(&second, "latency_sum")).1, Some(false));
    assert_eq!(number_points(only(&second, "latency_count")).1, Some(true));
    assert_eq!(first.samples + second.samples, 4);
}

#[test]
fn inexact_histograms_fall_back_to_number_points() {
    let cases: Vec<(&str, Vec<TimeSeries>)> = vec![
        (
            "count differs from +Inf",
            histogram_series(&[("1", 1.0), ("+Inf", 2.0)], 1.0, 3.0, 1),
        ),
        (
            "decreasing",
            histogram_series(&[("1", 3.0), ("+Inf", 2.0)], 1.0, 2.0, 1),
        ),
        (
            "fractional",
            histogram_series(&[("1", 0.5), ("+Inf", 2.0)], 1.0, 2.0, 1),
        ),
        (
            "no +Inf",
            histogram_series(&[("1", 1.0), ("2", 2.0)], 1.0, 2.0, 1),
        ),
        (
            "le not a number",
            histogram_series(&[("x", 1.0), ("+Inf", 2.0)], 1.0, 2.0, 1),
        ),
        (
            "duplicate bound",
            histogram_series(&[("1", 1.0), ("1.0", 1.0), ("+Inf", 2.0)], 1.0, 2.0, 1),
        ),
        (
            "beyond 2^53",
            histogram_series(&[("+Inf", 2f64.powi(54))], 1.0, 2f64.powi(54), 1),
        ),
        (
            "negative zero",
            histogram_series(&[("+Inf", -0.0)], 0.0, -0.0, 1),
        ),
        (
            "stale sum",
            histogram_series(&[("+Inf", 2.0)], f64::from_bits(STALE_NAN), 2.0, 1),
        ),
    ];
    for (case, request) in cases {
        let buckets = request.len() - 2;
        let conversion = histogram_types().convert(&request);
        assert!(named(&conversion, "latency").is_empty(), "{case}");
        assert_fell_back(&conversion, buckets);
    }
    let mut missing_sum = histogram_series(&[("+Inf", 2.0)], 1.0, 2.0, 1);
    missing_sum.remove(1);
    let conversion = histogram_types().convert(&missing_sum);
    assert!(named(&conversion, "latency").is_empty());
    assert!(named(&conversion, "latency_sum").is_empty());
}

#[test]
fn stale_markers_fall_back_bit_exact() {
    let stale = f64::from_bits(STALE_NAN);
    let request = histogram_series(&[("1", stale), ("+Inf", stale)], stale, stale, 7);
    let conversion = histogram_types().convert(&request);
    assert_fell_back(&conversion, 2);
    for name in ["latency_bucket", "latency_sum", "latency_count"] {
        for point in number_points(only(&conversion, name)).0 {
            assert_eq!(bits(point), STALE_NAN, "{name}");
        }
    }
}

#[test]
fn different_start_times_or_labels_do_not_group() {
    let mut request = histogram_series(&[("+Inf", 2.0)], 1.0, 2.0, 1);
    request[0].samples[0].start_timestamp = 1;
    assert_fell_back(&histogram_types().convert(&request), 1);

    let mut request = histogram_series(&[("+Inf", 2.0)], 1.0, 2.0, 1);
    request[1].labels.push(Label {
        name: "zone".into(),
        value: "b".into(),
    });
    assert_fell_back(&histogram_types().convert(&request), 1);
}

fn summary_series(quantiles: &[(&str, f64)], sum: f64, count: f64) -> Vec<TimeSeries> {
    let mut all: Vec<TimeSeries> = quantiles
        .iter()
        .map(|&(quantile, value)| {
            series(
                &[("__name__", "rpc"), ("job", "api"), ("quantile", quantile)],
                &[(value, 9_000)],
            )
        })
        .collect();
    all.push(series(
        &[("__name__", "rpc_sum"), ("job", "api")],
        &[(sum, 9_000)],
    ));
    all.push(series(
        &[("__name__", "rpc_count"), ("job", "api")],
        &[(count, 9_000)],
    ));
    all
}

#[test]
fn exact_summary_becomes_one_summary_point() {
    let no_observation = f64::from_bits(0x7ff8_0000_0000_0001);
    let request = summary_series(&[("0.99", no_observation), ("0.5", 0.25)], 12.5, 40.0);
    let conversion = types(&[("rpc", MetricType::Summary)]).convert(&request);
    let metric = only(&conversion, "rpc");
    assert_eq!(
        metadata_texts(metric, QUANTILE_LABELS_KEY).unwrap(),
        ["0.5", "0.99"]
    );
    let point = &summary_points(metric)[0];
    assert_eq!((point.count, point.sum), (40, 12.5));
    assert_eq!(point.quantile_values.len(), 2);
    assert_eq!(point.quantile_values[0].quantile, 0.5);
    assert_eq!(point.quantile_values[0].value, 0.25);
    assert_eq!(
        point.quantile_values[1].value.to_bits(),
        no_observation.to_bits()
    );
    assert_eq!(string_pairs(&point.attributes), pairs(&[("job", "api")]));
    assert!(named(&conversion, "rpc_sum").is_empty());
}

#[test]
fn inexact_summary_falls_back_with_quantiles_as_gauges() {
    let request = summary_series(&[("1.5", 3.0)], 12.5, 40.0);
    let conversion = types(&[("rpc", MetricType::Summary)]).convert(&request);
    let (points, sum) = number_points(only(&conversion, "rpc"));
    assert_eq!(sum, None);
    assert!(string_pairs(&points[0].attributes).contains(&("quantile".into(), "1.5".into())));
    assert_eq!(number_points(only(&conversion, "rpc_sum")).1, Some(false));
    assert_eq!(number_points(only(&conversion, "rpc_count")).1, Some(true));
}
