//! Attribute maps and values as ClickHouse RowBinary text. The text is otelcol's
//! `pcommon.Value.AsString()` ([`cormorant_core::value_text`]): the contrib schema stores every
//! attribute in a `Map(LowCardinality(String), String)`, so queries written against
//! contrib-exported data (and Grafana's) only keep working if the text is byte-for-byte the same.
//!
//! Everything is written into the row buffer or a reused scratch buffer: no allocation per value
//! except for sorting the keys of a key-value list.

use super::writer::RowBinaryWriter;
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value::Value};
use cormorant_core::value_text::push_as_string;

/// Writes `attributes` as a `Map(LowCardinality(String), String)`, in their OTLP order.
pub(crate) fn write_attribute_map(
    w: &mut RowBinaryWriter,
    attributes: &[KeyValue],
    scratch: &mut Vec<u8>,
) {
    w.var_uint(attributes.len() as u64);
    for attribute in attributes {
        w.string(&attribute.key);
        write_value_as_string(w, attribute.value.as_ref(), scratch);
    }
}

/// Writes the `AsString()` text of `value` as a RowBinary `String`; only non-string values go
/// through `scratch`.
pub(crate) fn write_value_as_string(
    w: &mut RowBinaryWriter,
    value: Option<&AnyValue>,
    scratch: &mut Vec<u8>,
) {
    if let Some(Value::StringValue(text)) = value.and_then(|v| v.value.as_ref()) {
        w.string(text);
        return;
    }
    scratch.clear();
    push_as_string(scratch, value);
    w.bytes(scratch);
}

/// The string value of an attribute, if it is a string (what the eBPF columns read).
pub(crate) fn as_str(value: Option<&AnyValue>) -> Option<&str> {
    match value?.value.as_ref()? {
        Value::StringValue(text) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, inner: Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(inner) }),
            ..Default::default()
        }
    }

    #[test]
    fn values_are_length_prefixed_as_string_text() {
        let mut w = RowBinaryWriter::default();
        let mut scratch = Vec::new();
        for value in [Value::StringValue("ab".into()), Value::DoubleValue(1e21)] {
            write_value_as_string(&mut w, Some(&AnyValue { value: Some(value) }), &mut scratch);
        }
        write_value_as_string(&mut w, None, &mut scratch);
        assert_eq!(w.as_bytes(), b"\x02ab\x051e+21\x00");
    }

    #[test]
    fn maps_keep_otlp_order_and_count() {
        let mut w = RowBinaryWriter::default();
        let mut scratch = Vec::new();
        write_attribute_map(
            &mut w,
            &[kv("b", Value::IntValue(7)), kv("a", Value::BoolValue(true))],
            &mut scratch,
        );
        assert_eq!(w.as_bytes(), b"\x02\x01b\x017\x01a\x04true");
    }
}
