//! The batch processor against a recording next consumer, mostly in paused tokio time so timeouts
//! and retry backoff are exact and fast.

mod common;
mod config;
mod delivery;
mod tenants;
mod triggers;

use cormorant_core::{ComponentId, Consumer, Host, Lifecycle, Signal};
use cormorant_processor_batch::{BatchConfig, BatchProcessor};
use std::sync::Arc;

/// A started processor for traces, feeding `next`.
async fn started(name: &str, config: BatchConfig, next: Arc<dyn Consumer>) -> BatchProcessor {
    let id = ComponentId::parse(&format!("batch/{name}")).unwrap();
    let processor = BatchProcessor::new(id, Signal::Traces, &config, next);
    processor.start(&Host::default()).await.unwrap();
    processor
}

fn id(name: &str) -> ComponentId {
    ComponentId::parse(&format!("batch/{name}")).unwrap()
}
