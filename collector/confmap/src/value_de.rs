//! `Deserialize` for [`ConfValue`], so a component config can keep a raw subtree (for example a
//! section it only validates by shape, or one it passes on as-is).

use crate::value::ConfValue;
use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

impl<'de> Deserialize<'de> for ConfValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ConfValueVisitor)
    }
}

struct ConfValueVisitor;

impl<'de> Visitor<'de> for ConfValueVisitor {
    type Value = ConfValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any configuration value")
    }

    fn visit_unit<E>(self) -> Result<ConfValue, E> {
        Ok(ConfValue::Null)
    }

    fn visit_none<E>(self) -> Result<ConfValue, E> {
        Ok(ConfValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ConfValue, D::Error> {
        ConfValue::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<ConfValue, E> {
        Ok(ConfValue::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<ConfValue, E> {
        Ok(ConfValue::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ConfValue, E> {
        i64::try_from(v)
            .map(ConfValue::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<ConfValue, E> {
        Ok(ConfValue::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<ConfValue, E> {
        Ok(ConfValue::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<ConfValue, E> {
        Ok(ConfValue::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ConfValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(ConfValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConfValue, A::Error> {
        let mut entries = IndexMap::new();
        while let Some((key, value)) = map.next_entry::<String, ConfValue>()? {
            entries.insert(key, value);
        }
        Ok(ConfValue::Map(entries))
    }
}
