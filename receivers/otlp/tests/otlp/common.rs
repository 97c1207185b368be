//! Shared test fixtures: a recording pipeline, config builders, sample data and an HTTP client.

use async_trait::async_trait;
use bytes::Bytes;
use cormorant_core::config::ConfValue;
use cormorant_core::pdata::common::{AnyValue, ArrayValue, KeyValue, any_value};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::metrics::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span, Status, span, status};
use cormorant_core::pdata::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use cormorant_core::{
    ComponentId, ConsumeError, Consumer, Host, Lifecycle, Payload, ReceiverConsumers,
    SharedConsumer,
};
use cormorant_receiver_otlp::{OtlpReceiver, OtlpReceiverConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use indexmap::IndexMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A pipeline stand-in that records what it is given and answers as told.
#[derive(Default)]
pub struct Recorder {
    received: Mutex<Vec<Payload>>,
    answer: Mutex<Option<ConsumeError>>,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    /// Every later payload is answered with `error` (and not recorded).
    pub fn fail_with(&self, error: ConsumeError) {
        *self.answer.lock().unwrap() = Some(error);
    }

    pub fn received(&self) -> Vec<Payload> {
        self.received.lock().unwrap().clone()
    }
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

/// Builds a config tree from JSON, as the YAML loader would.
pub fn conf(value: serde_json::Value) -> ConfValue {
    match value {
        serde_json::Value::Null => ConfValue::Null,
        serde_json::Value::Bool(b) => ConfValue::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => ConfValue::Int(i),
            None => ConfValue::Float(n.as_f64().unwrap()),
        },
        serde_json::Value::String(s) => ConfValue::String(s),
        serde_json::Value::Array(items) => ConfValue::Seq(items.into_iter().map(conf).collect()),
        serde_json::Value::Object(map) => ConfValue::Map(
            map.into_iter()
                .map(|(k, v)| (k, conf(v)))
                .collect::<IndexMap<_, _>>(),
        ),
    }
}

/// A started receiver with both protocols on loopback ports, feeding `recorder` for every
/// signal in `signals` ("traces", "metrics", "logs").
pub struct Running {
    pub receiver: OtlpReceiver,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

impl Running {
    pub async fn stop(self) {
        self.receiver
            .shutdown(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
    }
}

pub fn consumers(recorder: &Arc<Recorder>, signals: &[&str]) -> ReceiverConsumers {
    let shared: SharedConsumer = recorder.clone();
    let mut consumers = ReceiverConsumers::default();
    for signal in signals {
        consumers.set(
            cormorant_core::Signal::parse(signal).unwrap(),
            shared.clone(),
        );
    }
    consumers
}

/// Starts a receiver named `otlp/<name>` with `protocols` merged over loopback endpoints.
pub async fn start(
    name: &str,
    recorder: &Arc<Recorder>,
    signals: &[&str],
    mut protocols: serde_json::Value,
) -> Running {
    for protocol in ["grpc", "http"] {
        let entry = protocols
            .as_object_mut()
            .unwrap()
            .entry(protocol)
            .or_insert_with(|| serde_json::json!({}));
        entry
            .as_object_mut()
            .unwrap()
            .entry("endpoint")
            .or_insert_with(|| "127.0.0.1:0".into());
    }
    let config: OtlpReceiverConfig =
        cormorant_core::parse_config(&conf(serde_json::json!({ "protocols": protocols }))).unwrap();
    let id = ComponentId::parse(&format!("otlp/{name}")).unwrap();
    let receiver = OtlpReceiver::new(id, config, consumers(recorder, signals));
    receiver.start(&Host::default()).await.unwrap();
    Running {
        grpc: receiver.grpc_addr().await.unwrap(),
        http: receiver.http_addr().await.unwrap(),
        receiver,
    }
}

/// The value of one receiver counter from the self-telemetry registry.
pub fn counter(name: &str, receiver: &str, transport: &str) -> u64 {
    cormorant_core::telemetry::registry()
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|metric| {
            let labels = metric.get_label();
            labels
                .iter()
                .any(|l| l.name() == "receiver" && l.value() == receiver)
                && labels
                    .iter()
                    .any(|l| l.name() == "transport" && l.value() == transport)
        })
        .map(|metric| metric.get_counter().get_value() as u64)
        .sum()
}

pub fn string_attr(key: &str, value: &str) -> KeyValue {
    attr(key, any_value::Value::StringValue(value.into()))
}

pub fn attr(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
pub const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
pub const PARENT_SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73];

pub fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![string_attr("service.name", "checkout")],
        ..Default::default()
    })
}

/// Two spans with every kind of field set.
pub fn traces() -> ExportTraceServiceRequest {
    let span = |name: &str, span_id: [u8; 8]| Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: PARENT_SPAN_ID.to_vec(),
        name: name.into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        attributes: vec![
            string_attr("http.method", "GET"),
            attr("http.status_code", any_value::Value::IntValue(200)),
            attr(
                "tags",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::BoolValue(true)),
                    }],
                }),
            ),
        ],
        dropped_attributes_count: 1,
        events: vec![span::Event {
            time_unix_nano: 1_544_712_660_500_000_000,
            name: "cache miss".into(),
            ..Default::default()
        }],
        status: Some(Status {
            message: "boom".into(),
            code: status::StatusCode::Error as i32,
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans: vec![span("GET /cart", SPAN_ID), span("GET /pay", [1; 8])],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

/// A gauge, a cumulative sum and a histogram: 3 data points.
pub fn metrics() -> ExportMetricsServiceRequest {
    let point = |value| NumberDataPoint {
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(value),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "queue.depth".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![point(number_data_point::Value::AsDouble(3.5))],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "requests".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![point(number_data_point::Value::AsInt(42))],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 3,
                                sum: Some(7.0),
                                bucket_counts: vec![1, 2],
                                explicit_bounds: vec![2.5],
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_000_000_001,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("order placed".into())),
                    }),
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

/// An HTTP/1.1 answer.
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends one request over a fresh HTTP/1.1 connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
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
    let response = sender
        .send_request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Reply {
    send(addr, "POST", path, &[("content-type", content_type)], body).await
}

pub const PROTOBUF: &str = "application/x-protobuf";
pub const JSON: &str = "application/json";
