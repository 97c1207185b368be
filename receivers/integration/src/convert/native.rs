//! Native histograms: exponential schemas become OTLP exponential histogram points, custom
//! buckets (schema -53) explicit-bound histogram points. Both formats count observations per
//! bucket, so the conversion is exact as long as every count is a whole number; a histogram for
//! which that does not hold is refused (see [`check`]) rather than approximated.

use super::classic::exact_count;
use super::output::{nanos, stale_flags};
use crate::remote_write::histogram::{Count, ZeroCount};
use crate::remote_write::{BucketSpan, Histogram};
use cormorant_core::pdata::common::KeyValue;
use cormorant_core::pdata::metrics::exponential_histogram_data_point::Buckets;
use cormorant_core::pdata::metrics::{ExponentialHistogramDataPoint, HistogramDataPoint};

/// The schema Prometheus uses for histograms with custom bucket bounds.
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// The exponential schemas Prometheus defines (bucket growth factors 2^16 down to 2^(1/256)).
const EXPONENTIAL_SCHEMAS: std::ops::RangeInclusive<i32> = -4..=8;

/// How many bucket indexes one side of a converted histogram may span at least. OTLP lists every
/// bucket between the first and the last, empty ones included, while Prometheus skips an empty
/// run for a few bytes; without a limit a request of a few bytes per histogram could ask for
/// megabytes. 1024 buckets cover a value range of 2^128 at schema 3 (client_golang's usual bucket
/// factor 1.1) and 2^32 at schema 5.
pub const MIN_BUCKET_SPAN_LIMIT: i64 = 1024;

/// Beyond [`MIN_BUCKET_SPAN_LIMIT`], a side may span this many indexes per populated bucket, so
/// memory stays proportional to what was sent.
pub const BUCKET_SPAN_PER_BUCKET: i64 = 32;

/// Which bucket list of a native histogram a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSide {
    Positive,
    Negative,
}

impl std::fmt::Display for BucketSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BucketSide::Positive => "positive",
            BucketSide::Negative => "negative",
        })
    }
}

/// Why a native histogram cannot be converted exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NativeHistogramError {
    #[error("schema {0} is neither exponential (-4 to 8) nor custom buckets (-53)")]
    UnsupportedSchema(i32),
    #[error("count {0} is not a whole number from 0 to 2^53")]
    InexactCount(String),
    #[error("integer and float counts are mixed in one histogram")]
    MixedCounts,
    #[error("{side} spans cover {covered} buckets but {sent} bucket counts were sent")]
    SpanMismatch {
        side: BucketSide,
        covered: u64,
        sent: usize,
    },
    #[error("{side} span {span} has a negative offset")]
    NegativeSpanOffset { side: BucketSide, span: usize },
    #[error("{side} bucket {index} has a negative count")]
    NegativeBucket { side: BucketSide, index: i64 },
    #[error("{side} bucket index {index} is outside the buckets of schema {schema}")]
    IndexOutOfRange {
        side: BucketSide,
        index: i64,
        schema: i32,
    },
    #[error(
        "{side} buckets span {span} bucket indexes, more than the {limit} allowed for their number"
    )]
    TooWide {
        side: BucketSide,
        span: i64,
        limit: i64,
    },
    #[error("custom bucket bounds are not finite and strictly increasing")]
    CustomBounds,
    #[error("a custom-bucket histogram has negative or zero buckets")]
    CustomBucketsOutOfPlace,
}

/// Checks that a native histogram converts exactly (schema, whole counts, spans matching the
/// counts, bucket range), without building the point.
pub fn check(histogram: &Histogram) -> Result<(), NativeHistogramError> {
    decode(histogram).map(|_| ())
}

/// A converted native histogram.
pub(super) enum NativePoint {
    Exponential(ExponentialHistogramDataPoint),
    Custom(HistogramDataPoint),
}

/// Converts one native histogram sample of a series with the given attributes.
pub(super) fn point(
    histogram: &Histogram,
    attributes: Vec<KeyValue>,
) -> Result<NativePoint, NativeHistogramError> {
    let decoded = decode(histogram)?;
    let start_time_unix_nano = nanos(histogram.start_timestamp);
    let time_unix_nano = nanos(histogram.timestamp);
    if histogram.schema == CUSTOM_BUCKETS_SCHEMA {
        let mut bucket_counts = vec![0u64; histogram.custom_values.len() + 1];
        for &(index, count) in &decoded.positive {
            // `decode` keeps custom bucket indexes within 0..=custom_values.len().
            bucket_counts[index as usize] = count;
        }
        return Ok(NativePoint::Custom(HistogramDataPoint {
            attributes,
            start_time_unix_nano,
            time_unix_nano,
            count: decoded.count,
            sum: Some(histogram.sum),
            bucket_counts,
            explicit_bounds: histogram.custom_values.clone(),
            flags: stale_flags(histogram.sum),
            ..Default::default()
        }));
    }
    Ok(NativePoint::Exponential(ExponentialHistogramDataPoint {
        attributes,
        start_time_unix_nano,
        time_unix_nano,
        count: decoded.count,
        sum: Some(histogram.sum),
        scale: histogram.schema,
        zero_count: decoded.zero_count,
        positive: dense(&decoded.positive),
        negative: dense(&decoded.negative),
        zero_threshold: histogram.zero_threshold,
        flags: stale_flags(histogram.sum),
        ..Default::default()
    }))
}

/// OTLP buckets from sparse (Prometheus index, count) pairs. Prometheus' bucket `i` holds
/// (base^(i-1), base^i] and OTLP's bucket `i` holds (base^i, base^(i+1)], so the same bucket has
/// an OTLP index one lower.
fn dense(sparse: &[(i64, u64)]) -> Option<Buckets> {
    let (&(first, _), &(last, _)) = (sparse.first()?, sparse.last()?);
    let mut bucket_counts = vec![0u64; (last - first + 1) as usize];
    for &(index, count) in sparse {
        bucket_counts[(index - first) as usize] = count;
    }
    Some(Buckets {
        // `decode` keeps indexes within a few hundred thousand of zero.
        offset: (first - 1) as i32,
        bucket_counts,
    })
}

/// A native histogram's counts, checked and made absolute.
struct Decoded {
    count: u64,
    zero_count: u64,
    /// (Prometheus bucket index, count), ascending by index.
    positive: Vec<(i64, u64)>,
    negative: Vec<(i64, u64)>,
}

/// The counts of one bucket list as sent: deltas for integer histograms, absolute for float ones.
#[derive(Clone, Copy)]
enum Counts<'a> {
    Deltas(&'a [i64]),
    Absolute(&'a [f64]),
}

impl Counts<'_> {
    fn len(self) -> usize {
        match self {
            Counts::Deltas(deltas) => deltas.len(),
            Counts::Absolute(counts) => counts.len(),
        }
    }
}

fn decode(histogram: &Histogram) -> Result<Decoded, NativeHistogramError> {
    let custom = histogram.schema == CUSTOM_BUCKETS_SCHEMA;
    if !custom && !EXPONENTIAL_SCHEMAS.contains(&histogram.schema) {
        return Err(NativeHistogramError::UnsupportedSchema(histogram.schema));
    }
    let (is_float, count, zero_count) = match (histogram.count, histogram.zero_count) {
        (Some(Count::Float(count)), None) => (true, whole(count)?, 0),
        (Some(Count::Float(count)), Some(ZeroCount::Float(zero))) => {
            (true, whole(count)?, whole(zero)?)
        }
        (Some(Count::Int(count)), None) => (false, count, 0),
        (Some(Count::Int(count)), Some(ZeroCount::Int(zero))) => (false, count, zero),
        (None, None) => (false, 0, 0),
        (None, Some(ZeroCount::Int(zero))) => (false, 0, zero),
        _ => return Err(NativeHistogramError::MixedCounts),
    };
    let mixed = if is_float {
        !histogram.positive_deltas.is_empty() || !histogram.negative_deltas.is_empty()
    } else {
        !histogram.positive_counts.is_empty() || !histogram.negative_counts.is_empty()
    };
    if mixed {
        return Err(NativeHistogramError::MixedCounts);
    }
    let (positive_counts, negative_counts) = if is_float {
        (
            Counts::Absolute(&histogram.positive_counts),
            Counts::Absolute(&histogram.negative_counts),
        )
    } else {
        (
            Counts::Deltas(&histogram.positive_deltas),
            Counts::Deltas(&histogram.negative_deltas),
        )
    };
    let positive = side(
        &histogram.positive_spans,
        positive_counts,
        BucketSide::Positive,
    )?;
    let negative = side(
        &histogram.negative_spans,
        negative_counts,
        BucketSide::Negative,
    )?;
    if custom {
        check_custom(histogram, &positive, &negative, zero_count)?;
    } else {
        check_exponential(histogram.schema, &positive, BucketSide::Positive)?;
        check_exponential(histogram.schema, &negative, BucketSide::Negative)?;
    }
    Ok(Decoded {
        count,
        zero_count,
        positive,
        negative,
    })
}

fn whole(value: f64) -> Result<u64, NativeHistogramError> {
    exact_count(value).ok_or_else(|| NativeHistogramError::InexactCount(value.to_string()))
}

/// Expands spans into ascending (index, absolute count) pairs. The first span's offset is the
/// first index; every later offset is the gap after the previous span.
fn side(
    spans: &[BucketSpan],
    counts: Counts<'_>,
    side: BucketSide,
) -> Result<Vec<(i64, u64)>, NativeHistogramError> {
    let covered: u64 = spans.iter().map(|span| u64::from(span.length)).sum();
    if covered != counts.len() as u64 {
        return Err(NativeHistogramError::SpanMismatch {
            side,
            covered,
            sent: counts.len(),
        });
    }
    let mut buckets = Vec::with_capacity(counts.len());
    let mut index = 0i64;
    let mut running = 0i64;
    for (span_number, span) in spans.iter().enumerate() {
        if span_number > 0 && span.offset < 0 {
            return Err(NativeHistogramError::NegativeSpanOffset {
                side,
                span: span_number,
            });
        }
        index += i64::from(span.offset);
        for _ in 0..span.length {
            let position = buckets.len();
            let count = match counts {
                Counts::Deltas(deltas) => {
                    running = running
                        .checked_add(deltas[position])
                        .filter(|count| *count >= 0)
                        .ok_or(NativeHistogramError::NegativeBucket { side, index })?;
                    running as u64
                }
                Counts::Absolute(absolute) => whole(absolute[position])?,
            };
            buckets.push((index, count));
            index += 1;
        }
    }
    Ok(buckets)
}

/// Exponential bucket indexes must lie where float64 values can fall for the schema (about
/// ±1100·2^schema), and one side must not span more indexes than its populated buckets justify
/// ([`MIN_BUCKET_SPAN_LIMIT`], [`BUCKET_SPAN_PER_BUCKET`]).
fn check_exponential(
    schema: i32,
    buckets: &[(i64, u64)],
    side: BucketSide,
) -> Result<(), NativeHistogramError> {
    let reach = if schema >= 0 {
        1100i64 << schema
    } else {
        (1100i64 >> -schema) + 1
    };
    let (Some(&(first, _)), Some(&(last, _))) = (buckets.first(), buckets.last()) else {
        return Ok(());
    };
    for index in [first, last] {
        if index.abs() > reach {
            return Err(NativeHistogramError::IndexOutOfRange {
                side,
                index,
                schema,
            });
        }
    }
    let span = last - first + 1;
    let limit = MIN_BUCKET_SPAN_LIMIT.max(BUCKET_SPAN_PER_BUCKET * buckets.len() as i64);
    if span > limit {
        return Err(NativeHistogramError::TooWide { side, span, limit });
    }
    Ok(())
}

/// Custom buckets: bounds finite and strictly increasing; bucket `i` is (bound[i-1], bound[i]],
/// the one after the last bound is +Inf; there are no negative or zero buckets.
fn check_custom(
    histogram: &Histogram,
    positive: &[(i64, u64)],
    negative: &[(i64, u64)],
    zero_count: u64,
) -> Result<(), NativeHistogramError> {
    let bounds = &histogram.custom_values;
    if !bounds.iter().all(|bound| bound.is_finite())
        || !bounds.windows(2).all(|pair| pair[0] < pair[1])
    {
        return Err(NativeHistogramError::CustomBounds);
    }
    if !negative.is_empty() || zero_count != 0 {
        return Err(NativeHistogramError::CustomBucketsOutOfPlace);
    }
    let last = bounds.len() as i64;
    match positive
        .iter()
        .find(|(index, _)| !(0..=last).contains(index))
    {
        Some(&(index, _)) => Err(NativeHistogramError::IndexOutOfRange {
            side: BucketSide::Positive,
            index,
            schema: CUSTOM_BUCKETS_SCHEMA,
        }),
        None => Ok(()),
    }
}
