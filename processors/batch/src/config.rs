//! The `batch` processor's settings, with otelcol's keys and defaults.

use cormorant_core::config::duration;
use cormorant_core::{ComponentConfig, ConfigError};
use serde::Deserialize;
use std::time::Duration;

/// `processors::batch` as otelcol reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Items that trigger a send as soon as they are pending. A trigger, not a cap: one large
    /// request can push a batch past it unless `send_batch_max_size` is set.
    pub send_batch_size: usize,
    /// How long the oldest pending item may wait before the batch is sent regardless of its size.
    /// Zero sends whatever is pending as soon as the previous send is done.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// Upper bound of one outgoing batch; larger batches are split. Zero means no bound.
    pub send_batch_max_size: usize,
    /// Batch separately per combination of the values these client metadata keys (request
    /// headers, with the receiver's `include_metadata`) have; see [`crate::PartitionedBatch`].
    pub metadata_keys: Vec<String>,
    /// The most combinations of `metadata_keys` values batched at once; 0 for no limit.
    pub metadata_cardinality_limit: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 8192,
            timeout: Duration::from_millis(200),
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl ComponentConfig for BatchConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.send_batch_max_size != 0 && self.send_batch_max_size < self.send_batch_size {
            return Err(ConfigError::Invalid(
                "send_batch_max_size must be greater or equal to send_batch_size".into(),
            ));
        }
        Ok(())
    }
}

impl BatchConfig {
    /// The largest batch sent downstream, if bounded.
    pub fn max_batch(&self) -> Option<usize> {
        (self.send_batch_max_size != 0).then_some(self.send_batch_max_size)
    }

    /// How many items the processor holds (pending plus being delivered) before it refuses new
    /// data: two full batches, so one can be retried while the next fills. A floor of two default
    /// batches keeps tiny or zero batch sizes from turning every concurrent request into a refusal.
    pub fn pending_limit(&self) -> usize {
        2 * self
            .send_batch_size
            .max(self.send_batch_max_size)
            .max(MIN_BATCH_FOR_LIMIT)
    }
}

/// The batch size the pending limit is computed from at the least (otelcol's default batch size).
const MIN_BATCH_FOR_LIMIT: usize = 8192;
