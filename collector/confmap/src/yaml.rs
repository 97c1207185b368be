//! YAML text → [`ConfValue`].
//!
//! Parsing goes through `serde_yaml_ng::Value` so that anchors, aliases and `<<` merge keys behave
//! as YAML users expect, then the tree is converted into our own value type.

use crate::error::ConfError;
use crate::value::ConfValue;
use indexmap::IndexMap;
use serde_yaml_ng::Value as Yaml;

/// Parses one YAML document. An empty document is `ConfValue::Null`; deciding whether that is
/// acceptable is the caller's business (a `yaml:` fragment may be empty, a config file may not).
pub fn parse_yaml(text: &str) -> Result<ConfValue, ConfError> {
    parse_yaml_from(text, "YAML")
}

/// Like [`parse_yaml`], naming `origin` (e.g. `config "otel.yaml"`) in the error.
pub(crate) fn parse_yaml_from(text: &str, origin: &str) -> Result<ConfValue, ConfError> {
    let fail = |message: String| ConfError::Yaml {
        origin: origin.to_string(),
        message,
    };
    let mut doc: Yaml = serde_yaml_ng::from_str(text).map_err(|e| fail(e.to_string()))?;
    doc.apply_merge().map_err(|e| fail(e.to_string()))?;
    convert(doc).map_err(fail)
}

fn convert(node: Yaml) -> Result<ConfValue, String> {
    Ok(match node {
        Yaml::Null => ConfValue::Null,
        Yaml::Bool(b) => ConfValue::Bool(b),
        Yaml::Number(n) => number(&n),
        Yaml::String(s) => ConfValue::String(s),
        Yaml::Sequence(items) => {
            ConfValue::Seq(items.into_iter().map(convert).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(entries) => {
            let mut map = IndexMap::with_capacity(entries.len());
            for (key, value) in entries {
                map.insert(key_text(key)?, convert(value)?);
            }
            ConfValue::Map(map)
        }
        // Custom tags carry no meaning for a collector config; the tagged value is what counts.
        Yaml::Tagged(tagged) => convert(tagged.value)?,
    })
}

fn number(n: &serde_yaml_ng::Number) -> ConfValue {
    if let Some(i) = n.as_i64() {
        ConfValue::Int(i)
    } else if n.is_u64() {
        // Above i64::MAX: kept as its digits so a u64 field still decodes exactly (the decoder
        // parses numeric strings), where a float would round.
        ConfValue::String(n.to_string())
    } else {
        ConfValue::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Map keys are strings in otelcol; YAML scalars of other types used as keys become their text.
fn key_text(key: Yaml) -> Result<String, String> {
    match key {
        Yaml::String(s) => Ok(s),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Null => Ok("null".to_string()),
        Yaml::Tagged(tagged) => key_text(tagged.value),
        Yaml::Sequence(_) | Yaml::Mapping(_) => {
            Err("a map key must be a scalar, not a list or a map".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_yaml_types() {
        let v = parse_yaml("a: 1\nb: 1.5\nc: true\nd: x\ne: ~\nf: '1'\ng: 18446744073709551615")
            .unwrap();
        assert_eq!(v.get(&["a"]), Some(&ConfValue::Int(1)));
        assert_eq!(v.get(&["b"]), Some(&ConfValue::Float(1.5)));
        assert_eq!(v.get(&["c"]), Some(&ConfValue::Bool(true)));
        assert_eq!(v.get(&["d"]), Some(&ConfValue::String("x".into())));
        assert_eq!(v.get(&["e"]), Some(&ConfValue::Null));
        assert_eq!(v.get(&["f"]), Some(&ConfValue::String("1".into())));
        assert_eq!(
            v.get(&["g"]),
            Some(&ConfValue::String("18446744073709551615".into()))
        );
    }

    #[test]
    fn non_string_keys_become_strings() {
        let v = parse_yaml("1: a\ntrue: b\n2.5: c").unwrap();
        let keys: Vec<&str> = v.as_map().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["1", "true", "2.5"]);
    }

    #[test]
    fn complex_keys_are_rejected() {
        let err = parse_yaml("? [a, b]\n: c").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse YAML: a map key must be a scalar, not a list or a map"
        );
    }

    #[test]
    fn anchors_and_merge_keys_resolve() {
        let v = parse_yaml("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3").unwrap();
        assert_eq!(v.get(&["derived", "x"]), Some(&ConfValue::Int(1)));
        assert_eq!(v.get(&["derived", "y"]), Some(&ConfValue::Int(3)));
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse_yaml("").unwrap(), ConfValue::Null);
        assert_eq!(
            parse_yaml("  \n# only a comment\n").unwrap(),
            ConfValue::Null
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse_yaml("a:\n  b: 1\n c: [").unwrap_err().to_string();
        assert!(err.starts_with("cannot parse YAML: "), "{err}");
        assert!(err.contains("line 3 column"), "{err}");
    }
}
