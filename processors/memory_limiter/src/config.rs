//! The `memory_limiter` settings, with otelcol's keys, defaults and error wording.

use cormorant_core::config::duration;
use cormorant_core::{ComponentConfig, ConfigError};
use serde::Deserialize;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// `processors::memory_limiter` as otelcol reads it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryLimiterConfig {
    /// How often memory usage is sampled. Required; otelcol recommends 1s.
    #[serde(deserialize_with = "duration")]
    pub check_interval: Duration,
    /// The hard limit in MiB. Wins over `limit_percentage` when both are set.
    pub limit_mib: u64,
    /// Headroom below the hard limit where data is already refused; 20 % of the limit if unset.
    pub spike_limit_mib: u64,
    /// The hard limit as a percentage of the memory available to the process (the cgroup limit,
    /// or total RAM without one).
    pub limit_percentage: u64,
    /// The spike headroom as a percentage of the same total.
    pub spike_limit_percentage: u64,
    /// otelcol forces Go garbage collections at these intervals. Rust frees memory as soon as it
    /// is dropped, so there is nothing to force: the keys are accepted and have no effect.
    #[serde(deserialize_with = "duration")]
    pub min_gc_interval_when_soft_limited: Duration,
    /// Accepted, no effect (see `min_gc_interval_when_soft_limited`).
    #[serde(deserialize_with = "duration")]
    pub max_gc_interval_when_soft_limited: Duration,
    /// Accepted, no effect (see `min_gc_interval_when_soft_limited`).
    #[serde(deserialize_with = "duration")]
    pub min_gc_interval_when_hard_limited: Duration,
    /// Accepted, no effect (see `min_gc_interval_when_soft_limited`).
    #[serde(deserialize_with = "duration")]
    pub max_gc_interval_when_hard_limited: Duration,
}

impl ComponentConfig for MemoryLimiterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_string()));
        if self.check_interval.is_zero() {
            return invalid("checkInterval must be greater than zero");
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            return invalid("memLimitMiB or memLimitPercentage must be greater than zero");
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            return invalid(
                "memLimitPercentage and memSpikePercentage must be greater than zero and less \
                 than or equal to hundred",
            );
        }
        let spike_too_large = if self.limit_mib != 0 {
            self.spike_limit_mib >= self.limit_mib
        } else {
            self.spike_limit_percentage >= self.limit_percentage
        };
        if spike_too_large {
            return invalid("memSpikeLimitMiB must be smaller than memLimitMiB");
        }
        Ok(())
    }
}

/// The limits in bytes the sampler compares memory usage against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At or above this, data is refused (and the state is logged as critical).
    pub hard_bytes: u64,
    /// At or above this (hard minus spike), data is refused.
    pub soft_bytes: u64,
}

impl MemoryLimiterConfig {
    /// The limits of a validated config. `total_memory` is only asked for when the limits are
    /// percentages.
    pub fn limits(
        &self,
        total_memory: impl FnOnce() -> std::io::Result<u64>,
    ) -> std::io::Result<Limits> {
        let (hard_bytes, spike_bytes) = if self.limit_mib != 0 {
            (self.limit_mib * MIB, self.spike_limit_mib * MIB)
        } else {
            let total = total_memory()?;
            let percent = |p: u64| (u128::from(total) * u128::from(p) / 100) as u64;
            (
                percent(self.limit_percentage),
                percent(self.spike_limit_percentage),
            )
        };
        let spike_bytes = if spike_bytes == 0 {
            hard_bytes / 5
        } else {
            spike_bytes
        };
        Ok(Limits {
            hard_bytes,
            soft_bytes: hard_bytes.saturating_sub(spike_bytes),
        })
    }
}
