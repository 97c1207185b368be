//! The data a batch processor holds: what `consume` appends to and the flusher takes from.
//!
//! One mutex guards it, held only for O(1) work (a `Vec` append or swap, never across an await),
//! so many receiver tasks can hand over data while the flusher is busy sending.

use crate::config::BatchConfig;
use crate::telemetry::{BatchTelemetry, Trigger};
use cormorant_core::consumer::Returned;
use cormorant_core::{ComponentId, ConsumeError, Payload, Signal};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Items taken out of the buffer by the flusher, still counted as held until delivered.
pub(crate) struct Taken {
    pub(crate) payload: Payload,
    pub(crate) items: usize,
    /// When the oldest of these items arrived; decides the timeout trigger.
    pub(crate) oldest: Instant,
}

/// What the flusher should do next.
pub(crate) enum Step {
    /// Send these items (splitting them to the size cap first).
    Send(Taken),
    /// Nothing is due: wait for new data, for the timeout of the oldest item (if any), or for
    /// shutdown.
    Wait(Option<Instant>),
    /// Shutdown began and nothing is left.
    Done,
}

struct State {
    buffer: Payload,
    buffered_items: usize,
    /// Arrival of the oldest buffered item; `None` while the buffer is empty.
    oldest: Option<Instant>,
    /// Buffered items plus those the flusher is delivering: what the pending limit bounds.
    held_items: usize,
    closing: bool,
    /// Whether the last `consume` was refused for the pending limit, so the change is logged
    /// once instead of per request.
    refusing: bool,
}

/// Everything the processor and its flusher share.
pub(crate) struct Shared {
    pub(crate) id: ComponentId,
    pub(crate) signal: Signal,
    pub(crate) send_batch_size: usize,
    pub(crate) max_batch: Option<usize>,
    pub(crate) timeout: Duration,
    pending_limit: usize,
    pub(crate) telemetry: BatchTelemetry,
    state: Mutex<State>,
    /// Wakes the flusher when the buffer gets its first item or reaches `send_batch_size`;
    /// a wake-up before the flusher waits is kept, so none is lost.
    pub(crate) wake: Notify,
    /// The shutdown deadline, set once when shutdown begins.
    pub(crate) closing: watch::Sender<Option<Instant>>,
}

impl Shared {
    pub(crate) fn new(id: ComponentId, signal: Signal, config: &BatchConfig) -> Self {
        Shared {
            telemetry: BatchTelemetry::new(&id, signal),
            id,
            signal,
            send_batch_size: config.send_batch_size,
            max_batch: config.max_batch(),
            timeout: config.timeout,
            pending_limit: config.pending_limit(),
            state: Mutex::new(State {
                buffer: Payload::empty(signal),
                buffered_items: 0,
                oldest: None,
                held_items: 0,
                closing: false,
                refusing: false,
            }),
            wake: Notify::new(),
            closing: watch::Sender::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; recovering keeps the data if that ever changes.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `payload` into the buffer, or hands it back when the processor is full or closing.
    pub(crate) fn admit(&self, payload: Payload) -> Result<(), Returned> {
        let items = payload.item_count();
        if items == 0 {
            // Resources or scopes without a single item carry no telemetry to deliver.
            return Ok(());
        }
        let mut state = self.lock();
        if state.closing {
            drop(state);
            return Err(Returned {
                error: ConsumeError::unavailable(format!(
                    "batch processor {} is shutting down",
                    self.id
                )),
                payload,
            });
        }
        if state.held_items >= self.pending_limit {
            let held = state.held_items;
            let first_refusal = !std::mem::replace(&mut state.refusing, true);
            drop(state);
            if first_refusal {
                tracing::warn!(
                    processor = %self.id,
                    held_items = held,
                    limit = self.pending_limit,
                    "the next consumer is not keeping up; refusing new data until pending items \
                     are delivered"
                );
            }
            return Err(Returned {
                error: ConsumeError::unavailable(format!(
                    "batch processor {} is full: {held} {} are waiting to be sent",
                    self.id,
                    self.signal.item_name()
                )),
                payload,
            });
        }
        let was_empty = state.buffered_items == 0;
        let was_below_size = state.buffered_items < self.send_batch_size;
        if let Err(payload) = state.buffer.append(payload) {
            drop(state);
            return Err(Returned {
                error: ConsumeError::permanent(
                    format!(
                        "batch processor {} handles {}, not {}",
                        self.id,
                        self.signal,
                        payload.signal()
                    ),
                    items,
                ),
                payload,
            });
        }
        if was_empty {
            state.oldest = Some(Instant::now());
        }
        state.buffered_items += items;
        state.held_items += items;
        let reached_size = was_below_size && state.buffered_items >= self.send_batch_size;
        let resumed = std::mem::replace(&mut state.refusing, false);
        drop(state);
        if was_empty || reached_size {
            self.wake.notify_one();
        }
        if resumed {
            tracing::info!(processor = %self.id, "pending items were delivered; accepting data again");
        }
        self.telemetry.items.incoming(items);
        Ok(())
    }

    /// Whether `items` that arrived at `oldest` should be sent now, and why.
    pub(crate) fn due(
        &self,
        items: usize,
        oldest: Instant,
        now: Instant,
        closing: bool,
    ) -> Option<Trigger> {
        if closing {
            Some(Trigger::Shutdown)
        } else if items >= self.send_batch_size || self.timeout.is_zero() {
            Some(Trigger::Size)
        } else if self.timeout_at(oldest).is_some_and(|at| now >= at) {
            Some(Trigger::Timeout)
        } else {
            None
        }
    }

    /// When items that arrived at `oldest` time out; `None` for a timeout too long to represent.
    fn timeout_at(&self, oldest: Instant) -> Option<Instant> {
        oldest.checked_add(self.timeout)
    }

    /// Takes the whole buffer when any of it is due; splitting happens outside the lock.
    pub(crate) fn next_step(&self, now: Instant) -> Step {
        let mut state = self.lock();
        let Some(oldest) = state.oldest else {
            return if state.closing {
                Step::Done
            } else {
                Step::Wait(None)
            };
        };
        if self
            .due(state.buffered_items, oldest, now, state.closing)
            .is_none()
        {
            return Step::Wait(self.timeout_at(oldest));
        }
        let payload = std::mem::replace(&mut state.buffer, Payload::empty(self.signal));
        let items = std::mem::take(&mut state.buffered_items);
        state.oldest = None;
        Step::Send(Taken {
            payload,
            items,
            oldest,
        })
    }

    /// Returns items that are not due yet to the front of the buffer, ahead of anything that
    /// arrived since they were taken, so order is kept.
    pub(crate) fn put_back(&self, mut taken: Taken) {
        let mut state = self.lock();
        let newer = std::mem::replace(&mut state.buffer, Payload::empty(self.signal));
        taken
            .payload
            .append(newer)
            .expect("admit buffers only payloads of the processor's own signal");
        state.buffer = taken.payload;
        state.buffered_items += taken.items;
        state.oldest = Some(taken.oldest);
    }

    /// Forgets items that were delivered or dropped, making room under the pending limit.
    pub(crate) fn release(&self, items: usize) {
        let mut state = self.lock();
        state.held_items = state.held_items.saturating_sub(items);
    }

    /// Items still in the buffer (not yet taken by the flusher).
    pub(crate) fn buffered_items(&self) -> usize {
        self.lock().buffered_items
    }

    /// Stops accepting data and tells the flusher to drain until `deadline`.
    pub(crate) fn begin_closing(&self, deadline: Instant) {
        self.lock().closing = true;
        self.closing.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(deadline);
            }
            first
        });
        self.wake.notify_one();
    }
}
