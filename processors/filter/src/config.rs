//! `processors::filter` as otelcol reads it: OTTL conditions per context (`traces.span`,
//! `metrics.datapoint`, ...), the context-inferred `trace_conditions` / `metric_conditions` /
//! `log_conditions`, and the legacy `include` / `exclude` rules (`spans`, `metrics`, `logs`).

use crate::rules::FilterRules;
use cormorant_attribute_rules::{AttributeMatchConfig, MatchProperties, SeverityNumberConfig};
use cormorant_confmap::ConfValue;
use cormorant_core::{ComponentConfig, ConfigError, Signal};
use cormorant_ottl::check_error_mode;
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// `ignore`, `silent` or `propagate` (see [`check_error_mode`]).
    pub error_mode: String,
    pub traces: TraceConditions,
    pub metrics: MetricFilters,
    pub logs: LogFilters,
    /// Legacy span rules: spans matching `include` (if set) and not `exclude` are kept.
    pub spans: LegacyRules<MatchProperties>,
    pub trace_conditions: Vec<String>,
    pub metric_conditions: Vec<String>,
    pub log_conditions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceConditions {
    pub span: Vec<String>,
    pub spanevent: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricFilters {
    pub include: Option<LegacyMetricMatch>,
    pub exclude: Option<LegacyMetricMatch>,
    /// otelcol's regular-expression cache settings; accepted, not needed.
    pub regexp: Option<ConfValue>,
    pub metric: Vec<String>,
    pub datapoint: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogFilters {
    pub include: Option<LegacyLogMatch>,
    pub exclude: Option<LegacyLogMatch>,
    pub log_record: Vec<String>,
}

/// Legacy `include` / `exclude` blocks of one signal.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyRules<T> {
    pub include: Option<T>,
    pub exclude: Option<T>,
}

impl<T> Default for LegacyRules<T> {
    fn default() -> Self {
        LegacyRules {
            include: None,
            exclude: None,
        }
    }
}

/// A legacy metric block: by name, and by resource attributes (which keep or drop whole
/// resources).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyMetricMatch {
    pub match_type: String,
    pub metric_names: Vec<String>,
    /// `expr` expressions; refused, with the OTTL form suggested.
    pub expressions: Vec<String>,
    pub resource_attributes: Vec<AttributeMatchConfig>,
    pub regexp: Option<ConfValue>,
}

/// A legacy log block, with the filter processor's own key names.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyLogMatch {
    pub match_type: String,
    pub resource_attributes: Vec<AttributeMatchConfig>,
    pub record_attributes: Vec<AttributeMatchConfig>,
    pub severity_texts: Vec<String>,
    pub severity_number: Option<SeverityNumberConfig>,
    pub bodies: Vec<String>,
}

impl LegacyLogMatch {
    /// The same block in the shared match-property names.
    pub(crate) fn properties(&self) -> MatchProperties {
        MatchProperties {
            match_type: self.match_type.clone(),
            resources: self.resource_attributes.clone(),
            attributes: self.record_attributes.clone(),
            log_severity_texts: self.severity_texts.clone(),
            log_severity_number: self.severity_number.clone(),
            log_bodies: self.bodies.clone(),
            ..Default::default()
        }
    }
}

impl ComponentConfig for FilterConfig {
    /// Compiles the rules of every signal, so a bad condition is reported by `validate` even for
    /// a signal no pipeline uses yet.
    fn validate(&self) -> Result<(), ConfigError> {
        check_error_mode(&self.error_mode).map_err(ConfigError::Invalid)?;
        for signal in Signal::ALL {
            FilterRules::new(self, signal)?;
        }
        Ok(())
    }
}
