//! Typed decoding of a [`ConfValue`] into a component's config struct.
//!
//! Component configs derive `Deserialize` with `#[serde(deny_unknown_fields)]`; this module turns
//! serde's errors into otelcol's wording with the full key path, e.g.
//! `'protocols.grpc' has invalid keys: endpont`.

use crate::value::ConfValue;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use std::fmt;

/// A config value that did not fit the component's typed config.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", render(.path, .message, .unknown_key.as_deref()))]
pub struct DecodeError {
    /// Dotted path of the offending key inside the component config ("" for the top level).
    pub path: String,
    pub message: String,
    /// Set when the error is an unknown key.
    pub unknown_key: Option<String>,
}

fn render(path: &str, message: &str, unknown_key: Option<&str>) -> String {
    match unknown_key {
        Some(key) => format!("'{path}' has invalid keys: {key}"),
        None if path.is_empty() => message.to_string(),
        None => format!("'{path}' {message}"),
    }
}

/// Decodes `value` into `T`, reporting the path of the first key that does not fit.
pub fn decode<T: DeserializeOwned>(value: &ConfValue) -> Result<T, DecodeError> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(ValueDeserializer(value), &mut track);
    match T::deserialize(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = track.path().to_string();
            let path = if path == "." { String::new() } else { path };
            Err(match err.unknown_field {
                Some(key) => {
                    // The tracked path ends at the unknown key itself; report its parent.
                    let parent = path
                        .strip_suffix(&key)
                        .map(|p| p.trim_end_matches('.').to_string())
                        .unwrap_or(path);
                    DecodeError {
                        path: parent,
                        message: err.message,
                        unknown_key: Some(key),
                    }
                }
                None => DecodeError {
                    path,
                    message: err.message,
                    unknown_key: None,
                },
            })
        }
    }
}

/// The error type serde sees while decoding; converted into [`DecodeError`] by [`decode`].
#[derive(Debug)]
pub struct DeError {
    message: String,
    unknown_field: Option<String>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            unknown_field: None,
        }
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        DeError {
            message: format!("has invalid keys: {field}"),
            unknown_field: Some(field.to_string()),
        }
    }
}

/// serde `Deserializer` over a borrowed [`ConfValue`].
struct ValueDeserializer<'a>(&'a ConfValue);

impl<'a> ValueDeserializer<'a> {
    fn invalid(&self, expected: &str) -> DeError {
        de::Error::custom(format!(
            "expected {expected}, got {} '{}'",
            self.0.kind(),
            self.0
        ))
    }

    /// Strings (from env expansion or quoted YAML) may fill scalar fields, as otelcol allows for
    /// whole-value substitutions.
    fn parse_str<T: std::str::FromStr>(&self, expected: &str) -> Result<T, DeError> {
        match self.0 {
            ConfValue::String(s) => s.trim().parse().map_err(|_| self.invalid(expected)),
            _ => Err(self.invalid(expected)),
        }
    }

    fn integer(&self) -> Result<i128, DeError> {
        match self.0 {
            ConfValue::Int(i) => Ok(*i as i128),
            ConfValue::Float(f) if f.fract() == 0.0 => Ok(*f as i128),
            _ => self.parse_str("an integer"),
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n = self.integer()?;
            let v = <$ty>::try_from(n).map_err(|_| {
                de::Error::custom(format!("value {n} is out of range for {}", stringify!($ty)))
            })?;
            visitor.$visit(v)
        })*
    };
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::Null => visitor.visit_unit(),
            ConfValue::Bool(b) => visitor.visit_bool(*b),
            ConfValue::Int(i) => visitor.visit_i64(*i),
            ConfValue::Float(f) => visitor.visit_f64(*f),
            ConfValue::String(s) => visitor.visit_borrowed_str(s),
            ConfValue::Seq(items) => visitor.visit_seq(SeqDeserializer { iter: items.iter() }),
            ConfValue::Map(map) => visitor.visit_map(MapDeserializer {
                iter: map.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::Bool(b) => visitor.visit_bool(*b),
            _ => visitor.visit_bool(self.parse_str("a bool")?),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::Float(f) => visitor.visit_f64(*f),
            ConfValue::Int(i) => visitor.visit_f64(*i as f64),
            _ => visitor.visit_f64(self.parse_str("a number")?),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::String(s) => visitor.visit_borrowed_str(s),
            ConfValue::Int(_) | ConfValue::Float(_) | ConfValue::Bool(_) => {
                visitor.visit_string(self.0.to_string())
            }
            _ => Err(self.invalid("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::Seq(items) => visitor.visit_seq(SeqDeserializer { iter: items.iter() }),
            ConfValue::Null => visitor.visit_seq(SeqDeserializer { iter: [].iter() }),
            _ => Err(self.invalid("a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::Map(map) => visitor.visit_map(MapDeserializer {
                iter: map.iter(),
                value: None,
            }),
            ConfValue::Null => visitor.visit_map(MapDeserializer {
                iter: EMPTY.iter(),
                value: None,
            }),
            _ => Err(self.invalid("a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            ConfValue::Map(map) if map.len() == 1 => {
                let (key, value) = map.iter().next().expect("one entry");
                visitor.visit_enum(EnumDeserializer {
                    variant: key,
                    value,
                })
            }
            _ => Err(self.invalid("a string or a single-key map")),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            ConfValue::Null => visitor.visit_unit(),
            _ => Err(self.invalid("null")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit_struct tuple tuple_struct identifier ignored_any
    }
}

static EMPTY: std::sync::LazyLock<indexmap::IndexMap<String, ConfValue>> =
    std::sync::LazyLock::new(indexmap::IndexMap::new);

struct SeqDeserializer<'a> {
    iter: std::slice::Iter<'a, ConfValue>,
}

impl<'de> SeqAccess<'de> for SeqDeserializer<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(v) => seed.deserialize(ValueDeserializer(v)).map(Some),
            None => Ok(None),
        }
    }
}

struct MapDeserializer<'a> {
    iter: indexmap::map::Iter<'a, String, ConfValue>,
    value: Option<&'a ConfValue>,
}

impl<'de> MapAccess<'de> for MapDeserializer<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(k))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("value without a key"))?;
        seed.deserialize(ValueDeserializer(value))
    }
}

struct EnumDeserializer<'a> {
    variant: &'a str,
    value: &'a ConfValue,
}

impl<'de> de::EnumAccess<'de> for EnumDeserializer<'de> {
    type Error = DeError;
    type Variant = VariantDeserializer<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let variant = seed.deserialize(de::value::BorrowedStrDeserializer::<DeError>::new(
            self.variant,
        ))?;
        Ok((variant, VariantDeserializer(self.value)))
    }
}

struct VariantDeserializer<'a>(&'a ConfValue);

impl<'de> de::VariantAccess<'de> for VariantDeserializer<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(ValueDeserializer(self.0))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(ValueDeserializer(self.0), visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(ValueDeserializer(self.0), visitor)
    }
}
