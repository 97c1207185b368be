//! Builds the running graph from a validated config: exporters per (ID, signal), processors per
//! pipeline (chained back to front), and one receiver per ID fed through a fan-out when several
//! pipelines share it.

use super::ServiceError;
use super::config::Config;
use crate::registry::Registry;
use cormorant_core::{
    ComponentId, CreateSettings, Exporter, Fanout, Kind, Lifecycle, ReceiverConsumers,
    SharedConsumer, Signal,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A wired component to start or stop, named `section::id` for messages.
pub type Stage = (String, Arc<dyn Lifecycle>);

/// The instantiated components, by section. Once wired, only their lifecycles are needed.
pub struct Graph {
    pub extensions: Vec<Stage>,
    pub exporters: Vec<Stage>,
    /// Pipeline order (first processor of each pipeline first), so shutdown flushes downstream.
    pub processors: Vec<Stage>,
    pub receivers: Vec<Stage>,
}

fn build_error(kind: Kind, id: &ComponentId, detail: String) -> ServiceError {
    ServiceError::Build {
        component: format!("{}::{id}", kind.section()),
        detail,
    }
}

pub fn build(config: &Config, registry: &Registry) -> Result<Graph, ServiceError> {
    let settings = |id: &ComponentId| CreateSettings { id: id.clone() };

    let mut extensions = Vec::new();
    for id in &config.service_extensions {
        let factory = registry.extension(&id.ty).expect("validated type");
        let ext = factory
            .create(settings(id), &config.extensions[id])
            .map_err(|e| build_error(Kind::Extension, id, e.to_string()))?;
        extensions.push((format!("extensions::{id}"), ext as Arc<dyn Lifecycle>));
    }

    let mut exporters: BTreeMap<(ComponentId, Signal), Arc<dyn Exporter>> = BTreeMap::new();
    for pipeline in &config.pipelines {
        for id in &pipeline.exporters {
            let key = (id.clone(), pipeline.signal);
            if exporters.contains_key(&key) {
                continue;
            }
            let factory = registry.exporter(&id.ty).expect("validated type");
            let exporter = factory
                .create(settings(id), &config.exporters[id], pipeline.signal)
                .map_err(|e| {
                    build_error(
                        Kind::Exporter,
                        id,
                        format!("for data type \"{}\": {e}", pipeline.signal),
                    )
                })?;
            exporters.insert(key, exporter);
        }
    }

    let mut processors = Vec::new();
    let mut receiver_feeds: BTreeMap<ComponentId, BTreeMap<Signal, Vec<SharedConsumer>>> =
        BTreeMap::new();
    for pipeline in &config.pipelines {
        let targets: Vec<SharedConsumer> = pipeline
            .exporters
            .iter()
            .map(|id| exporters[&(id.clone(), pipeline.signal)].clone() as SharedConsumer)
            .collect();
        let mut next = Fanout::build(targets);
        let mut chain = Vec::new();
        for id in pipeline.processors.iter().rev() {
            let factory = registry.processor(&id.ty).expect("validated type");
            let processor = factory
                .create(settings(id), &config.processors[id], pipeline.signal, next)
                .map_err(|e| {
                    build_error(
                        Kind::Processor,
                        id,
                        format!("in pipeline \"{}\": {e}", pipeline.id),
                    )
                })?;
            next = processor.clone();
            chain.push((
                format!("processors::{id} (pipeline {})", pipeline.id),
                processor as Arc<dyn Lifecycle>,
            ));
        }
        chain.reverse();
        processors.extend(chain);
        for id in &pipeline.receivers {
            receiver_feeds
                .entry(id.clone())
                .or_default()
                .entry(pipeline.signal)
                .or_default()
                .push(next.clone());
        }
    }

    let mut receivers = Vec::new();
    for (id, feeds) in receiver_feeds {
        let mut consumers = ReceiverConsumers::default();
        for (signal, targets) in feeds {
            consumers.set(signal, Fanout::build(targets));
        }
        let factory = registry.receiver(&id.ty).expect("validated type");
        let receiver = factory
            .create(settings(&id), &config.receivers[&id], consumers)
            .map_err(|e| build_error(Kind::Receiver, &id, e.to_string()))?;
        receivers.push((format!("receivers::{id}"), receiver as Arc<dyn Lifecycle>));
    }

    let exporters = exporters
        .into_iter()
        .map(|((id, signal), e)| {
            (
                format!("exporters::{id} ({signal})"),
                e as Arc<dyn Lifecycle>,
            )
        })
        .collect();
    Ok(Graph {
        extensions,
        exporters,
        processors,
        receivers,
    })
}
