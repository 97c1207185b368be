//! [`ConfValue`] → YAML / JSON text, for `cormorant print-config`.

use crate::value::ConfValue;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

impl Serialize for ConfValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ConfValue::Null => serializer.serialize_unit(),
            ConfValue::Bool(b) => serializer.serialize_bool(*b),
            ConfValue::Int(i) => serializer.serialize_i64(*i),
            ConfValue::Float(f) => serializer.serialize_f64(*f),
            ConfValue::String(s) => serializer.serialize_str(s),
            ConfValue::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            ConfValue::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// The value as a YAML document.
pub fn to_yaml_string(value: &ConfValue) -> String {
    // Every ConfValue is representable in YAML (string keys, plain scalars, .nan/.inf floats), so
    // the serializer has no failure case to reach.
    serde_yaml_ng::to_string(value).expect("a ConfValue always serializes to YAML")
}

/// The value as pretty-printed JSON. Non-finite floats, which JSON cannot express, become `null`.
pub fn to_json_string(value: &ConfValue) -> String {
    // String keys and plain values only: serde_json cannot fail on this input.
    serde_json::to_string_pretty(value).expect("a ConfValue always serializes to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_yaml;

    const SAMPLE: &str = "\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
exporters:
  debug: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
  ratio: 0.5
  enabled: true
  nothing: null
  quoted: '123'
";

    #[test]
    fn yaml_round_trip_preserves_the_tree() {
        let value = parse_yaml(SAMPLE).unwrap();
        let text = to_yaml_string(&value);
        assert_eq!(parse_yaml(&text).unwrap(), value);
        assert!(text.starts_with("receivers:\n"), "{text}");
    }

    #[test]
    fn json_keeps_types_and_order() {
        let value = parse_yaml(SAMPLE).unwrap();
        let text = to_json_string(&value);
        let position = |key: &str| text.find(&format!("\n  \"{key}\": ")).unwrap();
        assert!(position("receivers") < position("exporters"), "{text}");
        assert!(position("exporters") < position("service"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["service"]["ratio"], serde_json::json!(0.5));
        assert_eq!(json["service"]["quoted"], serde_json::json!("123"));
        assert_eq!(json["service"]["nothing"], serde_json::Value::Null);
        assert_eq!(
            json["service"]["pipelines"]["traces"]["receivers"],
            serde_json::json!(["otlp"])
        );
        assert_eq!(json["exporters"]["debug"], serde_json::json!({}));
    }
}
