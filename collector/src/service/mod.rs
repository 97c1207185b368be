//! The running service: builds the graph, starts it in dependency order, and shuts it down
//! gracefully so data already accepted is delivered before the deadline.

pub mod config;
mod graph;

use graph::Stage;
#[cfg(test)]
mod config_tests;

use config::Config;
use cormorant_core::Host;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{component}: failed to create: {detail}")]
    Build { component: String, detail: String },
    #[error("{component}: failed to start: {source}")]
    Start {
        component: String,
        #[source]
        source: cormorant_core::ComponentError,
    },
}

pub struct Service {
    graph: graph::Graph,
    host: Host,
}

impl Service {
    pub fn build(
        config: &Config,
        registry: &crate::registry::Registry,
    ) -> Result<Self, ServiceError> {
        Ok(Service {
            graph: graph::build(config, registry)?,
            host: Host::default(),
        })
    }

    /// Start order: extensions, exporters, processors, receivers.
    fn start_order(&self) -> Vec<Stage> {
        let g = &self.graph;
        [&g.extensions, &g.exporters, &g.processors, &g.receivers]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Shutdown order: receivers, processors in pipeline order, exporters, extensions.
    fn shutdown_order(&self) -> Vec<Stage> {
        let g = &self.graph;
        [&g.receivers, &g.processors, &g.exporters, &g.extensions]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Starts everything; on a failure, stops what already started and returns the error.
    pub async fn start(&self) -> Result<(), ServiceError> {
        let order = self.start_order();
        for (i, (component, lifecycle)) in order.iter().enumerate() {
            tracing::debug!(component, "starting");
            if let Err(source) = lifecycle.start(&self.host).await {
                let deadline = Instant::now() + Duration::from_secs(5);
                for (_, started) in order[..i].iter().rev() {
                    let _ = started.shutdown(deadline).await;
                }
                return Err(ServiceError::Start {
                    component: component.clone(),
                    source,
                });
            }
        }
        self.host.health.set_ready(true);
        Ok(())
    }

    /// Stops receivers first, then processors in pipeline order (so batches flush into running
    /// exporters), then exporters (draining their queues), then extensions. Returns what could not
    /// be finished within `timeout`.
    pub async fn shutdown(&self, timeout: Duration) -> Vec<String> {
        self.host.health.set_ready(false);
        let deadline = Instant::now() + timeout;
        let mut problems = Vec::new();
        for (component, lifecycle) in self.shutdown_order() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let grace = remaining + Duration::from_millis(100);
            match tokio::time::timeout(grace, lifecycle.shutdown(deadline)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(format!("{component}: {e}")),
                Err(_) => problems.push(format!(
                    "{component}: did not stop before the shutdown deadline"
                )),
            }
        }
        problems
    }
}
