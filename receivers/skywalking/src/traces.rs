//! SkyWalking segments as OTLP spans.
//!
//! - Segments of one service instance share a resource (`service.name`, `service.instance.id`).
//! - Ids follow [`cormorant_core::skywalking_ids`], the mapping the eBPF receiver uses for `sw8`
//!   headers, so agent spans and eBPF spans of one request join in one trace.
//! - A span's parent is the span its `parentSpanId` names in the same segment; the first span of
//!   a segment takes its parent from its reference when it has exactly one (the caller in
//!   another process or thread). Every reference is also kept as a link.
//! - Kind: Entry → SERVER (CONSUMER on the MQ layer), Exit → CLIENT (PRODUCER on MQ), Local →
//!   INTERNAL. Status: `isError` → ERROR, otherwise UNSET (SkyWalking does not say a span went
//!   well, only when it failed).
//! - Tags become string attributes; the well-known ones take their stable semantic-convention
//!   names (`http.method` → `http.request.method`, `http.status_code` →
//!   `http.response.status_code` as an int, ...). The peer becomes `server.address`/`server.port`
//!   on Exit spans and `client.address`/`client.port` on Entry spans. `sw8.segment_id`,
//!   `sw8.span_id`, `sw8.parent_span_id` and `sw8.component_id` keep SkyWalking's own names.
//! - Span logs become events named `log`.

use crate::proto::{KeyStringValuePair, SegmentObject, SegmentReference, SpanObject};
use cormorant_core::pdata::common::{InstrumentationScope, KeyValue, any_value::Value};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::span::{Event, Link, SpanKind};
use cormorant_core::pdata::trace::status::StatusCode;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span, Status};
use cormorant_core::pdata::{int_attribute, string_attribute};
use cormorant_core::skywalking_ids;

/// The scope every converted span is reported under.
pub const SCOPE_NAME: &str = "skywalking";

const SPAN_TYPE_ENTRY: i32 = 0;
const SPAN_TYPE_EXIT: i32 = 1;
const SPAN_LAYER_MQ: i32 = 4;

/// SkyWalking tag names and the semantic-convention names they are stored under.
const TAG_RENAMES: [(&str, &str); 10] = [
    ("http.method", "http.request.method"),
    ("http.url", "url.full"),
    ("url", "url.full"),
    ("http.status_code", "http.response.status_code"),
    ("status_code", "http.response.status_code"),
    ("db.type", "db.system.name"),
    ("db.instance", "db.namespace"),
    ("db.statement", "db.query.text"),
    ("mq.topic", "messaging.destination.name"),
    ("mq.queue", "messaging.destination.name"),
];

/// What a batch of segments became.
#[derive(Debug, Default)]
pub struct Converted {
    pub resources: Vec<ResourceSpans>,
    pub spans: usize,
    /// Spans left out because their trace or span id maps to zero.
    pub dropped: usize,
}

/// Converts `segments`, grouping them by service instance.
pub fn convert_segments(segments: impl IntoIterator<Item = SegmentObject>) -> Converted {
    let mut converted = Converted::default();
    for segment in segments {
        let at = instance_entry(
            &mut converted.resources,
            &segment.service,
            &segment.service_instance,
            |r| r.resource.as_ref(),
            |resource, scope| ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        let spans = &mut converted.resources[at].scope_spans[0].spans;
        let Some(trace_id) = skywalking_ids::id_bytes(&segment.trace_id) else {
            converted.dropped += segment.spans.len();
            continue;
        };
        for span in &segment.spans {
            match convert_span(&segment, span, trace_id) {
                Some(converted_span) => {
                    spans.push(converted_span);
                    converted.spans += 1;
                }
                None => converted.dropped += 1,
            }
        }
    }
    converted
        .resources
        .retain(|r| !r.scope_spans[0].spans.is_empty());
    converted
}

/// The resource of a SkyWalking service instance.
fn resource(service: &str, instance: &str) -> Resource {
    let mut attributes = vec![string_attribute("service.name", service)];
    if !instance.is_empty() {
        attributes.push(string_attribute("service.instance.id", instance));
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

/// The index in `list` of the entry (resource spans, metrics or logs) of a service instance,
/// made by `make` from the instance's resource and the receiver's scope on first use, so a
/// batch holds one entry per instance.
pub(crate) fn instance_entry<R>(
    list: &mut Vec<R>,
    service: &str,
    instance: &str,
    resource_of: impl Fn(&R) -> Option<&Resource>,
    make: impl FnOnce(Resource, InstrumentationScope) -> R,
) -> usize {
    if let Some(at) = list
        .iter()
        .position(|entry| resource_is(resource_of(entry), service, instance))
    {
        return at;
    }
    let scope = InstrumentationScope {
        name: SCOPE_NAME.to_owned(),
        ..Default::default()
    };
    list.push(make(resource(service, instance), scope));
    list.len() - 1
}

/// Whether `resource` is the one [`resource`] builds for this service instance (compared in
/// place: this runs for every segment).
fn resource_is(resource: Option<&Resource>, service: &str, instance: &str) -> bool {
    let Some(resource) = resource else {
        return false;
    };
    let is_text = |attribute: Option<&KeyValue>, key: &str, expected: &str| {
        attribute.is_some_and(|kv| {
            kv.key == key
                && matches!(
                    kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    Some(Value::StringValue(text)) if text == expected
                )
        })
    };
    let attributes = &resource.attributes;
    let instance_matches = if instance.is_empty() {
        attributes.len() == 1
    } else {
        attributes.len() == 2 && is_text(attributes.get(1), "service.instance.id", instance)
    };
    instance_matches && is_text(attributes.first(), "service.name", service)
}

fn convert_span(segment: &SegmentObject, span: &SpanObject, trace_id: [u8; 16]) -> Option<Span> {
    let segment_id = &segment.trace_segment_id;
    let span_id = skywalking_ids::span_id(segment_id, span.span_id)?;
    let parent_span_id = if span.parent_span_id >= 0 {
        skywalking_ids::span_id(segment_id, span.parent_span_id)
    } else if let [reference] = span.refs.as_slice() {
        skywalking_ids::span_id(&reference.parent_trace_segment_id, reference.parent_span_id)
    } else {
        None
    };
    let mut attributes = Vec::with_capacity(span.tags.len() + 6);
    attributes.extend(span.tags.iter().map(tag_attribute));
    attributes.extend(peer_attributes(span));
    attributes.push(string_attribute("sw8.segment_id", segment_id.as_str()));
    attributes.push(int_attribute("sw8.span_id", span.span_id));
    attributes.push(int_attribute("sw8.parent_span_id", span.parent_span_id));
    attributes.push(int_attribute("sw8.component_id", span.component_id));
    Some(Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: parent_span_id.map(|id| id.to_vec()).unwrap_or_default(),
        name: span.operation_name.clone(),
        kind: kind(span) as i32,
        start_time_unix_nano: nanos(span.start_time),
        end_time_unix_nano: nanos(span.end_time),
        attributes,
        events: span
            .logs
            .iter()
            .map(|log| Event {
                time_unix_nano: nanos(log.time),
                name: "log".to_owned(),
                attributes: log.data.iter().map(pair_attribute).collect(),
                ..Default::default()
            })
            .collect(),
        links: span.refs.iter().filter_map(link).collect(),
        status: span.is_error.then(|| Status {
            code: StatusCode::Error as i32,
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn kind(span: &SpanObject) -> SpanKind {
    let messaging = span.span_layer == SPAN_LAYER_MQ;
    match span.span_type {
        SPAN_TYPE_ENTRY if messaging => SpanKind::Consumer,
        SPAN_TYPE_ENTRY => SpanKind::Server,
        SPAN_TYPE_EXIT if messaging => SpanKind::Producer,
        SPAN_TYPE_EXIT => SpanKind::Client,
        _ => SpanKind::Internal,
    }
}

/// Milliseconds since the epoch as nanoseconds; negative times are unknown (0).
pub fn nanos(millis: i64) -> u64 {
    u64::try_from(millis).unwrap_or(0).saturating_mul(1_000_000)
}

fn pair_attribute(pair: &KeyStringValuePair) -> KeyValue {
    string_attribute(&pair.key, pair.value.as_str())
}

fn tag_attribute(tag: &KeyStringValuePair) -> KeyValue {
    let Some((_, renamed)) = TAG_RENAMES.iter().find(|(from, _)| *from == tag.key) else {
        return pair_attribute(tag);
    };
    if let ("http.response.status_code", Ok(code)) = (*renamed, tag.value.parse::<i64>()) {
        return int_attribute(renamed, code);
    }
    string_attribute(renamed, tag.value.as_str())
}

/// `host:port`, `[v6]:port` or a bare host, as address and port attributes of the side the
/// peer is on.
fn peer_attributes(span: &SpanObject) -> Vec<KeyValue> {
    if span.peer.is_empty() {
        return Vec::new();
    }
    let side = match span.span_type {
        SPAN_TYPE_EXIT => "server",
        SPAN_TYPE_ENTRY => "client",
        _ => return vec![string_attribute("network.peer.address", span.peer.as_str())],
    };
    let (host, port) = match span.peer.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => (
            host.trim_start_matches('[').trim_end_matches(']'),
            port.parse::<u16>().ok(),
        ),
        _ => (span.peer.as_str(), None),
    };
    let mut attributes = vec![string_attribute(&format!("{side}.address"), host)];
    if let Some(port) = port {
        attributes.push(int_attribute(&format!("{side}.port"), i64::from(port)));
    }
    attributes
}

fn link(reference: &SegmentReference) -> Option<Link> {
    Some(Link {
        trace_id: skywalking_ids::id_bytes(&reference.trace_id)?.to_vec(),
        span_id: skywalking_ids::span_id(
            &reference.parent_trace_segment_id,
            reference.parent_span_id,
        )?
        .to_vec(),
        attributes: vec![
            string_attribute("sw8.parent_service", reference.parent_service.as_str()),
            string_attribute(
                "sw8.parent_service_instance",
                reference.parent_service_instance.as_str(),
            ),
            string_attribute("sw8.parent_endpoint", reference.parent_endpoint.as_str()),
            string_attribute(
                "sw8.network_address_used_at_peer",
                reference.network_address_used_at_peer.as_str(),
            ),
            string_attribute(
                "sw8.ref_type",
                if reference.ref_type == 1 {
                    "CrossThread"
                } else {
                    "CrossProcess"
                },
            ),
        ],
        ..Default::default()
    })
}
