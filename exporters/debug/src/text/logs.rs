//! Log records as text.

use super::{Out, hex, inline_attributes, plain, resource_line, scope_name, timestamp, value};
use cormorant_core::pdata::logs::{ResourceLogs, SeverityNumber};

pub(super) fn normal(resources: &[ResourceLogs]) -> String {
    let mut out = Out::new();
    for (r, resource) in resources.iter().enumerate() {
        out.line(
            0,
            resource_line("ResourceLog", r, resource.resource.as_ref()),
        );
        for (s, scope) in resource.scope_logs.iter().enumerate() {
            out.line(
                1,
                format!("ScopeLog #{s} {}", scope_name(scope.scope.as_ref())),
            );
            for record in &scope.log_records {
                let line = format!(
                    "{} {}",
                    plain(record.body.as_ref()),
                    inline_attributes(&record.attributes)
                );
                out.line(2, line.trim_end());
            }
        }
    }
    out.finish()
}

pub(super) fn detailed(resources: &[ResourceLogs]) -> String {
    let mut out = Out::new();
    for (r, resource) in resources.iter().enumerate() {
        out.resource(
            "ResourceLog",
            r,
            resource.resource.as_ref(),
            &resource.schema_url,
        );
        for (s, scope) in resource.scope_logs.iter().enumerate() {
            out.scope("ScopeLogs", s, scope.scope.as_ref(), &scope.schema_url);
            for (i, record) in scope.log_records.iter().enumerate() {
                out.line(2, format!("LogRecord #{i}"));
                out.line(
                    3,
                    format!(
                        "ObservedTimestamp: {}",
                        timestamp(record.observed_time_unix_nano)
                    ),
                );
                out.line(
                    3,
                    format!("Timestamp: {}", timestamp(record.time_unix_nano)),
                );
                out.line(3, format!("SeverityText: {}", record.severity_text));
                let severity = SeverityNumber::try_from(record.severity_number).map_or_else(
                    |_| record.severity_number.to_string(),
                    |s| format!("{}({})", s.as_str_name(), record.severity_number),
                );
                out.line(3, format!("SeverityNumber: {severity}"));
                if !record.event_name.is_empty() {
                    out.line(3, format!("EventName: {}", record.event_name));
                }
                out.line(3, format!("Body: {}", value(record.body.as_ref())));
                out.attributes(3, "Attributes", &record.attributes);
                out.line(3, format!("Trace ID: {}", hex(&record.trace_id)));
                out.line(3, format!("Span ID: {}", hex(&record.span_id)));
                out.line(3, format!("Flags: {}", record.flags));
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value};
    use cormorant_core::pdata::logs::{LogRecord, ScopeLogs};

    fn sample() -> Vec<ResourceLogs> {
        let text = |s: &str| AnyValue {
            value: Some(any_value::Value::StringValue(s.into())),
        };
        vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        body: Some(text("order placed")),
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        attributes: vec![KeyValue {
                            key: "order".into(),
                            value: Some(text("A-1")),
                            ..KeyValue::default()
                        }],
                        span_id: vec![0x0c; 8],
                        ..LogRecord::default()
                    },
                    LogRecord::default(),
                ],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }]
    }

    #[test]
    fn normal_has_one_line_per_record() {
        let text = normal(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "ResourceLog #0",
                "    ScopeLog #0 (no scope)",
                "        order placed order=A-1",
                "        Empty()"
            ]
        );
    }

    #[test]
    fn detailed_shows_every_field() {
        let text = detailed(&sample());
        for expected in [
            "LogRecord #0",
            "SeverityText: INFO",
            "SeverityNumber: SEVERITY_NUMBER_INFO(9)",
            "Body: Str(order placed)",
            "-> order: Str(A-1)",
            "Span ID: 0c0c0c0c0c0c0c0c",
            "LogRecord #1",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
