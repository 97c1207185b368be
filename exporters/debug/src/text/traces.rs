//! Spans as text.

use super::{Out, hex, inline_attributes, resource_line, scope_name, timestamp};
use cormorant_core::pdata::trace::{ResourceSpans, span, status};

pub(super) fn normal(resources: &[ResourceSpans]) -> String {
    let mut out = Out::new();
    for (r, resource) in resources.iter().enumerate() {
        out.line(
            0,
            resource_line("ResourceSpans", r, resource.resource.as_ref()),
        );
        for (s, scope) in resource.scope_spans.iter().enumerate() {
            out.line(
                1,
                format!("ScopeSpans #{s} {}", scope_name(scope.scope.as_ref())),
            );
            for span in &scope.spans {
                let line = format!(
                    "{} {} {} {}",
                    span.name,
                    hex(&span.trace_id),
                    hex(&span.span_id),
                    inline_attributes(&span.attributes)
                );
                out.line(2, line.trim_end());
            }
        }
    }
    out.finish()
}

pub(super) fn detailed(resources: &[ResourceSpans]) -> String {
    let mut out = Out::new();
    for (r, resource) in resources.iter().enumerate() {
        out.resource(
            "ResourceSpans",
            r,
            resource.resource.as_ref(),
            &resource.schema_url,
        );
        for (s, scope) in resource.scope_spans.iter().enumerate() {
            out.scope("ScopeSpans", s, scope.scope.as_ref(), &scope.schema_url);
            for (i, span) in scope.spans.iter().enumerate() {
                out.line(2, format!("Span #{i}"));
                out.line(3, format!("Trace ID: {}", hex(&span.trace_id)));
                out.line(3, format!("Parent ID: {}", hex(&span.parent_span_id)));
                out.line(3, format!("ID: {}", hex(&span.span_id)));
                out.line(3, format!("Name: {}", span.name));
                let kind = span::SpanKind::try_from(span.kind)
                    .map_or_else(|_| span.kind.to_string(), |k| k.as_str_name().to_string());
                out.line(3, format!("Kind: {kind}"));
                if !span.trace_state.is_empty() {
                    out.line(3, format!("Trace state: {}", span.trace_state));
                }
                out.line(
                    3,
                    format!("Start time: {}", timestamp(span.start_time_unix_nano)),
                );
                out.line(
                    3,
                    format!("End time: {}", timestamp(span.end_time_unix_nano)),
                );
                let (code, message) = span
                    .status
                    .as_ref()
                    .map_or((0, ""), |s| (s.code, &s.message));
                let code = status::StatusCode::try_from(code)
                    .map_or_else(|_| code.to_string(), |c| c.as_str_name().to_string());
                out.line(3, format!("Status code: {code}"));
                out.line(3, format!("Status message: {message}"));
                out.attributes(3, "Attributes", &span.attributes);
                for (e, event) in span.events.iter().enumerate() {
                    out.line(3, format!("SpanEvent #{e}"));
                    out.line(4, format!("-> Name: {}", event.name));
                    out.line(
                        4,
                        format!("-> Timestamp: {}", timestamp(event.time_unix_nano)),
                    );
                    out.attributes(4, "-> Attributes", &event.attributes);
                }
                for (l, link) in span.links.iter().enumerate() {
                    out.line(3, format!("SpanLink #{l}"));
                    out.line(4, format!("-> Trace ID: {}", hex(&link.trace_id)));
                    out.line(4, format!("-> ID: {}", hex(&link.span_id)));
                    out.line(4, format!("-> TraceState: {}", link.trace_state));
                    out.attributes(4, "-> Attributes", &link.attributes);
                }
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value};
    use cormorant_core::pdata::resource::Resource;
    use cormorant_core::pdata::trace::{ScopeSpans, Span, Status};

    fn sample() -> Vec<ResourceSpans> {
        let attribute = KeyValue {
            key: "http.route".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("/cart".into())),
            }),
            ..KeyValue::default()
        };
        vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    ..attribute.clone()
                }],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "GET /cart".into(),
                    trace_id: vec![0xaa; 16],
                    span_id: vec![0xbb; 8],
                    kind: 2,
                    start_time_unix_nano: 1_000_000_000,
                    attributes: vec![attribute],
                    status: Some(Status {
                        code: 2,
                        message: "boom".into(),
                    }),
                    events: vec![span::Event {
                        name: "retry".into(),
                        ..span::Event::default()
                    }],
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }]
    }

    #[test]
    fn normal_has_one_line_per_span() {
        let text = normal(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ResourceSpans #0 service.name=/cart");
        assert_eq!(lines[1], "    ScopeSpans #0 (no scope)");
        assert_eq!(
            lines[2],
            format!(
                "        GET /cart {} {} http.route=/cart",
                "aa".repeat(16),
                "bb".repeat(8)
            )
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn detailed_shows_every_field() {
        let text = detailed(&sample());
        for expected in [
            "Resource attributes:",
            "-> service.name: Str(/cart)",
            "Span #0",
            "Kind: SPAN_KIND_SERVER",
            "Start time: 1970-01-01T00:00:01.000000000Z",
            "Status code: STATUS_CODE_ERROR",
            "Status message: boom",
            "-> http.route: Str(/cart)",
            "SpanEvent #0",
            "-> Name: retry",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
