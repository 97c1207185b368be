//! `ExportTraceServiceRequest` payloads: one resource, one scope, `items` server spans.

use super::attributes::{HttpCall, item_attributes, resource};
use super::wire::FieldLayout;
use super::{PayloadSpec, instrumentation_scope};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use rand::Rng;

/// `resource_spans` (1) → `scope_spans` (2) → `spans` (2); ids `trace_id` (1), `span_id`
/// (2), `parent_span_id` (4); times `start_time_unix_nano` (7), `end_time_unix_nano` (8).
pub(super) const LAYOUT: FieldLayout<'static> = FieldLayout {
    path: &[&[1], &[2], &[2]],
    id_fields: &[(1, 16), (2, 8), (4, 8)],
    fixed64_fields: &[7, 8],
};

pub(super) fn build(
    spec: &PayloadSpec,
    rng: &mut impl Rng,
    now_nanos: u64,
) -> ExportTraceServiceRequest {
    let spans = (0..spec.items_per_request)
        .map(|_| server_span(spec, rng, now_nanos))
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(&spec.service_name, rng)),
            scope_spans: vec![ScopeSpans {
                scope: Some(instrumentation_scope()),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn server_span(spec: &PayloadSpec, rng: &mut impl Rng, now_nanos: u64) -> Span {
    let call = HttpCall::random(rng);
    let end = now_nanos - rng.random_range(0..1_000_000);
    let start = end - rng.random_range(200_000..50_000_000);
    let code = if call.is_server_error() {
        status::StatusCode::Error
    } else {
        status::StatusCode::Ok
    };
    Span {
        trace_id: rng.random::<[u8; 16]>().to_vec(),
        span_id: rng.random::<[u8; 8]>().to_vec(),
        trace_state: String::new(),
        parent_span_id: rng.random::<[u8; 8]>().to_vec(),
        flags: 0,
        name: format!("{} {}", call.method, route_of(&call.path)),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: item_attributes(
            &call,
            spec.attributes_per_item,
            spec.attribute_value_size,
            rng,
        ),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Some(Status {
            message: String::new(),
            code: code as i32,
        }),
    }
}

/// The low-cardinality span name of a path: `/api/v1/orders/123` → `/api/v1/orders/{id}`.
fn route_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((route, _)) => format!("{route}/{{id}}"),
        None => path.to_owned(),
    }
}
