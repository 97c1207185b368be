//! remote_write 2.0 on `/api/v1/prometheus` and on the `prometheusremotewrite` receiver: symbol
//! resolution, per-series metadata, both start-timestamp layouts, the written-counts headers,
//! refusals of bad input, and the self-telemetry counters.

use super::{Recorder, Reply, attributes, find, pairs, send_with, start, value_bits};
use cormorant_core::pdata::metrics::{Metric, metric};
use cormorant_core::{ComponentId, ConsumeError, Host, Lifecycle, ReceiverConsumers};
use cormorant_receiver_integration::remote_write::{Histogram, MetricType, Sample, histogram};
use cormorant_receiver_integration::remote_write_v2::{Exemplar, Metadata, Request, TimeSeries};
use cormorant_receiver_integration::{PrometheusRemoteWriteConfig, PrometheusRemoteWriteReceiver};
use prost::Message;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const PATH: &str = "/api/v1/prometheus";
const V2_CONTENT_TYPE: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

/// Builds a request's symbol table the way senders do: each string once, `""` first.
struct Symbols {
    table: Vec<String>,
    index: HashMap<String, u32>,
}

impl Symbols {
    fn new() -> Self {
        Symbols {
            table: vec![String::new()],
            index: HashMap::from([(String::new(), 0)]),
        }
    }

    fn add(&mut self, text: &str) -> u32 {
        if let Some(&reference) = self.index.get(text) {
            return reference;
        }
        let reference = self.table.len() as u32;
        self.table.push(text.to_string());
        self.index.insert(text.to_string(), reference);
        reference
    }

    fn labels(&mut self, labels: &[(&str, &str)]) -> Vec<u32> {
        labels
            .iter()
            .flat_map(|(name, value)| [self.add(name), self.add(value)])
            .collect()
    }

    fn metadata(&mut self, kind: MetricType, help: &str, unit: &str) -> Option<Metadata> {
        Some(Metadata {
            r#type: kind as i32,
            help_ref: self.add(help),
            unit_ref: self.add(unit),
        })
    }

    fn request(self, timeseries: Vec<TimeSeries>) -> Request {
        Request {
            symbols: self.table,
            timeseries,
        }
    }
}

fn sample(value: f64, timestamp: i64, start_timestamp: i64) -> Sample {
    Sample {
        value,
        timestamp,
        start_timestamp,
    }
}

fn snappy(data: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(data).unwrap()
}

async fn post(addr: SocketAddr, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
    let headers = [
        ("content-encoding", "snappy"),
        ("content-type", content_type),
        ("x-prometheus-remote-write-version", "2.0.0"),
        ("user-agent", "Prometheus/3.8.0"),
    ];
    send_with(addr, "POST", path, &headers, body).await
}

async fn write_v2(addr: SocketAddr, path: &str, request: &Request) -> Reply {
    post(
        addr,
        path,
        V2_CONTENT_TYPE,
        snappy(&request.encode_to_vec()),
    )
    .await
}

/// The three written-counts headers: samples, histograms, exemplars.
fn written(reply: &Reply) -> [u64; 3] {
    [
        "x-prometheus-remote-write-samples-written",
        "x-prometheus-remote-write-histograms-written",
        "x-prometheus-remote-write-exemplars-written",
    ]
    .map(|name| {
        reply
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from a 2.0 reply ({})", reply.status))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    })
}

fn metric_names(recorder: &Recorder) -> Vec<String> {
    let mut names: Vec<String> = recorder
        .resources()
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .map(|metric| metric.name.clone())
        .collect();
    names.sort();
    names
}

/// The start times of a number metric's points.
fn start_times(metric: &Metric) -> Vec<u64> {
    match &metric.data {
        Some(metric::Data::Sum(sum)) => sum.data_points.iter(),
        Some(metric::Data::Gauge(gauge)) => gauge.data_points.iter(),
        other => panic!("{} is not a number metric: {other:?}", metric.name),
    }
    .map(|point| point.start_time_unix_nano)
    .collect()
}

#[tokio::test]
async fn resolves_symbols_and_turns_counter_metadata_into_a_monotonic_sum() {
    let running = start(1 << 20).await;
    let mut symbols = Symbols::new();
    let counter = TimeSeries {
        labels_refs: symbols.labels(&[
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("instance", "web-1:9100"),
            ("job", "shop/frontend"),
        ]),
        samples: vec![
            sample(5.0, 1_700_000_000_123, 0),
            sample(7.0, 1_700_000_015_123, 0),
        ],
        metadata: symbols.metadata(MetricType::Counter, "Requests served.", "requests"),
        ..Default::default()
    };
    let gauge = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "temperature"), ("job", "shop/frontend")]),
        samples: vec![sample(21.5, 1_700_000_000_456, 0)],
        ..Default::default()
    };
    let reply = write_v2(running.addr, PATH, &symbols.request(vec![counter, gauge])).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(written(&reply), [3, 0, 0]);

    let resources = running.recorder.resources();
    let (resource, counter) = find(&resources, "http_requests_total");
    assert_eq!(
        attributes(&resource.resource.as_ref().unwrap().attributes),
        pairs(&[
            ("service.namespace", "shop"),
            ("service.name", "frontend"),
            ("service.instance.id", "web-1:9100"),
        ])
    );
    assert_eq!(counter.description, "Requests served.");
    let Some(metric::Data::Sum(sum)) = &counter.data else {
        panic!("a series with counter metadata must be a sum: {counter:?}");
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.data_points.len(), 2);
    assert_eq!(sum.data_points[1].time_unix_nano, 1_700_000_015_123_000_000);
    assert_eq!(value_bits(&sum.data_points[1]), 7.0f64.to_bits());
    let labels = attributes(&sum.data_points[0].attributes);
    for label in pairs(&[("code", "200"), ("job", "shop/frontend")]) {
        assert!(labels.contains(&label), "{labels:?}");
    }

    let (_, gauge) = find(&resources, "temperature");
    let Some(metric::Data::Gauge(gauge)) = &gauge.data else {
        panic!("a series without metadata must be a gauge: {gauge:?}");
    };
    assert_eq!(value_bits(&gauge.data_points[0]), 21.5f64.to_bits());
    running.stop().await;
}

#[tokio::test]
async fn both_start_timestamp_layouts_give_the_same_start_time() {
    let running = start(1 << 20).await;
    let mut symbols = Symbols::new();
    // Spec rc.4 (Prometheus ≥ 3.8): the start time is on each sample.
    let per_sample = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "jobs_done_total"), ("layout", "rc4")]),
        samples: vec![sample(3.0, 1_700_000_060_000, 1_700_000_000_000)],
        metadata: symbols.metadata(MetricType::Counter, "", ""),
        ..Default::default()
    };
    // Spec rc.3: the start time is the series' created_timestamp (field 6).
    let per_series = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "jobs_failed_total"), ("layout", "rc3")]),
        samples: vec![sample(1.0, 1_700_000_060_000, 0)],
        metadata: symbols.metadata(MetricType::Counter, "", ""),
        created_timestamp: 1_700_000_000_000,
        ..Default::default()
    };
    let reply = write_v2(
        running.addr,
        PATH,
        &symbols.request(vec![per_sample, per_series]),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let resources = running.recorder.resources();
    let (_, rc4) = find(&resources, "jobs_done_total");
    let (_, rc3) = find(&resources, "jobs_failed_total");
    assert_eq!(start_times(rc4), [1_700_000_000_000_000_000]);
    assert_eq!(start_times(rc3), start_times(rc4));
    running.stop().await;
}

#[tokio::test]
async fn exemplars_and_native_histograms_reach_the_consumer() {
    let running = start(1 << 20).await;
    let mut symbols = Symbols::new();
    let with_exemplar = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "checkout_total"), ("job", "shop")]),
        samples: vec![sample(10.0, 1_700_000_000_000, 0)],
        exemplars: vec![Exemplar {
            labels_refs: symbols.labels(&[("trace_id", "5b8efff798038103d269b633813fc60c")]),
            value: 0.25,
            timestamp: 1_700_000_000_000,
        }],
        metadata: symbols.metadata(MetricType::Counter, "", ""),
        ..Default::default()
    };
    let native = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "latency_seconds"), ("job", "shop")]),
        histograms: vec![Histogram {
            count: Some(histogram::Count::Int(4)),
            sum: 1.5,
            schema: 0,
            zero_threshold: 1e-128,
            zero_count: Some(histogram::ZeroCount::Int(1)),
            positive_spans: vec![cormorant_receiver_integration::remote_write::BucketSpan {
                offset: 0,
                length: 2,
            }],
            positive_deltas: vec![2, -1],
            timestamp: 1_700_000_000_000,
            ..Default::default()
        }],
        metadata: symbols.metadata(MetricType::Histogram, "Request latency.", "seconds"),
        ..Default::default()
    };
    let reply = write_v2(
        running.addr,
        PATH,
        &symbols.request(vec![with_exemplar, native]),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(written(&reply), [1, 1, 1]);

    let resources = running.recorder.resources();
    let (_, counter) = find(&resources, "checkout_total");
    let Some(metric::Data::Sum(sum)) = &counter.data else {
        panic!("checkout_total must be a sum: {counter:?}");
    };
    let exemplars = &sum.data_points[0].exemplars;
    assert_eq!(exemplars.len(), 1, "{exemplars:?}");
    assert_eq!(exemplars[0].time_unix_nano, 1_700_000_000_000_000_000);

    let (_, latency) = find(&resources, "latency_seconds");
    let Some(metric::Data::ExponentialHistogram(histogram)) = &latency.data else {
        panic!("a native histogram must be an exponential histogram: {latency:?}");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.count, 4);
    assert_eq!(point.sum, Some(1.5));
    assert_eq!(point.zero_count, 1);
    assert_eq!(point.time_unix_nano, 1_700_000_000_000_000_000);
    running.stop().await;
}

#[tokio::test]
async fn classic_histogram_series_find_their_family_in_per_series_metadata() {
    let running = start(1 << 20).await;
    let mut symbols = Symbols::new();
    let mut member = |name: &str, le: Option<&str>, value: f64| {
        let mut labels = vec![("__name__", name), ("job", "api")];
        if let Some(le) = le {
            labels.push(("le", le));
        }
        TimeSeries {
            labels_refs: symbols.labels(&labels),
            samples: vec![sample(value, 1_700_000_000_000, 0)],
            metadata: symbols.metadata(MetricType::Histogram, "Request latency.", "seconds"),
            ..Default::default()
        }
    };
    let series = vec![
        member("latency_bucket", Some("0.5"), 3.0),
        member("latency_bucket", Some("+Inf"), 5.0),
        member("latency_count", None, 5.0),
        member("latency_sum", None, 2.25),
    ];
    let reply = write_v2(running.addr, PATH, &symbols.request(series)).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(written(&reply), [4, 0, 0]);
    assert_eq!(metric_names(&running.recorder), ["latency"]);
    let resources = running.recorder.resources();
    let (_, latency) = find(&resources, "latency");
    assert_eq!(latency.description, "Request latency.");
    let Some(metric::Data::Histogram(histogram)) = &latency.data else {
        panic!("the family's series must form one histogram: {latency:?}");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.count, 5);
    assert_eq!(point.sum, Some(2.25));
    assert_eq!(point.bucket_counts, [3, 2]);
    assert_eq!(point.explicit_bounds, [0.5]);
    running.stop().await;
}

#[tokio::test]
async fn unsupported_content_types_and_encodings_get_415() {
    let running = start(1 << 20).await;
    let body = snappy(&Symbols::new().request(Vec::new()).encode_to_vec());
    for content_type in [
        "application/json",
        "application/x-protobuf;proto=io.prometheus.write.v3.Request",
        "application/x-protobuf; proto=prometheus.ReadRequest",
    ] {
        let reply = post(running.addr, PATH, content_type, body.clone()).await;
        assert_eq!(reply.status, 415, "{content_type}: {}", reply.body);
        assert!(
            reply.body.contains("proto=prometheus.WriteRequest")
                && reply.body.contains("proto=io.prometheus.write.v2.Request"),
            "the refusal names both supported types: {}",
            reply.body
        );
    }
    let reply = send_with(
        running.addr,
        "POST",
        PATH,
        &[
            ("content-encoding", "gzip"),
            ("content-type", V2_CONTENT_TYPE),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(reply.status, 415);
    assert!(reply.body.contains("snappy"), "{}", reply.body);

    let quoted = "Application/X-Protobuf; Proto=\"io.prometheus.write.v2.Request\"";
    let reply = post(running.addr, PATH, quoted, body).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(written(&reply), [0, 0, 0]);
    running.stop().await;
}

#[tokio::test]
async fn a_first_symbol_that_is_not_empty_refuses_the_whole_request() {
    let running = start(1 << 20).await;
    let request = Request {
        symbols: vec!["__name__".into(), "up".into()],
        timeseries: vec![TimeSeries {
            labels_refs: vec![0, 1],
            samples: vec![sample(1.0, 1, 0)],
            ..Default::default()
        }],
    };
    let reply = write_v2(running.addr, PATH, &request).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("symbols[0]"), "{}", reply.body);
    assert_eq!(written(&reply), [0, 0, 0]);
    assert!(running.recorder.resources().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_broken_reference_refuses_only_its_series() {
    let running = start(1 << 20).await;
    let mut symbols = Symbols::new();
    let valid = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "good"), ("job", "a")]),
        samples: vec![sample(2.0, 2, 0)],
        ..Default::default()
    };
    let out_of_range = TimeSeries {
        labels_refs: vec![symbols.add("__name__"), 999],
        samples: vec![sample(1.0, 1, 0), sample(1.0, 2, 0)],
        ..Default::default()
    };
    let odd = TimeSeries {
        labels_refs: vec![symbols.add("__name__")],
        samples: vec![sample(1.0, 1, 0)],
        ..Default::default()
    };
    let reply = write_v2(
        running.addr,
        PATH,
        &symbols.request(vec![out_of_range, valid, odd]),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("999")
            && reply.body.contains("out of range")
            && reply.body.contains("2 series")
            && reply.body.contains("1 valid series"),
        "{}",
        reply.body
    );
    assert_eq!(written(&reply), [1, 0, 0]);
    assert_eq!(metric_names(&running.recorder), ["good"]);
    running.stop().await;
}

#[tokio::test]
async fn broken_bodies_get_400_with_zero_written() {
    let running = start(1 << 20).await;
    let mut symbols = Symbols::new();
    let series = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "up")]),
        samples: vec![sample(1.0, 1, 0)],
        ..Default::default()
    };
    let valid = snappy(&symbols.request(vec![series]).encode_to_vec());
    let truncated = valid[..valid.len() - 3].to_vec();
    let reply = post(running.addr, PATH, V2_CONTENT_TYPE, truncated).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("snappy"), "{}", reply.body);
    assert_eq!(written(&reply), [0, 0, 0]);

    let garbage = snappy(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let reply = post(running.addr, PATH, V2_CONTENT_TYPE, garbage).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("io.prometheus.write.v2.Request"),
        "{}",
        reply.body
    );
    assert_eq!(written(&reply), [0, 0, 0]);
    assert!(running.recorder.resources().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_100_mib_body_gets_413_and_the_server_keeps_answering() {
    let running = start(20 * 1024 * 1024).await;
    let huge = vec![0u8; 100 * 1024 * 1024];
    let reply = post(running.addr, PATH, V2_CONTENT_TYPE, huge).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(written(&reply), [0, 0, 0]);

    let mut symbols = Symbols::new();
    let series = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "up")]),
        samples: vec![sample(1.0, 1, 0)],
        ..Default::default()
    };
    let reply = write_v2(running.addr, PATH, &symbols.request(vec![series])).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(written(&reply), [1, 0, 0]);
    running.stop().await;
}

/// The sum of the self-telemetry counter `name` over the series carrying all `wanted` labels.
fn counter(name: &str, wanted: &[(&str, &str)]) -> u64 {
    cormorant_core::telemetry::registry()
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|metric| {
            wanted.iter().all(|(label, value)| {
                metric
                    .get_label()
                    .iter()
                    .any(|pair| pair.name() == *label && pair.value() == *value)
            })
        })
        .map(|metric| metric.get_counter().get_value() as u64)
        .sum()
}

#[tokio::test]
async fn pipeline_refusal_keeps_429_with_retry_after_and_writes_nothing() {
    let running = start(1 << 20).await;
    *running.recorder.answer.lock().unwrap() = Some(ConsumeError::Refused {
        message: "rate limited".into(),
        retry_after: Some(Duration::from_secs(2)),
        throttled: true,
    });
    let mut symbols = Symbols::new();
    let series = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "up")]),
        samples: vec![sample(1.0, 1, 0)],
        ..Default::default()
    };
    let reply = write_v2(running.addr, PATH, &symbols.request(vec![series])).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.headers["retry-after"], "2");
    assert_eq!(written(&reply), [0, 0, 0]);
    running.stop().await;
}

#[tokio::test]
async fn prometheusremotewrite_receiver_takes_2_0_and_counts_per_protocol() {
    let id = "prometheusremotewrite/v2-telemetry";
    let recorder = Arc::new(Recorder::default());
    let consumers = ReceiverConsumers {
        traces: None,
        metrics: Some(recorder.clone()),
        logs: None,
    };
    let config = PrometheusRemoteWriteConfig {
        endpoint: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let receiver =
        PrometheusRemoteWriteReceiver::new(ComponentId::parse(id).unwrap(), config, consumers);
    receiver.start(&Host::default()).await.unwrap();
    let addr = receiver.local_addr().await.unwrap();

    let mut symbols = Symbols::new();
    let good = TimeSeries {
        labels_refs: symbols.labels(&[("__name__", "up"), ("job", "node")]),
        samples: vec![
            sample(1.0, 1_700_000_000_000, 0),
            sample(1.0, 1_700_000_015_000, 0),
        ],
        ..Default::default()
    };
    let unsorted = TimeSeries {
        labels_refs: symbols.labels(&[("job", "node"), ("__name__", "up")]),
        samples: vec![sample(1.0, 1_700_000_000_000, 0)],
        ..Default::default()
    };
    let reply = write_v2(
        addr,
        "/api/v1/write",
        &symbols.request(vec![good, unsorted]),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("not sorted"), "{}", reply.body);
    assert_eq!(written(&reply), [2, 0, 0]);
    assert_eq!(metric_names(&recorder), ["up"]);

    let v1 = cormorant_receiver_integration::remote_write::WriteRequest {
        timeseries: vec![super::series(&[("__name__", "up")], &[(1.0, 5)])],
        metadata: Vec::new(),
    };
    let reply = super::write_to(addr, "/api/v1/write", &v1).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(
        !reply
            .headers
            .contains_key("x-prometheus-remote-write-samples-written"),
        "1.0 replies carry no 2.0 headers"
    );

    let counts = |item: &str, protocol, outcome| {
        let name = format!("cormorant_receiver_prometheus_{item}_total");
        let labels = [
            ("receiver", id),
            ("protocol", protocol),
            ("outcome", outcome),
        ];
        counter(&name, &labels)
    };
    assert_eq!(counts("series", "2.0", "accepted"), 1);
    assert_eq!(counts("samples", "2.0", "accepted"), 2);
    assert_eq!(counts("series", "2.0", "refused"), 1);
    assert_eq!(counts("samples", "2.0", "refused"), 1);
    assert_eq!(counts("histograms", "2.0", "accepted"), 0);
    assert_eq!(counts("series", "1.0", "accepted"), 1);
    assert_eq!(counts("samples", "1.0", "accepted"), 1);
    assert_eq!(counts("series", "1.0", "refused"), 0);
    let receiver_label = [("receiver", id)];
    assert_eq!(
        counter("otelcol_receiver_accepted_metric_points", &receiver_label),
        3
    );
    assert_eq!(
        counter("otelcol_receiver_refused_metric_points", &receiver_label),
        1
    );
    receiver
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
}
