//! [`QueuedExporter`]: turns a [`Sender`] into a pipeline [`Exporter`] with otelcol's
//! `timeout`, `retry_on_failure` and `sending_queue` behaviour.

use super::batcher::{AdmitError, Batcher};
use super::queue::{BoundedQueue, PushError};
use super::retry::Retrier;
use super::sender::{SendError, Sender};
use super::settings::{QueueSetting, QueueSizer, RetrySetting, TimeoutSetting};
use crate::component::{ComponentError, ComponentId, Exporter, Host, Lifecycle};
use crate::consumer::{ConsumeError, Consumer, Returned};
use crate::pdata::{Payload, Signal};
use crate::telemetry::ExporterTelemetry;
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// The helper settings of one exporter, as decoded from its config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueuedExporterSettings {
    pub timeout: TimeoutSetting,
    pub retry_on_failure: RetrySetting,
    pub sending_queue: QueueSetting,
}

/// A pipeline exporter around a [`Sender`].
///
/// With the sending queue enabled, `consume` returns as soon as the payload is queued, and
/// `num_consumers` workers deliver it with per-attempt timeouts and backoff retries. A full queue
/// refuses the payload with a retryable error (or waits, with `block_on_overflow`), so
/// back-pressure reaches the client instead of data being dropped silently. With the queue
/// disabled, `consume` delivers inline and hands the final error back to the caller.
///
/// With `sending_queue::batch`, `consume` appends to a pending batch that a background task
/// queues once it reaches `min_size` items or `flush_timeout` after its first item. The pending
/// batch is bounded too: while the queue is full it stops growing at its limit and `consume`
/// refuses with a retryable error.
pub struct QueuedExporter<S: Sender> {
    inner: Arc<Inner<S>>,
    workers: Mutex<JoinSet<()>>,
    batch_flusher: Mutex<Option<JoinHandle<()>>>,
}

struct Inner<S> {
    id: String,
    sender: S,
    retrier: Retrier,
    telemetry: ExporterTelemetry,
    queue: Option<BoundedQueue>,
    /// The pending batch in front of the queue, with `sending_queue::batch`.
    batcher: Option<Batcher>,
    num_consumers: usize,
    block_on_overflow: bool,
    wait_for_result: bool,
    accepting: AtomicBool,
    /// Items taken out of the queue whose delivery has not finished; at a shutdown deadline these
    /// are the ones cut off mid-delivery.
    in_flight_items: AtomicUsize,
}

/// Where a failed payload goes, which decides how its failure is logged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FailureFate {
    /// Nobody waits for the result: the data is lost.
    Dropped,
    /// The caller gets the error and may resend.
    ReturnedToCaller,
}

impl<S: Sender> QueuedExporter<S> {
    /// The settings must have passed `validate` (as part of the exporter's config).
    pub fn new(
        id: &ComponentId,
        signal: Signal,
        settings: QueuedExporterSettings,
        sender: S,
    ) -> Self {
        let telemetry = ExporterTelemetry::new(id, signal);
        let queue_setting = settings.sending_queue;
        let queue = queue_setting.enabled.then(|| {
            let queue = BoundedQueue::new(
                queue_setting.sizer,
                queue_setting.queue_size,
                telemetry.queue_size(),
            );
            telemetry.queue_capacity().set(i64::from(queue.capacity()));
            queue
        });
        let batcher = queue_setting
            .batch
            .as_ref()
            .filter(|_| queue_setting.enabled)
            .map(|batch| Batcher::new(signal, batch));
        QueuedExporter {
            inner: Arc::new(Inner {
                id: id.to_string(),
                sender,
                retrier: Retrier {
                    exporter: id.to_string(),
                    timeout: settings.timeout,
                    retry: settings.retry_on_failure,
                },
                telemetry,
                queue,
                batcher,
                num_consumers: queue_setting.num_consumers,
                block_on_overflow: queue_setting.block_on_overflow,
                wait_for_result: queue_setting.wait_for_result,
                accepting: AtomicBool::new(true),
                in_flight_items: AtomicUsize::new(0),
            }),
            workers: Mutex::new(JoinSet::new()),
            batch_flusher: Mutex::new(None),
        }
    }

    /// The wrapped sender, e.g. for tests and for exporters that expose destination state.
    pub fn sender(&self) -> &S {
        &self.inner.sender
    }
}

impl<S: Sender> Inner<S> {
    fn shutting_down(&self) -> ConsumeError {
        ConsumeError::unavailable(format!("exporter {} is shutting down", self.id))
    }

    /// Delivers one payload and accounts for it: sent, partially rejected, or failed.
    async fn deliver(&self, payload: &Payload, fate: FailureFate) -> Result<(), ConsumeError> {
        let items = payload.item_count();
        match self.retrier.deliver(&self.sender, payload).await {
            Ok(outcome) => {
                let rejected = outcome.rejected_items.min(items);
                if rejected > 0 || !outcome.message.is_empty() {
                    tracing::warn!(
                        exporter = %self.id,
                        rejected_items = rejected,
                        message = %outcome.message,
                        "the destination accepted the data only in part"
                    );
                }
                self.telemetry.sent(items - rejected);
                self.telemetry.send_failed(rejected);
                Ok(())
            }
            Err(error) => {
                self.telemetry.send_failed(items);
                let consequence = match fate {
                    FailureFate::Dropped => "the data is dropped",
                    FailureFate::ReturnedToCaller => "the error is returned to the caller",
                };
                match error {
                    SendError::Permanent(message) => {
                        tracing::error!(
                            exporter = %self.id,
                            items,
                            error = %message,
                            "exporting failed: the destination rejected the data permanently; {consequence}"
                        );
                        Err(ConsumeError::permanent(message, items))
                    }
                    SendError::Retryable {
                        message,
                        retry_after,
                    } => {
                        tracing::error!(
                            exporter = %self.id,
                            items,
                            error = %message,
                            "exporting failed and will not be retried; {consequence}"
                        );
                        Err(ConsumeError::Refused {
                            message,
                            retry_after,
                            throttled: false,
                        })
                    }
                }
            }
        }
    }

    async fn enqueue(&self, queue: &BoundedQueue, payload: Payload) -> Result<(), Returned> {
        let items = payload.item_count();
        // With `wait_for_result` the worker owns the payload and a failure must still hand the
        // data back, so that (non-default) mode keeps a copy.
        let (reply, outcome) = if self.wait_for_result {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some((rx, payload.clone())))
        } else {
            (None, None)
        };
        match queue.push(payload, reply, self.block_on_overflow).await {
            Ok(()) => match outcome {
                None => Ok(()),
                Some((outcome, copy)) => outcome
                    .await
                    .unwrap_or_else(|_| Err(self.shutting_down()))
                    .map_err(|error| Returned {
                        error,
                        payload: copy,
                    }),
            },
            Err(PushError::Full(payload)) => {
                self.telemetry.enqueue_failed(items);
                let unit = match queue.sizer() {
                    QueueSizer::Items => "items",
                    QueueSizer::Requests | QueueSizer::Bytes => "requests",
                };
                tracing::warn!(
                    exporter = %self.id,
                    items,
                    "sending queue is full; refusing the data so the sender retries"
                );
                let error = ConsumeError::unavailable(format!(
                    "sending queue of exporter {} is full ({} {unit})",
                    self.id,
                    queue.capacity()
                ));
                Err(Returned { error, payload })
            }
            Err(PushError::Closed(payload)) => {
                self.telemetry.enqueue_failed(items);
                Err(Returned {
                    error: self.shutting_down(),
                    payload,
                })
            }
        }
    }

    /// Appends to the pending batch; a refusal hands the payload back as it was offered.
    async fn add_to_batch(&self, batcher: &Batcher, payload: Payload) -> Result<(), Returned> {
        let items = payload.item_count();
        let (error, payload) = match batcher.admit(payload).await {
            Ok(()) => return Ok(()),
            Err(AdmitError::Closing(payload)) => (self.shutting_down(), payload),
            Err(AdmitError::WrongSignal(payload)) => (
                ConsumeError::permanent(
                    format!(
                        "exporter {} cannot batch {} with other signals",
                        self.id,
                        payload.signal()
                    ),
                    items,
                ),
                payload,
            ),
            Err(AdmitError::Full { held, payload }) => {
                tracing::warn!(
                    exporter = %self.id,
                    items,
                    held_items = held,
                    "the pending batch is at its limit and the sending queue has no room; \
                     refusing the data so the sender retries"
                );
                let error = ConsumeError::unavailable(format!(
                    "exporter {} cannot take more data: its pending batch holds {held} items \
                     (limit {}) waiting for room in the sending queue",
                    self.id,
                    batcher.pending_limit()
                ));
                (error, payload)
            }
        };
        self.telemetry.enqueue_failed(items);
        Err(Returned { error, payload })
    }

    async fn flush_batches(self: Arc<Self>) {
        if let (Some(batcher), Some(queue)) = (&self.batcher, &self.queue) {
            batcher.run(queue).await;
        }
    }

    async fn work(self: Arc<Self>) {
        let Some(queue) = &self.queue else {
            return;
        };
        while let Some(entry) = queue.pop().await {
            self.in_flight_items
                .fetch_add(entry.items, Ordering::SeqCst);
            let fate = if entry.reply.is_some() {
                FailureFate::ReturnedToCaller
            } else {
                FailureFate::Dropped
            };
            let result = self.deliver(&entry.payload, fate).await;
            self.in_flight_items
                .fetch_sub(entry.items, Ordering::SeqCst);
            if let Some(reply) = entry.reply {
                // The producer may have given up waiting; the outcome is already accounted for.
                let _ = reply.send(result);
            }
        }
    }
}

#[async_trait]
impl<S: Sender> Consumer for QueuedExporter<S> {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.consume_or_return(payload)
            .await
            .map_err(|returned| returned.error)
    }

    /// A refused payload comes back untouched, so the batch processor retries without a copy.
    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        let inner = &self.inner;
        if !inner.accepting.load(Ordering::SeqCst) {
            return Err(Returned {
                error: inner.shutting_down(),
                payload,
            });
        }
        match (&inner.queue, &inner.batcher) {
            (Some(_), Some(batcher)) => inner.add_to_batch(batcher, payload).await,
            (Some(queue), None) => inner.enqueue(queue, payload).await,
            (None, _) => match inner.deliver(&payload, FailureFate::ReturnedToCaller).await {
                Ok(()) => Ok(()),
                Err(error) => Err(Returned { error, payload }),
            },
        }
    }
}

#[async_trait]
impl<S: Sender> Lifecycle for QueuedExporter<S> {
    async fn start(&self, host: &Host) -> Result<(), ComponentError> {
        self.inner.sender.start(host).await?;
        if self.inner.queue.is_some() {
            let mut workers = self.workers.lock().expect("workers lock");
            if workers.is_empty() {
                for _ in 0..self.inner.num_consumers {
                    workers.spawn(Arc::clone(&self.inner).work());
                }
            }
            if self.inner.batcher.is_some() {
                let mut flusher = self.batch_flusher.lock().expect("batch flusher lock");
                if flusher.is_none() {
                    *flusher = Some(tokio::spawn(Arc::clone(&self.inner).flush_batches()));
                }
            }
        }
        Ok(())
    }

    /// Refuses new data, queues the pending batch, lets the workers drain the queue until
    /// `deadline`, then stops them and reports the items that were not delivered.
    async fn shutdown(&self, deadline: tokio::time::Instant) -> Result<(), ComponentError> {
        let inner = &self.inner;
        inner.accepting.store(false, Ordering::SeqCst);
        let mut undelivered = 0;
        if let Some(batcher) = &inner.batcher {
            batcher.close();
            let flusher = self
                .batch_flusher
                .lock()
                .expect("batch flusher lock")
                .take();
            if let Some(mut flusher) = flusher
                && tokio::time::timeout_at(deadline, &mut flusher)
                    .await
                    .is_err()
            {
                flusher.abort();
                // Wait for the abort to land so the held count below is final.
                let _ = flusher.await;
            }
            undelivered += batcher.held_items();
        }
        if let Some(queue) = &inner.queue {
            queue.close();
            let mut workers = std::mem::take(&mut *self.workers.lock().expect("workers lock"));
            let drained = tokio::time::timeout_at(deadline, async {
                while workers.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                workers.shutdown().await;
            }
            undelivered +=
                queue.discard_remaining().await + inner.in_flight_items.swap(0, Ordering::SeqCst);
        }
        inner.sender.shutdown().await;
        if undelivered == 0 {
            return Ok(());
        }
        inner.telemetry.send_failed(undelivered);
        tracing::error!(
            exporter = %inner.id,
            items = undelivered,
            "shutdown deadline reached; dropping data that was not delivered"
        );
        Err(ComponentError::Failed(format!(
            "exporter {}: {undelivered} items were not delivered before the shutdown deadline",
            inner.id
        )))
    }
}

impl<S: Sender> Exporter for QueuedExporter<S> {}
