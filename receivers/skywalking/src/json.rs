//! SkyWalking's HTTP bodies (proto3 JSON) read the lenient way senders need: keys in camelCase
//! or snake_case, enums as names (`"spanType": "Entry"`) or numbers, 64-bit integers as numbers
//! or strings (Python writes `"timestamp": "1795317117000"`), `null` for anything left unset, and
//! a log body's text either as proto3's `{"text": "..."}` or as a bare string.

use crate::proto::{
    JsonLog, KeyStringValuePair, LogContent, LogData, LogDataBody, LogTags, LogTraceContext,
    SegmentObject, SegmentReference, SpanLog, SpanObject, TextLog, YamlLog,
};
use serde_json::Value;

/// A body that is not the JSON a SkyWalking endpoint takes.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("request body is not JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("expected {expected}, found {found}")]
    Shape {
        expected: &'static str,
        found: &'static str,
    },
}

/// The segments of `/v3/segment` (one object) or `/v3/segments` (an array of them).
pub fn segments(body: &[u8]) -> Result<Vec<SegmentObject>, JsonError> {
    objects(body, "a segment object or an array of them")?
        .iter()
        .map(|value| Ok(segment(&Object::of(value, "a segment object")?)))
        .collect()
}

/// The log lines of `/v3/logs`: an array of log objects (a single object is taken too).
pub fn logs(body: &[u8]) -> Result<Vec<LogData>, JsonError> {
    objects(body, "a log object or an array of them")?
        .iter()
        .map(|value| Ok(log(&Object::of(value, "a log object")?)))
        .collect()
}

fn objects(body: &[u8], expected: &'static str) -> Result<Vec<Value>, JsonError> {
    match serde_json::from_slice(body)? {
        Value::Array(items) => Ok(items),
        object @ Value::Object(_) => Ok(vec![object]),
        other => Err(JsonError::Shape {
            expected,
            found: kind(&other),
        }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object read by field, each field found under its camelCase or snake_case name.
struct Object<'a>(&'a serde_json::Map<String, Value>);

impl<'a> Object<'a> {
    fn of(value: &'a Value, expected: &'static str) -> Result<Object<'a>, JsonError> {
        match value {
            Value::Object(map) => Ok(Object(map)),
            other => Err(JsonError::Shape {
                expected,
                found: kind(other),
            }),
        }
    }

    fn get(&self, camel: &str) -> Option<&'a Value> {
        let found = self.0.get(camel).or_else(|| self.0.get(&snake_case(camel)));
        found.filter(|value| !value.is_null())
    }

    fn string(&self, camel: &str) -> String {
        match self.get(camel) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::Bool(flag)) => flag.to_string(),
            _ => String::new(),
        }
    }

    fn int(&self, camel: &str) -> i64 {
        match self.get(camel) {
            Some(Value::Number(number)) => number
                .as_i64()
                .or_else(|| number.as_f64().map(|float| float as i64))
                .unwrap_or(0),
            Some(Value::String(text)) => text.trim().parse().unwrap_or(0),
            _ => 0,
        }
    }

    fn int32(&self, camel: &str) -> i32 {
        i32::try_from(self.int(camel)).unwrap_or(0)
    }

    fn boolean(&self, camel: &str) -> bool {
        match self.get(camel) {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => text == "true",
            _ => false,
        }
    }

    /// An enum by name (from `names`, in number order) or by number.
    fn enumeration(&self, camel: &str, names: &[&str]) -> i32 {
        match self.get(camel) {
            Some(Value::String(name)) => names
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
                .map_or_else(|| name.parse().unwrap_or(0), |at| at as i32),
            _ => self.int32(camel),
        }
    }

    fn list(&self, camel: &str) -> Vec<Object<'a>> {
        match self.get(camel) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| Object::of(item, "an object").ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn object(&self, camel: &str) -> Option<Object<'a>> {
        self.get(camel)
            .and_then(|value| Object::of(value, "an object").ok())
    }

    fn pairs(&self, camel: &str) -> Vec<KeyStringValuePair> {
        self.list(camel)
            .iter()
            .map(|pair| KeyStringValuePair {
                key: pair.string("key"),
                value: pair.string("value"),
            })
            .collect()
    }
}

fn snake_case(camel: &str) -> String {
    let mut snake = String::with_capacity(camel.len() + 4);
    for character in camel.chars() {
        if character.is_ascii_uppercase() {
            snake.push('_');
            snake.push(character.to_ascii_lowercase());
        } else {
            snake.push(character);
        }
    }
    snake
}

const SPAN_TYPES: [&str; 3] = ["Entry", "Exit", "Local"];
const SPAN_LAYERS: [&str; 7] = [
    "Unknown",
    "Database",
    "RPCFramework",
    "Http",
    "MQ",
    "Cache",
    "FAAS",
];
const REF_TYPES: [&str; 2] = ["CrossProcess", "CrossThread"];

fn segment(object: &Object<'_>) -> SegmentObject {
    SegmentObject {
        trace_id: object.string("traceId"),
        trace_segment_id: object.string("traceSegmentId"),
        spans: object.list("spans").iter().map(span).collect(),
        service: object.string("service"),
        service_instance: object.string("serviceInstance"),
        is_size_limited: object.boolean("isSizeLimited"),
    }
}

fn span(object: &Object<'_>) -> SpanObject {
    SpanObject {
        span_id: object.int32("spanId"),
        // proto3 JSON leaves out zeros, so an absent parent is span 0; the root's −1 is written.
        parent_span_id: object.int32("parentSpanId"),
        start_time: object.int("startTime"),
        end_time: object.int("endTime"),
        refs: object.list("refs").iter().map(reference).collect(),
        operation_name: object.string("operationName"),
        peer: object.string("peer"),
        span_type: object.enumeration("spanType", &SPAN_TYPES),
        span_layer: object.enumeration("spanLayer", &SPAN_LAYERS),
        component_id: object.int32("componentId"),
        is_error: object.boolean("isError"),
        tags: object.pairs("tags"),
        logs: object
            .list("logs")
            .iter()
            .map(|log| SpanLog {
                time: log.int("time"),
                data: log.pairs("data"),
            })
            .collect(),
        skip_analysis: object.boolean("skipAnalysis"),
    }
}

fn reference(object: &Object<'_>) -> SegmentReference {
    SegmentReference {
        ref_type: object.enumeration("refType", &REF_TYPES),
        trace_id: object.string("traceId"),
        parent_trace_segment_id: object.string("parentTraceSegmentId"),
        parent_span_id: object.int32("parentSpanId"),
        parent_service: object.string("parentService"),
        parent_service_instance: object.string("parentServiceInstance"),
        parent_endpoint: object.string("parentEndpoint"),
        network_address_used_at_peer: object.string("networkAddressUsedAtPeer"),
    }
}

fn log(object: &Object<'_>) -> LogData {
    LogData {
        timestamp: object.int("timestamp"),
        service: object.string("service"),
        service_instance: object.string("serviceInstance"),
        endpoint: object.string("endpoint"),
        body: object.object("body").map(|body| log_body(&body)),
        trace_context: object
            .object("traceContext")
            .map(|context| LogTraceContext {
                trace_id: context.string("traceId"),
                trace_segment_id: context.string("traceSegmentId"),
                span_id: context.int32("spanId"),
            }),
        tags: object.object("tags").map(|tags| LogTags {
            data: tags.pairs("data"),
        }),
        layer: object.string("layer"),
    }
}

fn log_body(body: &Object<'_>) -> LogDataBody {
    // Each content form is `{"text": {"text": "..."}}` in proto3 JSON; a bare string is taken too.
    let content_of = |field: &str| match body.get(field) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(value @ Value::Object(_)) => Object::of(value, "an object")
            .ok()
            .map(|inner| inner.string(field)),
        _ => None,
    };
    let content = content_of("text")
        .map(|text| LogContent::Text(TextLog { text }))
        .or_else(|| content_of("json").map(|json| LogContent::Json(JsonLog { json })))
        .or_else(|| content_of("yaml").map(|yaml| LogContent::Yaml(YamlLog { yaml })));
    LogDataBody {
        r#type: body.string("type"),
        content,
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
