//! Log records as rows of the logs table, in contrib's INSERT order with `EventName` last.

use super::attributes::{write_attribute_map, write_value_as_string};
use super::traces::write_service_name;
use super::writer::RowBinaryWriter;
use super::{EncodedTable, Table};
use cormorant_core::pdata::common::KeyValue;
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs};

/// Column order of the logs INSERT.
pub(crate) const COLUMNS: &[&str] = &[
    "Timestamp",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
    "EventName",
];

/// A short access-log record with three attributes is about 200 bytes plus its resource.
const ESTIMATED_ROW_BYTES: usize = 448;

pub(crate) fn encode(resource_logs: &[ResourceLogs]) -> Option<EncodedTable> {
    let rows: usize = resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    if rows == 0 {
        return None;
    }
    let mut w = RowBinaryWriter::with_capacity(rows * ESTIMATED_ROW_BYTES);
    let mut scratch = Vec::new();
    let mut service_name = RowBinaryWriter::default();
    let mut resource_and_scope = RowBinaryWriter::default();
    for resource_log in resource_logs {
        let resource_attributes: &[KeyValue] = resource_log
            .resource
            .as_ref()
            .map_or(&[], |r| &r.attributes);
        service_name.clear();
        write_service_name(&mut service_name, resource_attributes, &mut scratch);
        for scope_log in &resource_log.scope_logs {
            if scope_log.log_records.is_empty() {
                continue;
            }
            // ResourceSchemaUrl … ScopeAttributes are adjacent: encode them once per scope.
            resource_and_scope.clear();
            resource_and_scope.string(&resource_log.schema_url);
            write_attribute_map(&mut resource_and_scope, resource_attributes, &mut scratch);
            resource_and_scope.string(&scope_log.schema_url);
            let scope = scope_log.scope.as_ref();
            resource_and_scope.string(scope.map_or("", |s| &s.name));
            resource_and_scope.string(scope.map_or("", |s| &s.version));
            write_attribute_map(
                &mut resource_and_scope,
                scope.map_or(&[], |s| &s.attributes),
                &mut scratch,
            );
            for record in &scope_log.log_records {
                write_record(
                    &mut w,
                    record,
                    service_name.as_bytes(),
                    resource_and_scope.as_bytes(),
                    &mut scratch,
                );
            }
        }
    }
    Some(EncodedTable {
        table: Table::Logs,
        columns: COLUMNS,
        rows,
        items: rows,
        row_binary: w.into_bytes(),
    })
}

fn write_record(
    w: &mut RowBinaryWriter,
    record: &LogRecord,
    service_name: &[u8],
    resource_and_scope: &[u8],
    scratch: &mut Vec<u8>,
) {
    // Records that only carry the time they were observed are stored at that time, as contrib does.
    let timestamp = if record.time_unix_nano == 0 {
        record.observed_time_unix_nano
    } else {
        record.time_unix_nano
    };
    w.datetime64_nanos(timestamp);
    w.hex_id(&record.trace_id);
    w.hex_id(&record.span_id);
    // Both are UInt8 columns: the W3C trace flags are the low byte of `flags`, and severity numbers
    // stop at 24. Truncation matches contrib's `uint8(...)` conversions.
    w.u8(record.flags as u8);
    w.string(&record.severity_text);
    w.u8(record.severity_number as u8);
    w.raw(service_name);
    write_value_as_string(w, record.body.as_ref(), scratch);
    w.raw(resource_and_scope);
    write_attribute_map(w, &record.attributes, scratch);
    w.string(&record.event_name);
}
