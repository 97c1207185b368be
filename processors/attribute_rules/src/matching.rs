//! `include` / `exclude`: which spans, log records and metrics a processor acts on, with the
//! properties and rules of otelcol's legacy match config.
//!
//! - An item is selected when it matches `include` (if set) and does not match `exclude` (if set).
//! - Within one property block every property that is set must match. A list of names
//!   (`services`, `span_names`, `span_kinds`, `log_bodies`, `log_severity_texts`, `metric_names`)
//!   matches if any entry does; `attributes` and `resources` match only if every listed key is
//!   present (with its value, when one is given); each of `libraries` must match the scope.
//! - `match_type: strict` compares whole values, `regexp` searches them with each expression.
//! - Spans may use every property but the log ones, log records every one but the span ones.
//!   Metrics are picked by `metric_names` only, and a block without it leaves metrics unfiltered.

use crate::conf_value::any_value_from_conf;
use crate::severity::{SeverityMatcher, SeverityNumberConfig};
use crate::string_filter::{MatchType, StringFilter, compile};
use cormorant_confmap::ConfValue;
use cormorant_core::Signal;
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use cormorant_core::pdata::logs::LogRecord;
use cormorant_core::pdata::metrics::Metric;
use cormorant_core::pdata::trace::Span;
use cormorant_core::pdata::trace::span::SpanKind;
use cormorant_core::value_text::as_string;
use regex::Regex;
use serde::Deserialize;

/// One `include` or `exclude` block as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchProperties {
    /// `strict` or `regexp`; required.
    pub match_type: String,
    /// otelcol's regular-expression cache settings; accepted, and unneeded: expressions are
    /// compiled once when the processor is built.
    pub regexp: Option<ConfValue>,
    pub services: Vec<String>,
    pub span_names: Vec<String>,
    pub span_kinds: Vec<String>,
    pub log_bodies: Vec<String>,
    pub log_severity_texts: Vec<String>,
    pub log_severity_number: Option<SeverityNumberConfig>,
    pub metric_names: Vec<String>,
    pub attributes: Vec<AttributeMatchConfig>,
    pub resources: Vec<AttributeMatchConfig>,
    pub libraries: Vec<LibraryMatchConfig>,
}

/// An attribute that must be present, with `value` when one is given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeMatchConfig {
    pub key: String,
    pub value: Option<ConfValue>,
}

/// An instrumentation scope name, and version when one is given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryMatchConfig {
    pub name: String,
    pub version: Option<String>,
}

/// The span kinds `span_kinds` may name under `match_type: strict`.
const SPAN_KIND_NAMES: [&str; 5] = [
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_CONSUMER",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_SERVER",
];

/// The service name spans of a resource without `service.name` are matched as.
const NO_SERVICE_NAME: &str = "<nil-service-name>";

#[derive(Debug, Clone)]
enum ValueMatch {
    Present,
    Equals(AnyValue),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
struct AttributeMatcher {
    key: String,
    value: ValueMatch,
}

#[derive(Debug, Clone)]
struct LibraryMatcher {
    name: StringFilter,
    version: Option<StringFilter>,
}

/// One compiled property block.
#[derive(Debug, Clone, Default)]
struct Matcher {
    services: Option<StringFilter>,
    span_names: Option<StringFilter>,
    span_kinds: Option<StringFilter>,
    log_bodies: Option<StringFilter>,
    severity_texts: Option<StringFilter>,
    severity_number: Option<SeverityMatcher>,
    attributes: Vec<AttributeMatcher>,
    resources: Vec<AttributeMatcher>,
    libraries: Vec<LibraryMatcher>,
}

impl MatchProperties {
    /// Checks what holds for every signal: the match type and every expression and value.
    pub fn check(&self) -> Result<(), String> {
        Matcher::compile(self).map(drop)?;
        self.metric_filter().map(drop)
    }

    fn match_type(&self) -> Result<MatchType, String> {
        MatchType::parse(&self.match_type)
    }

    /// The metric-name filter, `None` when no names are listed.
    fn metric_filter(&self) -> Result<Option<StringFilter>, String> {
        StringFilter::optional(self.match_type()?, &self.metric_names, "metric_names")
    }

    fn check_for_spans(&self) -> Result<(), String> {
        let log_only = [
            ("log_bodies", !self.log_bodies.is_empty()),
            ("log_severity_texts", !self.log_severity_texts.is_empty()),
            ("log_severity_number", self.log_severity_number.is_some()),
        ];
        if let Some((name, _)) = log_only.iter().find(|(_, set)| *set) {
            return Err(format!("{name} should not be specified for trace spans"));
        }
        if self.services.is_empty()
            && self.span_names.is_empty()
            && self.span_kinds.is_empty()
            && self.attributes.is_empty()
            && self.resources.is_empty()
            && self.libraries.is_empty()
        {
            return Err(
                "at least one of \"services\", \"span_names\", \"span_kinds\", \
                        \"attributes\", \"resources\" or \"libraries\" must be specified"
                    .to_owned(),
            );
        }
        let unknown_kind = self
            .span_kinds
            .iter()
            .find(|kind| !SPAN_KIND_NAMES.contains(&kind.as_str()));
        if let (MatchType::Strict, Some(kind)) = (self.match_type()?, unknown_kind) {
            return Err(format!(
                "span_kinds: {kind:?} is not a span kind; with match_type strict use one of {}",
                SPAN_KIND_NAMES.join(", ")
            ));
        }
        Ok(())
    }

    fn check_for_logs(&self) -> Result<(), String> {
        if !self.services.is_empty() || !self.span_names.is_empty() || !self.span_kinds.is_empty() {
            return Err("services, span_names and span_kinds are not valid for log records".into());
        }
        if self.attributes.is_empty()
            && self.resources.is_empty()
            && self.libraries.is_empty()
            && self.log_bodies.is_empty()
            && self.log_severity_texts.is_empty()
            && self.log_severity_number.is_none()
        {
            return Err(
                "at least one of \"attributes\", \"resources\", \"libraries\", \
                        \"log_bodies\", \"log_severity_texts\" or \"log_severity_number\" must be \
                        specified"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

impl Matcher {
    fn compile(properties: &MatchProperties) -> Result<Matcher, String> {
        let match_type = properties.match_type()?;
        let filter = |entries: &[String], what| StringFilter::optional(match_type, entries, what);
        Ok(Matcher {
            services: filter(&properties.services, "services")?,
            span_names: filter(&properties.span_names, "span_names")?,
            span_kinds: filter(&properties.span_kinds, "span_kinds")?,
            log_bodies: filter(&properties.log_bodies, "log_bodies")?,
            severity_texts: filter(&properties.log_severity_texts, "log_severity_texts")?,
            severity_number: properties
                .log_severity_number
                .as_ref()
                .map(SeverityMatcher::new)
                .transpose()?,
            attributes: attribute_matchers(match_type, &properties.attributes, "attributes")?,
            resources: attribute_matchers(match_type, &properties.resources, "resources")?,
            libraries: properties
                .libraries
                .iter()
                .map(|library| {
                    Ok(LibraryMatcher {
                        name: StringFilter::new(
                            match_type,
                            std::slice::from_ref(&library.name),
                            "libraries",
                        )?,
                        version: library
                            .version
                            .as_ref()
                            .map(|version| {
                                StringFilter::new(
                                    match_type,
                                    std::slice::from_ref(version),
                                    "libraries",
                                )
                            })
                            .transpose()?,
                    })
                })
                .collect::<Result<_, String>>()?,
        })
    }

    /// The properties every item kind shares: resource, scope and own attributes.
    fn matches_common(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        attributes: &[KeyValue],
    ) -> bool {
        let (scope_name, scope_version) =
            scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
        self.libraries.iter().all(|library| {
            library.name.matches(scope_name)
                && library
                    .version
                    .as_ref()
                    .is_none_or(|version| version.matches(scope_version))
        }) && all_present(&self.resources, resource)
            && all_present(&self.attributes, attributes)
    }

    fn matches_span(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        let service_matches = self.services.as_ref().is_none_or(|services| {
            let name = resource
                .iter()
                .find(|kv| kv.key == "service.name")
                .map_or(NO_SERVICE_NAME.into(), |kv| as_string(kv.value.as_ref()));
            services.matches(&name)
        });
        let kind_name = SpanKind::try_from(span.kind).map_or("", |kind| kind.as_str_name());
        service_matches
            && self
                .span_names
                .as_ref()
                .is_none_or(|names| names.matches(&span.name))
            && self
                .span_kinds
                .as_ref()
                .is_none_or(|kinds| kinds.matches(kind_name))
            && self.matches_common(resource, scope, &span.attributes)
    }

    fn matches_log(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        record: &LogRecord,
    ) -> bool {
        self.log_bodies
            .as_ref()
            .is_none_or(|bodies| bodies.matches(&as_string(record.body.as_ref())))
            && self
                .severity_texts
                .as_ref()
                .is_none_or(|texts| texts.matches(&record.severity_text))
            && self
                .severity_number
                .is_none_or(|severity| severity.matches(record.severity_number))
            && self.matches_common(resource, scope, &record.attributes)
    }
}

fn attribute_matchers(
    match_type: MatchType,
    configs: &[AttributeMatchConfig],
    what: &str,
) -> Result<Vec<AttributeMatcher>, String> {
    configs
        .iter()
        .map(|config| {
            if config.key.is_empty() {
                return Err(format!("{what}: an entry has an empty \"key\""));
            }
            let value = match (config.value.as_ref().filter(|v| !v.is_null()), match_type) {
                (None, _) => ValueMatch::Present,
                (Some(value), MatchType::Strict) => ValueMatch::Equals(any_value_from_conf(value)),
                (Some(ConfValue::String(pattern)), MatchType::Regexp) => {
                    ValueMatch::Regexp(compile(pattern, what)?)
                }
                (Some(other), MatchType::Regexp) => {
                    return Err(format!(
                        "{what}: match_type regexp for key {:?} needs a string value, not {}",
                        config.key,
                        other.kind()
                    ));
                }
            };
            Ok(AttributeMatcher {
                key: config.key.clone(),
                value,
            })
        })
        .collect()
}

/// A list of attributes that must all be present, compiled: the legacy filter processor's
/// `resource_attributes` for metrics.
#[derive(Debug, Clone)]
pub struct AttributeSet {
    matchers: Vec<AttributeMatcher>,
}

impl AttributeSet {
    /// Compiles `configs` under `match_type`; `what` names the setting in errors.
    pub fn new(
        match_type: &str,
        configs: &[AttributeMatchConfig],
        what: &str,
    ) -> Result<AttributeSet, String> {
        let match_type = MatchType::parse(match_type)?;
        Ok(AttributeSet {
            matchers: attribute_matchers(match_type, configs, what)?,
        })
    }

    /// Whether every listed attribute is in `attributes`, with its value when one is given.
    pub fn matches(&self, attributes: &[KeyValue]) -> bool {
        all_present(&self.matchers, attributes)
    }
}

/// Every matcher finds its key in `attributes`, with a matching value.
fn all_present(matchers: &[AttributeMatcher], attributes: &[KeyValue]) -> bool {
    matchers.iter().all(|matcher| {
        let Some(found) = attributes.iter().find(|kv| kv.key == matcher.key) else {
            return false;
        };
        match &matcher.value {
            ValueMatch::Present => true,
            ValueMatch::Equals(expected) => found.value.as_ref() == Some(expected),
            ValueMatch::Regexp(pattern) => {
                scalar_text(found.value.as_ref()).is_some_and(|text| pattern.is_match(&text))
            }
        }
    })
}

/// The text a regexp attribute match reads: scalars only, doubles in plain notation.
fn scalar_text(value: Option<&AnyValue>) -> Option<String> {
    Some(match value?.value.as_ref()? {
        Value::StringValue(text) => text.clone(),
        Value::BoolValue(flag) => flag.to_string(),
        Value::IntValue(number) => number.to_string(),
        Value::DoubleValue(number) if number.is_infinite() => {
            if *number > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
        }
        Value::DoubleValue(number) => number.to_string(),
        _ => return None,
    })
}

/// Both blocks of a processor, compiled for the signal of its pipeline.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
    include_metrics: Option<StringFilter>,
    exclude_metrics: Option<StringFilter>,
}

impl Selection {
    /// Validates the blocks for `signal` (a block may be fine for spans and not for logs) and
    /// compiles them.
    pub fn new(
        include: Option<&MatchProperties>,
        exclude: Option<&MatchProperties>,
        signal: Signal,
    ) -> Result<Selection, String> {
        let mut selection = Selection::default();
        for (block, name) in [(include, "include"), (exclude, "exclude")] {
            let Some(properties) = block else { continue };
            let in_block = |err: String| format!("{name}: {err}");
            let (matcher, metrics) = match signal {
                Signal::Traces => {
                    properties.check_for_spans().map_err(in_block)?;
                    (Some(Matcher::compile(properties).map_err(in_block)?), None)
                }
                Signal::Logs => {
                    properties.check_for_logs().map_err(in_block)?;
                    (Some(Matcher::compile(properties).map_err(in_block)?), None)
                }
                Signal::Metrics => (None, properties.metric_filter().map_err(in_block)?),
            };
            if name == "include" {
                (selection.include, selection.include_metrics) = (matcher, metrics);
            } else {
                (selection.exclude, selection.exclude_metrics) = (matcher, metrics);
            }
        }
        Ok(selection)
    }

    fn decide(&self, matches: impl Fn(&Matcher) -> bool) -> bool {
        self.include.as_ref().is_none_or(&matches) && !self.exclude.as_ref().is_some_and(&matches)
    }

    pub fn selects_span(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        self.decide(|m| m.matches_span(resource, scope, span))
    }

    pub fn selects_log(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        record: &LogRecord,
    ) -> bool {
        self.decide(|m| m.matches_log(resource, scope, record))
    }

    pub fn selects_metric(&self, metric: &Metric) -> bool {
        self.include_metrics
            .as_ref()
            .is_none_or(|names| names.matches(&metric.name))
            && !self
                .exclude_metrics
                .as_ref()
                .is_some_and(|names| names.matches(&metric.name))
    }
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
