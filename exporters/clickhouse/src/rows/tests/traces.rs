use super::encode_one;
use super::fixtures::{self, EVERY_VALUE_TYPE_TEXT, START_NANOS};
use super::reader::{Map, Reader, map_of};
use crate::rows::Table;
use cormorant_core::pdata::Payload;

/// The columns up to `SpanAttributes` that differ between the two fixture spans.
struct Head {
    timestamp: i64,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    trace_state: String,
    name: String,
    kind: String,
}

fn read_head(r: &mut Reader) -> Head {
    Head {
        timestamp: r.i64(),
        trace_id: r.string(),
        span_id: r.string(),
        parent_span_id: r.string(),
        trace_state: r.string(),
        name: r.string(),
        kind: r.string(),
    }
}

/// `ServiceName, ResourceAttributes` of the fixture resource.
fn assert_resource(r: &mut Reader) {
    assert_eq!(r.string(), "checkout");
    assert_eq!(
        r.map(),
        map_of(&[
            ("service.name", "checkout"),
            ("host.name", "node-1"),
            ("process.pid", "77"),
            ("process.executable.name", "cartd"),
        ])
    );
}

#[test]
fn spans_encode_every_column_in_insert_order() {
    let table = encode_one(&Payload::Traces(fixtures::traces()));
    assert_eq!(table.table, Table::Traces);
    assert_eq!(table.rows, 2);
    assert_eq!(table.columns.len(), 29);
    assert_eq!(table.columns[15], "Events.Timestamp");
    assert_eq!(table.columns[22], "SpanSource");
    let mut r = Reader::new(&table.row_binary);

    // The server span: everything set.
    let head = read_head(&mut r);
    assert_eq!(head.timestamp, START_NANOS as i64);
    assert_eq!(head.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(head.span_id, "eee19b7ec3c1b174");
    assert_eq!(head.parent_span_id, "eee19b7ec3c1b173");
    assert_eq!(head.trace_state, "rojo=00f067aa0ba902b7");
    assert_eq!(head.name, "GET /cart");
    assert_eq!(head.kind, "Server");
    assert_resource(&mut r);
    assert_eq!(r.string(), "io.cormorant.test");
    assert_eq!(r.string(), "1.2.3");
    let span_attributes = r.map();
    assert_eq!(span_attributes.len(), EVERY_VALUE_TYPE_TEXT.len() + 8);
    assert_eq!(
        span_attributes[..EVERY_VALUE_TYPE_TEXT.len()],
        map_of(&EVERY_VALUE_TYPE_TEXT)
    );
    assert!(span_attributes.contains(&("process.pid".into(), "4242".into())));
    assert!(span_attributes.contains(&(
        "http.request.header.x-request-id".into(),
        r#"["req-1"]"#.into()
    )));
    assert_eq!(r.u64(), 1_500_000, "Duration in ns");
    assert_eq!(r.string(), "Error");
    assert_eq!(r.string(), "out of stock");
    assert_eq!(
        r.array(Reader::i64),
        [START_NANOS as i64 + 10, START_NANOS as i64 + 20]
    );
    assert_eq!(r.array(Reader::string), ["cache miss", "exception"]);
    assert_eq!(
        r.array(Reader::map),
        [map_of(&[("key", "cart:1")]), Map::new()]
    );
    assert_eq!(
        r.array(Reader::string),
        ["0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", ""],
        "Links.TraceId, all-zero ids empty"
    );
    assert_eq!(r.array(Reader::string), ["0b0b0b0b0b0b0b0b", ""]);
    assert_eq!(r.array(Reader::string), ["k=v", ""]);
    assert_eq!(
        r.array(Reader::map),
        [map_of(&[("link.kind", "follows")]), Map::new()]
    );
    assert_eq!(r.string(), "system", "SpanSource");
    assert_eq!(r.u32(), 4242, "ProcessId from the span wins");
    assert_eq!(r.string(), "nginx", "ProcessName from the span wins");
    assert_eq!(r.string(), "http", "L7Protocol");
    assert_eq!(r.string(), "req-1", "RequestId from the header array");
    assert_eq!(r.u32(), 3_000_000_000, "TcpSeqRequest");
    assert_eq!(r.u32(), 12_345, "TcpSeqResponse from a numeric string");

    // The client span: nothing optional, scope absent, process from the resource.
    let head = read_head(&mut r);
    assert_eq!(head.timestamp, START_NANOS as i64 + 5);
    assert_eq!(head.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(head.span_id, "eee19b7ec3c1b173");
    assert_eq!(head.parent_span_id, "", "all-zero parent is empty");
    assert_eq!(head.trace_state, "");
    assert_eq!(head.name, "SELECT carts");
    assert_eq!(head.kind, "Client");
    assert_resource(&mut r);
    assert_eq!(r.string(), "", "ScopeName of a missing scope");
    assert_eq!(r.string(), "");
    assert_eq!(r.map(), Map::new());
    assert_eq!(r.u64(), 0, "an end before the start saturates to 0");
    assert_eq!(r.string(), "Unset", "no status is Unset");
    assert_eq!(r.string(), "");
    for _ in 0..7 {
        assert_eq!(r.leb128(), 0, "no events or links: empty arrays");
    }
    assert_eq!(r.string(), "app", "default SpanSource");
    assert_eq!(r.u32(), 77, "ProcessId from the resource's numeric string");
    assert_eq!(r.string(), "cartd");
    assert_eq!(r.string(), "");
    assert_eq!(r.string(), "");
    assert_eq!(r.u32(), 0);
    assert_eq!(r.u32(), 0);
    assert!(r.at_end(), "no trailing bytes");
}

#[test]
fn span_kinds_and_status_codes_use_contrib_names() {
    use crate::rows::traces::{span_kind_text, status_code_text};
    use cormorant_core::pdata::trace::Status;
    let kinds: Vec<_> = (0..7).map(span_kind_text).collect();
    assert_eq!(
        kinds,
        [
            "Unspecified",
            "Internal",
            "Server",
            "Client",
            "Producer",
            "Consumer",
            ""
        ]
    );
    let status = |code| {
        Some(Status {
            code,
            message: String::new(),
        })
    };
    assert_eq!(status_code_text(None), "Unset");
    assert_eq!(status_code_text(status(0).as_ref()), "Unset");
    assert_eq!(status_code_text(status(1).as_ref()), "Ok");
    assert_eq!(status_code_text(status(2).as_ref()), "Error");
}

#[test]
fn request_id_falls_back_and_out_of_range_numbers_keep_defaults() {
    use cormorant_core::pdata::common::any_value::Value;
    use fixtures::{kv, text};
    let mut resource_spans = fixtures::traces();
    let span = &mut resource_spans[0].scope_spans[1].spans[0];
    span.attributes = vec![
        kv("cormorant.request_id", text("fallback-id")),
        kv("cormorant.tcp.seq.request", Value::IntValue(-1)),
        kv("cormorant.tcp.seq.response", Value::IntValue(1 << 40)),
        kv("process.pid", Value::BoolValue(true)),
        kv("cormorant.span.source", text("network")),
    ];
    resource_spans[0].scope_spans.remove(0);
    let table = encode_one(&Payload::Traces(resource_spans));
    let mut r = Reader::new(&table.row_binary);
    read_head(&mut r);
    assert_resource(&mut r);
    r.string();
    r.string();
    assert_eq!(r.map().len(), 5);
    r.u64();
    r.string();
    r.string();
    for _ in 0..7 {
        assert_eq!(r.leb128(), 0);
    }
    assert_eq!(r.string(), "network");
    assert_eq!(r.u32(), 77, "a bool pid is ignored, the resource's is used");
    assert_eq!(r.string(), "cartd");
    assert_eq!(r.string(), "");
    assert_eq!(r.string(), "fallback-id");
    assert_eq!(r.u32(), 0, "negative sequence number keeps the default");
    assert_eq!(r.u32(), 0, "sequence number past u32 keeps the default");
    assert!(r.at_end());
}
