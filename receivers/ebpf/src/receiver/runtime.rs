//! The receiver instance: loads the tracer on start, runs the event task, ships spans and
//! metrics, and detaches everything on shutdown.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use cormorant_core::telemetry::ReceiverTelemetry;
use cormorant_core::{
    ComponentError, ComponentId, ConsumeError, Host, Lifecycle, Payload, Receiver,
    ReceiverConsumers, SharedConsumer, Signal,
};
use cormorant_ebpf::{
    EventError, EventStream, SocketTracer, TracerConfig, TracerEvent, monotonic_to_unix_nanos,
};
use futures::{Stream, StreamExt};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::capture::Capture;
use super::config::EbpfReceiverConfig;
use super::telemetry::EbpfTelemetry;

/// Spans are shipped at least this often...
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// ...or as soon as this many are waiting.
const FLUSH_SPANS: usize = 512;
/// Events handled per wakeup of the event task before the timers get a look: reading what
/// the ring buffer holds in one go spares a pass through `select!` (the stop signal and three
/// timers) per event, while the bound keeps a flood from delaying the span flush.
const MAX_BATCH: usize = 1024;
/// Request timeouts, idle sockets and the lost-events counter are checked this often.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);
/// Payloads queued per signal between the event task and the pipeline. The event task
/// never waits on the pipeline: when the queue is full the payload is dropped and counted.
const OUTPUT_QUEUE: usize = 16;
/// Attempts at delivering one payload the pipeline refuses, with doubling pauses.
const DELIVERY_ATTEMPTS: u32 = 4;
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause honoured from a refusal's retry hint: the queue behind it keeps filling.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// One `ebpf` receiver: one tracer shared by the traces and metrics pipelines naming it.
pub struct EbpfReceiver {
    id: ComponentId,
    config: Arc<EbpfReceiverConfig>,
    consumers: ReceiverConsumers,
    running: Mutex<Option<Running>>,
}

struct Running {
    stop: watch::Sender<bool>,
    events: JoinHandle<()>,
    outputs: Vec<JoinHandle<()>>,
}

impl EbpfReceiver {
    pub fn new(id: ComponentId, config: EbpfReceiverConfig, consumers: ReceiverConsumers) -> Self {
        let mut config = config;
        // A signal no pipeline takes is not worth building.
        config.spans.enabled &= consumers.traces.is_some();
        config.metrics.enabled &= consumers.metrics.is_some();
        EbpfReceiver {
            id,
            config: Arc::new(config),
            consumers,
            running: Mutex::new(None),
        }
    }

    /// Whether the tracer is loaded and events are being read.
    pub async fn is_capturing(&self) -> bool {
        self.running.lock().await.is_some()
    }

    fn load(&self) -> Result<(SocketTracer, EventStream), String> {
        let mut tracer = SocketTracer::load(&TracerConfig {
            payload_bytes: self.config.payload_bytes,
            ring_buffer_bytes: self.config.ring_buffer_size,
            excluded_pid: std::process::id(),
            filters: self.config.kernel_filters(),
        })
        .map_err(|error| error.to_string())?;
        let events = tracer.events().map_err(|error| error.to_string())?;
        Ok((tracer, events))
    }
}

#[async_trait]
impl Lifecycle for EbpfReceiver {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Err(ComponentError::Failed(format!(
                "{} already started",
                self.id
            )));
        }
        let (tracer, events) = match self.load() {
            Ok(loaded) => loaded,
            Err(cause) if self.config.optional => {
                tracing::warn!(
                    receiver = %self.id,
                    "eBPF capture disabled (optional: true): {cause}"
                );
                return Ok(());
            }
            Err(cause) => {
                return Err(ComponentError::Failed(format!(
                    "cannot load the eBPF socket tracer: {cause} (set `optional: true` on the \
                     receiver to run the collector without eBPF capture)"
                )));
            }
        };
        let receiver_telemetry = ReceiverTelemetry::new(&self.id, "ebpf");
        let mut outputs = Vec::new();
        let mut output = |consumer: Option<&SharedConsumer>, signal: Signal| {
            consumer.map(|consumer| {
                let (sender, handle) =
                    spawn_output(consumer.clone(), signal, receiver_telemetry.clone());
                outputs.push(handle);
                sender
            })
        };
        let traces = output(self.consumers.traces.as_ref(), Signal::Traces);
        let metrics = output(self.consumers.metrics.as_ref(), Signal::Metrics);
        let (stop, stopped) = watch::channel(false);
        let capture = Capture::new(
            self.config.clone(),
            EbpfTelemetry::new(&self.id),
            monotonic_to_unix_nanos,
        );
        let task = EventTask {
            id: self.id.clone(),
            capture,
            tracer,
            telemetry: EbpfTelemetry::new(&self.id),
            receiver_telemetry,
            traces,
            metrics,
            metrics_interval: self.config.metrics.interval,
            lost_seen: 0,
        };
        let events = tokio::spawn(task.run(events, stopped));
        tracing::info!(receiver = %self.id, "eBPF socket tracer attached");
        *running = Some(Running {
            stop,
            events,
            outputs,
        });
        Ok(())
    }

    async fn shutdown(&self, deadline: Instant) -> Result<(), ComponentError> {
        let Some(running) = self.running.lock().await.take() else {
            return Ok(());
        };
        let _ = running.stop.send(true);
        let mut unfinished = Vec::new();
        let events = running.events;
        if tokio::time::timeout_at(deadline, events).await.is_err() {
            unfinished.push("event task");
        }
        // The event task owned the output queues' senders: the outputs end once drained.
        for output in running.outputs {
            let abort = output.abort_handle();
            if tokio::time::timeout_at(deadline, output).await.is_err() {
                abort.abort();
                unfinished.push("pipeline delivery");
            }
        }
        if unfinished.is_empty() {
            Ok(())
        } else {
            Err(ComponentError::Failed(format!(
                "{} did not finish before the shutdown deadline: {}",
                self.id,
                unfinished.join(", ")
            )))
        }
    }
}

impl Receiver for EbpfReceiver {}

/// The task reading the ring buffer. It owns the tracer, so ending it detaches the programs.
struct EventTask {
    id: ComponentId,
    capture: Capture,
    tracer: SocketTracer,
    telemetry: EbpfTelemetry,
    receiver_telemetry: ReceiverTelemetry,
    traces: Option<mpsc::Sender<Payload>>,
    metrics: Option<mpsc::Sender<Payload>>,
    metrics_interval: Duration,
    /// The tracer's lost-events total already added to the counter.
    lost_seen: u64,
}

impl EventTask {
    async fn run(mut self, mut events: EventStream, mut stopped: watch::Receiver<bool>) {
        let mut flush = tokio::time::interval(FLUSH_INTERVAL);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        let mut metrics = tokio::time::interval_at(
            Instant::now() + self.metrics_interval,
            self.metrics_interval,
        );
        for timer in [&mut flush, &mut housekeeping, &mut metrics] {
            timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            tokio::select! {
                // Timers before events: under a steady event flow they would starve.
                biased;
                _ = stopped.changed() => break,
                _ = flush.tick() => self.ship_spans(),
                _ = metrics.tick(), if self.metrics.is_some() => self.ship_metrics(),
                _ = housekeeping.tick() => self.housekeeping(),
                open = read_batch(&mut events, &mut batch) => {
                    let behind = batch.len() == MAX_BATCH;
                    let failed = batch.drain(..).any(|event| !self.process(event));
                    if failed || !open {
                        break;
                    }
                    if behind {
                        // Reading the ring uses no coop budget, so while it stays full this
                        // task would never yield: the output tasks it just queued payloads
                        // for (often in this worker's LIFO slot, which is not stolen) would
                        // wait, and their queues would overflow.
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
        self.ship_spans();
        self.ship_metrics();
        drop(events);
        tracing::info!(receiver = %self.id, "eBPF socket tracer detached");
    }

    /// Handles one item of the event stream; false when the stream failed for good.
    fn process(&mut self, event: Result<TracerEvent, EventError>) -> bool {
        match event {
            Ok(TracerEvent::Socket(event)) => {
                self.capture.handle(event);
                if self.capture.pending_spans() >= FLUSH_SPANS {
                    self.ship_spans();
                }
            }
            Ok(TracerEvent::Process(event)) => self.capture.handle_process(event),
            Err(EventError::Decode(error)) => {
                tracing::debug!(receiver = %self.id, "skipped socket event: {error}");
            }
            Err(EventError::Io(error)) => {
                tracing::error!(receiver = %self.id, "eBPF ring buffer failed, capture stops: {error}");
                return false;
            }
        }
        true
    }

    fn housekeeping(&mut self) {
        self.capture.expire(monotonic_now_ns());
        match self.tracer.lost_events() {
            Ok(total) => {
                self.telemetry
                    .lost_events
                    .inc_by(total.saturating_sub(self.lost_seen));
                self.lost_seen = self.lost_seen.max(total);
            }
            Err(error) => tracing::debug!(receiver = %self.id, "lost events unreadable: {error}"),
        }
    }

    fn ship_spans(&mut self) {
        if self.capture.pending_spans() == 0 {
            return;
        }
        let payload = Payload::Traces(self.capture.take_spans());
        offer(self.traces.as_ref(), payload, &self.receiver_telemetry);
    }

    fn ship_metrics(&mut self) {
        if self.metrics.is_none() {
            return;
        }
        let resource_metrics = self.capture.collect_metrics();
        if resource_metrics.is_empty() {
            return;
        }
        offer(
            self.metrics.as_ref(),
            Payload::Metrics(resource_metrics),
            &self.receiver_telemetry,
        );
    }
}

/// Moves the events the stream has ready into `batch` (at most [`MAX_BATCH`]); waits when none
/// is ready. Resolves to false once the stream has ended.
async fn read_batch<S>(events: &mut S, batch: &mut Vec<S::Item>) -> bool
where
    S: Stream + Unpin,
{
    std::future::poll_fn(|cx| {
        while batch.len() < MAX_BATCH {
            match events.poll_next_unpin(cx) {
                Poll::Ready(Some(event)) => batch.push(event),
                Poll::Ready(None) => return Poll::Ready(false),
                Poll::Pending if batch.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready(true)
    })
    .await
}

/// Queues a payload for delivery without waiting; a full queue drops it (counted refused).
fn offer(queue: Option<&mpsc::Sender<Payload>>, payload: Payload, telemetry: &ReceiverTelemetry) {
    let Some(queue) = queue else {
        return;
    };
    if let Err(error) = queue.try_send(payload) {
        let payload = match error {
            mpsc::error::TrySendError::Full(payload)
            | mpsc::error::TrySendError::Closed(payload) => payload,
        };
        telemetry.refused(payload.signal(), payload.item_count());
        tracing::warn!(
            items = payload.item_count(),
            "eBPF {} dropped: the pipeline is not keeping up",
            payload.signal()
        );
    }
}

/// Delivers queued payloads to one pipeline, retrying refusals a few times.
fn spawn_output(
    consumer: SharedConsumer,
    signal: Signal,
    telemetry: ReceiverTelemetry,
) -> (mpsc::Sender<Payload>, JoinHandle<()>) {
    let (sender, mut receiver) = mpsc::channel::<Payload>(OUTPUT_QUEUE);
    let handle = tokio::spawn(async move {
        while let Some(payload) = receiver.recv().await {
            deliver(&consumer, signal, payload, &telemetry).await;
        }
    });
    (sender, handle)
}

async fn deliver(
    consumer: &SharedConsumer,
    signal: Signal,
    payload: Payload,
    telemetry: &ReceiverTelemetry,
) {
    let items = payload.item_count();
    let mut payload = payload;
    let mut pause = FIRST_RETRY_PAUSE;
    for attempt in 1..=DELIVERY_ATTEMPTS {
        match consumer.consume_or_return(payload).await {
            Ok(()) => {
                telemetry.accepted(signal, items);
                return;
            }
            Err(returned) => match returned.error {
                ConsumeError::Refused { retry_after, .. } if attempt < DELIVERY_ATTEMPTS => {
                    payload = returned.payload;
                    tokio::time::sleep(retry_after.unwrap_or(pause).min(MAX_RETRY_PAUSE)).await;
                    pause *= 2;
                }
                error => {
                    telemetry.refused(signal, items);
                    tracing::warn!(%signal, items, "eBPF data dropped by the pipeline: {error}");
                    return;
                }
            },
        }
    }
}

/// Now on the kernel's monotonic clock (what event timestamps use).
fn monotonic_now_ns() -> u64 {
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    unix_now.saturating_sub(monotonic_to_unix_nanos(0))
}

#[cfg(test)]
mod tests {
    use futures::channel::mpsc as channel;

    use super::*;

    #[tokio::test]
    async fn a_batch_takes_what_is_ready_up_to_the_bound() {
        let mut events = futures::stream::iter(0..2 * MAX_BATCH + 5);
        let mut batch = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let open = read_batch(&mut events, &mut batch).await;
            sizes.push((batch.len(), open));
            batch.clear();
            if !open {
                break;
            }
        }
        assert_eq!(
            sizes,
            [(MAX_BATCH, true), (MAX_BATCH, true), (5, false)],
            "an ended stream still hands over its last events"
        );
    }

    #[tokio::test]
    async fn a_batch_does_not_wait_for_more_than_is_ready() {
        let (sender, mut events) = channel::unbounded();
        for event in 0..3 {
            sender.unbounded_send(event).unwrap();
        }
        let mut batch = Vec::new();
        assert!(read_batch(&mut events, &mut batch).await);
        assert_eq!(batch, [0, 1, 2]);
        batch.clear();
        let pending = tokio::time::timeout(
            Duration::from_millis(50),
            read_batch(&mut events, &mut batch),
        );
        assert!(pending.await.is_err(), "nothing ready: the batch waits");
        drop(sender);
        assert!(!read_batch(&mut events, &mut batch).await);
        assert!(batch.is_empty());
    }
}
