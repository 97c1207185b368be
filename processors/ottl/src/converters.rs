//! OTTL converters: functions that compute a value for a statement or a comparison.
//!
//! `Concat([values], delimiter)` joins values as text (`nil` as the empty string);
//! `ToLowerCase(v)` and `ToUpperCase(v)` change a string's case; `Substring(v, start, length)`
//! cuts a string by byte offsets, giving `nil` when the range falls outside it or inside a
//! character; `String(v)` is a value's text as the collector renders attribute values;
//! `Int(v)` and `Double(v)` convert numbers, booleans and numeric strings, giving `nil` for
//! anything else; `Len(v)` is a string's length in bytes or a list's or map's number of
//! entries; `SHA256(v)` is the lowercase hex SHA-256 of a string.

use crate::condition::{Operand, compile_value, value};
use crate::fields::{Context, Item, Val};
use crate::syntax::{Literal, Value, check_arity};
use cormorant_attribute_rules::sha256_hex;
use cormorant_core::pdata::common::{AnyValue, any_value};
use cormorant_core::value_text::as_string;
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub(crate) enum Converter {
    Concat(Vec<Operand>, String),
    Lower(Box<Operand>),
    Upper(Box<Operand>),
    Substring(Box<Operand>, usize, usize),
    Text(Box<Operand>),
    Int(Box<Operand>),
    Double(Box<Operand>),
    Len(Box<Operand>),
    Sha256(Box<Operand>),
}

/// The converter `name` with `args`; `None` when `name` is not a converter.
pub(crate) fn compile_converter(
    name: &str,
    args: &[Value],
    context: Context,
) -> Option<Result<Converter, String>> {
    let arity = |wanted: usize| check_arity(name, args, wanted);
    let one = |make: fn(Box<Operand>) -> Converter| -> Result<Converter, String> {
        arity(1)?;
        Ok(make(Box::new(compile_value(&args[0], context)?)))
    };
    let offset = |index: usize| match &args[index] {
        Value::Literal(Literal::Int(number)) if *number >= 0 => Ok(*number as usize),
        _ => Err(format!(
            "{name}: argument {} must be a non-negative integer",
            index + 1
        )),
    };
    Some(match name {
        "Concat" => (|| {
            arity(2)?;
            let Value::List(items) = &args[0] else {
                return Err("Concat: argument 1 must be a list of values".to_owned());
            };
            let Value::Literal(Literal::Str(delimiter)) = &args[1] else {
                return Err("Concat: argument 2 must be a string literal".to_owned());
            };
            let parts = items
                .iter()
                .map(|item| compile_value(item, context))
                .collect::<Result<_, _>>()?;
            Ok(Converter::Concat(parts, delimiter.clone()))
        })(),
        "ToLowerCase" => one(Converter::Lower),
        "ToUpperCase" => one(Converter::Upper),
        "String" => one(Converter::Text),
        "Int" => one(Converter::Int),
        "Double" => one(Converter::Double),
        "Len" => one(Converter::Len),
        "SHA256" => one(Converter::Sha256),
        "Substring" => (|| {
            arity(3)?;
            Ok(Converter::Substring(
                Box::new(compile_value(&args[0], context)?),
                offset(1)?,
                offset(2)?,
            ))
        })(),
        _ => return None,
    })
}

/// A value's text as attribute values are rendered; `nil` is the empty string.
fn text_of(value: Val<'_>) -> Cow<'_, str> {
    let inner = match value {
        Val::Nil => return Cow::Borrowed(""),
        Val::Str(text) => return text,
        Val::Int(number) => any_value::Value::IntValue(number),
        Val::Float(number) => any_value::Value::DoubleValue(number),
        Val::Bool(flag) => any_value::Value::BoolValue(flag),
        Val::Other(any) => return Cow::Owned(as_string(Some(any)).into_owned()),
    };
    Cow::Owned(as_string(Some(&AnyValue { value: Some(inner) })).into_owned())
}

pub(crate) fn convert<'v>(converter: &'v Converter, item: &Item<'v>) -> Val<'v> {
    match converter {
        Converter::Concat(parts, delimiter) => {
            let texts: Vec<Cow<'_, str>> = parts.iter().map(|p| text_of(value(p, item))).collect();
            Val::Str(Cow::Owned(texts.join(delimiter)))
        }
        Converter::Lower(target) => match value(target, item) {
            Val::Str(text) => Val::Str(Cow::Owned(text.to_lowercase())),
            _ => Val::Nil,
        },
        Converter::Upper(target) => match value(target, item) {
            Val::Str(text) => Val::Str(Cow::Owned(text.to_uppercase())),
            _ => Val::Nil,
        },
        Converter::Substring(target, start, length) => match value(target, item) {
            Val::Str(text) => start
                .checked_add(*length)
                .and_then(|end| text.get(*start..end))
                .map_or(Val::Nil, |cut| Val::Str(Cow::Owned(cut.to_owned()))),
            _ => Val::Nil,
        },
        Converter::Text(target) => match value(target, item) {
            Val::Nil => Val::Nil,
            found => Val::Str(Cow::Owned(text_of(found).into_owned())),
        },
        Converter::Int(target) => match value(target, item) {
            Val::Int(number) => Val::Int(number),
            Val::Float(number) if number.is_finite() => Val::Int(number as i64),
            Val::Bool(flag) => Val::Int(i64::from(flag)),
            Val::Str(text) => text
                .trim()
                .parse::<i64>()
                .map(Val::Int)
                .or_else(|_| text.trim().parse::<f64>().map(|f| Val::Int(f as i64)))
                .unwrap_or(Val::Nil),
            _ => Val::Nil,
        },
        Converter::Len(target) => match value(target, item) {
            Val::Str(text) => Val::Int(text.len() as i64),
            Val::Other(any) => match &any.value {
                Some(any_value::Value::ArrayValue(list)) => Val::Int(list.values.len() as i64),
                Some(any_value::Value::KvlistValue(map)) => Val::Int(map.values.len() as i64),
                _ => Val::Nil,
            },
            _ => Val::Nil,
        },
        Converter::Sha256(target) => match value(target, item) {
            Val::Str(text) => {
                let string = AnyValue {
                    value: Some(any_value::Value::StringValue(text.into_owned())),
                };
                Val::Str(Cow::Owned(sha256_hex(Some(&string))))
            }
            _ => Val::Nil,
        },
        Converter::Double(target) => match value(target, item) {
            Val::Float(number) => Val::Float(number),
            Val::Int(number) => Val::Float(number as f64),
            Val::Bool(flag) => Val::Float(f64::from(u8::from(flag))),
            Val::Str(text) => text.trim().parse().map(Val::Float).unwrap_or(Val::Nil),
            _ => Val::Nil,
        },
    }
}
