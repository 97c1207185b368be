//! `metadata_keys`: one batcher per combination of the values those keys have in the client's
//! request metadata ([`cormorant_core::client`]), as otelcol batches per tenant.
//!
//! Each combination gets its own [`BatchProcessor`] on first use, so requests of different
//! tenants never share a batch, and each batch is sent on within a client that carries just
//! those keys and values: processors and exporters after the batch (an `attributes` processor
//! with `from_context: metadata.<key>`) still see whose data it is. At most
//! `metadata_cardinality_limit` combinations are kept (0 for no limit); data of a new
//! combination past it is refused for good, as otelcol does.

use crate::config::BatchConfig;
use crate::processor::BatchProcessor;
use async_trait::async_trait;
use cormorant_core::client::{self, ClientInfo};
use cormorant_core::consumer::Returned;
use cormorant_core::{
    ComponentError, ComponentId, ConsumeError, Consumer, Host, Lifecycle, Payload, Processor,
    SharedConsumer, Signal,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;

/// The refusal for a combination past the limit, in otelcol's words.
pub const TOO_MANY_COMBINATIONS: &str = "too many batcher metadata-value combinations";

/// The values of the metadata keys for one request: each key's values joined as `from_context`
/// reads them, or none.
type Combination = Vec<Option<String>>;

pub struct PartitionedBatch {
    id: ComponentId,
    signal: Signal,
    config: BatchConfig,
    next: SharedConsumer,
    /// The keys, lower-cased as header names are.
    keys: Vec<String>,
    partitions: Mutex<HashMap<Combination, Arc<BatchProcessor>>>,
    started: AtomicBool,
}

/// Sends a partition's batches on within the partition's client.
struct WithinClient {
    client: ClientInfo,
    next: SharedConsumer,
}

#[async_trait]
impl Consumer for WithinClient {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        client::within(self.client.clone(), self.next.consume(payload)).await
    }

    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        client::within(self.client.clone(), self.next.consume_or_return(payload)).await
    }
}

impl PartitionedBatch {
    pub fn new(
        id: ComponentId,
        signal: Signal,
        config: &BatchConfig,
        next: SharedConsumer,
    ) -> Self {
        PartitionedBatch {
            id,
            signal,
            keys: config
                .metadata_keys
                .iter()
                .map(|key| key.to_ascii_lowercase())
                .collect(),
            config: config.clone(),
            next,
            partitions: Mutex::new(HashMap::new()),
            started: AtomicBool::new(false),
        }
    }

    /// The current request's combination of metadata values.
    fn combination(&self) -> Combination {
        let client = client::current();
        self.keys
            .iter()
            .map(|key| client.as_ref().and_then(|c| c.header(key)))
            .collect()
    }

    /// The batcher of `combination`, made (and started, once the processor runs) on first use.
    fn partition(&self, combination: Combination) -> Option<Arc<BatchProcessor>> {
        let mut partitions = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(batcher) = partitions.get(&combination) {
            return Some(Arc::clone(batcher));
        }
        let limit = self.config.metadata_cardinality_limit as usize;
        if limit != 0 && partitions.len() >= limit {
            return None;
        }
        let metadata = self
            .keys
            .iter()
            .zip(&combination)
            .filter_map(|(key, value)| Some((key.clone(), vec![value.clone()?])))
            .collect();
        let next = Arc::new(WithinClient {
            client: ClientInfo {
                address: None,
                metadata,
            },
            next: Arc::clone(&self.next),
        });
        let batcher = Arc::new(BatchProcessor::new(
            self.id.clone(),
            self.signal,
            &self.config,
            next,
        ));
        if self.started.load(Ordering::Acquire) {
            batcher.start_flushing();
        }
        partitions.insert(combination, Arc::clone(&batcher));
        Some(batcher)
    }

    fn all(&self) -> Vec<Arc<BatchProcessor>> {
        let partitions = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        partitions.values().map(Arc::clone).collect()
    }
}

#[async_trait]
impl Consumer for PartitionedBatch {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.consume_or_return(payload)
            .await
            .map_err(|returned| returned.error)
    }

    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        match self.partition(self.combination()) {
            Some(batcher) => batcher.consume_or_return(payload).await,
            None => Err(Returned {
                error: ConsumeError::permanent(TOO_MANY_COMBINATIONS, payload.item_count()),
                payload,
            }),
        }
    }
}

#[async_trait]
impl Lifecycle for PartitionedBatch {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        self.started.store(true, Ordering::Release);
        for batcher in self.all() {
            batcher.start_flushing();
        }
        Ok(())
    }

    /// Shuts every partition down together, within the same deadline.
    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        let batchers = self.all();
        let results =
            futures::future::join_all(batchers.iter().map(|b| b.shutdown(deadline))).await;
        let failures: Vec<String> = results
            .into_iter()
            .filter_map(Result::err)
            .map(|err| err.to_string())
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ComponentError::Failed(failures.join("; ")))
        }
    }
}

impl Processor for PartitionedBatch {}
