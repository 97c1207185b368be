//! What the in-place processors cost per span, against what decoding the span costs.
//!
//! `cargo bench -p cormorant-processor-filter --bench in_place` decodes an OTLP request of 100
//! "medium" spans (10 attributes of 20-character values and one event each, 6 resource
//! attributes; the shape of the load generators in `shared/reference/performance.md`) and runs
//! the `resource`, `attributes` and `filter` processors' transformations on it, as configured in
//! `config/examples/gateway.yaml`, and a `transform` that rewrites span names and drops header
//! attributes. Decoding is the least any collector does per span, so each
//! processor's time is printed next to it as a ratio.

use cormorant_confmap::parse_yaml;
use cormorant_core::pdata::ExportTraceServiceRequest;
use cormorant_core::pdata::common::{InstrumentationScope, KeyValue};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::string_attribute;
use cormorant_core::pdata::trace::span::Event;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::processorhelper::PayloadTransform;
use cormorant_core::{Payload, Signal, parse_config};
use cormorant_processor_attributes::{AttributesConfig, AttributesTransform};
use cormorant_processor_filter::{FilterConfig, FilterRules};
use cormorant_processor_resource::{ResourceConfig, ResourceTransform};
use cormorant_processor_transform::{TransformConfig, TransformRules};
use prost::Message;
use std::time::{Duration, Instant};

const SPANS_PER_REQUEST: usize = 100;
const MEASURE_FOR: Duration = Duration::from_secs(2);

fn request() -> Vec<u8> {
    let spans = (0..SPANS_PER_REQUEST)
        .map(|n| {
            let mut attributes: Vec<KeyValue> = (0..7)
                .map(|a| {
                    string_attribute(
                        &format!("app.attribute.{a}"),
                        format!("value-{n:05}-{a:012}"),
                    )
                })
                .collect();
            attributes.push(string_attribute("user.email", "someone.long@example.com"));
            attributes.push(string_attribute(
                "http.request.header.cookie",
                "session=0123456789abcd",
            ));
            let route = if n % 10 == 0 {
                "/healthz"
            } else {
                "/api/orders"
            };
            attributes.push(string_attribute("http.route", route));
            Span {
                trace_id: vec![n as u8; 16],
                span_id: vec![n as u8; 8],
                name: format!("GET {route}"),
                kind: 2,
                start_time_unix_nano: 1_700_000_000_000_000_000 + n as u64,
                end_time_unix_nano: 1_700_000_000_000_100_000 + n as u64,
                attributes,
                events: vec![Event {
                    name: "request.received".into(),
                    attributes: vec![string_attribute("bytes", "512")],
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    let resource = Resource {
        attributes: [
            ("service.name", "checkout"),
            ("service.version", "1.4.2"),
            ("host.name", "node-17.example.internal"),
            ("host.id", "i-0123456789abcdef0"),
            ("deployment.environment", "staging"),
            ("telemetry.sdk.language", "rust"),
        ]
        .iter()
        .map(|(key, value)| string_attribute(key, *value))
        .collect(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn config<C: cormorant_core::ComponentConfig>(yaml: &str) -> C {
    parse_config(&parse_yaml(yaml).expect("valid YAML")).expect("valid config")
}

/// Nanoseconds per span of decoding, and of `transform` on the decoded payload.
fn measure(bytes: &[u8], transform: &dyn PayloadTransform) -> (f64, f64) {
    let (mut decoding, mut transforming, mut spans) = (Duration::ZERO, Duration::ZERO, 0usize);
    let started = Instant::now();
    while started.elapsed() < MEASURE_FOR {
        let before_decode = Instant::now();
        let mut payload = Payload::from(ExportTraceServiceRequest::decode(bytes).expect("decodes"));
        let before_transform = Instant::now();
        transform.transform(&mut payload);
        transforming += before_transform.elapsed();
        decoding += before_transform - before_decode;
        spans += SPANS_PER_REQUEST;
        std::hint::black_box(payload);
    }
    let per_span = |total: Duration| total.as_nanos() as f64 / spans as f64;
    (per_span(decoding), per_span(transforming))
}

fn main() {
    let bytes = request();
    let resource = ResourceTransform::new(&config::<ResourceConfig>(
        "attributes:\n  - {key: deployment.environment, value: production, action: upsert}\n  \
         - {key: host.id, action: delete}",
    ))
    .expect("valid resource config");
    let attributes = AttributesTransform::new(
        &config::<AttributesConfig>(
            r#"
include: {match_type: regexp, services: ["^(checkout|accounts)$"]}
actions:
  - {key: user.email, action: hash}
  - {pattern: "^http\\.request\\.header\\.(authorization|cookie)$", action: delete}
"#,
        ),
        Signal::Traces,
    )
    .expect("valid attributes config");
    let filter = FilterRules::new(
        &config::<FilterConfig>(
            r#"
traces:
  span:
    - 'attributes["http.route"] == "/healthz" or attributes["url.path"] == "/healthz"'
    - 'kind == SPAN_KIND_INTERNAL and IsMatch(name, "^cache ")'
"#,
        ),
        Signal::Traces,
    )
    .expect("valid filter config");

    println!(
        "in-place processors on {SPANS_PER_REQUEST}-span OTLP requests (10 attributes, 1 event \
         per span), one thread:"
    );
    println!(
        "{:<50} {:>12} {:>12} {:>16}",
        "processor", "decode ns", "process ns", "process/decode"
    );
    let transform = TransformRules::new(
        &config::<TransformConfig>(
            r#"
trace_statements:
  - context: span
    conditions: ['kind == SPAN_KIND_SERVER']
    statements:
      - 'replace_pattern(name, "^GET /api/.*", "GET /api/{path}")'
      - 'delete_matching_keys(attributes, "^http\\.request\\.header\\.")'
"#,
        ),
        Signal::Traces,
    )
    .expect("valid transform config");
    let cases: [(&str, &dyn PayloadTransform); 4] = [
        ("resource (upsert + delete)", &resource),
        ("attributes/redact (include, hash, delete)", &attributes),
        ("filter/noise (2 span conditions, drops 10 %)", &filter),
        (
            "transform (condition, rename, delete by pattern)",
            &transform,
        ),
    ];
    for (name, transform) in cases {
        let (decode, process) = measure(&bytes, transform);
        println!(
            "{name:<50} {decode:>12.0} {process:>12.0} {:>16.2}",
            process / decode
        );
    }
}
