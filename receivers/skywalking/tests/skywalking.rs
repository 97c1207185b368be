//! The receiver against bytes real agents sent (`tests/fixtures/`, captured from the Python
//! `apache-skywalking` 1.2.0 and Node `skywalking-backend-js` 0.9.0 agents): decoding, the OTLP
//! they become, and the gRPC service under both path families with a tonic client.

use cormorant_core::pdata::common::any_value::Value;
use cormorant_core::pdata::logs::ResourceLogs;
use cormorant_core::pdata::metrics::metric::Data;
use cormorant_core::pdata::trace::span::SpanKind;
use cormorant_core::pdata::trace::{ResourceSpans, Span};
use cormorant_core::testing::{Recorder, attribute};
use cormorant_core::value_text::hex;
use cormorant_core::{ComponentId, Host, Lifecycle, Payload, ReceiverConsumers, skywalking_ids};
use cormorant_receiver_skywalking::config::{Protocols, ServerSettings};
use cormorant_receiver_skywalking::logs::convert_logs;
use cormorant_receiver_skywalking::meters::{MeterCarry, convert_meters};
use cormorant_receiver_skywalking::proto::{
    Commands, Label, LogData, MeterBucketValue, MeterData, MeterHistogram, MeterSingleValue,
    MeterValue, SegmentObject,
};
use cormorant_receiver_skywalking::traces::convert_segments;
use cormorant_receiver_skywalking::{SkyWalkingReceiver, SkyWalkingReceiverConfig};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::ProstCodec;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn text(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

fn spans_of(resources: &[ResourceSpans]) -> Vec<&Span> {
    resources
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

#[test]
fn python_segment_becomes_a_server_span_with_its_client_child() {
    let segment = SegmentObject::decode(fixture("python_agent_segment.pb").as_slice()).unwrap();
    assert_eq!(
        (segment.service.as_str(), segment.service_instance.as_str()),
        ("pysvc", "pysvc-1")
    );
    let converted = convert_segments([segment]);
    assert_eq!((converted.spans, converted.dropped), (2, 0));
    let resource = converted.resources[0].resource.as_ref().unwrap();
    assert_eq!(
        attribute(&resource.attributes, "service.name"),
        Some(&text("pysvc"))
    );
    assert_eq!(
        attribute(&resource.attributes, "service.instance.id"),
        Some(&text("pysvc-1"))
    );

    let spans = spans_of(&converted.resources);
    let (exit, entry) = (spans[0], spans[1]);
    assert_eq!(hex(&entry.trace_id), "8c81fc30e62211f19f0702fc00000001");
    assert_eq!(exit.trace_id, entry.trace_id);
    let segment_id = "8c81f88ee62211f19f0702fc00000001";
    assert_eq!(
        entry.span_id,
        skywalking_ids::span_id(segment_id, 0).unwrap()
    );
    assert!(entry.parent_span_id.is_empty(), "the root has no parent");
    assert_eq!(
        exit.parent_span_id, entry.span_id,
        "the Exit span's parent is span 0"
    );

    assert_eq!(
        (entry.name.as_str(), entry.kind),
        ("/orders", SpanKind::Server as i32)
    );
    assert_eq!(
        (exit.name.as_str(), exit.kind),
        ("/inventory", SpanKind::Client as i32)
    );
    assert_eq!(
        attribute(&entry.attributes, "http.request.method"),
        Some(&text("GET"))
    );
    assert_eq!(
        attribute(&entry.attributes, "url.full"),
        Some(&text("http://127.0.0.1/orders"))
    );
    assert_eq!(
        attribute(&exit.attributes, "http.response.status_code"),
        Some(&Value::IntValue(200))
    );
    assert_eq!(
        attribute(&exit.attributes, "server.address"),
        Some(&text("inventory"))
    );
    assert_eq!(
        attribute(&exit.attributes, "server.port"),
        Some(&Value::IntValue(8080))
    );
    assert_eq!(
        attribute(&exit.attributes, "sw8.component_id"),
        Some(&Value::IntValue(7002))
    );
    assert_eq!(entry.start_time_unix_nano, 1_795_317_148_580_000_000);
    assert!(entry.status.is_none(), "not an error");
}

#[test]
fn node_segments_keep_their_client_peer() {
    let segments = ["node_agent_segment_0.pb", "node_agent_segment_1.pb"]
        .map(|name| SegmentObject::decode(fixture(name).as_slice()).unwrap());
    let converted = convert_segments(segments);
    assert_eq!(converted.resources.len(), 1, "one instance, one resource");
    let spans = spans_of(&converted.resources);
    assert_eq!(spans.len(), 2);
    let downstream = spans[0];
    assert_eq!(downstream.name, "GET:/downstream");
    assert_eq!(
        hex(&downstream.trace_id),
        "f97075f9d387420d8e9677ca50f6d36a"
    );
    assert_eq!(downstream.kind, SpanKind::Server as i32);
    assert_eq!(
        attribute(&downstream.attributes, "client.address"),
        Some(&text("::ffff:127.0.0.1"))
    );
    assert_eq!(
        attribute(&downstream.attributes, "client.port"),
        Some(&Value::IntValue(57416))
    );
    assert_eq!(
        attribute(&spans[1].attributes, "coldStart"),
        Some(&text("true"))
    );
    assert_ne!(spans[0].trace_id, spans[1].trace_id);
}

#[test]
fn python_log_line_becomes_a_warning_record() {
    let line = LogData::decode(fixture("python_agent_log.pb").as_slice()).unwrap();
    let resources: Vec<ResourceLogs> = convert_logs([line]);
    let record = &resources[0].scope_logs[0].log_records[0];
    assert_eq!(record.time_unix_nano, 1_795_317_148_581_000_000);
    assert_eq!(
        (record.severity_number, record.severity_text.as_str()),
        (13, "WARNING")
    );
    let Some(Value::StringValue(body)) = record.body.as_ref().and_then(|b| b.value.clone()) else {
        panic!("a string body");
    };
    assert!(body.ends_with("WARNING x - a warning log line"), "{body}");
    assert_eq!(attribute(&record.attributes, "logger"), Some(&text("x")));
    assert_eq!(
        attribute(&record.attributes, "thread"),
        Some(&text("MainThread"))
    );
    assert!(record.trace_id.is_empty(), "logged outside any span");
}

fn single(name: &str, value: f64, service: &str, timestamp: i64) -> MeterData {
    MeterData {
        metric: Some(MeterValue::SingleValue(MeterSingleValue {
            name: name.to_owned(),
            labels: vec![Label {
                name: "pool".into(),
                value: "heap".into(),
            }],
            value,
        })),
        service: service.to_owned(),
        service_instance: if service.is_empty() {
            String::new()
        } else {
            format!("{service}-1")
        },
        timestamp,
    }
}

#[test]
fn meter_readings_take_service_and_time_from_the_first_of_their_stream() {
    let mut carry = MeterCarry::default();
    let mut readings = vec![
        single("jvm_memory_used", 1.5, "javasvc", 1_795_317_148_000),
        single("jvm_threads", 12.0, "", 0),
    ];
    for reading in &mut readings {
        carry.fill(reading);
    }
    let resources = convert_meters(readings);
    assert_eq!(resources.len(), 1, "both readings belong to javasvc-1");
    let resource = resources[0].resource.as_ref().unwrap();
    assert_eq!(
        attribute(&resource.attributes, "service.instance.id"),
        Some(&text("javasvc-1"))
    );
    let metrics = &resources[0].scope_metrics[0].metrics;
    let Some(Data::Gauge(threads)) = &metrics[1].data else {
        panic!("a gauge")
    };
    let point = &threads.data_points[0];
    assert_eq!(point.time_unix_nano, 1_795_317_148_000_000_000);
    assert_eq!(attribute(&point.attributes, "pool"), Some(&text("heap")));
}

#[test]
fn histograms_turn_lower_bounds_into_otlp_buckets() {
    let bucket = |bound: f64, count: i64, negative_infinity: bool| MeterBucketValue {
        bucket: bound,
        count,
        is_negative_infinity: negative_infinity,
    };
    let reading = MeterData {
        metric: Some(MeterValue::Histogram(MeterHistogram {
            name: "request_latency".into(),
            labels: Vec::new(),
            values: vec![
                bucket(10.0, 3, false),
                bucket(0.0, 1, true),
                bucket(50.0, 4, false),
                bucket(0.0, 2, false),
            ],
        })),
        service: "svc".into(),
        ..Default::default()
    };
    let resources = convert_meters([reading]);
    let Some(Data::Histogram(histogram)) = &resources[0].scope_metrics[0].metrics[0].data else {
        panic!("a histogram");
    };
    assert_eq!(histogram.aggregation_temporality, 2, "cumulative");
    let point = &histogram.data_points[0];
    assert_eq!(point.explicit_bounds, [0.0, 10.0, 50.0]);
    assert_eq!(point.bucket_counts, [1, 2, 3, 4]);
    assert_eq!(point.count, 10);
    assert_eq!(point.sum, None);
}

async fn started_receiver() -> (
    SkyWalkingReceiver,
    Arc<Recorder>,
    Arc<Recorder>,
    Arc<Recorder>,
) {
    let traces = Arc::new(Recorder::default());
    let metrics = Arc::new(Recorder::default());
    let logs = Arc::new(Recorder::default());
    let config = SkyWalkingReceiverConfig {
        protocols: Protocols {
            grpc: Some(ServerSettings {
                endpoint: Some("127.0.0.1:0".into()),
                ..Default::default()
            }),
            http: None,
        },
    };
    let consumers = ReceiverConsumers {
        traces: Some(traces.clone()),
        logs: Some(logs.clone()),
        metrics: Some(metrics.clone()),
    };
    let receiver = SkyWalkingReceiver::new(
        ComponentId::parse("skywalking").unwrap(),
        &config,
        consumers,
    );
    receiver.start(&Host::default()).await.expect("starts");
    (receiver, traces, metrics, logs)
}

/// Sends `messages` (already encoded) as one client stream to `path`.
async fn client_stream(
    address: std::net::SocketAddr,
    path: &'static str,
    messages: Vec<Vec<u8>>,
) -> Result<Commands, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connects");
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.expect("ready");
    let stream = futures::stream::iter(messages.into_iter().map(RawMessage));
    let codec = ProstCodec::<RawMessage, Commands>::default();
    client
        .client_streaming(
            tonic::Request::new(stream),
            PathAndQuery::from_static(path),
            codec,
        )
        .await
        .map(tonic::Response::into_inner)
}

/// Already-encoded message bytes, sent as they are.
#[derive(Clone, PartialEq, Default)]
struct RawMessage(Vec<u8>);

impl prost::Message for RawMessage {
    fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        _tag: u32,
        _wire_type: prost::encoding::WireType,
        _buf: &mut impl prost::bytes::Buf,
        _ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        unreachable!("only sent")
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

impl std::fmt::Debug for RawMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

#[tokio::test]
async fn grpc_streams_reach_the_pipelines_under_both_path_families() {
    let (receiver, traces, metrics, logs) = started_receiver().await;
    let address = receiver.grpc_addr().await.expect("bound");

    let node = ["node_agent_segment_0.pb", "node_agent_segment_1.pb"]
        .map(fixture)
        .to_vec();
    let reply = client_stream(
        address,
        "/skywalking.v3.TraceSegmentReportService/collect",
        node,
    )
    .await
    .expect("accepted");
    assert_eq!(reply, Commands::default());
    let python = vec![fixture("python_agent_segment.pb")];
    client_stream(address, "/TraceSegmentReportService/collect", python)
        .await
        .expect("the pre-8.4 path is served too");
    client_stream(
        address,
        "/skywalking.v3.LogReportService/collect",
        vec![fixture("python_agent_log.pb")],
    )
    .await
    .expect("logs accepted");
    let meters = vec![
        single("jvm_threads", 12.0, "javasvc", 1_795_317_148_000).encode_to_vec(),
        single("jvm_classes", 900.0, "", 0).encode_to_vec(),
    ];
    client_stream(address, "/skywalking.v3.MeterReportService/collect", meters)
        .await
        .expect("meters accepted");
    client_stream(
        address,
        "/skywalking.v3.ManagementService/keepAlive",
        vec![Vec::new()],
    )
    .await
    .expect("keep-alives are answered");
    client_stream(
        address,
        "/skywalking.v3.TraceSegmentReportService/collect",
        Vec::new(),
    )
    .await
    .expect("an empty stream is answered");
    let unknown = client_stream(address, "/skywalking.v3.Nope/nothing", vec![Vec::new()]).await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::Unimplemented);

    let span_count: usize = traces.take().iter().map(Payload::item_count).sum();
    assert_eq!(span_count, 4, "2 Node spans and 2 Python spans");

    let broken = vec![fixture("python_agent_segment.pb"), vec![0xff; 7]];
    let status = client_stream(
        address,
        "/skywalking.v3.TraceSegmentReportService/collect",
        broken,
    )
    .await
    .expect_err("a message that is not a segment fails the stream");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("decode"), "{status:?}");
    let delivered: usize = traces.take().iter().map(Payload::item_count).sum();
    assert_eq!(
        delivered, 2,
        "the segment before the broken message still arrives"
    );
    let metric_payloads = metrics.take();
    let Payload::Metrics(resources) = &metric_payloads[0] else {
        panic!("metrics")
    };
    assert_eq!(resources.len(), 1, "the second reading inherits javasvc-1");
    assert_eq!(resources[0].scope_metrics[0].metrics.len(), 2);
    let log_count: usize = logs.take().iter().map(Payload::item_count).sum();
    assert_eq!(log_count, 1);
    receiver
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
        .await
        .expect("stops");
}
