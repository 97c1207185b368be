//! remote_write 1.0 through the running receiver: metadata in one request, then a classic
//! histogram, a summary, a counter with exemplars and a native histogram in the next, checked as
//! the OTLP metrics the pipeline receives; and a native histogram that cannot be converted
//! exactly refused with 400 while the rest of its request goes through.

use super::{Running, STALE_NAN, attributes, find, pairs, series, start, value_bits, write};
use cormorant_core::pdata::common::{KeyValue, any_value};
use cormorant_core::pdata::metrics::{Metric, metric};
use cormorant_core::prometheus::{BUCKET_LABELS_KEY, QUANTILE_LABELS_KEY, SCOPE_NAME};
use cormorant_receiver_integration::remote_write::{
    BucketSpan, Exemplar, Histogram, Label, MetricMetadata, MetricType, TimeSeries, WriteRequest,
    histogram,
};

const TIME: i64 = 1_700_000_000_000;

fn family(name: &str, kind: MetricType) -> MetricMetadata {
    MetricMetadata {
        r#type: kind as i32,
        metric_family_name: name.into(),
        help: format!("{name} help"),
        unit: String::new(),
    }
}

/// A series of the `api` job on `web:80` with extra labels (sorted by the caller's order after
/// `__name__`) and one sample at [`TIME`].
fn api_series(name: &str, extra: &[(&str, &str)], value: f64) -> TimeSeries {
    let mut labels = vec![
        ("__name__", name),
        ("instance", "web:80"),
        ("job", "shop/api"),
    ];
    labels.extend_from_slice(extra);
    series(&labels, &[(value, TIME)])
}

fn texts(metric: &Metric, key: &str) -> Vec<String> {
    let entry: &KeyValue = metric
        .metadata
        .iter()
        .find(|kv| kv.key == key)
        .unwrap_or_else(|| panic!("{} has no {key} metadata", metric.name));
    let Some(any_value::Value::ArrayValue(array)) =
        entry.value.as_ref().and_then(|v| v.value.as_ref())
    else {
        panic!("{key} is not an array");
    };
    array
        .values
        .iter()
        .map(|value| match &value.value {
            Some(any_value::Value::StringValue(text)) => text.clone(),
            other => panic!("{key} holds {other:?}"),
        })
        .collect()
}

async fn send_metadata(running: &Running) {
    let metadata = WriteRequest {
        timeseries: Vec::new(),
        metadata: vec![
            family("request_seconds", MetricType::Histogram),
            family("rpc_seconds", MetricType::Summary),
            family("orders", MetricType::Counter),
            family("native_seconds", MetricType::Histogram),
        ],
    };
    let reply = write(running.addr, &metadata).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

fn native_histogram() -> Histogram {
    Histogram {
        count: Some(histogram::Count::Int(6)),
        sum: 4.5,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: Some(histogram::ZeroCount::Int(1)),
        positive_spans: vec![
            BucketSpan {
                offset: 1,
                length: 1,
            },
            BucketSpan {
                offset: 1,
                length: 1,
            },
        ],
        positive_deltas: vec![3, -1],
        timestamp: TIME,
        start_timestamp: TIME - 60_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn histograms_summaries_exemplars_and_native_histograms_convert_exactly() {
    let running = start(1 << 20).await;
    send_metadata(&running).await;

    let mut inf_bucket = api_series("request_seconds_bucket", &[("le", "+Inf")], 3.0);
    inf_bucket.exemplars = vec![Exemplar {
        labels: vec![Label {
            name: "trace_id".into(),
            value: "0af7651916cd43dd8448eb211c80319c".into(),
        }],
        value: 7.5,
        timestamp: TIME,
    }];
    let mut orders = api_series("orders_total", &[], 12.0);
    orders.exemplars = vec![Exemplar {
        labels: vec![
            Label {
                name: "span_id".into(),
                value: "b7ad6b7169203331".into(),
            },
            Label {
                name: "trace_id".into(),
                value: "0af7651916cd43dd8448eb211c80319c".into(),
            },
        ],
        value: 1.0,
        timestamp: TIME - 5_000,
    }];
    let mut native = api_series("native_seconds", &[], 0.0);
    native.samples.clear();
    native.histograms = vec![native_histogram()];
    let request = WriteRequest {
        timeseries: vec![
            api_series("request_seconds_bucket", &[("le", "0.25")], 1.0),
            inf_bucket,
            api_series("request_seconds_sum", &[], 0.75),
            api_series("request_seconds_count", &[], 3.0),
            api_series("rpc_seconds", &[("quantile", "0.9")], 0.2),
            api_series("rpc_seconds_sum", &[], 9.0),
            api_series("rpc_seconds_count", &[], 30.0),
            orders,
            native,
            api_series("temperature", &[], f64::from_bits(STALE_NAN)),
        ],
        metadata: Vec::new(),
    };
    let reply = write(running.addr, &request).await;
    assert_eq!(reply.status, 204, "{}", reply.body);

    let resources = running.recorder.resources();
    assert_eq!(resources.len(), 1);
    let resource = &resources[0];
    assert_eq!(
        attributes(&resource.resource.as_ref().unwrap().attributes),
        pairs(&[
            ("service.namespace", "shop"),
            ("service.name", "api"),
            ("service.instance.id", "web:80"),
        ])
    );
    assert_eq!(resource.scope_metrics.len(), 1);
    assert_eq!(
        resource.scope_metrics[0].scope.as_ref().unwrap().name,
        SCOPE_NAME
    );
    let names: Vec<&str> = resource.scope_metrics[0]
        .metrics
        .iter()
        .map(|metric| metric.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "orders_total",
            "native_seconds",
            "temperature",
            "request_seconds",
            "rpc_seconds"
        ]
    );
    let target = pairs(&[("instance", "web:80"), ("job", "shop/api")]);

    let (_, histogram) = find(&resources, "request_seconds");
    assert_eq!(texts(histogram, BUCKET_LABELS_KEY), ["0.25", "+Inf"]);
    let Some(metric::Data::Histogram(histogram)) = &histogram.data else {
        panic!("classic histogram expected: {histogram:?}");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.explicit_bounds, [0.25]);
    assert_eq!(point.bucket_counts, [1, 2]);
    assert_eq!((point.count, point.sum), (3, Some(0.75)));
    assert_eq!(point.time_unix_nano, TIME as u64 * 1_000_000);
    assert_eq!(attributes(&point.attributes), target);
    assert_eq!(point.exemplars.len(), 1);
    assert_eq!(point.exemplars[0].trace_id[..2], [0x0a, 0xf7]);

    let (_, summary) = find(&resources, "rpc_seconds");
    assert_eq!(texts(summary, QUANTILE_LABELS_KEY), ["0.9"]);
    let Some(metric::Data::Summary(summary)) = &summary.data else {
        panic!("summary expected: {summary:?}");
    };
    let point = &summary.data_points[0];
    assert_eq!((point.count, point.sum), (30, 9.0));
    assert_eq!(
        (
            point.quantile_values[0].quantile,
            point.quantile_values[0].value
        ),
        (0.9, 0.2)
    );

    let (_, orders) = find(&resources, "orders_total");
    assert_eq!(orders.description, "orders help");
    let Some(metric::Data::Sum(orders)) = &orders.data else {
        panic!("counter expected: {orders:?}");
    };
    assert!(orders.is_monotonic);
    let exemplar = &orders.data_points[0].exemplars[0];
    assert_eq!(
        exemplar.span_id,
        [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
    );
    assert_eq!(exemplar.trace_id.len(), 16);
    assert!(exemplar.filtered_attributes.is_empty());
    assert_eq!(exemplar.time_unix_nano, (TIME as u64 - 5_000) * 1_000_000);

    let (_, native) = find(&resources, "native_seconds");
    let Some(metric::Data::ExponentialHistogram(native)) = &native.data else {
        panic!("exponential histogram expected: {native:?}");
    };
    let point = &native.data_points[0];
    assert_eq!((point.scale, point.count, point.zero_count), (1, 6, 1));
    // Prometheus buckets 1 and 3 at schema 1 are OTLP buckets 0 and 2.
    let positive = point.positive.as_ref().unwrap();
    assert_eq!(
        (positive.offset, positive.bucket_counts.as_slice()),
        (0, &[3, 0, 2][..])
    );
    assert_eq!(
        point.start_time_unix_nano,
        (TIME as u64 - 60_000) * 1_000_000
    );
    assert_eq!(attributes(&point.attributes), target);

    let (_, temperature) = find(&resources, "temperature");
    let Some(metric::Data::Gauge(temperature)) = &temperature.data else {
        panic!("gauge expected: {temperature:?}");
    };
    assert_eq!(value_bits(&temperature.data_points[0]), STALE_NAN);
    running.stop().await;
}

#[tokio::test]
async fn inexact_native_histogram_is_refused_and_the_rest_written() {
    let running = start(1 << 20).await;
    send_metadata(&running).await;
    let mut refused = api_series("native_seconds", &[], 0.0);
    refused.samples.clear();
    refused.histograms = vec![Histogram {
        count: Some(histogram::Count::Float(1.5)),
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: 1,
        }],
        positive_counts: vec![1.5],
        timestamp: TIME,
        ..Default::default()
    }];
    let request = WriteRequest {
        timeseries: vec![
            refused,
            // Half a histogram: no +Inf bucket, so its series stay number points.
            api_series("request_seconds_bucket", &[("le", "1")], 2.0),
            api_series("request_seconds_count", &[], 2.0),
        ],
        metadata: Vec::new(),
    };
    let reply = write(running.addr, &request).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body.contains("native_seconds") && reply.body.contains("1.5"),
        "{}",
        reply.body
    );
    let resources = running.recorder.resources();
    let (_, bucket) = find(&resources, "request_seconds_bucket");
    let Some(metric::Data::Sum(bucket)) = &bucket.data else {
        panic!("an ungrouped bucket is a monotonic sum: {bucket:?}");
    };
    assert!(bucket.is_monotonic);
    assert!(attributes(&bucket.data_points[0].attributes).contains(&("le".into(), "1".into())));
    let (_, count) = find(&resources, "request_seconds_count");
    assert!(matches!(&count.data, Some(metric::Data::Sum(sum)) if sum.is_monotonic));
    assert!(
        resources[0].scope_metrics[0]
            .metrics
            .iter()
            .all(|metric| metric.name != "native_seconds")
    );
    running.stop().await;
}
