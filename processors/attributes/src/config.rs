//! `processors::attributes` as otelcol reads it: `actions`, and optional `include` / `exclude`.

use cormorant_attribute_rules::{ActionConfig, AttributeActions, MatchProperties};
use cormorant_core::{ComponentConfig, ConfigError};
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributesConfig {
    /// Applied in order to each selected item's attributes; at least one is required.
    pub actions: Vec<ActionConfig>,
    pub include: Option<MatchProperties>,
    pub exclude: Option<MatchProperties>,
}

impl ComponentConfig for AttributesConfig {
    /// Everything that holds whatever the pipeline's signal; the blocks' per-signal rules are
    /// checked when the processor is built for its pipeline.
    fn validate(&self) -> Result<(), ConfigError> {
        AttributeActions::compile("actions", &self.actions).map_err(ConfigError::Invalid)?;
        for (block, name) in [(&self.include, "include"), (&self.exclude, "exclude")] {
            if let Some(properties) = block {
                properties
                    .check()
                    .map_err(|err| ConfigError::Invalid(format!("{name}: {err}")))?;
            }
        }
        Ok(())
    }
}
