//! The configuration tree every provider produces and every component decodes from.
//!
//! A tree of our own (rather than a YAML crate's `Value`) so that decoding can be lenient in the one
//! place otelcol is lenient: a string that came from `${env:VAR}` expansion may fill a number or bool
//! field, while YAML-typed scalars keep their type.

use indexmap::IndexMap;
use std::fmt;

/// A configuration value after parsing, before typed decoding.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ConfValue {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<ConfValue>),
    Map(IndexMap<String, ConfValue>),
}

impl ConfValue {
    /// An empty map, the value of a component declared with no settings.
    pub fn empty_map() -> Self {
        ConfValue::Map(IndexMap::new())
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, ConfValue>> {
        match self {
            ConfValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut IndexMap<String, ConfValue>> {
        match self {
            ConfValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            ConfValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[ConfValue]> {
        match self {
            ConfValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, ConfValue::Null)
    }

    /// Looks up a nested key, e.g. `get(&["service", "pipelines"])`.
    pub fn get(&self, path: &[&str]) -> Option<&ConfValue> {
        let mut cur = self;
        for key in path {
            cur = cur.as_map()?.get(*key)?;
        }
        Some(cur)
    }

    /// A short name of the value's kind, used in error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfValue::Null => "null",
            ConfValue::Bool(_) => "bool",
            ConfValue::Int(_) => "int",
            ConfValue::Float(_) => "float",
            ConfValue::String(_) => "string",
            ConfValue::Seq(_) => "list",
            ConfValue::Map(_) => "map",
        }
    }
}

impl fmt::Display for ConfValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfValue::Null => f.write_str("null"),
            ConfValue::Bool(b) => write!(f, "{b}"),
            ConfValue::Int(i) => write!(f, "{i}"),
            ConfValue::Float(x) => write!(f, "{x}"),
            ConfValue::String(s) => f.write_str(s),
            ConfValue::Seq(_) => f.write_str("[list]"),
            ConfValue::Map(_) => f.write_str("{map}"),
        }
    }
}
