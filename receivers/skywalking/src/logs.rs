//! SkyWalking log lines as OTLP log records.
//!
//! - Lines of one service instance share a resource, as segments do.
//! - The body (text, JSON or YAML) is the record's string body; the `level` tag becomes the
//!   severity text and number (`WARNING` → WARN, `CRITICAL` → FATAL); other tags become
//!   attributes, and the endpoint `sw8.endpoint`.
//! - The trace context takes the ids the receiver gives the segment's spans, so a line logged
//!   inside a span points at that span.

use crate::proto::{LogContent, LogData, LogTraceContext};
use crate::traces::{instance_entry, nanos};
use cormorant_core::pdata::common::{AnyValue, any_value};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::string_attribute;
use cormorant_core::skywalking_ids;

/// The tag SkyWalking agents put the log level in.
const LEVEL_TAG: &str = "level";

/// Converts `lines`, grouping them by service instance.
pub fn convert_logs(lines: impl IntoIterator<Item = LogData>) -> Vec<ResourceLogs> {
    let mut resources: Vec<ResourceLogs> = Vec::new();
    for line in lines {
        let at = instance_entry(
            &mut resources,
            &line.service,
            &line.service_instance,
            |r| r.resource.as_ref(),
            |resource, scope| ResourceLogs {
                resource: Some(resource),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        resources[at].scope_logs[0].log_records.push(record(line));
    }
    resources
}

fn record(line: LogData) -> LogRecord {
    let mut record = LogRecord {
        time_unix_nano: nanos(line.timestamp),
        ..Default::default()
    };
    let body = line
        .body
        .and_then(|body| body.content)
        .map(|content| match content {
            LogContent::Text(text) => text.text,
            LogContent::Json(json) => json.json,
            LogContent::Yaml(yaml) => yaml.yaml,
        });
    record.body = body.map(|text| AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    });
    for tag in line.tags.map(|tags| tags.data).unwrap_or_default() {
        if tag.key == LEVEL_TAG {
            record.severity_number = severity_number(&tag.value);
            record.severity_text = tag.value;
        } else {
            record
                .attributes
                .push(string_attribute(&tag.key, tag.value));
        }
    }
    if !line.endpoint.is_empty() {
        record
            .attributes
            .push(string_attribute("sw8.endpoint", line.endpoint));
    }
    if let Some(context) = &line.trace_context {
        point_at_span(&mut record, context);
    }
    record
}

/// Points `record` at the span `context` names, as far as its ids map to valid OTLP ids.
fn point_at_span(record: &mut LogRecord, context: &LogTraceContext) {
    if context.trace_id.is_empty() {
        return;
    }
    let Some(trace_id) = skywalking_ids::id_bytes(&context.trace_id) else {
        return;
    };
    record.trace_id = trace_id.to_vec();
    if context.trace_segment_id.is_empty() {
        return;
    }
    if let Some(span_id) = skywalking_ids::span_id(&context.trace_segment_id, context.span_id) {
        record.span_id = span_id.to_vec();
    }
}

/// The OTLP severity number of a level name as agents write them (Python's `WARNING`, `CRITICAL`;
/// Java's `WARN`, `FATAL`); 0 for one it does not know.
fn severity_number(level: &str) -> i32 {
    match level.to_ascii_uppercase().as_str() {
        "TRACE" | "FINEST" => 1,
        "DEBUG" | "FINE" => 5,
        "INFO" => 9,
        "WARN" | "WARNING" => 13,
        "ERROR" | "SEVERE" => 17,
        "FATAL" | "CRITICAL" => 21,
        _ => 0,
    }
}
