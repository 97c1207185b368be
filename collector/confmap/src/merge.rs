//! Combining config sources the way otelcol (koanf) does.

use crate::value::ConfValue;
use indexmap::IndexMap;

/// Separator of nested keys written flat, e.g. `exporters::otlp::endpoint`.
pub const KEY_DELIMITER: &str = "::";

/// Merges `overlay` into `base`: maps are merged key by key, anything else in `overlay` (a list, a
/// scalar, or a YAML null) replaces what `base` had. A null therefore empties a whole section, which
/// is otelcol's documented "null maps" behaviour; `{}` is how a later file leaves a map unchanged.
pub fn merge(base: &mut ConfValue, overlay: ConfValue) {
    match (base, overlay) {
        (ConfValue::Map(base), ConfValue::Map(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Turns flat `a::b: v` keys into nested maps `a: {b: v}`, merging with siblings spelled nested.
///
/// otelcol stores every config in a tree delimited by `::`, so such keys nest in any source, not only
/// in `yaml:` fragments. Maps inside lists are left alone, as there.
pub(crate) fn split_nested_keys(value: ConfValue) -> ConfValue {
    let ConfValue::Map(entries) = value else {
        return value;
    };
    let mut nested = ConfValue::empty_map();
    for (key, value) in entries {
        let value = split_nested_keys(value);
        let entry = key
            .rsplit(KEY_DELIMITER)
            .fold(value, |inner, part| single_entry(part, inner));
        merge(&mut nested, entry);
    }
    nested
}

fn single_entry(key: &str, value: ConfValue) -> ConfValue {
    ConfValue::Map(IndexMap::from([(key.to_string(), value)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_yaml;

    fn yaml(text: &str) -> ConfValue {
        parse_yaml(text).unwrap()
    }

    #[test]
    fn maps_merge_deeply_and_later_scalars_win() {
        let mut base = yaml("a: {x: 1, y: {p: 1}}\nb: 1");
        merge(&mut base, yaml("a: {y: {q: 2}, z: 3}\nb: 2"));
        assert_eq!(base, yaml("a: {x: 1, y: {p: 1, q: 2}, z: 3}\nb: 2"));
    }

    #[test]
    fn lists_are_replaced_not_appended() {
        let mut base = yaml("l: [a, b]");
        merge(&mut base, yaml("l: [c]"));
        assert_eq!(base, yaml("l: [c]"));
    }

    #[test]
    fn null_replaces_a_map_and_empty_map_keeps_it() {
        let mut base = yaml("processors: {batch: {}}\nexporters: {debug: {}}");
        merge(&mut base, yaml("processors:\nexporters: {}"));
        assert_eq!(base, yaml("processors: null\nexporters: {debug: {}}"));
    }

    #[test]
    fn flat_keys_nest_and_merge_with_siblings() {
        let value = split_nested_keys(yaml("a: {x: 1}\na::y: 2\nb::c::d: 3\nl: [{m::n: 1}]"));
        assert_eq!(
            value,
            yaml("a: {x: 1, y: 2}\nb: {c: {d: 3}}\nl: [{'m::n': 1}]")
        );
    }
}
