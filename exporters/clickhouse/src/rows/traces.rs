//! Spans as rows of the traces table: contrib's columns in its INSERT order, then the columns
//! eBPF and packet capture fill (see [`super::extras`]).

use super::attributes::{write_attribute_map, write_value_as_string};
use super::extras::SpanExtras;
use super::writer::RowBinaryWriter;
use super::{EncodedTable, Table};
use cormorant_core::pdata::common::KeyValue;
use cormorant_core::pdata::trace::{ResourceSpans, Span, Status};

/// Column order of the traces INSERT.
pub(crate) const COLUMNS: &[&str] = &[
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
    "SpanSource",
    "ProcessId",
    "ProcessName",
    "L7Protocol",
    "RequestId",
    "TcpSeqRequest",
    "TcpSeqResponse",
];

/// A small span (three attributes, no events) takes about 250 bytes plus its resource's
/// attributes; sizing the buffer for that avoids most reallocations of a batch.
const ESTIMATED_ROW_BYTES: usize = 384;

pub(crate) fn encode(resource_spans: &[ResourceSpans]) -> Option<EncodedTable> {
    let rows: usize = resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    if rows == 0 {
        return None;
    }
    let mut w = RowBinaryWriter::with_capacity(rows * ESTIMATED_ROW_BYTES);
    let mut scratch = Vec::new();
    let mut resource_block = RowBinaryWriter::default();
    let mut scope_block = RowBinaryWriter::default();
    for resource_span in resource_spans {
        let resource_attributes: &[KeyValue] = resource_span
            .resource
            .as_ref()
            .map_or(&[], |r| &r.attributes);
        // ServiceName and ResourceAttributes are adjacent columns: encode them once per resource.
        resource_block.clear();
        write_service_name(&mut resource_block, resource_attributes, &mut scratch);
        write_attribute_map(&mut resource_block, resource_attributes, &mut scratch);
        let mut resource_extras = SpanExtras::default();
        resource_extras.absorb(resource_attributes);

        for scope_span in &resource_span.scope_spans {
            if scope_span.spans.is_empty() {
                continue;
            }
            scope_block.clear();
            scope_block.raw(resource_block.as_bytes());
            let scope = scope_span.scope.as_ref();
            scope_block.string(scope.map_or("", |s| &s.name));
            scope_block.string(scope.map_or("", |s| &s.version));
            for span in &scope_span.spans {
                let mut extras = resource_extras.clone();
                extras.absorb(&span.attributes);
                write_span(&mut w, span, scope_block.as_bytes(), &extras, &mut scratch);
            }
        }
    }
    Some(EncodedTable {
        table: Table::Traces,
        columns: COLUMNS,
        rows,
        items: rows,
        row_binary: w.into_bytes(),
    })
}

/// `ServiceName`: the resource's `service.name` as text, empty when absent.
pub(crate) fn write_service_name(
    w: &mut RowBinaryWriter,
    resource_attributes: &[KeyValue],
    scratch: &mut Vec<u8>,
) {
    let service_name = resource_attributes
        .iter()
        .find(|attribute| attribute.key == "service.name");
    write_value_as_string(w, service_name.and_then(|a| a.value.as_ref()), scratch);
}

fn write_span(
    w: &mut RowBinaryWriter,
    span: &Span,
    resource_and_scope: &[u8],
    extras: &SpanExtras<'_>,
    scratch: &mut Vec<u8>,
) {
    w.datetime64_nanos(span.start_time_unix_nano);
    w.hex_id(&span.trace_id);
    w.hex_id(&span.span_id);
    w.hex_id(&span.parent_span_id);
    w.string(&span.trace_state);
    w.string(&span.name);
    w.string(span_kind_text(span.kind));
    w.raw(resource_and_scope);
    write_attribute_map(w, &span.attributes, scratch);
    w.u64(
        span.end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano),
    );
    w.string(status_code_text(span.status.as_ref()));
    w.string(span.status.as_ref().map_or("", |s| &s.message));

    let events = &span.events;
    w.var_uint(events.len() as u64);
    for event in events {
        w.datetime64_nanos(event.time_unix_nano);
    }
    w.var_uint(events.len() as u64);
    for event in events {
        w.string(&event.name);
    }
    w.var_uint(events.len() as u64);
    for event in events {
        write_attribute_map(w, &event.attributes, scratch);
    }

    let links = &span.links;
    w.var_uint(links.len() as u64);
    for link in links {
        w.hex_id(&link.trace_id);
    }
    w.var_uint(links.len() as u64);
    for link in links {
        w.hex_id(&link.span_id);
    }
    w.var_uint(links.len() as u64);
    for link in links {
        w.string(&link.trace_state);
    }
    w.var_uint(links.len() as u64);
    for link in links {
        write_attribute_map(w, &link.attributes, scratch);
    }

    extras.write(w);
}

/// otelcol's `SpanKind.String()` without the prefix, as the contrib schema stores it; an unknown
/// kind is empty, as otelcol's own conversion leaves it.
pub(crate) fn span_kind_text(kind: i32) -> &'static str {
    match kind {
        0 => "Unspecified",
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "",
    }
}

/// `Unset|Ok|Error`; a span without a status is `Unset`.
pub(crate) fn status_code_text(status: Option<&Status>) -> &'static str {
    match status.map_or(0, |s| s.code) {
        0 => "Unset",
        1 => "Ok",
        2 => "Error",
        _ => "",
    }
}
