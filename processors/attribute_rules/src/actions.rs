//! The attribute action list of otelcol's `attributes` and `resource` processors.
//!
//! Actions run in the order configured, each on the attribute list as the previous one left it:
//! - `insert` adds the key only where it is missing, `update` changes it only where it exists,
//!   `upsert` does either; the value comes from `value`, `from_attribute` or `from_context`, and an
//!   action whose source is absent does nothing;
//! - `delete` removes the key and every key matching `pattern`;
//! - `hash` replaces those values by the lowercase hex SHA-256 of their bytes (a string's UTF-8,
//!   an int's or double's 8 little-endian bytes, a bool's single byte), as otelcol does since its
//!   SHA-1 hashing was retired;
//! - `extract` matches `pattern` on a string value and upserts each named group as an attribute;
//! - `convert` changes the type to `int`, `double` or `string` where the value converts, and leaves
//!   it as it is where it does not.
//!
//! `from_context` reads the client of the request being processed ([`cormorant_core::client`]):
//! `client.address`, or `metadata.<header>` when the receiver has `include_metadata: true`. Like
//! otelcol, that is only known before the first processor that hands data to another task
//! (`batch`); after it, and for data no receiver request brought, the source is absent.

use crate::conf_value::any_value_from_conf;
use crate::string_filter::compile;
use cormorant_confmap::ConfValue;
use cormorant_core::client;
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value::Value};
use cormorant_core::value_text::{as_string, hex};
use regex::Regex;
use serde::Deserialize;

/// One entry of `actions:` (or of the `resource` processor's `attributes:`), as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionConfig {
    pub key: String,
    /// One of the seven actions, in any letter case.
    pub action: String,
    pub value: Option<ConfValue>,
    pub pattern: String,
    pub from_attribute: String,
    pub from_context: String,
    /// `int`, `double` or `string`, for `convert`.
    pub converted_type: String,
}

/// Where an `insert`, `update` or `upsert` takes its value from.
#[derive(Debug, Clone)]
enum Source {
    Value(AnyValue),
    Attribute(String),
    /// The current client's address or request metadata.
    Context(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteMode {
    Insert,
    Update,
    Upsert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConvertTo {
    Int,
    Double,
    String,
}

#[derive(Debug, Clone)]
enum Action {
    Write {
        mode: WriteMode,
        key: String,
        source: Source,
    },
    Delete(KeySelector),
    Hash(KeySelector),
    Extract {
        key: String,
        pattern: Regex,
        /// The group names, in group order (index 0 is the whole match, unnamed).
        names: Vec<String>,
    },
    Convert {
        key: String,
        to: ConvertTo,
    },
}

/// The attributes a `delete` or `hash` acts on: `key`, and keys matching `pattern`.
#[derive(Debug, Clone)]
struct KeySelector {
    key: Option<String>,
    pattern: Option<Regex>,
}

impl KeySelector {
    fn selects(&self, key: &str) -> bool {
        self.key.as_deref() == Some(key) || self.pattern.as_ref().is_some_and(|p| p.is_match(key))
    }
}

/// A compiled action list, applied to one attribute list at a time.
#[derive(Debug, Clone)]
pub struct AttributeActions {
    actions: Vec<Action>,
}

impl AttributeActions {
    /// Checks and compiles `configs`, the list under setting `field` (`actions`); the error
    /// names the offending entry as `field[index]`.
    pub fn compile(field: &str, configs: &[ActionConfig]) -> Result<AttributeActions, String> {
        if configs.is_empty() {
            return Err(format!("missing required field \"{field}\""));
        }
        let actions = configs
            .iter()
            .enumerate()
            .map(|(index, config)| {
                compile_action(config).map_err(|err| format!("{field}[{index}]: {err}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(AttributeActions { actions })
    }

    /// Runs every action, in order, on `attributes`.
    pub fn apply(&self, attributes: &mut Vec<KeyValue>) {
        for action in &self.actions {
            match action {
                Action::Write { mode, key, source } => write(attributes, *mode, key, source),
                Action::Delete(selector) => attributes.retain(|kv| !selector.selects(&kv.key)),
                Action::Hash(selector) => {
                    for kv in attributes.iter_mut().filter(|kv| selector.selects(&kv.key)) {
                        kv.value = Some(string_value(sha256_hex(kv.value.as_ref())));
                    }
                }
                Action::Extract {
                    key,
                    pattern,
                    names,
                } => extract(attributes, key, pattern, names),
                Action::Convert { key, to } => {
                    if let Some(kv) = attributes.iter_mut().find(|kv| kv.key == *key) {
                        convert(kv, *to);
                    }
                }
            }
        }
    }
}

fn compile_action(config: &ActionConfig) -> Result<Action, String> {
    let action = config.action.to_ascii_lowercase();
    let value = config.value.as_ref().filter(|v| !v.is_null());
    let sources = usize::from(value.is_some())
        + usize::from(!config.from_attribute.is_empty())
        + usize::from(!config.from_context.is_empty());
    let unused = |field: &str| format!("action \"{action}\" does not use \"{field}\"");
    let needs_key = || {
        if config.key.is_empty() {
            Err(format!("action \"{action}\" needs \"key\""))
        } else {
            Ok(config.key.clone())
        }
    };
    if !config.converted_type.is_empty() && action != "convert" {
        return Err(unused("converted_type"));
    }
    match action.as_str() {
        "insert" | "update" | "upsert" => {
            let key = needs_key()?;
            if sources != 1 {
                return Err(format!(
                    "action \"{action}\" needs exactly one of \"value\", \"from_attribute\" or \
                     \"from_context\""
                ));
            }
            if !config.pattern.is_empty() {
                return Err(unused("pattern"));
            }
            let source = if let Some(value) = value {
                Source::Value(any_value_from_conf(value))
            } else if !config.from_attribute.is_empty() {
                Source::Attribute(config.from_attribute.clone())
            } else {
                Source::Context(config.from_context.clone())
            };
            let mode = match action.as_str() {
                "insert" => WriteMode::Insert,
                "update" => WriteMode::Update,
                _ => WriteMode::Upsert,
            };
            Ok(Action::Write { mode, key, source })
        }
        "delete" | "hash" => {
            if config.key.is_empty() && config.pattern.is_empty() {
                return Err(format!(
                    "action \"{action}\" needs \"key\", \"pattern\" or both"
                ));
            }
            if sources != 0 {
                return Err(format!(
                    "action \"{action}\" does not use \"value\", \"from_attribute\" or \
                     \"from_context\""
                ));
            }
            let selector = KeySelector {
                key: Some(config.key.clone()).filter(|key| !key.is_empty()),
                pattern: optional_pattern(&config.pattern)?,
            };
            Ok(if action == "delete" {
                Action::Delete(selector)
            } else {
                Action::Hash(selector)
            })
        }
        "extract" => {
            let key = needs_key()?;
            if sources != 0 {
                return Err(format!("action \"{action}\" does not use a value source"));
            }
            if config.pattern.is_empty() {
                return Err(format!("action \"{action}\" needs \"pattern\""));
            }
            let pattern = compile(&config.pattern, "pattern")?;
            let names: Vec<String> = pattern
                .capture_names()
                .skip(1)
                .map(|name| name.unwrap_or_default().to_owned())
                .collect();
            if names.is_empty() {
                return Err("\"pattern\" has no named groups to extract into".to_owned());
            }
            if names.iter().any(String::is_empty) {
                return Err(
                    "every group of \"pattern\" must be named: it becomes the attribute key"
                        .to_owned(),
                );
            }
            Ok(Action::Extract {
                key,
                pattern,
                names,
            })
        }
        "convert" => {
            let key = needs_key()?;
            if sources != 0 || !config.pattern.is_empty() {
                return Err(format!(
                    "action \"{action}\" does not use a value source or \"pattern\""
                ));
            }
            let to = match config.converted_type.as_str() {
                "int" => ConvertTo::Int,
                "double" => ConvertTo::Double,
                "string" => ConvertTo::String,
                "" => return Err("action \"convert\" needs \"converted_type\"".to_owned()),
                other => {
                    return Err(format!(
                        "\"converted_type\" {other:?} is not one of int, double or string"
                    ));
                }
            };
            Ok(Action::Convert { key, to })
        }
        "" => Err("\"action\" is required".to_owned()),
        other => Err(format!(
            "unsupported action {other:?}: use insert, update, upsert, delete, hash, extract or \
             convert"
        )),
    }
}

fn optional_pattern(pattern: &str) -> Result<Option<Regex>, String> {
    if pattern.is_empty() {
        return Ok(None);
    }
    compile(pattern, "pattern").map(Some)
}

fn position(attributes: &[KeyValue], key: &str) -> Option<usize> {
    attributes.iter().position(|kv| kv.key == key)
}

fn write(attributes: &mut Vec<KeyValue>, mode: WriteMode, key: &str, source: &Source) {
    let value = match source {
        Source::Value(value) => value.clone(),
        Source::Attribute(from) => match position(attributes, from) {
            Some(at) => attributes[at].value.clone().unwrap_or_default(),
            None => return,
        },
        Source::Context(key) => match client::current().and_then(|client| client.value(key)) {
            Some(text) => string_value(text),
            None => return,
        },
    };
    match (position(attributes, key), mode) {
        (Some(at), WriteMode::Update | WriteMode::Upsert) => attributes[at].value = Some(value),
        (None, WriteMode::Insert | WriteMode::Upsert) => attributes.push(KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }),
        _ => {}
    }
}

fn extract(attributes: &mut Vec<KeyValue>, key: &str, pattern: &Regex, names: &[String]) {
    let Some(at) = position(attributes, key) else {
        return;
    };
    let Some(Value::StringValue(text)) =
        attributes[at].value.as_ref().and_then(|v| v.value.as_ref())
    else {
        return;
    };
    let Some(captures) = pattern.captures(text) else {
        return;
    };
    // Groups that took no part in the match extract as the empty string, as in otelcol.
    let extracted: Vec<String> = (1..=names.len())
        .map(|group| captures.get(group).map_or("", |m| m.as_str()).to_owned())
        .collect();
    for (name, text) in names.iter().zip(extracted) {
        let value = string_value(text);
        match position(attributes, name) {
            Some(at) => attributes[at].value = Some(value),
            None => attributes.push(KeyValue {
                key: name.clone(),
                value: Some(value),
                ..Default::default()
            }),
        }
    }
}

fn convert(kv: &mut KeyValue, to: ConvertTo) {
    let current = kv.value.as_ref().and_then(|v| v.value.as_ref());
    let converted = match (to, current) {
        (ConvertTo::String, Some(Value::StringValue(_))) => None,
        (ConvertTo::String, _) => Some(Value::StringValue(
            as_string(kv.value.as_ref()).into_owned(),
        )),
        (ConvertTo::Int, Some(Value::DoubleValue(number))) => Some(Value::IntValue(*number as i64)),
        (ConvertTo::Int, Some(Value::BoolValue(flag))) => Some(Value::IntValue(i64::from(*flag))),
        (ConvertTo::Int, Some(Value::StringValue(text))) => text.parse().ok().map(Value::IntValue),
        (ConvertTo::Double, Some(Value::IntValue(number))) => {
            Some(Value::DoubleValue(*number as f64))
        }
        (ConvertTo::Double, Some(Value::BoolValue(flag))) => {
            Some(Value::DoubleValue(f64::from(u8::from(*flag))))
        }
        (ConvertTo::Double, Some(Value::StringValue(text))) => {
            text.parse().ok().map(Value::DoubleValue)
        }
        _ => None,
    };
    if let Some(converted) = converted {
        kv.value = Some(AnyValue {
            value: Some(converted),
        });
    }
}

fn string_value(text: String) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(text)),
    }
}

/// Lowercase hex SHA-256 of the value's bytes; values with no bytes to hash (none, bytes, arrays,
/// key-value lists) become the empty string, as in otelcol. OTTL's `SHA256` shares it.
pub fn sha256_hex(value: Option<&AnyValue>) -> String {
    let mut number = [0u8; 8];
    let bytes: &[u8] = match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(text)) => text.as_bytes(),
        Some(Value::BoolValue(flag)) => {
            number[0] = u8::from(*flag);
            &number[..1]
        }
        Some(Value::IntValue(int)) => {
            number = int.to_le_bytes();
            &number
        }
        Some(Value::DoubleValue(double)) => {
            number = double.to_bits().to_le_bytes();
            &number
        }
        _ => return String::new(),
    };
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
#[path = "actions_tests.rs"]
mod tests;
