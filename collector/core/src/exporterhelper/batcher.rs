//! The pending batch of `sending_queue::batch`: `consume` appends to it and one background task
//! moves due batches into the sending queue.
//!
//! The batch processor solves a similar problem, but it delivers to a consumer with retries,
//! while this only hands batches to the queue, whose workers do the retrying; the two are kept
//! apart so that each stays small. The mutex is held only for appends and swaps (plus the split
//! that leaves a remainder below `min_size` pending), never across an await.

use super::queue::{BoundedQueue, PushError};
use super::settings::BatchSetting;
use crate::pdata::{Payload, Signal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep_until, timeout_at};

/// How long `admit` waits for the flusher to catch up when the limit is reached while the queue
/// still has room (a burst of payloads arriving faster than the flusher runs), before refusing.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(1);

/// Why the pending batch did not take a payload; the payload comes back untouched.
pub(crate) enum AdmitError {
    /// The pending batch holds `held` items, at or above its limit.
    Full {
        held: usize,
        payload: Payload,
    },
    Closing(Payload),
    /// A payload of another signal than the exporter's.
    WrongSignal(Payload),
}

/// What the flusher should do next.
enum Step {
    /// Queue these items, in requests of at most `max_size`.
    Queue(Payload, usize),
    /// Nothing is due: wait for data, for the oldest item's timeout, or for shutdown.
    Wait(Option<Instant>),
    /// Shutdown began and nothing is pending.
    Done,
}

struct State {
    buffer: Payload,
    buffered_items: usize,
    /// Arrival of the oldest buffered item; `None` while the buffer is empty.
    oldest: Option<Instant>,
    /// Buffered items plus those taken out but not queued yet: what the pending limit bounds.
    held_items: usize,
    closing: bool,
}

pub(crate) struct Batcher {
    signal: Signal,
    min_size: usize,
    max_size: Option<usize>,
    flush_timeout: Duration,
    pending_limit: usize,
    state: Mutex<State>,
    /// Wakes the flusher when the batch gets its first item or reaches `min_size`.
    wake: Notify,
    /// Wakes producers waiting for the flusher to move held items into the queue.
    released: Notify,
    /// Set while the flusher waits for room in a full queue: only then is reaching the limit
    /// back-pressure to pass on, rather than the flusher briefly lagging behind.
    queue_full: AtomicBool,
    closing: watch::Sender<bool>,
}

impl Batcher {
    pub(crate) fn new(signal: Signal, setting: &BatchSetting) -> Self {
        Batcher {
            signal,
            min_size: setting.min_size,
            max_size: (setting.max_size > 0).then_some(setting.max_size),
            flush_timeout: setting.flush_timeout,
            pending_limit: setting.pending_limit(),
            state: Mutex::new(State {
                buffer: Payload::empty(signal),
                buffered_items: 0,
                oldest: None,
                held_items: 0,
                closing: false,
            }),
            wake: Notify::new(),
            released: Notify::new(),
            queue_full: AtomicBool::new(false),
            closing: watch::Sender::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; recovering keeps the data if that ever changes.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn pending_limit(&self) -> usize {
        self.pending_limit
    }

    /// Items accepted but not yet in the queue.
    pub(crate) fn held_items(&self) -> usize {
        self.lock().held_items
    }

    /// Appends `payload` to the pending batch. At the limit it refuses while the queue is full,
    /// and otherwise waits (boundedly) for the flusher to move held items into the queue.
    pub(crate) async fn admit(&self, mut payload: Payload) -> Result<(), AdmitError> {
        let give_up = Instant::now() + CATCH_UP_LIMIT;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            match self.try_admit(payload) {
                Err(AdmitError::Full {
                    held,
                    payload: back,
                }) if !self.queue_full.load(Ordering::SeqCst) => {
                    if timeout_at(give_up, released).await.is_err() {
                        return Err(AdmitError::Full {
                            held,
                            payload: back,
                        });
                    }
                    payload = back;
                }
                outcome => return outcome,
            }
        }
    }

    fn try_admit(&self, payload: Payload) -> Result<(), AdmitError> {
        let items = payload.item_count();
        if items == 0 {
            // Resources or scopes without a single item carry no telemetry to deliver.
            return Ok(());
        }
        let mut state = self.lock();
        if state.closing {
            return Err(AdmitError::Closing(payload));
        }
        if state.held_items >= self.pending_limit {
            return Err(AdmitError::Full {
                held: state.held_items,
                payload,
            });
        }
        let was_empty = state.buffered_items == 0;
        let was_below_min = state.buffered_items < self.min_size;
        state
            .buffer
            .append(payload)
            .map_err(AdmitError::WrongSignal)?;
        if was_empty {
            state.oldest = Some(Instant::now());
        }
        state.buffered_items += items;
        state.held_items += items;
        let reached_min = was_below_min && state.buffered_items >= self.min_size;
        drop(state);
        if was_empty || reached_min {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Takes what is due: everything after the timeout or at shutdown; on reaching `min_size`,
    /// all full `max_size` requests plus a remainder only if it reaches `min_size` itself.
    fn next_step(&self, now: Instant) -> Step {
        let mut state = self.lock();
        let Some(oldest) = state.oldest else {
            return if state.closing {
                Step::Done
            } else {
                Step::Wait(None)
            };
        };
        let timeout_at = oldest.checked_add(self.flush_timeout);
        let timed_out = timeout_at.is_some_and(|at| now >= at);
        let buffered = state.buffered_items;
        let take = if state.closing || timed_out {
            buffered
        } else if buffered >= self.min_size {
            match self.max_size {
                Some(max) if buffered % max < self.min_size => buffered - buffered % max,
                _ => buffered,
            }
        } else {
            return Step::Wait(timeout_at);
        };
        state.buffered_items -= take;
        let payload = if state.buffered_items == 0 {
            state.oldest = None;
            std::mem::replace(&mut state.buffer, Payload::empty(self.signal))
        } else {
            // The remainder keeps the arrival time of the oldest item, so it never waits longer
            // than `flush_timeout` counted from its own first item.
            state.buffer.split_front(take)
        };
        Step::Queue(payload, take)
    }

    fn release(&self, items: usize) {
        let mut state = self.lock();
        state.held_items = state.held_items.saturating_sub(items);
        drop(state);
        self.released.notify_waiters();
    }

    /// Stops accepting data and makes the flusher queue everything pending.
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.closing.send_replace(true);
        self.wake.notify_one();
    }

    /// Queues one request, waiting for room if the queue is full; false once the queue closed.
    async fn push(&self, queue: &BoundedQueue, request: Payload) -> bool {
        let request = match queue.push(request, None, false).await {
            Ok(()) => return true,
            Err(PushError::Closed(_)) => return false,
            Err(PushError::Full(request)) => request,
        };
        self.queue_full.store(true, Ordering::SeqCst);
        let queued = queue.push(request, None, true).await.is_ok();
        self.queue_full.store(false, Ordering::SeqCst);
        queued
    }

    /// Moves due batches into `queue` until shutdown has flushed everything. Waiting for room in
    /// a full queue keeps the items held, so `admit` refuses once the limit is reached.
    pub(crate) async fn run(&self, queue: &BoundedQueue) {
        let mut closing = self.closing.subscribe();
        loop {
            match self.next_step(Instant::now()) {
                Step::Done => return,
                Step::Wait(timer) => {
                    let timeout = async {
                        match timer {
                            Some(at) => sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = timeout => {}
                        _ = closing.wait_for(|closing| *closing) => {}
                    }
                }
                Step::Queue(mut payload, mut items) => {
                    while items > 0 {
                        let (request, request_items) = match self.max_size {
                            Some(max) if items > max => (payload.split_front(max), max),
                            _ => (
                                std::mem::replace(&mut payload, Payload::empty(self.signal)),
                                items,
                            ),
                        };
                        items -= request_items;
                        if !self.push(queue, request).await {
                            // The queue closes only after this task ended; the held count still
                            // includes these items, so shutdown reports them as undelivered.
                            return;
                        }
                        self.release(request_items);
                    }
                }
            }
        }
    }
}
