//! How the debug exporter renders telemetry as text, one function per verbosity.
//!
//! These are pure functions over the pipeline data so that the output can be tested without a
//! log subscriber; the exporter only decides when to log what they return.

mod logs;
mod metrics;
mod traces;

use cormorant_core::pdata::Payload;
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use cormorant_core::pdata::resource::Resource;

/// `basic`: the counts of one batch, e.g. `Traces {"resource spans": 1, "spans": 2}`.
pub fn summary(payload: &Payload) -> String {
    match payload {
        Payload::Traces(resources) => format!(
            "Traces {{\"resource spans\": {}, \"spans\": {}}}",
            resources.len(),
            payload.item_count()
        ),
        Payload::Metrics(resources) => format!(
            "Metrics {{\"resource metrics\": {}, \"metrics\": {}, \"data points\": {}}}",
            resources.len(),
            metrics::metric_count(resources),
            payload.item_count()
        ),
        Payload::Logs(resources) => format!(
            "Logs {{\"resource logs\": {}, \"log records\": {}}}",
            resources.len(),
            payload.item_count()
        ),
    }
}

/// `normal`: one line per span, data point or log record, under a line per resource and scope.
pub fn normal(payload: &Payload) -> String {
    match payload {
        Payload::Traces(resources) => traces::normal(resources),
        Payload::Metrics(resources) => metrics::normal(resources),
        Payload::Logs(resources) => logs::normal(resources),
    }
}

/// `detailed`: every field of every resource, scope and item.
pub fn detailed(payload: &Payload) -> String {
    match payload {
        Payload::Traces(resources) => traces::detailed(resources),
        Payload::Metrics(resources) => metrics::detailed(resources),
        Payload::Logs(resources) => logs::detailed(resources),
    }
}

pub(crate) use cormorant_core::value_text::hex;

/// A typed value, its type visible: `Str(GET)`, `Int(200)`, `Map({"k": Bool(true)})`.
pub(crate) fn value(any: Option<&AnyValue>) -> String {
    use any_value::Value;
    match any.and_then(|v| v.value.as_ref()) {
        None => "Empty()".to_string(),
        Some(Value::StringValue(s)) => format!("Str({s})"),
        Some(Value::BoolValue(b)) => format!("Bool({b})"),
        Some(Value::IntValue(i)) => format!("Int({i})"),
        Some(Value::DoubleValue(d)) => format!("Double({d})"),
        Some(Value::BytesValue(b)) => format!("Bytes({})", hex(b)),
        Some(Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(|v| value(Some(v))).collect();
            format!("Slice([{}])", items.join(", "))
        }
        Some(Value::KvlistValue(map)) => {
            let entries: Vec<String> = map
                .values
                .iter()
                .map(|kv| format!("{:?}: {}", kv.key, value(kv.value.as_ref())))
                .collect();
            format!("Map({{{}}})", entries.join(", "))
        }
        Some(Value::StringValueStrindex(index)) => format!("StrIndex({index})"),
    }
}

/// A value as plain text, for the compact `normal` lines.
pub(crate) fn plain(any: Option<&AnyValue>) -> String {
    match any.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        _ => value(any),
    }
}

/// `k=v k2=v2`, or nothing when there are no attributes.
pub(crate) fn inline_attributes(attributes: &[KeyValue]) -> String {
    attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, plain(kv.value.as_ref())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Unix-nanosecond timestamp in UTC, `1970-01-01T00:00:00.000000000Z` style.
pub(crate) fn timestamp(unix_nanos: u64) -> String {
    let seconds = unix_nanos / 1_000_000_000;
    let nanos = unix_nanos % 1_000_000_000;
    let (year, month, day) = civil_date(i64::try_from(seconds / 86_400).unwrap_or(i64::MAX));
    let second_of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (the era-based conversion).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Builds indented, line-oriented detailed output.
pub(crate) struct Out {
    text: String,
}

impl Out {
    pub(crate) fn new() -> Self {
        Out {
            text: String::new(),
        }
    }

    pub(crate) fn line(&mut self, depth: usize, text: impl AsRef<str>) {
        for _ in 0..depth {
            self.text.push_str("    ");
        }
        self.text.push_str(text.as_ref());
        self.text.push('\n');
    }

    /// `title:` followed by one `-> key: Value` line per attribute; nothing when empty.
    pub(crate) fn attributes(&mut self, depth: usize, title: &str, attributes: &[KeyValue]) {
        if attributes.is_empty() {
            return;
        }
        self.line(depth, format!("{title}:"));
        for kv in attributes {
            self.line(
                depth + 1,
                format!("-> {}: {}", kv.key, value(kv.value.as_ref())),
            );
        }
    }

    pub(crate) fn resource(
        &mut self,
        kind: &str,
        index: usize,
        resource: Option<&Resource>,
        schema_url: &str,
    ) {
        self.line(0, format!("{kind} #{index}"));
        if !schema_url.is_empty() {
            self.line(1, format!("Resource schema URL: {schema_url}"));
        }
        if let Some(resource) = resource {
            self.attributes(1, "Resource attributes", &resource.attributes);
        }
    }

    pub(crate) fn scope(
        &mut self,
        kind: &str,
        index: usize,
        scope: Option<&InstrumentationScope>,
        schema_url: &str,
    ) {
        self.line(1, format!("{kind} #{index}"));
        if !schema_url.is_empty() {
            self.line(2, format!("Scope schema URL: {schema_url}"));
        }
        if let Some(scope) = scope {
            self.line(
                2,
                format!("Instrumentation scope: {} {}", scope.name, scope.version),
            );
            self.attributes(2, "Scope attributes", &scope.attributes);
        }
    }

    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// `name@version` of a scope for the compact lines, or `(no scope)`.
pub(crate) fn scope_name(scope: Option<&InstrumentationScope>) -> String {
    match scope {
        Some(s) if s.version.is_empty() => s.name.clone(),
        Some(s) => format!("{}@{}", s.name, s.version),
        None => "(no scope)".to_string(),
    }
}

/// The resource's attributes for the compact lines.
pub(crate) fn resource_line(kind: &str, index: usize, resource: Option<&Resource>) -> String {
    let attributes = resource
        .map(|r| inline_attributes(&r.attributes))
        .unwrap_or_default();
    format!("{kind} #{index} {attributes}")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_core::pdata::common::{ArrayValue, KeyValueList};

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    #[test]
    fn timestamps_are_utc_with_nanoseconds() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            timestamp(1_700_000_000_000_000_001),
            "2023-11-14T22:13:20.000000001Z"
        );
        assert_eq!(
            timestamp(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn values_show_their_type() {
        use any_value::Value;
        let nested = Value::KvlistValue(KeyValueList {
            values: vec![kv("ok", Value::BoolValue(true))],
        });
        let array = Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(Value::IntValue(1)),
                },
                AnyValue {
                    value: Some(Value::DoubleValue(2.5)),
                },
            ],
        });
        assert_eq!(
            value(Some(&AnyValue {
                value: Some(nested)
            })),
            "Map({\"ok\": Bool(true)})"
        );
        assert_eq!(
            value(Some(&AnyValue { value: Some(array) })),
            "Slice([Int(1), Double(2.5)])"
        );
        assert_eq!(
            value(Some(&AnyValue {
                value: Some(Value::BytesValue(vec![1, 255]))
            })),
            "Bytes(01ff)"
        );
        assert_eq!(value(None), "Empty()");
        let attributes = [
            kv("http.method", Value::StringValue("GET".into())),
            kv("code", Value::IntValue(200)),
        ];
        assert_eq!(inline_attributes(&attributes), "http.method=GET code=200");
    }
}
