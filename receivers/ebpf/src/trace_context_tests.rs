use super::*;

fn hex<const N: usize>(digits: &str) -> [u8; N] {
    hex_padded(digits, N * 2).expect("test hex")
}

#[test]
fn traceparent_version_00() {
    let context = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .expect("valid");
    assert_eq!(context.trace_id, hex("0af7651916cd43dd8448eb211c80319c"));
    assert_eq!(context.parent_span_id, hex("b7ad6b7169203331"));
    assert_eq!(context.sampled, Some(true));
    let unsampled = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02")
        .expect("valid");
    assert_eq!(unsampled.sampled, Some(false));
}

#[test]
fn traceparent_rejections() {
    let cases = [
        (
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            TraceContextError::ForbiddenVersion,
        ),
        (
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            TraceContextError::ZeroId,
        ),
        (
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            TraceContextError::ZeroId,
        ),
        (
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            TraceContextError::BadHex,
        ),
        (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            TraceContextError::FieldCount,
        ),
        (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            TraceContextError::FieldCount,
        ),
        (
            "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
            TraceContextError::BadHex,
        ),
        (
            "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            TraceContextError::BadHex,
        ),
    ];
    for (value, error) in cases {
        assert_eq!(parse_traceparent(value), Err(error), "{value}");
    }
}

#[test]
fn traceparent_future_version_reads_first_four_fields() {
    let context =
        parse_traceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-ever")
            .expect("higher versions may extend");
    assert_eq!(context.parent_span_id, hex("b7ad6b7169203331"));
}

#[test]
fn b3_single_forms() {
    let full =
        parse_b3_single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")
            .expect("valid");
    assert_eq!(full.trace_id, hex("80f198ee56343ba864fe8b2a57d3eff7"));
    assert_eq!(full.parent_span_id, hex("e457b5a2e4d86bd1"));
    assert_eq!(full.sampled, Some(true));

    let short = parse_b3_single("64fe8b2a57d3eff7-e457b5a2e4d86bd1").expect("64-bit trace id");
    assert_eq!(short.trace_id, hex("000000000000000064fe8b2a57d3eff7"));
    assert_eq!(short.sampled, None);

    assert_eq!(
        parse_b3_single("64fe8b2a57d3eff7-e457b5a2e4d86bd1-d").map(|c| c.sampled),
        Ok(Some(true))
    );
    assert_eq!(parse_b3_single("0"), Err(TraceContextError::NoIds));
    assert_eq!(
        parse_b3_single("64fe8b2a57d3eff7-e457b5a2e4d86bd1-x"),
        Err(TraceContextError::BadSampling)
    );
    assert_eq!(
        parse_b3_single("64fe8b2a57d3eff-e457b5a2e4d86bd1"),
        Err(TraceContextError::BadHex)
    );
}

#[test]
fn b3_multi_headers() {
    let context = parse_b3_multi(
        "463ac35c9f6413ad48485a3953bb6124",
        "a2fb4a1d1a96d312",
        Some("0"),
        None,
    )
    .expect("valid");
    assert_eq!(context.sampled, Some(false));
    let debug =
        parse_b3_multi("463ac35c9f6413ad", "a2fb4a1d1a96d312", None, Some("1")).expect("valid");
    assert_eq!(debug.sampled, Some(true));
    assert_eq!(debug.trace_id, hex("0000000000000000463ac35c9f6413ad"));
    let lenient = parse_b3_multi("463ac35c9f6413ad", "a2fb4a1d1a96d312", Some("true"), None);
    assert_eq!(lenient.map(|c| c.sampled), Ok(Some(true)));
}

#[test]
fn uber_trace_id_url_encoded_and_short() {
    let context = parse_uber_trace_id("3ce929d0e0e4736%3A4a1d1a96d312%3A0%3A1").expect("valid");
    assert_eq!(context.trace_id, hex("000000000000000003ce929d0e0e4736"));
    assert_eq!(context.parent_span_id, hex("00004a1d1a96d312"));
    assert_eq!(context.sampled, Some(true));
    let unsampled = parse_uber_trace_id("463ac35c9f6413ad48485a3953bb6124:a2fb4a1d1a96d312:0:0")
        .expect("valid");
    assert_eq!(unsampled.sampled, Some(false));
    assert_eq!(
        parse_uber_trace_id("463ac35c9f6413ad:0:0:1"),
        Err(TraceContextError::ZeroId)
    );
    assert_eq!(
        parse_uber_trace_id("a:b:c"),
        Err(TraceContextError::FieldCount)
    );
}

#[test]
fn sw8_from_python_agent() {
    let value = "1-ODFjZDJkZmFlNjIyMTFmMWI0NDYwMmZjMDAwMDAwMDE=-ODFjZDJiZmNlNjIyMTFmMWI0NDYwMmZjMDAwMDAwMDE=-1-cHlzdmM=-cHlzdmMtMQ==-L2ludmVudG9yeQ==-aW52ZW50b3J5OjgwODA=";
    let context = parse_sw8(value).expect("valid");
    assert_eq!(context.trace_id, hex("81cd2dfae62211f1b44602fc00000001"));
    assert_eq!(context.parent_span_id, hex("358b2900e62211f1"));
    assert_eq!(context.sampled, Some(true));
    assert_eq!(parse_sw8("1-abc"), Err(TraceContextError::FieldCount));
    assert_eq!(
        parse_sw8("1-!!!-ODE=-1-cA==-cA==-cA==-cA=="),
        Err(TraceContextError::BadBase64)
    );
}

#[test]
fn sw8_accepts_dashed_and_java_ids() {
    let encode = |text: &str| STANDARD.encode(text);
    let value = format!(
        "0-{}-{}-3-{}-{}-{}-{}",
        encode("56a5e1c519ae4c76a2b8b11d92cead7f.12.16563474296430001"),
        encode("6f1e62c2-7cd4-4bd2-8d2b-3a0f4a77b6e1"),
        encode("svc"),
        encode("svc-1"),
        encode("/"),
        encode("host:80"),
    );
    let context = parse_sw8(&value).expect("valid");
    let java_trace = "56a5e1c519ae4c76a2b8b11d92cead7f.12.16563474296430001";
    assert_eq!(
        Some(context.trace_id),
        cormorant_core::skywalking_ids::id_bytes(java_trace),
        "the whole Java id, not only its process part"
    );
    assert_ne!(context.trace_id, hex("56a5e1c519ae4c76a2b8b11d92cead7f"));
    assert_eq!(
        Some(context.parent_span_id),
        cormorant_core::skywalking_ids::span_id("6f1e62c2-7cd4-4bd2-8d2b-3a0f4a77b6e1", 3)
    );
    assert_eq!(context.sampled, Some(false));
}

#[test]
fn headers_priority_and_case() {
    let mut headers = TraceHeaders::default();
    assert!(headers.record("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"));
    assert!(headers.record("X-B3-SPANID", "a2fb4a1d1a96d312"));
    assert!(!headers.record("Host", "example"));
    let (context, format) = headers.context().expect("b3 multi");
    assert_eq!(format, TraceFormat::B3);
    assert_eq!(context.parent_span_id, hex("a2fb4a1d1a96d312"));

    assert!(headers.record(
        "TraceParent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ));
    assert!(headers.record("tracestate", "congo=t61rcWkgMzE"));
    assert_eq!(
        headers.context().map(|(_, format)| format),
        Some(TraceFormat::W3c)
    );
    assert_eq!(headers.valid_tracestate(), Some("congo=t61rcWkgMzE"));

    let mut broken = TraceHeaders::default();
    broken.record(
        "traceparent",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    broken.record("tracestate", "a=b");
    broken.record("uber-trace-id", "3ce929d0e0e4736:4a1d1a96d312:0:1");
    assert_eq!(broken.valid_tracestate(), None);
    assert_eq!(
        broken.context().map(|(_, format)| format),
        Some(TraceFormat::Jaeger)
    );
}
