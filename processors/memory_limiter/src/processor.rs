//! The memory limiter component: a sampler task classifies memory usage every `check_interval`,
//! and `consume` refuses data while usage is above the soft limit.

use crate::config::{Limits, MemoryLimiterConfig};
use crate::memory::{MemoryUsage, ProcessRss, SystemMemory};
use crate::telemetry::refused_counter;
use async_trait::async_trait;
use cormorant_core::consumer::Returned;
use cormorant_core::telemetry::ProcessorTelemetry;
use cormorant_core::{
    ComponentConfig, ComponentError, ComponentId, ConfigError, ConsumeError, Consumer, Host,
    Lifecycle, Payload, Processor, SharedConsumer, Signal,
};
use prometheus::IntCounter;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

/// The message otelcol's memory limiter refuses with; clients and dashboards match on it.
pub const REFUSED_MESSAGE: &str = "data refused due to high memory usage";

const MIB: f64 = 1024.0 * 1024.0;

/// Memory usage relative to the limits, as last sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Pressure {
    Normal = 0,
    AboveSoft = 1,
    AboveHard = 2,
}

impl Pressure {
    fn of(used: u64, limits: Limits) -> Pressure {
        if used >= limits.hard_bytes {
            Pressure::AboveHard
        } else if used >= limits.soft_bytes {
            Pressure::AboveSoft
        } else {
            Pressure::Normal
        }
    }

    fn from_u8(value: u8) -> Pressure {
        match value {
            1 => Pressure::AboveSoft,
            2 => Pressure::AboveHard,
            _ => Pressure::Normal,
        }
    }
}

/// Samples memory usage and publishes the pressure `consume` reads.
struct Sampler {
    id: ComponentId,
    usage: Arc<dyn MemoryUsage>,
    limits: Limits,
    pressure: Arc<AtomicU8>,
    /// Set while reads fail, so a broken source is logged once rather than every interval.
    read_failing: bool,
}

impl Sampler {
    fn check(&mut self) {
        match self.usage.used_bytes() {
            Ok(used) => {
                self.read_failing = false;
                self.apply(used);
            }
            Err(err) => {
                if !std::mem::replace(&mut self.read_failing, true) {
                    tracing::warn!(
                        processor = %self.id,
                        error = %err,
                        "cannot read memory usage; keeping the last known state"
                    );
                }
            }
        }
    }

    /// Publishes the pressure for `used` bytes and logs when it changes.
    fn apply(&self, used: u64) {
        let now = Pressure::of(used, self.limits);
        let before = Pressure::from_u8(self.pressure.swap(now as u8, Ordering::Relaxed));
        if before == now {
            return;
        }
        let used_mib = used as f64 / MIB;
        let soft_mib = self.limits.soft_bytes as f64 / MIB;
        let hard_mib = self.limits.hard_bytes as f64 / MIB;
        let id = &self.id;
        match (before, now) {
            (_, Pressure::AboveHard) => tracing::warn!(
                processor = %id, used_mib, hard_limit_mib = hard_mib,
                "memory usage is above the hard limit; refusing data"
            ),
            (Pressure::Normal, Pressure::AboveSoft) => tracing::warn!(
                processor = %id, used_mib, soft_limit_mib = soft_mib,
                "memory usage is above the soft limit; refusing data"
            ),
            (_, Pressure::AboveSoft) => tracing::info!(
                processor = %id, used_mib, hard_limit_mib = hard_mib, soft_limit_mib = soft_mib,
                "memory usage fell below the hard limit but is still above the soft limit; \
                 refusing data"
            ),
            (_, Pressure::Normal) => tracing::info!(
                processor = %id, used_mib, soft_limit_mib = soft_mib,
                "memory usage is below the soft limit again; accepting data"
            ),
        }
    }

    async fn run(mut self, every: Duration) {
        let mut ticker = interval_at(Instant::now() + every, every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.check();
        }
    }
}

/// Refuses data with a retryable error while the process uses too much memory, so receivers
/// tell their clients to back off instead of the collector being killed for running out.
///
/// Usage is sampled every `check_interval` by a background task; `consume` only reads the last
/// verdict, which costs one atomic load.
pub struct MemoryLimiterProcessor {
    id: ComponentId,
    signal: Signal,
    config: MemoryLimiterConfig,
    next: SharedConsumer,
    usage: Arc<dyn MemoryUsage>,
    system: SystemMemory,
    pressure: Arc<AtomicU8>,
    sampler: Mutex<Option<JoinHandle<()>>>,
    telemetry: ProcessorTelemetry,
    refused: IntCounter,
}

impl MemoryLimiterProcessor {
    /// A limiter measuring this process's RSS against limits relative to this machine.
    pub fn new(
        id: ComponentId,
        signal: Signal,
        config: MemoryLimiterConfig,
        next: SharedConsumer,
    ) -> Result<Self, ConfigError> {
        Self::with_sources(
            id,
            signal,
            config,
            next,
            Arc::new(ProcessRss::new()),
            SystemMemory::host(),
        )
    }

    /// A limiter reading usage from `usage` and, for percentage limits, the available memory from
    /// `system`.
    pub fn with_sources(
        id: ComponentId,
        signal: Signal,
        config: MemoryLimiterConfig,
        next: SharedConsumer,
        usage: Arc<dyn MemoryUsage>,
        system: SystemMemory,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(MemoryLimiterProcessor {
            telemetry: ProcessorTelemetry::new(&id, signal),
            refused: refused_counter(&id, signal),
            id,
            signal,
            config,
            next,
            usage,
            system,
            pressure: Arc::new(AtomicU8::new(Pressure::Normal as u8)),
            sampler: Mutex::new(None),
        })
    }

    /// The refusal for `items` when memory is too high, counted; `None` lets the data pass.
    fn refusal(&self, items: usize) -> Option<ConsumeError> {
        self.telemetry.incoming(items);
        if self.pressure.load(Ordering::Relaxed) == Pressure::Normal as u8 {
            self.telemetry.outgoing(items);
            return None;
        }
        self.refused.inc_by(items as u64);
        Some(ConsumeError::unavailable(REFUSED_MESSAGE))
    }
}

#[async_trait]
impl Consumer for MemoryLimiterProcessor {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        match self.refusal(payload.item_count()) {
            Some(error) => Err(error),
            None => self.next.consume(payload).await,
        }
    }

    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        match self.refusal(payload.item_count()) {
            Some(error) => Err(Returned { error, payload }),
            None => self.next.consume_or_return(payload).await,
        }
    }
}

#[async_trait]
impl Lifecycle for MemoryLimiterProcessor {
    /// Resolves the limits, takes a first sample so data is judged from the first request on, and
    /// starts the sampler.
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        let id = &self.id;
        let limits = self
            .config
            .limits(|| self.system.total_bytes())
            .map_err(|err| {
                ComponentError::Failed(format!(
                    "memory_limiter {id}: cannot determine the memory available to the process: \
                     {err}"
                ))
            })?;
        let used = self.usage.used_bytes().map_err(|err| {
            ComponentError::Failed(format!(
                "memory_limiter {id}: cannot read the process's memory usage: {err}"
            ))
        })?;
        let sampler = Sampler {
            id: id.clone(),
            usage: Arc::clone(&self.usage),
            limits,
            pressure: Arc::clone(&self.pressure),
            read_failing: false,
        };
        sampler.apply(used);
        tracing::info!(
            processor = %id,
            signal = %self.signal,
            hard_limit_mib = limits.hard_bytes as f64 / MIB,
            soft_limit_mib = limits.soft_bytes as f64 / MIB,
            check_interval = ?self.config.check_interval,
            "memory limiter started"
        );
        let handle = tokio::spawn(sampler.run(self.config.check_interval));
        let previous = self
            .sampler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(handle);
        if let Some(previous) = previous {
            previous.abort();
        }
        Ok(())
    }

    async fn shutdown(&self, _deadline: Instant) -> Result<(), ComponentError> {
        let sampler = self
            .sampler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sampler) = sampler {
            sampler.abort();
        }
        Ok(())
    }
}

impl Processor for MemoryLimiterProcessor {}

impl Drop for MemoryLimiterProcessor {
    /// A processor dropped without shutdown must not leave its sampler running forever.
    fn drop(&mut self) {
        let sampler = self
            .sampler
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(sampler) = sampler.take() {
            sampler.abort();
        }
    }
}
