//! OTLP/JSON decoding, as lenient as otelcol's pdata.
//!
//! opentelemetry-proto's serde derives read the spec's form (lowerCamelCase keys, hex ids, 64-bit
//! integers as strings or numbers). SDKs and hand-written senders also use snake_case keys, enum
//! names (`SPAN_KIND_SERVER`), numbers written as strings and unpadded or URL-safe base64, which
//! otelcol accepts. So the JSON is first parsed into a `serde_json::Value` and rewritten into the
//! spec's form, checking trace and span ids on the way (the derives accept any even-length hex)
//! and the parts the derives would silently drop (see [`validated`]), and only then decoded.
//! Errors name the JSON path of the offending field.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, Gauge, Histogram, Sum, Summary,
};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// A JSON body that is not a valid OTLP request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid JSON: {0}")]
    Syntax(String),
    #[error("invalid {path}: {message}")]
    Field { path: String, message: String },
}

/// Fields holding numbers that senders may write as strings (pdata accepts both for every
/// numeric field, not only the 64-bit ones the spec names).
const NUMERIC_FIELDS: &[&str] = &[
    "timeUnixNano",
    "startTimeUnixNano",
    "endTimeUnixNano",
    "observedTimeUnixNano",
    "droppedAttributesCount",
    "droppedEventsCount",
    "droppedLinksCount",
    "flags",
    "doubleValue",
    "intValue",
    "count",
    "sum",
    "min",
    "max",
    "scale",
    "offset",
    "zeroCount",
    "zeroThreshold",
    "bucketCounts",
    "explicitBounds",
    "quantile",
];

/// Decodes an OTLP/JSON request body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| JsonError::Syntax(e.to_string()))?;
    let mut path = String::new();
    normalise(&mut value, &mut path)?;
    serde_path_to_error::deserialize(value).map_err(|error| JsonError::Field {
        path: error.path().to_string(),
        message: error.inner().to_string(),
    })
}

/// Rewrites `value` (in place) into the form the serde derives read.
fn normalise(value: &mut Value, path: &mut String) -> Result<(), JsonError> {
    match value {
        Value::Object(object) => {
            let fields = std::mem::take(object);
            let mut canonical = Map::with_capacity(fields.len());
            for (key, mut field) in fields {
                let key = canonical_key(&key);
                let parent_len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                normalise_field(&key, &mut field, path)?;
                path.truncate(parent_len);
                canonical.insert(key, field);
            }
            *object = canonical;
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let parent_len = path.len();
                path.push_str(&format!("[{index}]"));
                normalise(item, path)?;
                path.truncate(parent_len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn normalise_field(key: &str, value: &mut Value, path: &mut String) -> Result<(), JsonError> {
    match key {
        "traceId" => check_id(value, 16, path),
        "spanId" | "parentSpanId" => check_id(value, 8, path),
        "kind" => enum_by_name(value, path, |name| {
            SpanKind::from_str_name(name).map(|v| v as i32)
        }),
        "code" => enum_by_name(value, path, |name| {
            StatusCode::from_str_name(name).map(|v| v as i32)
        }),
        "severityNumber" => enum_by_name(value, path, |name| {
            SeverityNumber::from_str_name(name).map(|v| v as i32)
        }),
        "aggregationTemporality" => enum_by_name(value, path, |name| {
            AggregationTemporality::from_str_name(name).map(|v| v as i32)
        }),
        "bytesValue" => canonical_base64(value, path),
        "asDouble" | "asInt" => data_point_value(key, value, path),
        "gauge" => validated::<Gauge>(value, path),
        "sum" if value.is_object() => validated::<Sum>(value, path),
        "histogram" => validated::<Histogram>(value, path),
        "exponentialHistogram" => validated::<ExponentialHistogram>(value, path),
        "summary" => validated::<Summary>(value, path),
        // `sum` is also `Metric.sum`, an object: only scalars and arrays of them are numbers.
        _ if NUMERIC_FIELDS.contains(&key) && !value.is_object() => {
            match value {
                Value::Array(items) => items.iter_mut().for_each(number_from_string),
                other => number_from_string(other),
            }
            Ok(())
        }
        _ => normalise(value, path),
    }
}

/// The derives read a metric's data and a data point's value through `#[serde(flatten)]` into an
/// `Option`, which turns any error inside into `None`: a malformed histogram would arrive as a
/// metric without data instead of a 400. So each metric data object is also decoded on its own,
/// where errors surface with their path.
fn validated<T: DeserializeOwned>(value: &mut Value, path: &mut String) -> Result<(), JsonError> {
    normalise(value, path)?;
    serde_path_to_error::deserialize::<_, T>(&*value)
        .map(drop)
        .map_err(|error| JsonError::Field {
            path: format!("{path}.{}", error.path()),
            message: error.inner().to_string(),
        })
}

/// `asDouble` / `asInt` must be numbers (or decimal strings); see [`validated`] for why this is
/// checked here rather than left to the derives.
fn data_point_value(key: &str, value: &mut Value, path: &str) -> Result<(), JsonError> {
    number_from_string(value);
    let valid = match key {
        "asInt" => value.as_i64().is_some(),
        _ => value.is_number(),
    };
    if valid {
        Ok(())
    } else {
        Err(JsonError::Field {
            path: path.to_string(),
            message: format!("expected a number, got {value}"),
        })
    }
}

/// `trace_id` → `traceId`; the pre-1.0 `instrumentationLibrary*` names → `scope*`, which they
/// were renamed to without changing the protobuf encoding.
fn canonical_key(key: &str) -> String {
    let camel = if key.contains('_') {
        let mut camel = String::with_capacity(key.len());
        let mut upper_next = false;
        for c in key.chars() {
            match c {
                '_' => upper_next = !camel.is_empty(),
                c if upper_next => {
                    camel.push(c.to_ascii_uppercase());
                    upper_next = false;
                }
                c => camel.push(c),
            }
        }
        camel
    } else {
        key.to_string()
    };
    match camel.as_str() {
        "instrumentationLibrarySpans" => "scopeSpans".to_string(),
        "instrumentationLibraryMetrics" => "scopeMetrics".to_string(),
        "instrumentationLibraryLogs" => "scopeLogs".to_string(),
        "instrumentationLibrary" => "scope".to_string(),
        _ => camel,
    }
}

/// Ids are hex in OTLP/JSON (either case) and must be exactly `bytes` long, or empty.
fn check_id(value: &mut Value, bytes: usize, path: &str) -> Result<(), JsonError> {
    let invalid = |message: String| JsonError::Field {
        path: path.to_string(),
        message,
    };
    let Value::String(hex) = value else {
        return Err(invalid(format!("expected a hex string, got {value}")));
    };
    if hex.is_empty() {
        return Ok(());
    }
    if hex.len() != bytes * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "expected {} hex digits ({bytes} bytes), got {hex:?}",
            bytes * 2
        )));
    }
    hex.make_ascii_lowercase();
    Ok(())
}

/// Enums may be a number, a number in a string, or the value's proto name.
fn enum_by_name(
    value: &mut Value,
    path: &str,
    lookup: impl Fn(&str) -> Option<i32>,
) -> Result<(), JsonError> {
    let Value::String(name) = value else {
        return Ok(());
    };
    let number = name
        .parse::<i32>()
        .ok()
        .or_else(|| lookup(name))
        .ok_or_else(|| JsonError::Field {
            path: path.to_string(),
            message: format!("unknown enum value {name:?}"),
        })?;
    *value = Value::from(number);
    Ok(())
}

/// A decimal string becomes a JSON number of the same value; other strings (e.g. `"NaN"`, which
/// the derives read themselves where the spec allows it) stay as they are.
fn number_from_string(value: &mut Value) {
    let Value::String(text) = value else {
        return;
    };
    let number = if let Ok(unsigned) = text.parse::<u64>() {
        Some(Number::from(unsigned))
    } else if let Ok(signed) = text.parse::<i64>() {
        Some(Number::from(signed))
    } else if text.bytes().any(|b| b.is_ascii_digit()) {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    } else {
        None
    };
    if let Some(number) = number {
        *value = Value::Number(number);
    }
}

/// Accepts standard or URL-safe base64, padded or not, and rewrites it as standard padded base64.
fn canonical_base64(value: &mut Value, path: &str) -> Result<(), JsonError> {
    let Value::String(text) = value else {
        return Ok(());
    };
    let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text.as_bytes()).ok())
        .ok_or_else(|| JsonError::Field {
            path: path.to_string(),
            message: format!("invalid base64 {text:?}"),
        })?;
    *text = STANDARD.encode(decoded);
    Ok(())
}
