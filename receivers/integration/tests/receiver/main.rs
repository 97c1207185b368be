//! The running receiver against real HTTP clients over loopback: remote_write 1.0 here, its
//! conversion of histograms, summaries and exemplars in [`conversion`], OTLP in [`otlp`], the
//! `prometheusremotewrite` receiver in [`prometheusremotewrite`], line protocol in
//! [`telegraf`].

mod conversion;
mod otlp;
mod prometheusremotewrite;
mod remote_write_v2;
mod telegraf;

use async_trait::async_trait;
use bytes::Bytes;
use cormorant_core::pdata::common::{KeyValue, any_value};
use cormorant_core::pdata::metrics::{
    AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, metric, number_data_point,
};
use cormorant_core::{
    ComponentId, ConsumeError, Consumer, Host, Lifecycle, Payload, ReceiverConsumers,
};
use cormorant_receiver_integration::remote_write::{
    Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest,
};
use cormorant_receiver_integration::{IntegrationReceiver, IntegrationReceiverConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use prost::Message;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<Payload>>,
    answer: Mutex<Option<ConsumeError>>,
}

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        if let Some(error) = self.answer.lock().unwrap().clone() {
            return Err(error);
        }
        self.received.lock().unwrap().push(payload);
        Ok(())
    }
}

impl Recorder {
    fn resources(&self) -> Vec<ResourceMetrics> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|payload| match payload {
                Payload::Metrics(resources) => resources.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn payloads(&self) -> Vec<Payload> {
        self.received.lock().unwrap().clone()
    }
}

struct Running {
    receiver: IntegrationReceiver,
    addr: SocketAddr,
    recorder: Arc<Recorder>,
}

async fn start(max_request_body_size: usize) -> Running {
    let recorder = Arc::new(Recorder::default());
    let consumers = ReceiverConsumers {
        traces: Some(recorder.clone()),
        metrics: Some(recorder.clone()),
        logs: Some(recorder.clone()),
    };
    let config = IntegrationReceiverConfig {
        endpoint: "127.0.0.1:0".into(),
        max_request_body_size,
        ..Default::default()
    };
    let receiver = IntegrationReceiver::new(
        ComponentId::parse("integration").unwrap(),
        config,
        consumers,
    );
    receiver.start(&Host::default()).await.unwrap();
    let addr = receiver.local_addr().await.unwrap();
    Running {
        receiver,
        addr,
        recorder,
    }
}

impl Running {
    async fn stop(self) {
        self.receiver
            .shutdown(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
    }
}

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: String,
    raw: Bytes,
}

async fn send(addr: SocketAddr, method: &str, path: &str, body: Vec<u8>) -> Reply {
    let remote_write = [
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ];
    send_with(addr, method, path, &remote_write, body).await
}

async fn send_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body))).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        raw: body,
    }
}

async fn write(addr: SocketAddr, request: &WriteRequest) -> Reply {
    write_to(addr, "/api/v1/prometheus", request).await
}

async fn write_to(addr: SocketAddr, path: &str, request: &WriteRequest) -> Reply {
    let body = snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap();
    send(addr, "POST", path, body).await
}

fn series(labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(name, value)| Label {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(value, timestamp)| Sample {
                value,
                timestamp,
                start_timestamp: 0,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

fn attributes(list: &[KeyValue]) -> Vec<(String, String)> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => panic!("unexpected attribute value {other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn value_bits(point: &NumberDataPoint) -> u64 {
    match point.value {
        Some(number_data_point::Value::AsDouble(value)) => value.to_bits(),
        other => panic!("unexpected point value {other:?}"),
    }
}

fn find<'a>(resources: &'a [ResourceMetrics], name: &str) -> (&'a ResourceMetrics, &'a Metric) {
    resources
        .iter()
        .find_map(|resource| {
            resource.scope_metrics[0]
                .metrics
                .iter()
                .find(|m| m.name == name)
                .map(|m| (resource, m))
        })
        .unwrap_or_else(|| panic!("metric {name} not received"))
}

#[tokio::test]
async fn converts_samples_with_metadata_from_an_earlier_request() {
    let running = start(1 << 20).await;
    let metadata_only = WriteRequest {
        timeseries: Vec::new(),
        metadata: vec![MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: "http_requests".into(),
            help: "Requests served.".into(),
            unit: String::new(),
        }],
    };
    let reply = write(running.addr, &metadata_only).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(running.recorder.resources().is_empty());

    let request = WriteRequest {
        timeseries: vec![
            series(
                &[
                    ("__name__", "http_requests_total"),
                    ("code", "200"),
                    ("instance", "web-1:9100"),
                    ("job", "shop/frontend"),
                ],
                &[(5.0, 1_700_000_000_123), (7.0, 1_700_000_015_123)],
            ),
            series(
                &[
                    ("__name__", "temperature"),
                    ("instance", "web-1:9100"),
                    ("job", "shop/frontend"),
                ],
                &[(f64::from_bits(STALE_NAN), 1_700_000_000_456)],
            ),
            series(&[("__name__", "up"), ("job", "node")], &[(1.0, 42)]),
        ],
        metadata: Vec::new(),
    };
    let reply = write(running.addr, &request).await;
    assert_eq!(reply.status, 204, "{}", reply.body);

    let resources = running.recorder.resources();
    assert_eq!(resources.len(), 2, "grouped by job and instance");
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
        panic!("counter by metadata must be a sum: {counter:?}");
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    assert_eq!(sum.data_points.len(), 2);
    assert_eq!(sum.data_points[0].time_unix_nano, 1_700_000_000_123_000_000);
    assert_eq!(sum.data_points[1].time_unix_nano, 1_700_000_015_123_000_000);
    assert_eq!(value_bits(&sum.data_points[1]), 7.0f64.to_bits());
    assert_eq!(
        attributes(&sum.data_points[0].attributes),
        pairs(&[
            ("code", "200"),
            ("instance", "web-1:9100"),
            ("job", "shop/frontend"),
        ])
    );

    let (_, gauge) = find(&resources, "temperature");
    let Some(metric::Data::Gauge(gauge)) = &gauge.data else {
        panic!("a metric without metadata must be a gauge: {gauge:?}");
    };
    assert_eq!(value_bits(&gauge.data_points[0]), STALE_NAN);

    let (resource, up) = find(&resources, "up");
    assert_eq!(
        attributes(&resource.resource.as_ref().unwrap().attributes),
        pairs(&[("service.name", "node")])
    );
    let Some(metric::Data::Gauge(up)) = &up.data else {
        panic!("a metric without metadata must be a gauge: {up:?}");
    };
    assert_eq!(up.data_points[0].time_unix_nano, 42_000_000);
    running.stop().await;
}

#[tokio::test]
async fn invalid_series_get_400_and_valid_ones_are_still_written() {
    let running = start(1 << 20).await;
    let request = WriteRequest {
        timeseries: vec![
            series(&[("job", "a"), ("__name__", "unsorted")], &[(1.0, 1)]),
            series(&[("__name__", "good"), ("job", "a")], &[(2.0, 2)]),
        ],
        metadata: Vec::new(),
    };
    let reply = write(running.addr, &request).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("not sorted") && reply.body.contains("1 valid series"),
        "{}",
        reply.body
    );
    let resources = running.recorder.resources();
    assert_eq!(resources.len(), 1);
    let names: Vec<_> = resources[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["good"]);
    running.stop().await;
}

#[tokio::test]
async fn broken_bodies_are_refused_with_400() {
    let running = start(1 << 20).await;
    let valid = snap::raw::Encoder::new()
        .compress_vec(
            &WriteRequest {
                timeseries: vec![series(&[("__name__", "up")], &[(1.0, 1)])],
                metadata: Vec::new(),
            }
            .encode_to_vec(),
        )
        .unwrap();
    let truncated = valid[..valid.len() - 3].to_vec();
    let reply = send(running.addr, "POST", "/api/v1/prometheus", truncated).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("snappy"), "{}", reply.body);

    let garbage = snap::raw::Encoder::new()
        .compress_vec(&[0xff, 0xff, 0xff, 0xff, 0x0f])
        .unwrap();
    let reply = send(running.addr, "POST", "/api/v1/prometheus", garbage).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("WriteRequest"), "{}", reply.body);
    assert!(running.recorder.resources().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn limits_paths_and_methods() {
    let running = start(64).await;
    let big = WriteRequest {
        timeseries: vec![series(&[("__name__", &"x".repeat(200))], &[(1.0, 1)])],
        metadata: Vec::new(),
    };
    assert_eq!(write(running.addr, &big).await.status, 413);
    let raw_over_limit = vec![0u8; 100];
    let reply = send(running.addr, "POST", "/api/v1/prometheus", raw_over_limit).await;
    assert_eq!(reply.status, 413);

    let reply = send(running.addr, "POST", "/api/v1/write", Vec::new()).await;
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("/api/v1/write"), "{}", reply.body);

    let reply = send_with(
        running.addr,
        "POST",
        "/api/v1/prometheus",
        &[
            ("content-encoding", "snappy"),
            (
                "content-type",
                "application/x-protobuf;proto=io.prometheus.write.v3.Request",
            ),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, 415);
    assert!(reply.body.contains("remote_write 1.0"), "{}", reply.body);

    let reply = send(running.addr, "GET", "/api/v1/prometheus", Vec::new()).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "POST");
    running.stop().await;
}

#[tokio::test]
async fn pipeline_refusal_is_503_with_retry_after() {
    let running = start(1 << 20).await;
    *running.recorder.answer.lock().unwrap() = Some(ConsumeError::Refused {
        message: "queue is full".into(),
        retry_after: Some(Duration::from_secs(3)),
        throttled: false,
    });
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(1.0, 1)])],
        metadata: Vec::new(),
    };
    let reply = write(running.addr, &request).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.headers["retry-after"], "3");
    assert!(reply.body.contains("queue is full"), "{}", reply.body);
    running.stop().await;
}

#[test]
fn config_rejects_unknown_keys_and_documents_defaults() {
    use cormorant_core::config::ConfValue;
    let factory = cormorant_receiver_integration::factory();
    let unknown = ConfValue::Map(
        [("endpont".to_string(), ConfValue::String("0.0.0.0:1".into()))]
            .into_iter()
            .collect(),
    );
    assert!(factory.validate(&unknown).is_err());
    assert!(factory.validate(&ConfValue::Null).is_ok());
    let defaults = IntegrationReceiverConfig::default();
    assert_eq!(defaults.endpoint, "0.0.0.0:38086");
    assert_eq!(defaults.max_request_body_size, 20 * 1024 * 1024);
    assert_eq!(defaults.service_name, "unknown_service");
}
