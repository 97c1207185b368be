//! What the `skywalking` receiver spends per span beyond reading it off the wire.
//!
//! `cargo bench -p cormorant-receiver-skywalking --bench segments` decodes SkyWalking segments
//! shaped like the Python agent's (an Entry span with three tags and an Exit span with a peer and
//! a status code, 32-hex ids; see `tests/fixtures/`) and converts them into OTLP spans, 100
//! segments at a time as a busy agent's stream delivers them. Beside it, it decodes the OTLP
//! request that conversion produced: the cost every OTLP receiver pays for the same spans. It
//! prints nanoseconds per span for each and their ratio, one thread.

use cormorant_core::pdata::ExportTraceServiceRequest;
use cormorant_receiver_skywalking::proto::{KeyStringValuePair, SegmentObject, SpanObject};
use cormorant_receiver_skywalking::traces::convert_segments;
use prost::Message;
use std::time::{Duration, Instant};

const SEGMENTS_PER_BATCH: usize = 100;
const MEASURE_FOR: Duration = Duration::from_secs(2);

fn tag(key: &str, value: &str) -> KeyStringValuePair {
    KeyStringValuePair {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn segment(n: usize) -> Vec<u8> {
    let start = 1_795_317_148_580 + n as i64;
    SegmentObject {
        trace_id: format!("8c81fc30e62211f19f0702fc{n:08x}"),
        trace_segment_id: format!("8c81f88ee62211f19f0702fc{n:08x}"),
        service: "orders".into(),
        service_instance: "orders-1".into(),
        spans: vec![
            SpanObject {
                span_id: 1,
                parent_span_id: 0,
                start_time: start + 1,
                end_time: start + 4,
                operation_name: "/inventory".into(),
                peer: "inventory:8080".into(),
                span_type: 1,
                span_layer: 3,
                component_id: 7002,
                tags: vec![tag("http.status_code", "200")],
                ..Default::default()
            },
            SpanObject {
                span_id: 0,
                parent_span_id: -1,
                start_time: start,
                end_time: start + 5,
                operation_name: "/orders".into(),
                peer: "10.0.0.7:51234".into(),
                span_type: 0,
                span_layer: 3,
                component_id: 7001,
                tags: vec![
                    tag("http.method", "GET"),
                    tag("http.url", "http://orders.example:8080/orders?id=17"),
                    tag("http.status_code", "200"),
                ],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
    .encode_to_vec()
}

fn main() {
    let encoded: Vec<Vec<u8>> = (0..SEGMENTS_PER_BATCH).map(segment).collect();
    let otlp = {
        let decoded = encoded
            .iter()
            .map(|bytes| SegmentObject::decode(bytes.as_slice()).expect("decodes"));
        ExportTraceServiceRequest {
            resource_spans: convert_segments(decoded).resources,
        }
        .encode_to_vec()
    };

    let (mut receiving, mut otlp_decoding, mut spans) = (Duration::ZERO, Duration::ZERO, 0usize);
    let started = Instant::now();
    while started.elapsed() < MEASURE_FOR {
        let before = Instant::now();
        let segments = encoded
            .iter()
            .map(|bytes| SegmentObject::decode(bytes.as_slice()).expect("decodes"));
        let converted = convert_segments(segments);
        receiving += before.elapsed();
        spans += converted.spans;
        std::hint::black_box(converted);

        let before = Instant::now();
        let request = ExportTraceServiceRequest::decode(otlp.as_slice()).expect("decodes");
        otlp_decoding += before.elapsed();
        std::hint::black_box(request);
    }
    let per_span = |total: Duration| total.as_nanos() as f64 / spans as f64;
    let (skywalking, otlp) = (per_span(receiving), per_span(otlp_decoding));
    println!("SkyWalking segments ({SEGMENTS_PER_BATCH} per batch, 2 spans each), one thread:");
    println!("  decode + convert to OTLP: {skywalking:>7.0} ns per span");
    println!("  decode the same spans as OTLP: {otlp:>7.0} ns per span");
    println!("  ratio: {:.2}", skywalking / otlp);
    println!(
        "  spans per CPU-second through the conversion: {:.0}",
        1e9 / skywalking
    );
}
