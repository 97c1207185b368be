//! Native histograms: exponential and custom-bucket points, and the histograms refused.

use super::*;
use crate::convert::{BucketSide, NativeHistogramError};
use crate::remote_write::{BucketSpan, Histogram, SeriesError, histogram, validate};
use cormorant_core::pdata::metrics::{AggregationTemporality, DataPointFlags};

fn span(offset: i32, length: u32) -> BucketSpan {
    BucketSpan { offset, length }
}

fn native_series(histograms: Vec<Histogram>) -> TimeSeries {
    let mut one = series(&[("__name__", "rpc_seconds"), ("job", "api")], &[]);
    one.histograms = histograms;
    one
}

/// Schema 0 (base 2). Positive buckets at Prometheus indexes 0, 1 and 4 — (0.5, 1], (1, 2] and
/// (8, 16] — with counts 2, 3, 1 sent as deltas 2, +1, -2; one negative bucket at index -1,
/// [-0.5, -0.25), with count 5.
fn integer_histogram() -> Histogram {
    Histogram {
        count: Some(histogram::Count::Int(14)),
        sum: 10.5,
        schema: 0,
        zero_threshold: 1e-128,
        zero_count: Some(histogram::ZeroCount::Int(3)),
        negative_spans: vec![span(-1, 1)],
        negative_deltas: vec![5],
        positive_spans: vec![span(0, 2), span(2, 1)],
        positive_deltas: vec![2, 1, -2],
        timestamp: 1_000,
        start_timestamp: 400,
        ..Default::default()
    }
}

#[test]
fn integer_histogram_becomes_exponential_with_shifted_indexes() {
    let one = native_series(vec![integer_histogram()]);
    assert_eq!(validate(&one), Ok(()));
    let conversion = MetricTypes::default().convert(&[one]);
    assert_eq!((conversion.histograms, conversion.samples), (1, 0));
    let metric = only(&conversion, "rpc_seconds");
    let Some(metric::Data::ExponentialHistogram(exponential)) = &metric.data else {
        panic!("expected an exponential histogram: {metric:?}");
    };
    assert_eq!(
        exponential.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let point = &exponential.data_points[0];
    assert_eq!(point.scale, 0);
    assert_eq!(
        (point.count, point.sum, point.zero_count),
        (14, Some(10.5), 3)
    );
    assert_eq!(point.zero_threshold, 1e-128);
    // OTLP bucket -1 at scale 0 is (2^-1, 2^0] = (0.5, 1]: Prometheus bucket 0.
    let positive = point.positive.as_ref().unwrap();
    assert_eq!(positive.offset, -1);
    assert_eq!(positive.bucket_counts, [2, 3, 0, 0, 1]);
    let negative = point.negative.as_ref().unwrap();
    assert_eq!(negative.offset, -2);
    assert_eq!(negative.bucket_counts, [5]);
    assert_eq!(point.time_unix_nano, 1_000_000_000);
    assert_eq!(point.start_time_unix_nano, 400_000_000);
    assert_eq!(string_pairs(&point.attributes), pairs(&[("job", "api")]));
}

#[test]
fn float_histogram_with_whole_counts_becomes_exponential() {
    let float = Histogram {
        count: Some(histogram::Count::Float(6.0)),
        sum: f64::from_bits(STALE_NAN),
        schema: -4,
        zero_count: Some(histogram::ZeroCount::Float(1.0)),
        positive_spans: vec![span(2, 2)],
        positive_counts: vec![4.0, 1.0],
        timestamp: 5,
        ..Default::default()
    };
    let one = native_series(vec![float]);
    assert_eq!(validate(&one), Ok(()));
    let conversion = MetricTypes::default().convert(&[one]);
    let Some(metric::Data::ExponentialHistogram(exponential)) =
        &only(&conversion, "rpc_seconds").data
    else {
        panic!("expected an exponential histogram");
    };
    let point = &exponential.data_points[0];
    assert_eq!((point.scale, point.count, point.zero_count), (-4, 6, 1));
    assert_eq!(point.sum.unwrap().to_bits(), STALE_NAN);
    assert_eq!(point.flags, DataPointFlags::NoRecordedValueMask as u32);
    let positive = point.positive.as_ref().unwrap();
    assert_eq!(
        (positive.offset, positive.bucket_counts.as_slice()),
        (1, &[4, 1][..])
    );
    assert_eq!(point.negative, None);
}

#[test]
fn custom_buckets_become_an_explicit_bound_histogram() {
    let custom = Histogram {
        count: Some(histogram::Count::Int(5)),
        sum: 7.25,
        schema: -53,
        positive_spans: vec![span(0, 2), span(1, 1)],
        positive_deltas: vec![1, 2, -2],
        custom_values: vec![0.1, 1.0, 10.0],
        timestamp: 2_000,
        ..Default::default()
    };
    let one = native_series(vec![custom]);
    assert_eq!(validate(&one), Ok(()));
    let conversion = MetricTypes::default().convert(&[one]);
    let metric = only(&conversion, "rpc_seconds");
    assert!(
        metric.metadata.is_empty(),
        "no label texts for native bounds"
    );
    let Some(metric::Data::Histogram(explicit)) = &metric.data else {
        panic!("expected a histogram: {metric:?}");
    };
    let point = &explicit.data_points[0];
    assert_eq!(point.explicit_bounds, [0.1, 1.0, 10.0]);
    assert_eq!(point.bucket_counts, [1, 3, 0, 1]);
    assert_eq!((point.count, point.sum), (5, Some(7.25)));
    assert_eq!(conversion.histograms, 1);
}

fn refusal(histogram: Histogram) -> NativeHistogramError {
    match validate(&native_series(vec![histogram])) {
        Err(SeriesError::NativeHistogram { series, reason }) => {
            assert_eq!(series, "rpc_seconds");
            reason
        }
        other => panic!("expected a native histogram refusal, got {other:?}"),
    }
}

#[test]
fn histograms_that_cannot_convert_exactly_are_refused() {
    let fractional = Histogram {
        count: Some(histogram::Count::Float(2.5)),
        positive_spans: vec![span(0, 1)],
        positive_counts: vec![2.5],
        ..Default::default()
    };
    assert_eq!(
        refusal(fractional),
        NativeHistogramError::InexactCount("2.5".into())
    );
    let message = validate(&native_series(vec![Histogram {
        count: Some(histogram::Count::Float(2.5)),
        ..Default::default()
    }]))
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("rpc_seconds") && message.contains("2.5"),
        "{message}"
    );

    let schema = Histogram {
        schema: 9,
        ..integer_histogram()
    };
    assert_eq!(refusal(schema), NativeHistogramError::UnsupportedSchema(9));
    let short = Histogram {
        positive_deltas: vec![2, 1],
        ..integer_histogram()
    };
    assert_eq!(
        refusal(short),
        NativeHistogramError::SpanMismatch {
            side: BucketSide::Positive,
            covered: 3,
            sent: 2
        }
    );
    let negative = Histogram {
        positive_deltas: vec![2, -3, 0],
        ..integer_histogram()
    };
    assert_eq!(
        refusal(negative),
        NativeHistogramError::NegativeBucket {
            side: BucketSide::Positive,
            index: 1
        }
    );
    let wide = Histogram {
        schema: 8,
        positive_spans: vec![span(0, 2), span(1100, 1)],
        ..integer_histogram()
    };
    assert_eq!(
        refusal(wide),
        NativeHistogramError::TooWide {
            side: BucketSide::Positive,
            span: 1103,
            limit: 1024
        }
    );
    // Many populated buckets justify a wider span.
    let populated = Histogram {
        schema: 8,
        count: Some(histogram::Count::Int(40)),
        positive_spans: vec![span(0, 39), span(1100, 1)],
        positive_deltas: [vec![1], vec![0; 39]].concat(),
        ..integer_histogram()
    };
    assert_eq!(validate(&native_series(vec![populated])), Ok(()));
    let far = Histogram {
        schema: -4,
        positive_spans: vec![span(100, 3)],
        ..integer_histogram()
    };
    assert!(matches!(
        refusal(far),
        NativeHistogramError::IndexOutOfRange { .. }
    ));
    let mixed = Histogram {
        positive_counts: vec![1.0],
        ..integer_histogram()
    };
    assert_eq!(refusal(mixed), NativeHistogramError::MixedCounts);
    let unsorted_bounds = Histogram {
        schema: -53,
        custom_values: vec![1.0, 0.5],
        ..Default::default()
    };
    assert_eq!(refusal(unsorted_bounds), NativeHistogramError::CustomBounds);
    let beyond_bounds = Histogram {
        schema: -53,
        custom_values: vec![1.0],
        positive_spans: vec![span(2, 1)],
        positive_deltas: vec![1],
        ..Default::default()
    };
    assert!(matches!(
        refusal(beyond_bounds),
        NativeHistogramError::IndexOutOfRange { index: 2, .. }
    ));
}

#[test]
fn negative_histogram_timestamps_are_refused() {
    let one = native_series(vec![Histogram {
        timestamp: -5,
        ..integer_histogram()
    }]);
    assert_eq!(validate(&one), Err(SeriesError::NegativeTimestamp(-5)));
}
