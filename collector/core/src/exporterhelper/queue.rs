//! The bounded in-memory sending queue.
//!
//! Room is a semaphore holding the free capacity in sizer units: a producer takes permits for its
//! payload before pushing and a worker gives them back when it takes the payload out. That makes
//! "full" exact under concurrency, and producers that block on overflow are served in arrival
//! order.

use super::settings::QueueSizer;
use crate::consumer::ConsumeError;
use crate::pdata::Payload;
use prometheus::IntGauge;
use std::sync::Mutex;
use tokio::sync::{Semaphore, TryAcquireError, mpsc, oneshot};

/// One queued payload.
pub(crate) struct Entry {
    pub(crate) payload: Payload,
    pub(crate) items: usize,
    /// Where to report the outcome when the producer waits for it (`wait_for_result`).
    pub(crate) reply: Option<oneshot::Sender<Result<(), ConsumeError>>>,
    cost: u32,
}

/// Why a payload was not queued; the payload comes back so the caller can offer it again.
#[derive(Debug)]
pub(crate) enum PushError {
    Full(Payload),
    Closed(Payload),
}

pub(crate) struct BoundedQueue {
    sizer: QueueSizer,
    capacity: u32,
    room: Semaphore,
    sender: Mutex<Option<mpsc::UnboundedSender<Entry>>>,
    receiver: tokio::sync::Mutex<mpsc::UnboundedReceiver<Entry>>,
    size: IntGauge,
}

impl BoundedQueue {
    /// `capacity` is in `sizer` units; the semaphore counts in `u32`, far beyond any sane queue.
    pub(crate) fn new(sizer: QueueSizer, capacity: usize, size: IntGauge) -> Self {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        let (sender, receiver) = mpsc::unbounded_channel();
        size.set(0);
        BoundedQueue {
            sizer,
            capacity,
            room: Semaphore::new(capacity as usize),
            sender: Mutex::new(Some(sender)),
            receiver: tokio::sync::Mutex::new(receiver),
            size,
        }
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    pub(crate) fn sizer(&self) -> QueueSizer {
        self.sizer
    }

    /// The room a payload takes. A payload larger than the whole queue takes all of it, so it is
    /// admitted once the queue is empty instead of never.
    fn cost(&self, items: usize) -> u32 {
        match self.sizer {
            QueueSizer::Items => u32::try_from(items)
                .unwrap_or(u32::MAX)
                .clamp(1, self.capacity),
            QueueSizer::Requests | QueueSizer::Bytes => 1,
        }
    }

    /// Enqueues a payload. Without `block` a full queue fails at once; with it, the call waits for
    /// room. Either way a closed queue fails.
    pub(crate) async fn push(
        &self,
        payload: Payload,
        reply: Option<oneshot::Sender<Result<(), ConsumeError>>>,
        block: bool,
    ) -> Result<(), PushError> {
        let items = payload.item_count();
        let cost = self.cost(items);
        let permit = if block {
            match self.room.acquire_many(cost).await {
                Ok(permit) => permit,
                Err(_) => return Err(PushError::Closed(payload)),
            }
        } else {
            match self.room.try_acquire_many(cost) {
                Ok(permit) => permit,
                Err(TryAcquireError::NoPermits) => return Err(PushError::Full(payload)),
                Err(TryAcquireError::Closed) => return Err(PushError::Closed(payload)),
            }
        };
        let entry = Entry {
            payload,
            items,
            reply,
            cost,
        };
        let sender = self.sender.lock().expect("queue sender lock");
        let Some(sender) = sender.as_ref() else {
            return Err(PushError::Closed(entry.payload));
        };
        sender
            .send(entry)
            .map_err(|rejected| PushError::Closed(rejected.0.payload))?;
        permit.forget();
        self.size.add(i64::from(cost));
        Ok(())
    }

    /// Takes the next payload, waiting for one; `None` once the queue is closed and empty.
    pub(crate) async fn pop(&self) -> Option<Entry> {
        let entry = self.receiver.lock().await.recv().await?;
        self.release(&entry);
        Some(entry)
    }

    fn release(&self, entry: &Entry) {
        self.room.add_permits(entry.cost as usize);
        self.size.sub(i64::from(entry.cost));
    }

    /// Refuses further pushes, including those waiting for room. Queued payloads stay for the
    /// workers to drain.
    pub(crate) fn close(&self) {
        self.room.close();
        self.sender.lock().expect("queue sender lock").take();
    }

    /// Empties a closed queue whose workers have stopped; returns the number of items discarded.
    pub(crate) async fn discard_remaining(&self) -> usize {
        let mut receiver = self.receiver.lock().await;
        let mut items = 0;
        while let Ok(entry) = receiver.try_recv() {
            self.release(&entry);
            items += entry.items;
        }
        items
    }
}
