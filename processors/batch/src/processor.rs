//! The batch processor component: `consume` hands data to the pending buffer, one background
//! flusher sends it on.

use crate::config::BatchConfig;
use crate::flusher::{FlushReport, Flusher};
use crate::pending::Shared;
use async_trait::async_trait;
use cormorant_core::consumer::Returned;
use cormorant_core::{
    ComponentError, ComponentId, ConsumeError, Consumer, Host, Lifecycle, Payload, Processor,
    SharedConsumer, Signal,
};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The flusher before `start`, while it runs, and after shutdown collected its report.
enum FlusherSlot {
    NotStarted(Flusher),
    Running(JoinHandle<FlushReport>),
    Stopped,
}

/// Groups items into larger requests for the next consumer, by size and by age.
///
/// `consume` returns as soon as the items are held; they are delivered by a background task.
/// Retryable refusals from the next consumer are retried, so accepted data is not lost, and the
/// amount held is bounded: past [`BatchConfig::pending_limit`] items, `consume` refuses with a
/// retryable error that travels back to the receiver.
pub struct BatchProcessor {
    shared: Arc<Shared>,
    flusher: Mutex<FlusherSlot>,
}

impl BatchProcessor {
    pub fn new(
        id: ComponentId,
        signal: Signal,
        config: &BatchConfig,
        next: SharedConsumer,
    ) -> Self {
        let shared = Arc::new(Shared::new(id, signal, config));
        let flusher = Flusher::new(Arc::clone(&shared), next);
        BatchProcessor {
            shared,
            flusher: Mutex::new(FlusherSlot::NotStarted(flusher)),
        }
    }

    /// Starts delivering; what `start` does, for batchers made while the pipeline runs.
    pub(crate) fn start_flushing(&self) {
        self.spawn_flusher(false);
    }

    /// Spawns the flusher unless it already ran; with `take`, also hands over its handle so
    /// shutdown can wait for its report.
    fn spawn_flusher(&self, take: bool) -> Option<JoinHandle<FlushReport>> {
        let mut slot = self.flusher.lock().unwrap_or_else(PoisonError::into_inner);
        let running = match std::mem::replace(&mut *slot, FlusherSlot::Stopped) {
            FlusherSlot::NotStarted(flusher) => tokio::spawn(flusher.run()),
            FlusherSlot::Running(handle) => handle,
            FlusherSlot::Stopped => return None,
        };
        if take {
            Some(running)
        } else {
            *slot = FlusherSlot::Running(running);
            None
        }
    }
}

#[async_trait]
impl Consumer for BatchProcessor {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.shared
            .admit(payload)
            .map_err(|returned| returned.error)
    }

    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        self.shared.admit(payload)
    }
}

#[async_trait]
impl Lifecycle for BatchProcessor {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        self.start_flushing();
        Ok(())
    }

    /// Refuses new data and sends everything pending, retrying refusals until `deadline`. Items
    /// still undelivered then are counted as dropped and reported in the error.
    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        self.shared.begin_closing(deadline);
        let Some(handle) = self.spawn_flusher(true) else {
            return Ok(());
        };
        let id = &self.shared.id;
        let report = handle
            .await
            .map_err(|err| ComponentError::Failed(format!("batch processor {id}: {err}")))?;
        if report.undelivered == 0 {
            return Ok(());
        }
        let reason = report
            .last_error
            .map(|err| format!(" (last refusal: {err})"))
            .unwrap_or_default();
        tracing::error!(
            processor = %id,
            items = report.undelivered,
            "shutdown deadline passed before all pending data was delivered"
        );
        Err(ComponentError::Failed(format!(
            "batch processor {id}: {} {} could not be delivered before the shutdown deadline{reason}",
            report.undelivered,
            self.shared.signal.item_name()
        )))
    }
}

impl Processor for BatchProcessor {}

impl Drop for BatchProcessor {
    /// A processor dropped without shutdown (a pipeline that failed to start) must not leave its
    /// flusher running forever.
    fn drop(&mut self) {
        let slot = self
            .flusher
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let FlusherSlot::Running(handle) = slot {
            handle.abort();
        }
    }
}
