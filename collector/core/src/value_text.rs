//! Attribute values as text, exactly as the OpenTelemetry Collector renders them with
//! `pcommon.Value.AsString()`. The ClickHouse store writes every attribute as this text, and
//! processors that compare or convert values (`attributes`, `filter`) see the same text otelcol's
//! would, so a config or a query written against otelcol behaves the same here.
//!
//! - string: as is; bool: `true`/`false`; int: decimal;
//! - double: the shortest text that reads back to the same number, in plain notation between 1e-6
//!   and 1e21 and in exponent notation (`1e-7`, `1e+21`) outside, as JavaScript and Go's
//!   `encoding/json` print numbers; NaN and infinities give Go's `json: unsupported value: NaN`;
//! - bytes: standard base64 with padding;
//! - arrays and key-value lists: JSON as Go's `encoding/json` writes it (map keys sorted, the last
//!   of duplicate keys kept, `<`, `>`, `&`, U+2028 and U+2029 escaped); a NaN or infinity anywhere
//!   inside makes Go's encoder fail, which leaves the empty string;
//! - no value: the empty string (`null` inside JSON).

use crate::pdata::common::{AnyValue, KeyValue, any_value::Value};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::borrow::Cow;
use std::io::Write;

/// The `AsString()` text of `value`; a string value is borrowed, not copied.
pub fn as_string(value: Option<&AnyValue>) -> Cow<'_, str> {
    if let Some(Value::StringValue(text)) = value.and_then(|v| v.value.as_ref()) {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::new();
    push_as_string(&mut out, value);
    // Every branch writes UTF-8: decimal digits, base64, JSON, or text taken from a `str`.
    Cow::Owned(String::from_utf8(out).unwrap_or_default())
}

/// Appends the `AsString()` text of `value` to `out`, so a caller rendering many values can reuse
/// one buffer.
pub fn push_as_string(out: &mut Vec<u8>, value: Option<&AnyValue>) {
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => {}
        Some(Value::StringValue(text)) => out.extend_from_slice(text.as_bytes()),
        Some(Value::BoolValue(flag)) => out.extend_from_slice(bool_text(*flag).as_bytes()),
        Some(Value::IntValue(number)) => {
            out.extend_from_slice(itoa::Buffer::new().format(*number).as_bytes())
        }
        Some(Value::DoubleValue(number)) => push_double_as_string(out, *number),
        Some(Value::BytesValue(bytes)) => push_base64(out, bytes),
        Some(Value::ArrayValue(_) | Value::KvlistValue(_)) => {
            let start = out.len();
            if push_json(out, value).is_err() {
                out.truncate(start);
            }
        }
    }
}

fn bool_text(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}

/// `AsString()` of a double, NaN and infinities included.
fn push_double_as_string(out: &mut Vec<u8>, number: f64) {
    if number.is_finite() {
        push_json_number(out, number);
    } else {
        let go_name: &[u8] = if number.is_nan() {
            b"NaN"
        } else if number > 0.0 {
            b"+Inf"
        } else {
            b"-Inf"
        };
        out.extend_from_slice(b"json: unsupported value: ");
        out.extend_from_slice(go_name);
    }
}

/// A finite double in the ECMAScript number-to-string form Go's JSON encoder uses.
fn push_json_number(out: &mut Vec<u8>, number: f64) {
    let magnitude = number.abs();
    // Writing into a Vec cannot fail.
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let start = out.len();
        let _ = write!(out, "{number:e}");
        // Rust prints `1e21`, Go `1e+21`; negative exponents already match (`1e-7`).
        if let Some(e_at) = out[start..].iter().position(|byte| *byte == b'e') {
            let sign_at = start + e_at + 1;
            if out.get(sign_at) != Some(&b'-') {
                out.insert(sign_at, b'+');
            }
        }
    } else {
        let _ = write!(out, "{number}");
    }
}

fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    // Base64 output is 4/3 the input, padded: a bound that cannot be too small.
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let written = BASE64.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// A NaN or infinity inside an array or key-value list: Go's JSON encoder rejects the whole value.
#[derive(Debug)]
struct UnsupportedNumber;

fn push_json(out: &mut Vec<u8>, value: Option<&AnyValue>) -> Result<(), UnsupportedNumber> {
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => out.extend_from_slice(b"null"),
        Some(Value::StringValue(text)) => push_json_string(out, text),
        Some(Value::BoolValue(flag)) => out.extend_from_slice(bool_text(*flag).as_bytes()),
        Some(Value::IntValue(number)) => {
            out.extend_from_slice(itoa::Buffer::new().format(*number).as_bytes())
        }
        Some(Value::DoubleValue(number)) => {
            if !number.is_finite() {
                return Err(UnsupportedNumber);
            }
            push_json_number(out, *number);
        }
        Some(Value::BytesValue(bytes)) => {
            out.push(b'"');
            push_base64(out, bytes);
            out.push(b'"');
        }
        Some(Value::ArrayValue(array)) => {
            out.push(b'[');
            for (index, item) in array.values.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                push_json(out, Some(item))?;
            }
            out.push(b']');
        }
        Some(Value::KvlistValue(list)) => {
            // Go turns the list into a map (the last duplicate wins) and writes its keys sorted.
            let mut entries: Vec<&KeyValue> = list.values.iter().collect();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            out.push(b'{');
            let mut first = true;
            for (index, entry) in entries.iter().enumerate() {
                let overridden = entries
                    .get(index + 1)
                    .is_some_and(|next| next.key == entry.key);
                if overridden {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                push_json_string(out, &entry.key);
                out.push(b':');
                push_json(out, entry.value.as_ref())?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`, as trace and span ids and digests are written everywhere.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// A JSON string with Go's escaping (HTML-safe, `\b`/`\f` short forms since Go 1.22).
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut copied_up_to = 0;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'<' => Some(b"\\u003c"),
            b'>' => Some(b"\\u003e"),
            b'&' => Some(b"\\u0026"),
            // U+2028 and U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
            0xe2 if bytes.get(index + 1) == Some(&0x80)
                && matches!(bytes.get(index + 2), Some(0xa8 | 0xa9)) =>
            {
                if bytes[index + 2] == 0xa8 {
                    Some(b"\\u2028")
                } else {
                    Some(b"\\u2029")
                }
            }
            _ => None,
        };
        let escaped_len = match escape {
            Some(_) if byte == 0xe2 => 3,
            Some(_) => 1,
            None if byte < 0x20 => 1,
            None => {
                index += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[copied_up_to..index]);
        match escape {
            Some(sequence) => out.extend_from_slice(sequence),
            None => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0x0f)],
            ]),
        }
        index += escaped_len;
        copied_up_to = index;
    }
    out.extend_from_slice(&bytes[copied_up_to..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::common::{ArrayValue, KeyValueList};

    fn value(inner: Value) -> AnyValue {
        AnyValue { value: Some(inner) }
    }

    fn kv(key: &str, inner: Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value(inner)),
            ..Default::default()
        }
    }

    fn text(v: Option<&AnyValue>) -> String {
        let mut out = Vec::new();
        push_as_string(&mut out, v);
        let pushed = String::from_utf8(out).unwrap();
        assert_eq!(as_string(v), pushed, "both entry points agree");
        pushed
    }

    fn text_of(inner: Value) -> String {
        text(Some(&value(inner)))
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn scalars_render_like_as_string() {
        assert_eq!(text_of(Value::StringValue("a b".into())), "a b");
        assert_eq!(text_of(Value::BoolValue(true)), "true");
        assert_eq!(text_of(Value::BoolValue(false)), "false");
        assert_eq!(
            text_of(Value::IntValue(-9_223_372_036_854_775_808)),
            "-9223372036854775808"
        );
        assert_eq!(text_of(Value::BytesValue(vec![0xff, 0x00, 0x10])), "/wAQ");
        assert_eq!(text_of(Value::BytesValue(vec![1])), "AQ==");
        assert_eq!(text(None), "");
        assert_eq!(text(Some(&AnyValue { value: None })), "");
    }

    #[test]
    fn doubles_use_go_json_number_text() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-2.25, "-2.25"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-1.25e-10, "-1.25e-10"),
            (123456.789, "123456.789"),
            (f64::NAN, "json: unsupported value: NaN"),
            (f64::INFINITY, "json: unsupported value: +Inf"),
            (f64::NEG_INFINITY, "json: unsupported value: -Inf"),
        ];
        for (number, expected) in cases {
            assert_eq!(text_of(Value::DoubleValue(number)), expected, "{number:e}");
        }
    }

    #[test]
    fn arrays_are_json() {
        let array = Value::ArrayValue(ArrayValue {
            values: vec![
                value(Value::StringValue("x".into())),
                value(Value::IntValue(3)),
                value(Value::DoubleValue(2.5)),
                value(Value::BoolValue(false)),
                AnyValue { value: None },
                value(Value::BytesValue(vec![0xff])),
                value(Value::ArrayValue(ArrayValue::default())),
            ],
        });
        assert_eq!(text_of(array), r#"["x",3,2.5,false,null,"/w==",[]]"#);
    }

    #[test]
    fn key_value_lists_are_json_objects_with_sorted_keys_and_last_duplicate() {
        let list = Value::KvlistValue(KeyValueList {
            values: vec![
                kv("zeta", Value::IntValue(1)),
                kv("alpha", Value::StringValue("first".into())),
                kv("mid", Value::KvlistValue(KeyValueList::default())),
                kv("alpha", Value::StringValue("second".into())),
            ],
        });
        assert_eq!(text_of(list), r#"{"alpha":"second","mid":{},"zeta":1}"#);
    }

    #[test]
    fn json_strings_use_go_escapes() {
        let array = Value::ArrayValue(ArrayValue {
            values: vec![value(Value::StringValue(
                "q\"b\\n\nr\rt\t\u{8}\u{c}\u{1}<a>&\u{2028}\u{2029}é".into(),
            ))],
        });
        assert_eq!(
            text_of(array),
            r#"["q\"b\\n\nr\rt\t\b\f\u0001\u003ca\u003e\u0026\u2028\u2029é"]"#
        );
    }

    #[test]
    fn non_finite_numbers_inside_json_give_the_empty_string() {
        let array = Value::ArrayValue(ArrayValue {
            values: vec![
                value(Value::IntValue(1)),
                value(Value::DoubleValue(f64::NAN)),
            ],
        });
        assert_eq!(text_of(array), "");
    }
}
