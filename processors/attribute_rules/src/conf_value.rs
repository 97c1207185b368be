//! Config values (`value:` of an action or a match) as OTLP attribute values, typed the way
//! otelcol's `pcommon.Value.FromRaw` types them: YAML strings, integers, floats and booleans keep
//! their type, sequences become arrays and maps become key-value lists.

use cormorant_confmap::ConfValue;
use cormorant_core::pdata::common::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};

/// The attribute value `value` stands for; YAML `null` is a value with nothing set.
pub fn any_value_from_conf(value: &ConfValue) -> AnyValue {
    let inner = match value {
        ConfValue::Null => None,
        ConfValue::Bool(flag) => Some(any_value::Value::BoolValue(*flag)),
        ConfValue::Int(number) => Some(any_value::Value::IntValue(*number)),
        ConfValue::Float(number) => Some(any_value::Value::DoubleValue(*number)),
        ConfValue::String(text) => Some(any_value::Value::StringValue(text.clone())),
        ConfValue::Seq(items) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(any_value_from_conf).collect(),
        })),
        ConfValue::Map(entries) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: entries
                .iter()
                .map(|(key, value)| KeyValue {
                    key: key.clone(),
                    value: Some(any_value_from_conf(value)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value: inner }
}

#[cfg(test)]
mod tests {
    use super::*;
    use any_value::Value;

    #[test]
    fn scalars_keep_their_yaml_type() {
        let cases = [
            (ConfValue::Bool(true), Some(Value::BoolValue(true))),
            (ConfValue::Int(-3), Some(Value::IntValue(-3))),
            (ConfValue::Float(2.5), Some(Value::DoubleValue(2.5))),
            (
                ConfValue::String("200".into()),
                Some(Value::StringValue("200".into())),
            ),
            (ConfValue::Null, None),
        ];
        for (conf, expected) in cases {
            assert_eq!(any_value_from_conf(&conf).value, expected, "{conf:?}");
        }
    }

    #[test]
    fn sequences_and_maps_nest() {
        let mut map = indexmap::IndexMap::new();
        map.insert("region".to_owned(), ConfValue::String("eu".into()));
        map.insert(
            "zones".to_owned(),
            ConfValue::Seq(vec![ConfValue::Int(1), ConfValue::Int(2)]),
        );
        let Some(Value::KvlistValue(list)) = any_value_from_conf(&ConfValue::Map(map)).value else {
            panic!("a map becomes a key-value list");
        };
        assert_eq!(list.values[0].key, "region");
        let Some(Value::ArrayValue(zones)) =
            list.values[1].value.as_ref().and_then(|v| v.value.clone())
        else {
            panic!("a sequence becomes an array");
        };
        assert_eq!(
            zones.values,
            [1, 2].map(|n| AnyValue {
                value: Some(Value::IntValue(n))
            })
        );
    }
}
