//! The `timeout`, `retry_on_failure` and `sending_queue` settings every queued exporter accepts,
//! with otelcol's keys and defaults so existing exporter configs keep their meaning.
//!
//! serde's `flatten` cannot be combined with `deny_unknown_fields`, so exporters declare these as
//! their own fields (`timeout: TimeoutSetting`, `retry_on_failure: RetrySetting`,
//! `sending_queue: QueueSetting`) and call `validate` from their config's `validate`.

use crate::component::ConfigError;
use crate::config::duration;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::time::Duration;

/// `timeout`: the limit on one send attempt. Zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct TimeoutSetting(#[serde(deserialize_with = "duration")] pub Duration);

impl Default for TimeoutSetting {
    fn default() -> Self {
        TimeoutSetting(Duration::from_secs(5))
    }
}

impl TimeoutSetting {
    /// The per-attempt limit, or `None` when the attempt may take as long as it needs.
    pub fn limit(self) -> Option<Duration> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

/// `retry_on_failure`: exponential backoff for retryable send failures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySetting {
    pub enabled: bool,
    /// Wait before the first retry.
    #[serde(deserialize_with = "duration")]
    pub initial_interval: Duration,
    /// Upper bound of one wait, before randomization.
    #[serde(deserialize_with = "duration")]
    pub max_interval: Duration,
    /// Give up once this much time has passed since the first attempt. Zero retries forever.
    #[serde(deserialize_with = "duration")]
    pub max_elapsed_time: Duration,
    /// Growth of the wait after each failure.
    pub multiplier: f64,
    /// Each wait is drawn from `interval * [1 - factor, 1 + factor]` so that many exporters
    /// failing together do not retry in lockstep.
    pub randomization_factor: f64,
}

impl Default for RetrySetting {
    fn default() -> Self {
        RetrySetting {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl RetrySetting {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled {
            return Ok(());
        }
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            return Err(ConfigError::Invalid(format!(
                "retry_on_failure::randomization_factor must be within [0, 1], got {}",
                self.randomization_factor
            )));
        }
        if !(self.multiplier.is_finite() && self.multiplier > 0.0) {
            return Err(ConfigError::Invalid(format!(
                "retry_on_failure::multiplier must be a positive number, got {}",
                self.multiplier
            )));
        }
        Ok(())
    }
}

/// What `queue_size` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueSizer {
    /// Payloads as they arrive from the pipeline.
    Requests,
    /// Spans, metric data points or log records.
    Items,
    /// Encoded size; accepted by the parser so that the error names the key instead of the value.
    Bytes,
}

/// `sending_queue`: the in-memory buffer between the pipeline and the destination.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSetting {
    pub enabled: bool,
    /// Number of workers sending from the queue concurrently.
    pub num_consumers: usize,
    /// Capacity in `sizer` units.
    pub queue_size: usize,
    pub sizer: QueueSizer,
    /// When the queue is full, wait for room instead of refusing the data.
    pub block_on_overflow: bool,
    /// Make the caller wait until its data has been sent (or has failed for good).
    pub wait_for_result: bool,
    /// A storage extension for a persistent queue; not supported yet.
    pub storage: Option<String>,
    /// Batching in front of the queue: small payloads are merged into larger requests.
    pub batch: Option<BatchSetting>,
}

impl Default for QueueSetting {
    fn default() -> Self {
        QueueSetting {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: QueueSizer::Requests,
            block_on_overflow: false,
            wait_for_result: false,
            storage: None,
            batch: None,
        }
    }
}

impl QueueSetting {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled {
            if self.batch.is_some() {
                return Err(ConfigError::Invalid(
                    "sending_queue::batch needs the sending queue; remove batch or set \
                     sending_queue::enabled: true"
                        .into(),
                ));
            }
            return Ok(());
        }
        if let Some(storage) = &self.storage {
            return Err(ConfigError::Invalid(format!(
                "sending_queue::storage ({storage}): persistent queues are not supported yet"
            )));
        }
        if let Some(batch) = &self.batch {
            batch.validate()?;
            if self.wait_for_result {
                return Err(ConfigError::Invalid(
                    "sending_queue::batch together with wait_for_result is not supported yet"
                        .into(),
                ));
            }
            if self.block_on_overflow {
                return Err(ConfigError::Invalid(
                    "sending_queue::batch together with block_on_overflow is not supported yet"
                        .into(),
                ));
            }
        }
        if self.sizer == QueueSizer::Bytes {
            return Err(ConfigError::Invalid(
                "sending_queue::sizer: bytes is not supported yet; use requests or items".into(),
            ));
        }
        if self.num_consumers == 0 {
            return Err(ConfigError::Invalid(
                "sending_queue::num_consumers must be positive".into(),
            ));
        }
        if self.queue_size == 0 {
            return Err(ConfigError::Invalid(
                "sending_queue::queue_size must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// `sending_queue::batch`: merge payloads into requests of at least `min_size` items, or whatever
/// has gathered `flush_timeout` after the first item, so destinations that prefer few large
/// writes (ClickHouse) get them without a separate batch processor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchSetting {
    /// How long the first item of a batch may wait for the batch to fill.
    #[serde(deserialize_with = "duration")]
    pub flush_timeout: Duration,
    /// A batch is queued as soon as it holds this many items.
    pub min_size: usize,
    /// Queued requests hold at most this many items; zero means no limit.
    pub max_size: usize,
    /// What the sizes count; only `items` is supported.
    pub sizer: QueueSizer,
    /// Separate batches per client metadata; not supported yet.
    pub partition: Option<IgnoredAny>,
}

impl Default for BatchSetting {
    fn default() -> Self {
        BatchSetting {
            flush_timeout: Duration::from_millis(200),
            min_size: 8192,
            max_size: 0,
            sizer: QueueSizer::Items,
            partition: None,
        }
    }
}

impl BatchSetting {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sizer != QueueSizer::Items {
            let sizer = match self.sizer {
                QueueSizer::Requests => "requests",
                QueueSizer::Items | QueueSizer::Bytes => "bytes",
            };
            return Err(ConfigError::Invalid(format!(
                "sending_queue::batch::sizer: {sizer} is not supported; use items"
            )));
        }
        if self.partition.is_some() {
            return Err(ConfigError::Invalid(
                "sending_queue::batch::partition is not supported yet".into(),
            ));
        }
        if self.flush_timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "sending_queue::batch::flush_timeout must be positive".into(),
            ));
        }
        if self.max_size > 0 && self.max_size < self.min_size {
            return Err(ConfigError::Invalid(format!(
                "sending_queue::batch::max_size ({}) must be 0 or at least min_size ({})",
                self.max_size, self.min_size
            )));
        }
        Ok(())
    }

    /// Items the batch may hold before `consume` refuses: room for a full request on top of one
    /// that waits for space in the queue, so a full queue turns into back-pressure, not growth.
    pub fn pending_limit(&self) -> usize {
        self.min_size.max(self.max_size).max(1).saturating_mul(2)
    }
}
