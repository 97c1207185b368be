use super::fixtures::{kv, text};
use super::reader::{Map, Reader, map_of};
use crate::rows::{EncodedTable, STALE_NAN_BITS, Table, encode};
use cormorant_core::pdata::Payload;
use cormorant_core::pdata::common::any_value::Value;
use cormorant_core::pdata::common::{AnyValue, ArrayValue, InstrumentationScope, KeyValue};
use cormorant_core::pdata::metrics::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    metric::Data, number_data_point, summary_data_point::ValueAtQuantile,
};
use cormorant_core::prometheus::{BUCKET_LABELS_KEY, QUANTILE_LABELS_KEY, SCOPE_NAME};

/// 2023-11-14T22:13:20.123Z, a whole millisecond as the convention has it.
const MILLIS: i64 = 1_700_000_000_123;
const NANOS: u64 = MILLIS as u64 * 1_000_000;

/// One sample as stored: `MetricName, Labels, Timestamp (ms), Value bits`.
type Sample = (String, Map, i64, u64);

fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
    (name.to_owned(), map_of(labels), MILLIS, value.to_bits())
}

fn read_samples(table: &EncodedTable) -> Vec<Sample> {
    assert_eq!(table.table, Table::PrometheusSamples);
    assert_eq!(
        table.columns,
        ["MetricName", "Labels", "Timestamp", "Value"]
    );
    let mut r = Reader::new(&table.row_binary);
    let mut samples = Vec::new();
    while !r.at_end() {
        samples.push((r.string(), r.map(), r.i64(), r.f64().to_bits()));
    }
    assert_eq!(samples.len(), table.rows);
    samples
}

fn payload_in_scope(scope_name: &str, metrics: Vec<Metric>) -> Payload {
    Payload::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: scope_name.to_owned(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }])
}

/// The Prometheus samples table `metrics` encode to under the Prometheus scope.
fn samples_table(metrics: Vec<Metric>) -> EncodedTable {
    encode(&payload_in_scope(SCOPE_NAME, metrics))
        .into_iter()
        .find(|t| t.table == Table::PrometheusSamples)
        .expect("Prometheus samples encoded")
}

fn metric(name: &str, data: Data, metadata: Vec<KeyValue>) -> Metric {
    Metric {
        name: name.to_owned(),
        metadata,
        data: Some(data),
        ..Default::default()
    }
}

fn texts(key: &str, values: &[&str]) -> KeyValue {
    kv(
        key,
        Value::ArrayValue(ArrayValue {
            values: values
                .iter()
                .map(|v| AnyValue {
                    value: Some(text(v)),
                })
                .collect(),
        }),
    )
}

fn number(value: number_data_point::Value, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: NANOS,
        value: Some(value),
        ..Default::default()
    }
}

fn job_and_instance() -> Vec<KeyValue> {
    vec![kv("job", text("node")), kv("instance", text("a:9100"))]
}

fn histogram(attributes: Vec<KeyValue>, bounds: Vec<f64>, counts: Vec<u64>) -> Data {
    Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            attributes,
            time_unix_nano: NANOS,
            count: counts.iter().sum(),
            sum: Some(3.25),
            bucket_counts: counts,
            explicit_bounds: bounds,
            ..Default::default()
        }],
        aggregation_temporality: 2,
    })
}

fn summary(quantiles: &[(f64, f64)]) -> Data {
    Data::Summary(Summary {
        data_points: vec![SummaryDataPoint {
            attributes: vec![kv("job", text("api"))],
            time_unix_nano: NANOS,
            count: 7,
            sum: 12.5,
            quantile_values: quantiles
                .iter()
                .map(|(quantile, value)| ValueAtQuantile {
                    quantile: *quantile,
                    value: *value,
                })
                .collect(),
            ..Default::default()
        }],
    })
}

#[test]
fn number_points_are_one_sample_with_sorted_labels_and_integer_values_as_floats() {
    let mut attributes = job_and_instance();
    attributes.push(kv("__name__", text("ignored")));
    attributes.push(kv("cpu", Value::IntValue(3)));
    attributes.push(kv("up", Value::BoolValue(true)));
    let table = samples_table(vec![
        metric(
            "node_load1",
            Data::Gauge(Gauge {
                data_points: vec![number(number_data_point::Value::AsDouble(0.25), attributes)],
            }),
            vec![],
        ),
        metric(
            "http_requests_total",
            Data::Sum(Sum {
                data_points: vec![
                    number(number_data_point::Value::AsInt(-42), vec![]),
                    NumberDataPoint {
                        time_unix_nano: NANOS,
                        ..Default::default()
                    },
                ],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
            vec![],
        ),
    ]);
    let labels = [
        ("cpu", "3"),
        ("instance", "a:9100"),
        ("job", "node"),
        ("up", "true"),
    ];
    assert_eq!(
        read_samples(&table),
        [
            sample("node_load1", &labels, 0.25),
            sample("http_requests_total", &[], -42.0),
        ],
        "a point without a value is no sample"
    );
    assert_eq!(table.items, 2);
}

#[test]
fn stale_markers_keep_their_bits_and_flagged_points_become_stale_markers() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let other_nan = f64::from_bits(0x7ff8_0000_0000_0001);
    let points = vec![
        number(number_data_point::Value::AsDouble(stale), vec![]),
        number(number_data_point::Value::AsDouble(other_nan), vec![]),
        NumberDataPoint {
            time_unix_nano: NANOS,
            flags: 1,
            ..Default::default()
        },
    ];
    let mut flagged = histogram(vec![], vec![1.0], vec![2, 3]);
    let Data::Histogram(h) = &mut flagged else {
        unreachable!()
    };
    h.data_points[0].flags = 1;
    let table = samples_table(vec![
        metric(
            "up",
            Data::Gauge(Gauge {
                data_points: points,
            }),
            vec![],
        ),
        metric("rpc", flagged, vec![]),
    ]);
    let bits: Vec<u64> = read_samples(&table).iter().map(|s| s.3).collect();
    assert_eq!(
        bits,
        [
            STALE_NAN_BITS,
            0x7ff8_0000_0000_0001,
            STALE_NAN_BITS,
            STALE_NAN_BITS,
            STALE_NAN_BITS,
            STALE_NAN_BITS,
            STALE_NAN_BITS,
        ]
    );
}

#[test]
fn histogram_points_give_cumulative_buckets_with_the_metadata_le_texts_then_sum_and_count() {
    let mut attributes = job_and_instance();
    attributes.push(kv("le", text("dropped")));
    attributes.push(kv("zone", text("eu")));
    let table = samples_table(vec![metric(
        "rpc_seconds",
        histogram(attributes, vec![0.1, 1.0], vec![1, 2, 4]),
        vec![texts(BUCKET_LABELS_KEY, &["0.10", "1.0", "+Inf"])],
    )]);
    let labels = |le: &str| {
        map_of(&[
            ("instance", "a:9100"),
            ("job", "node"),
            ("le", le),
            ("zone", "eu"),
        ])
    };
    let without_le = map_of(&[("instance", "a:9100"), ("job", "node"), ("zone", "eu")]);
    let at =
        |name: &str, labels: Map, value: f64| (name.to_owned(), labels, MILLIS, value.to_bits());
    assert_eq!(
        read_samples(&table),
        [
            at("rpc_seconds_bucket", labels("0.10"), 1.0),
            at("rpc_seconds_bucket", labels("1.0"), 3.0),
            at("rpc_seconds_bucket", labels("+Inf"), 7.0),
            at("rpc_seconds_sum", without_le.clone(), 3.25),
            at("rpc_seconds_count", without_le, 7.0),
        ]
    );
    assert_eq!(table.items, 1, "one point");
}

#[test]
fn histogram_le_texts_fall_back_to_go_formatting_when_the_metadata_does_not_fit() {
    for metadata in [
        vec![],
        vec![texts(BUCKET_LABELS_KEY, &["0.10", "+Inf"])],
        vec![kv(BUCKET_LABELS_KEY, text("0.1,1e+06,+Inf"))],
    ] {
        let table = samples_table(vec![metric(
            "size",
            histogram(vec![], vec![0.1, 1e6], vec![0, 5, 1]),
            metadata,
        )]);
        assert_eq!(
            read_samples(&table)[..3],
            [
                sample("size_bucket", &[("le", "0.1")], 0.0),
                sample("size_bucket", &[("le", "1e+06")], 5.0),
                sample("size_bucket", &[("le", "+Inf")], 6.0),
            ]
        );
    }
}

#[test]
fn summary_points_give_quantile_samples_then_sum_and_count() {
    let quantiles = [(0.5, 1.5), (0.99, 4.0)];
    let with_metadata = samples_table(vec![metric(
        "gc_seconds",
        summary(&quantiles),
        vec![texts(QUANTILE_LABELS_KEY, &["0.50", "0.990"])],
    )]);
    assert_eq!(
        read_samples(&with_metadata),
        [
            sample("gc_seconds", &[("job", "api"), ("quantile", "0.50")], 1.5),
            sample("gc_seconds", &[("job", "api"), ("quantile", "0.990")], 4.0),
            sample("gc_seconds_sum", &[("job", "api")], 12.5),
            sample("gc_seconds_count", &[("job", "api")], 7.0),
        ]
    );
    let without = samples_table(vec![metric(
        "gc_seconds",
        summary(&quantiles),
        vec![texts(QUANTILE_LABELS_KEY, &["0.50"])],
    )]);
    let quantile_texts: Vec<String> = read_samples(&without)[..2]
        .iter()
        .map(|s| s.1[1].1.clone())
        .collect();
    assert_eq!(quantile_texts, ["0.5", "0.99"]);
}

#[test]
fn only_the_prometheus_scope_gives_samples_and_native_histograms_give_none() {
    let gauge = || {
        metric(
            "up",
            Data::Gauge(Gauge {
                data_points: vec![number(number_data_point::Value::AsDouble(1.0), vec![])],
            }),
            vec![],
        )
    };
    let other_scope = encode(&payload_in_scope("io.opentelemetry.sdk", vec![gauge()]));
    assert_eq!(
        other_scope.iter().map(|t| t.table).collect::<Vec<_>>(),
        [Table::MetricsGauge]
    );

    let native = metric(
        "rpc_native",
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint {
                time_unix_nano: NANOS,
                count: 1,
                ..Default::default()
            }],
            aggregation_temporality: 2,
        }),
        vec![],
    );
    let tables = encode(&payload_in_scope(SCOPE_NAME, vec![native]));
    assert_eq!(
        tables.iter().map(|t| t.table).collect::<Vec<_>>(),
        [Table::MetricsExponentialHistogram]
    );

    let both = encode(&payload_in_scope(SCOPE_NAME, vec![gauge()]));
    assert_eq!(
        both.iter().map(|t| (t.table, t.rows)).collect::<Vec<_>>(),
        [(Table::MetricsGauge, 1), (Table::PrometheusSamples, 1)],
        "Prometheus metrics keep their OpenTelemetry rows too"
    );
}
