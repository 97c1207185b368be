//! Encoding throughput: OTLP payloads → RowBinary bodies, single-threaded.
//!
//! `cargo bench -p cormorant-exporter-clickhouse --bench encode` prints spans (and log records)
//! encoded per second for payloads of 512 small items shaped like `tools/loadgen`'s defaults:
//! six resource attributes, one scope, three attributes per item. One thread doing nothing but
//! encoding, so items/s here is items per CPU-second of encoding.

use cormorant_core::pdata::Payload;
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span, Status};
use cormorant_exporter_clickhouse::rows;
use std::hint::black_box;
use std::time::{Duration, Instant};

const ITEMS_PER_PAYLOAD: usize = 512;
const MEASURE_FOR: Duration = Duration::from_secs(3);

/// A xorshift generator: enough variety for ids and paths without a dependency.
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes<const N: usize>(&mut self) -> Vec<u8> {
        (0..N).map(|_| self.next() as u8).collect()
    }
}

fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    let text = |value: &str| Value::StringValue(value.to_owned());
    Some(Resource {
        attributes: vec![
            attribute("service.name", text("checkout")),
            attribute("service.namespace", text("shop")),
            attribute("service.version", text("1.8.3")),
            attribute(
                "service.instance.id",
                text("6a0e0c2b9f5e4d6f8a1b2c3d4e5f6a7b"),
            ),
            attribute("deployment.environment.name", text("bench")),
            attribute("host.name", text("loadgen-host-01")),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "loadgen".to_owned(),
        version: "0.1.0".to_owned(),
        ..Default::default()
    })
}

fn http_attributes(ids: &mut Ids) -> Vec<KeyValue> {
    vec![
        attribute("http.request.method", Value::StringValue("GET".to_owned())),
        attribute(
            "url.path",
            Value::StringValue(format!("/api/v1/orders/{}", ids.next() % 100_000)),
        ),
        attribute("http.response.status_code", Value::IntValue(200)),
    ]
}

fn small_spans(ids: &mut Ids) -> Payload {
    let start = 1_700_000_000_000_000_000u64;
    let spans = (0..ITEMS_PER_PAYLOAD as u64)
        .map(|i| Span {
            trace_id: ids.bytes::<16>(),
            span_id: ids.bytes::<8>(),
            parent_span_id: ids.bytes::<8>(),
            name: "GET /api/v1/orders".to_owned(),
            kind: 2,
            start_time_unix_nano: start + i * 1_000,
            end_time_unix_nano: start + i * 1_000 + 250_000,
            attributes: http_attributes(ids),
            status: Some(Status::default()),
            ..Default::default()
        })
        .collect();
    Payload::Traces(vec![ResourceSpans {
        resource: resource(),
        scope_spans: vec![ScopeSpans {
            scope: scope(),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }])
}

fn small_logs(ids: &mut Ids) -> Payload {
    let start = 1_700_000_000_000_000_000u64;
    let records = (0..ITEMS_PER_PAYLOAD as u64)
        .map(|i| LogRecord {
            time_unix_nano: start + i,
            observed_time_unix_nano: start + i + 10,
            severity_number: 9,
            severity_text: "INFO".to_owned(),
            body: Some(AnyValue {
                value: Some(Value::StringValue(format!(
                    "10.0.0.1 - - \"GET /api/v1/orders/{} HTTP/1.1\" 200 512",
                    ids.next() % 100_000
                ))),
            }),
            attributes: http_attributes(ids),
            flags: 1,
            trace_id: ids.bytes::<16>(),
            span_id: ids.bytes::<8>(),
            ..Default::default()
        })
        .collect();
    Payload::Logs(vec![ResourceLogs {
        resource: resource(),
        scope_logs: vec![ScopeLogs {
            scope: scope(),
            log_records: records,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }])
}

/// Encodes `payloads` round-robin for [`MEASURE_FOR`]; prints items/s and RowBinary bytes/item.
fn measure(label: &str, payloads: &[Payload]) {
    let items_per_payload = payloads[0].item_count();
    // Warm-up: caches, allocator, branch predictors.
    for payload in payloads {
        black_box(rows::encode(black_box(payload)));
    }
    let started = Instant::now();
    let (mut encoded_items, mut encoded_bytes) = (0usize, 0usize);
    while started.elapsed() < MEASURE_FOR {
        for payload in payloads {
            let tables = rows::encode(black_box(payload));
            encoded_bytes += tables.iter().map(|t| t.row_binary.len()).sum::<usize>();
            encoded_items += items_per_payload;
            black_box(tables);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{label}: {:.0} items/s ({:.2} µs per {items_per_payload}-item payload, {:.0} RowBinary bytes/item)",
        encoded_items as f64 / seconds,
        seconds * 1e6 / (encoded_items / items_per_payload) as f64,
        encoded_bytes as f64 / encoded_items as f64,
    );
}

fn main() {
    let mut ids = Ids(0x9e37_79b9_7f4a_7c15);
    let spans: Vec<Payload> = (0..16).map(|_| small_spans(&mut ids)).collect();
    let logs: Vec<Payload> = (0..16).map(|_| small_logs(&mut ids)).collect();
    measure("small spans -> otel_traces RowBinary", &spans);
    measure("small log records -> otel_logs RowBinary", &logs);
}
