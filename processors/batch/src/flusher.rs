//! The one background task per batch processor that forms batches and delivers them.
//!
//! otelcol's batch processor logs and forgets a batch the next consumer refuses. Here a retryable
//! refusal keeps the batch and retries it with backoff, in order, while `consume` refuses new data
//! once the pending limit is reached, so back-pressure reaches the receiver's clients instead of
//! data being lost. Only a permanent rejection (which can never succeed) or the shutdown deadline
//! drops data, and both are logged and counted.

use crate::pending::{Shared, Step, Taken};
use crate::telemetry::Trigger;
use cormorant_core::consumer::Returned;
use cormorant_core::{ConsumeError, Payload, SharedConsumer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

/// Wait before retrying a refused batch for the first time.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The wait doubles after each refusal up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the flusher could not deliver by the shutdown deadline.
#[derive(Debug, Default)]
pub(crate) struct FlushReport {
    pub(crate) undelivered: usize,
    /// The last refusal from the next consumer, explaining why.
    pub(crate) last_error: Option<String>,
}

/// The shutdown deadline passed with this many taken items still undelivered.
struct DeadlinePassed(usize);

pub(crate) struct Flusher {
    shared: Arc<Shared>,
    next: SharedConsumer,
    closing: watch::Receiver<Option<Instant>>,
    last_error: Option<String>,
}

impl Flusher {
    pub(crate) fn new(shared: Arc<Shared>, next: SharedConsumer) -> Self {
        let closing = shared.closing.subscribe();
        Flusher {
            shared,
            next,
            closing,
            last_error: None,
        }
    }

    /// Runs until shutdown has drained everything or its deadline has passed.
    pub(crate) async fn run(mut self) -> FlushReport {
        loop {
            match self.shared.next_step(Instant::now()) {
                Step::Done => return FlushReport::default(),
                Step::Wait(timer) => self.wait(timer).await,
                Step::Send(taken) => {
                    if let Err(DeadlinePassed(taken_left)) = self.send_taken(taken).await {
                        let undelivered = taken_left + self.shared.buffered_items();
                        self.shared.telemetry.dropped(undelivered);
                        return FlushReport {
                            undelivered,
                            last_error: self.last_error,
                        };
                    }
                }
            }
        }
    }

    /// Sleeps until new data arrives, the oldest pending item times out, or shutdown begins.
    async fn wait(&mut self, timer: Option<Instant>) {
        let timeout = async {
            match timer {
                Some(at) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = self.shared.wake.notified() => {}
            () = timeout => {}
            _ = self.closing.wait_for(Option::is_some) => {}
        }
    }

    fn is_closing(&self) -> bool {
        self.closing.borrow().is_some()
    }

    /// Sends the due part of `taken` in batches of at most `send_batch_max_size`, and puts back
    /// a remainder that is not due yet.
    async fn send_taken(&mut self, mut taken: Taken) -> Result<(), DeadlinePassed> {
        while taken.items > 0 {
            let due = self
                .shared
                .due(taken.items, taken.oldest, Instant::now(), self.is_closing());
            let Some(trigger) = due else {
                self.shared.put_back(taken);
                return Ok(());
            };
            let (batch, items) = match self.shared.max_batch {
                Some(max) if taken.items > max => (taken.payload.split_front(max), max),
                _ => (
                    std::mem::replace(&mut taken.payload, Payload::empty(self.shared.signal)),
                    taken.items,
                ),
            };
            taken.items -= items;
            if let Err(DeadlinePassed(lost)) = self.deliver(batch, items, trigger).await {
                self.shared.release(lost + taken.items);
                return Err(DeadlinePassed(lost + taken.items));
            }
        }
        Ok(())
    }

    /// Delivers one batch, retrying refusals with backoff until it is taken, rejected for good,
    /// or the shutdown deadline passes.
    async fn deliver(
        &mut self,
        mut batch: Payload,
        items: usize,
        trigger: Trigger,
    ) -> Result<(), DeadlinePassed> {
        let shared = Arc::clone(&self.shared);
        shared.telemetry.batch_formed(items, trigger);
        let mut backoff = INITIAL_BACKOFF;
        let mut refusals = 0u32;
        loop {
            let outcome = tokio::select! {
                biased;
                outcome = self.next.consume_or_return(batch) => outcome,
                () = deadline_passed(&mut self.closing) => return Err(DeadlinePassed(items)),
            };
            let (message, retry_after, returned) = match outcome {
                Ok(()) => {
                    shared.telemetry.items.outgoing(items);
                    shared.release(items);
                    if refusals > 0 {
                        tracing::info!(
                            processor = %shared.id,
                            items,
                            refusals,
                            "batch delivered after the next consumer refused it"
                        );
                    }
                    return Ok(());
                }
                Err(Returned {
                    error:
                        ConsumeError::Permanent {
                            message,
                            rejected_items,
                        },
                    ..
                }) => {
                    let rejected = rejected_items.min(items);
                    tracing::error!(
                        processor = %shared.id,
                        items = rejected,
                        error = %message,
                        "the next consumer rejected a batch permanently; dropping the rejected items"
                    );
                    shared.telemetry.dropped(rejected);
                    shared.telemetry.items.outgoing(items - rejected);
                    shared.release(items);
                    return Ok(());
                }
                Err(Returned {
                    error:
                        ConsumeError::Refused {
                            message,
                            retry_after,
                            ..
                        },
                    payload,
                }) => (message, retry_after, payload),
            };
            batch = returned;
            refusals += 1;
            let wait = backoff.max(retry_after.unwrap_or_default());
            if refusals == 1 {
                tracing::warn!(
                    processor = %shared.id,
                    items,
                    error = %message,
                    "the next consumer refused a batch; keeping it and retrying"
                );
            } else {
                tracing::debug!(
                    processor = %shared.id,
                    items,
                    refusals,
                    error = %message,
                    retry_in = ?wait,
                    "batch refused again"
                );
            }
            self.last_error = Some(message);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            tokio::select! {
                () = sleep(wait) => {}
                () = deadline_passed(&mut self.closing) => return Err(DeadlinePassed(items)),
            }
        }
    }
}

/// Completes once shutdown has begun and its deadline has passed; never before shutdown.
async fn deadline_passed(closing: &mut watch::Receiver<Option<Instant>>) {
    let deadline = match closing.wait_for(Option::is_some).await {
        Ok(deadline) => *deadline,
        // The sender lives in the state the flusher holds, so it cannot be gone while we run.
        Err(_) => None,
    };
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
