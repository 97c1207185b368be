//! `processors::transform` as otelcol reads it: `trace_statements`, `metric_statements` and
//! `log_statements`, each a list of statement strings (their context inferred from their paths)
//! or of groups `{context, statements, conditions, error_mode}`.

use crate::rules::TransformRules;
use cormorant_confmap::ConfValue;
use cormorant_core::{ComponentConfig, ConfigError, Signal};
use cormorant_ottl::check_error_mode;
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformConfig {
    /// `ignore`, `silent` or `propagate` (see [`check_error_mode`]); a statement that does not
    /// fit an item leaves it unchanged.
    pub error_mode: String,
    pub trace_statements: Vec<ConfValue>,
    pub metric_statements: Vec<ConfValue>,
    pub log_statements: Vec<ConfValue>,
}

/// One statement group as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementGroup {
    pub context: String,
    pub statements: Vec<String>,
    /// The group's statements apply to an item only when one of these holds.
    pub conditions: Vec<String>,
    pub error_mode: String,
}

impl ComponentConfig for TransformConfig {
    /// Compiles every signal's statements, so `validate` reports a bad one even for a signal no
    /// pipeline uses yet.
    fn validate(&self) -> Result<(), ConfigError> {
        check_error_mode(&self.error_mode).map_err(ConfigError::Invalid)?;
        for signal in Signal::ALL {
            TransformRules::new(self, signal)?;
        }
        Ok(())
    }
}
