//! Payloads that exercise every column: attributes of every value type, events, links, exemplars,
//! absent optional fields. Shared by the unit tests and the store round-trip test (which includes
//! this file by path), so it only uses public paths.

use cormorant_core::pdata::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::metrics::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::{
    ResourceSpans, ScopeSpans, Span, Status,
    span::{Event, Link},
};

/// 2023-11-14T22:13:20.123456789Z.
pub const START_NANOS: u64 = 1_700_000_000_123_456_789;
pub const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
pub const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
pub const PARENT_SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73];
pub const LINKED_TRACE_ID: [u8; 16] = [0x0a; 16];
pub const LINKED_SPAN_ID: [u8; 8] = [0x0b; 8];

pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub fn text(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

/// One attribute of every OTLP value type, including one with no value.
pub fn every_value_type() -> Vec<KeyValue> {
    vec![
        kv("str", text("GET /cart")),
        kv("bool", Value::BoolValue(true)),
        kv("int", Value::IntValue(-42)),
        kv("double", Value::DoubleValue(0.25)),
        kv("bytes", Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
        kv(
            "array",
            Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(text("a")),
                    },
                    AnyValue {
                        value: Some(Value::IntValue(2)),
                    },
                ],
            }),
        ),
        kv(
            "map",
            Value::KvlistValue(KeyValueList {
                values: vec![kv("z", Value::BoolValue(false)), kv("a", text("<b>"))],
            }),
        ),
        KeyValue {
            key: "empty".to_owned(),
            value: None,
            ..Default::default()
        },
    ]
}

/// `AsString()` of [`every_value_type`], in the same order.
pub const EVERY_VALUE_TYPE_TEXT: [(&str, &str); 8] = [
    ("str", "GET /cart"),
    ("bool", "true"),
    ("int", "-42"),
    ("double", "0.25"),
    ("bytes", "3q2+7w=="),
    ("array", r#"["a",2]"#),
    ("map", r#"{"a":"\u003cb\u003e","z":false}"#),
    ("empty", ""),
];

fn resource(extra: Vec<KeyValue>) -> Option<Resource> {
    let mut attributes = vec![
        kv("service.name", text("checkout")),
        kv("host.name", text("node-1")),
    ];
    attributes.extend(extra);
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "io.cormorant.test".to_owned(),
        version: "1.2.3".to_owned(),
        attributes: vec![kv("scope.attr", Value::IntValue(7))],
        dropped_attributes_count: 3,
    })
}

/// Two spans: a server span with everything set (eBPF attributes on the span), and a client span
/// with nothing optional, no parent, an end before its start, and its process on the resource.
pub fn traces() -> Vec<ResourceSpans> {
    let mut server_attributes = every_value_type();
    server_attributes.extend([
        kv("cormorant.span.source", text("system")),
        kv("process.pid", Value::IntValue(4242)),
        kv("process.executable.name", text("nginx")),
        kv("cormorant.l7.protocol", text("http")),
        kv(
            "http.request.header.x-request-id",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(text("req-1")),
                }],
            }),
        ),
        kv("cormorant.request_id", text("ignored-when-header-set")),
        kv("cormorant.tcp.seq.request", Value::IntValue(3_000_000_000)),
        kv("cormorant.tcp.seq.response", text("12345")),
    ]);
    let server = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        trace_state: "rojo=00f067aa0ba902b7".to_owned(),
        parent_span_id: PARENT_SPAN_ID.to_vec(),
        name: "GET /cart".to_owned(),
        kind: 2,
        start_time_unix_nano: START_NANOS,
        end_time_unix_nano: START_NANOS + 1_500_000,
        attributes: server_attributes,
        events: vec![
            Event {
                time_unix_nano: START_NANOS + 10,
                name: "cache miss".to_owned(),
                attributes: vec![kv("key", text("cart:1"))],
                dropped_attributes_count: 0,
            },
            Event {
                time_unix_nano: START_NANOS + 20,
                name: "exception".to_owned(),
                attributes: vec![],
                dropped_attributes_count: 0,
            },
        ],
        links: vec![
            Link {
                trace_id: LINKED_TRACE_ID.to_vec(),
                span_id: LINKED_SPAN_ID.to_vec(),
                trace_state: "k=v".to_owned(),
                attributes: vec![kv("link.kind", text("follows"))],
                ..Default::default()
            },
            Link {
                trace_id: vec![0; 16],
                span_id: vec![0; 8],
                ..Default::default()
            },
        ],
        status: Some(Status {
            message: "out of stock".to_owned(),
            code: 2,
        }),
        ..Default::default()
    };
    let client = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: PARENT_SPAN_ID.to_vec(),
        parent_span_id: vec![0; 8],
        name: "SELECT carts".to_owned(),
        kind: 3,
        start_time_unix_nano: START_NANOS + 5,
        end_time_unix_nano: START_NANOS,
        ..Default::default()
    };
    vec![ResourceSpans {
        resource: resource(vec![
            kv("process.pid", text("77")),
            kv("process.executable.name", text("cartd")),
        ]),
        scope_spans: vec![
            ScopeSpans {
                scope: scope(),
                spans: vec![server],
                schema_url: String::new(),
            },
            ScopeSpans {
                scope: None,
                spans: vec![client],
                schema_url: String::new(),
            },
        ],
        schema_url: String::new(),
    }]
}

/// Two records: one with every field, one with only an observed time and a structured body.
pub fn logs() -> Vec<ResourceLogs> {
    let full = LogRecord {
        time_unix_nano: START_NANOS,
        observed_time_unix_nano: START_NANOS + 1_000,
        severity_number: 17,
        severity_text: "ERROR".to_owned(),
        body: Some(AnyValue {
            value: Some(text("payment failed")),
        }),
        attributes: every_value_type(),
        flags: 0x0000_0101,
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        event_name: "payment.failure".to_owned(),
        ..Default::default()
    };
    let observed_only = LogRecord {
        observed_time_unix_nano: START_NANOS + 2_000,
        body: Some(AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![kv("msg", text("hi")), kv("n", Value::DoubleValue(1e21))],
            })),
        }),
        ..Default::default()
    };
    vec![ResourceLogs {
        resource: resource(vec![]),
        scope_logs: vec![ScopeLogs {
            scope: scope(),
            log_records: vec![full, observed_only],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
        }],
        schema_url: "https://opentelemetry.io/schemas/1.25.0".to_owned(),
    }]
}

fn exemplars() -> Vec<Exemplar> {
    vec![
        Exemplar {
            filtered_attributes: vec![kv("user", text("u1"))],
            time_unix_nano: START_NANOS + 1,
            span_id: SPAN_ID.to_vec(),
            trace_id: TRACE_ID.to_vec(),
            value: Some(exemplar::Value::AsInt(9)),
        },
        Exemplar {
            time_unix_nano: START_NANOS + 2,
            value: Some(exemplar::Value::AsDouble(0.5)),
            ..Default::default()
        },
    ]
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.to_owned(),
        description: format!("{name} description"),
        unit: "ms".to_owned(),
        data: Some(data),
        ..Default::default()
    }
}

/// One metric of every type; the gauge has an int point with exemplars and a double point, the
/// histogram a point with min/max/sum and one without.
pub fn metrics() -> Vec<ResourceMetrics> {
    let number_point = |value, exemplars| NumberDataPoint {
        attributes: vec![kv("route", text("/cart"))],
        start_time_unix_nano: START_NANOS - 1_000,
        time_unix_nano: START_NANOS,
        value: Some(value),
        exemplars,
        flags: 1,
    };
    let gauge = Gauge {
        data_points: vec![
            number_point(number_data_point::Value::AsInt(-3), exemplars()),
            number_point(number_data_point::Value::AsDouble(2.5), vec![]),
        ],
    };
    let sum = Sum {
        data_points: vec![number_point(
            number_data_point::Value::AsDouble(1e-9),
            vec![],
        )],
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
        is_monotonic: true,
    };
    let histogram = Histogram {
        data_points: vec![
            HistogramDataPoint {
                attributes: vec![kv("route", text("/cart"))],
                start_time_unix_nano: START_NANOS - 1_000,
                time_unix_nano: START_NANOS,
                count: 6,
                sum: Some(12.5),
                bucket_counts: vec![1, 2, 3],
                explicit_bounds: vec![1.0, 10.0],
                exemplars: exemplars(),
                flags: 0,
                min: Some(0.5),
                max: Some(9.75),
            },
            HistogramDataPoint {
                time_unix_nano: START_NANOS,
                count: 0,
                ..Default::default()
            },
        ],
        aggregation_temporality: AggregationTemporality::Delta as i32,
    };
    let exponential = ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint {
            attributes: vec![kv("route", text("/cart"))],
            start_time_unix_nano: START_NANOS - 1_000,
            time_unix_nano: START_NANOS,
            count: 10,
            sum: Some(55.0),
            scale: 3,
            zero_count: 1,
            positive: Some(Buckets {
                offset: -2,
                bucket_counts: vec![4, 5],
            }),
            negative: None,
            flags: 0,
            exemplars: vec![],
            min: Some(-1.0),
            max: None,
            zero_threshold: 0.0,
        }],
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
    };
    let summary = Summary {
        data_points: vec![SummaryDataPoint {
            attributes: vec![kv("route", text("/cart"))],
            start_time_unix_nano: START_NANOS - 1_000,
            time_unix_nano: START_NANOS,
            count: 4,
            sum: 20.0,
            quantile_values: vec![
                ValueAtQuantile {
                    quantile: 0.5,
                    value: 4.0,
                },
                ValueAtQuantile {
                    quantile: 0.99,
                    value: 9.5,
                },
            ],
            flags: 0,
        }],
    };
    vec![ResourceMetrics {
        resource: resource(vec![]),
        scope_metrics: vec![ScopeMetrics {
            scope: scope(),
            metrics: vec![
                metric("queue.depth", Data::Gauge(gauge)),
                metric("requests", Data::Sum(sum)),
                metric("latency", Data::Histogram(histogram)),
                metric("latency.exp", Data::ExponentialHistogram(exponential)),
                metric("latency.summary", Data::Summary(summary)),
            ],
            schema_url: "https://scope.schema".to_owned(),
        }],
        schema_url: "https://resource.schema".to_owned(),
    }]
}
