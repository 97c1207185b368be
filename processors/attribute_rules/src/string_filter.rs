//! A list of strings to match a name against, as otelcol's `filterset` matches them: `strict`
//! compares whole strings, `regexp` searches with each expression (unanchored, RE2 syntax, which
//! the `regex` crate shares). A name matches the list if it matches any entry.

use regex::Regex;

/// How the strings of a match property are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchType {
    Strict,
    Regexp,
}

impl MatchType {
    /// The `match_type` setting; otelcol requires it and knows no other values here.
    pub(crate) fn parse(setting: &str) -> Result<MatchType, String> {
        match setting {
            "strict" => Ok(MatchType::Strict),
            "regexp" => Ok(MatchType::Regexp),
            "" => Err("\"match_type\" is required: strict or regexp".to_owned()),
            "expr" => Err(
                "match_type \"expr\" is not supported; use strict or regexp, or the filter \
                 processor's OTTL conditions"
                    .to_owned(),
            ),
            other => Err(format!(
                "unrecognized match_type \"{other}\": valid types are strict and regexp"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum StringFilter {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl StringFilter {
    /// The filter for `entries`; `what` names the property in errors (`span_names`).
    pub(crate) fn new(
        match_type: MatchType,
        entries: &[String],
        what: &str,
    ) -> Result<StringFilter, String> {
        Ok(match match_type {
            MatchType::Strict => StringFilter::Strict(entries.to_vec()),
            MatchType::Regexp => StringFilter::Regexp(
                entries
                    .iter()
                    .map(|pattern| compile(pattern, what))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// `None` for an empty list: the property is not set and constrains nothing.
    pub(crate) fn optional(
        match_type: MatchType,
        entries: &[String],
        what: &str,
    ) -> Result<Option<StringFilter>, String> {
        if entries.is_empty() {
            return Ok(None);
        }
        StringFilter::new(match_type, entries, what).map(Some)
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        match self {
            StringFilter::Strict(entries) => entries.iter().any(|entry| entry == name),
            StringFilter::Regexp(patterns) => patterns.iter().any(|re| re.is_match(name)),
        }
    }
}

/// Compiles one expression of property `what`, naming both in the error.
pub(crate) fn compile(pattern: &str, what: &str) -> Result<Regex, String> {
    Regex::new(pattern)
        .map_err(|err| format!("{what}: invalid regular expression {pattern:?}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn strict_compares_whole_strings() {
        let filter =
            StringFilter::new(MatchType::Strict, &names(&["GET /", "login"]), "x").unwrap();
        assert!(filter.matches("login"));
        assert!(!filter.matches("login2"));
        assert!(!filter.matches("GET"));
    }

    #[test]
    fn regexp_searches_unanchored_and_any_entry_matches() {
        let filter = StringFilter::new(
            MatchType::Regexp,
            &names(&["^health", "db\\.(query|exec)"]),
            "x",
        )
        .unwrap();
        assert!(filter.matches("healthz"));
        assert!(filter.matches("pg db.exec 3"));
        assert!(!filter.matches("/healthz"));
    }

    #[test]
    fn bad_settings_are_named_in_the_error() {
        assert!(MatchType::parse("").unwrap_err().contains("match_type"));
        assert!(MatchType::parse("glob").unwrap_err().contains("\"glob\""));
        let err =
            StringFilter::new(MatchType::Regexp, &names(&["(unclosed"]), "span_names").unwrap_err();
        assert!(
            err.starts_with("span_names: invalid regular expression \"(unclosed\""),
            "{err}"
        );
    }

    #[test]
    fn an_empty_list_constrains_nothing() {
        assert!(
            StringFilter::optional(MatchType::Strict, &[], "x")
                .unwrap()
                .is_none()
        );
    }
}
