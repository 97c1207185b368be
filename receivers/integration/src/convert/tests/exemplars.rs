//! Exemplars: ids from labels, and the point each one is attached to.

use super::*;
use crate::remote_write::{Exemplar, Histogram, histogram};
use cormorant_core::pdata::metrics::exemplar;

fn sent(labels_list: &[(&str, &str)], value: f64, timestamp: i64) -> Exemplar {
    Exemplar {
        labels: labels(labels_list),
        value,
        timestamp,
    }
}

#[test]
fn trace_and_span_ids_become_exemplar_ids_on_the_point_with_the_same_time() {
    let mut counted = series(&[("__name__", "hits")], &[(1.0, 1_000), (2.0, 2_000)]);
    counted.exemplars = vec![sent(
        &[
            ("span_id", "00f067aa0ba902b7"),
            ("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736"),
            ("user", "alice"),
        ],
        0.25,
        1_000,
    )];
    let conversion = MetricTypes::default().convert(&[counted]);
    assert_eq!(conversion.exemplars, 1);
    let (points, _) = number_points(only(&conversion, "hits"));
    assert!(points[1].exemplars.is_empty());
    let exemplar = &points[0].exemplars[0];
    assert_eq!(
        exemplar.trace_id,
        [
            0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
            0x47, 0x36
        ]
    );
    assert_eq!(
        exemplar.span_id,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(
        string_pairs(&exemplar.filtered_attributes),
        pairs(&[("user", "alice")])
    );
    assert_eq!(exemplar.value, Some(exemplar::Value::AsDouble(0.25)));
    assert_eq!(exemplar.time_unix_nano, 1_000_000_000);
}

#[test]
fn exemplar_without_a_point_at_its_time_goes_to_the_latest_point() {
    let mut counted = series(&[("__name__", "hits")], &[(2.0, 2_000), (1.0, 1_000)]);
    counted.exemplars = vec![sent(&[("trace_id", "not-hex")], 3.0, 1_500)];
    let conversion = MetricTypes::default().convert(&[counted]);
    let (points, _) = number_points(only(&conversion, "hits"));
    assert!(points[1].exemplars.is_empty());
    let exemplar = &points[0].exemplars[0];
    assert!(exemplar.trace_id.is_empty());
    assert_eq!(
        string_pairs(&exemplar.filtered_attributes),
        pairs(&[("trace_id", "not-hex")])
    );
}

#[test]
fn bucket_exemplars_go_to_the_grouped_histogram_point() {
    let types = types(&[("latency", MetricType::Histogram)]);
    let mut bucket = series(
        &[("__name__", "latency_bucket"), ("le", "+Inf")],
        &[(2.0, 10)],
    );
    bucket.exemplars = vec![sent(
        &[("trace_id", "0af7651916cd43dd8448eb211c80319c")],
        0.3,
        10,
    )];
    let conversion = types.convert(&[
        bucket,
        series(&[("__name__", "latency_sum")], &[(0.5, 10)]),
        series(&[("__name__", "latency_count")], &[(2.0, 10)]),
    ]);
    let Some(metric::Data::Histogram(grouped)) = &only(&conversion, "latency").data else {
        panic!("expected a grouped histogram");
    };
    assert_eq!(grouped.data_points[0].exemplars.len(), 1);
    assert_eq!(grouped.data_points[0].exemplars[0].trace_id.len(), 16);
    assert_eq!(conversion.exemplars, 1);
}

#[test]
fn native_histogram_exemplars_attach_and_exemplars_without_points_are_not_counted() {
    let mut native = series(&[("__name__", "rpc")], &[]);
    native.histograms = vec![Histogram {
        count: Some(histogram::Count::Int(1)),
        positive_spans: vec![crate::remote_write::BucketSpan {
            offset: 0,
            length: 1,
        }],
        positive_deltas: vec![1],
        timestamp: 50,
        ..Default::default()
    }];
    native.exemplars = vec![sent(&[], 0.7, 50)];
    let mut empty = series(&[("__name__", "nothing")], &[]);
    empty.exemplars = vec![sent(&[], 1.0, 1)];
    let conversion = MetricTypes::default().convert(&[native, empty]);
    let Some(metric::Data::ExponentialHistogram(exponential)) = &only(&conversion, "rpc").data
    else {
        panic!("expected an exponential histogram");
    };
    assert_eq!(exponential.data_points[0].exemplars.len(), 1);
    assert_eq!(
        conversion.exemplars, 1,
        "an exemplar without any point is not counted"
    );
}
