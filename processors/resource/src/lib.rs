//! The `resource` processor: otelcol's attribute action list applied to the resource of every
//! span, metric and log batch, typically to set `deployment.environment` or drop a noisy
//! resource attribute for every telemetry source at once.
//!
//! ```yaml
//! processors:
//!   resource:
//!     attributes:
//!       - {key: deployment.environment, value: production, action: upsert}
//!       - {key: host.id, action: delete}
//! ```

use cormorant_attribute_rules::{ActionConfig, AttributeActions};
use cormorant_core::pdata::Payload;
use cormorant_core::pdata::resource::Resource;
use cormorant_core::processorhelper::{PayloadTransform, transform_factory};
use cormorant_core::{
    ComponentConfig, ConfigError, FactoryMeta, ProcessorFactory, Signal, Stability,
};
use serde::Deserialize;
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "resource";

/// `processors::resource` as otelcol reads it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceConfig {
    /// The actions, applied in order to each resource's attributes; at least one is required.
    pub attributes: Vec<ActionConfig>,
}

impl ResourceConfig {
    fn actions(&self) -> Result<AttributeActions, ConfigError> {
        AttributeActions::compile("attributes", &self.attributes).map_err(ConfigError::Invalid)
    }
}

impl ComponentConfig for ResourceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.actions().map(drop)
    }
}

/// The actions, run on each resource of a payload.
pub struct ResourceTransform {
    actions: AttributeActions,
}

impl ResourceTransform {
    pub fn new(config: &ResourceConfig) -> Result<Self, ConfigError> {
        Ok(ResourceTransform {
            actions: config.actions()?,
        })
    }
}

impl PayloadTransform for ResourceTransform {
    fn transform(&self, payload: &mut Payload) {
        let resources: Box<dyn Iterator<Item = &mut Option<Resource>>> = match payload {
            Payload::Traces(list) => Box::new(list.iter_mut().map(|r| &mut r.resource)),
            Payload::Metrics(list) => Box::new(list.iter_mut().map(|r| &mut r.resource)),
            Payload::Logs(list) => Box::new(list.iter_mut().map(|r| &mut r.resource)),
        };
        for resource in resources {
            // A batch sent without a resource gets one, so `insert` can still add to it.
            let resource = resource.get_or_insert_with(Resource::default);
            self.actions.apply(&mut resource.attributes);
        }
    }
}

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ProcessorFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Beta);
    transform_factory(meta, |_, config: &ResourceConfig, _signal| {
        ResourceTransform::new(config)
    })
}

#[cfg(test)]
mod tests;
