//! `sending_queue::batch` against a recording destination: the size and timeout triggers, the
//! `max_size` split, the bounded pending batch, and shutdown.

use async_trait::async_trait;
use cormorant_core::exporterhelper::{
    BatchSetting, QueueSetting, QueuedExporter, QueuedExporterSettings, SendError, SendOutcome,
    Sender,
};
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::{ComponentId, Consumer, Host, Lifecycle, Payload, Signal};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep};

/// Records each request it receives, in order; with a gate, each request first takes a permit.
struct RecordingSender {
    gate: Option<Arc<Semaphore>>,
    requests: Mutex<Vec<(Instant, Vec<String>)>>,
    delivered: watch::Sender<usize>,
}

impl RecordingSender {
    fn new(gate: Option<&Arc<Semaphore>>) -> Self {
        RecordingSender {
            gate: gate.map(Arc::clone),
            requests: Mutex::new(Vec::new()),
            delivered: watch::channel(0).0,
        }
    }

    fn requests(&self) -> Vec<Vec<String>> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|(_, names)| names.clone()).collect()
    }

    fn request_times(&self) -> Vec<Instant> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|(at, _)| *at).collect()
    }

    async fn wait_for_requests(&self, count: usize) {
        let mut delivered = self.delivered.subscribe();
        delivered.wait_for(|n| *n >= count).await.unwrap();
    }
}

#[async_trait]
impl Sender for RecordingSender {
    async fn send(&self, payload: &Payload) -> Result<SendOutcome, SendError> {
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        let Payload::Traces(resource_spans) = payload else {
            return Err(SendError::permanent("expected traces"));
        };
        let names = resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect();
        self.requests.lock().unwrap().push((Instant::now(), names));
        self.delivered.send_modify(|n| *n += 1);
        Ok(SendOutcome::accepted())
    }
}

fn spans(tag: &str, count: usize) -> Payload {
    Payload::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: (0..count)
                .map(|i| Span {
                    name: format!("{tag}-{i}"),
                    ..Span::default()
                })
                .collect(),
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }])
}

fn names(tag: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{tag}-{i}")).collect()
}

/// One worker, so requests reach the destination in the order they were queued.
fn batching(
    id: &str,
    queue_size: usize,
    batch: BatchSetting,
    sender: RecordingSender,
) -> QueuedExporter<RecordingSender> {
    let settings = QueuedExporterSettings {
        sending_queue: QueueSetting {
            num_consumers: 1,
            queue_size,
            batch: Some(batch),
            ..QueueSetting::default()
        },
        ..QueuedExporterSettings::default()
    };
    settings.sending_queue.validate().unwrap();
    QueuedExporter::new(&ComponentId::new(id), Signal::Traces, settings, sender)
}

fn batch(min_size: usize, max_size: usize, flush_timeout: Duration) -> BatchSetting {
    BatchSetting {
        min_size,
        max_size,
        flush_timeout,
        ..BatchSetting::default()
    }
}

/// Lets the background tasks run; paused time moves only by this much.
async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn reaching_min_size_queues_the_batch_at_once() {
    let exporter = batching(
        "batch_min_size",
        10,
        batch(5, 0, Duration::from_secs(10)),
        RecordingSender::new(None),
    );
    exporter.start(&Host::default()).await.unwrap();
    let started = Instant::now();
    exporter.consume(spans("a", 3)).await.unwrap();
    settle().await;
    assert!(exporter.sender().requests().is_empty());

    exporter.consume(spans("b", 2)).await.unwrap();
    exporter.sender().wait_for_requests(1).await;
    assert!(started.elapsed() < Duration::from_millis(100));
    let mut expected = names("a", 0..3);
    expected.extend(names("b", 0..2));
    assert_eq!(exporter.sender().requests(), [expected]);
    exporter
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn flush_timeout_queues_a_small_batch() {
    let exporter = batching(
        "batch_timeout",
        10,
        batch(100, 0, Duration::from_millis(200)),
        RecordingSender::new(None),
    );
    exporter.start(&Host::default()).await.unwrap();
    let started = Instant::now();
    exporter.consume(spans("a", 2)).await.unwrap();
    sleep(Duration::from_millis(50)).await;
    exporter.consume(spans("b", 1)).await.unwrap();
    exporter.sender().wait_for_requests(1).await;
    // Counted from the first item, not the last.
    assert_eq!(
        exporter.sender().request_times()[0] - started,
        Duration::from_millis(200)
    );
    let mut expected = names("a", 0..2);
    expected.extend(names("b", 0..1));
    assert_eq!(exporter.sender().requests(), [expected]);
    exporter
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn max_size_splits_into_ordered_requests_and_keeps_a_small_remainder() {
    let exporter = batching(
        "batch_split",
        10,
        batch(4, 4, Duration::from_millis(500)),
        RecordingSender::new(None),
    );
    exporter.start(&Host::default()).await.unwrap();
    let started = Instant::now();
    exporter.consume(spans("a", 10)).await.unwrap();
    exporter.sender().wait_for_requests(2).await;
    assert_eq!(
        exporter.sender().requests(),
        [names("a", 0..4), names("a", 4..8)]
    );
    assert!(started.elapsed() < Duration::from_millis(100));

    // The remainder is below min_size and waits for the timeout of its oldest item.
    exporter.sender().wait_for_requests(3).await;
    assert_eq!(exporter.sender().requests()[2], names("a", 8..10));
    assert_eq!(
        exporter.sender().request_times()[2] - started,
        Duration::from_millis(500)
    );
    exporter
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_and_pending_limit_refuse_and_return_the_payload_untouched() {
    let gate = Arc::new(Semaphore::new(0));
    let setting = batch(2, 2, Duration::from_secs(10));
    assert_eq!(setting.pending_limit(), 4);
    let exporter = batching("batch_full", 1, setting, RecordingSender::new(Some(&gate)));
    exporter.start(&Host::default()).await.unwrap();
    // The worker holds the first request, the queue the second, the flusher waits with the third
    // and the fourth is pending: four items held, the limit.
    for tag in ["a", "b", "c", "d"] {
        exporter.consume(spans(tag, 2)).await.unwrap();
        settle().await;
    }
    let offered = spans("e", 3);
    let returned = exporter
        .consume_or_return(offered.clone())
        .await
        .unwrap_err();
    assert!(returned.error.is_retryable(), "{:?}", returned.error);
    assert!(
        returned.error.to_string().contains("pending batch holds 4"),
        "{}",
        returned.error
    );
    assert_eq!(returned.payload, offered);

    gate.add_permits(usize::MAX >> 4);
    exporter.sender().wait_for_requests(4).await;
    exporter.consume(returned.payload).await.unwrap();
    exporter
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
    let requests = exporter.sender().requests();
    let delivered: Vec<String> = requests.iter().flatten().cloned().collect();
    let mut expected = Vec::new();
    for tag in ["a", "b", "c", "d"] {
        expected.extend(names(tag, 0..2));
    }
    expected.extend(names("e", 0..3));
    assert_eq!(delivered, expected);
    assert!(requests.iter().all(|request| request.len() <= 2));
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_the_pending_batch_then_refuses() {
    let exporter = batching(
        "batch_shutdown",
        10,
        batch(100, 0, Duration::from_secs(10)),
        RecordingSender::new(None),
    );
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(spans("a", 3)).await.unwrap();
    let started = Instant::now();
    exporter
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(exporter.sender().requests(), [names("a", 0..3)]);

    let refused = exporter.consume(spans("late", 1)).await.unwrap_err();
    assert!(refused.is_retryable());
    assert!(refused.to_string().contains("shutting down"), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_deadline_reports_pending_queued_and_in_flight_items() {
    let gate = Arc::new(Semaphore::new(0));
    let exporter = batching(
        "batch_leftovers",
        1,
        batch(2, 0, Duration::from_secs(10)),
        RecordingSender::new(Some(&gate)),
    );
    exporter.start(&Host::default()).await.unwrap();
    for (tag, count) in [("a", 2), ("b", 2), ("c", 1)] {
        exporter.consume(spans(tag, count)).await.unwrap();
        settle().await;
    }
    let started = Instant::now();
    let error = exporter
        .shutdown(Instant::now() + Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert!(
        error.to_string().contains("5 items were not delivered"),
        "{error}"
    );
    assert!(exporter.sender().requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_burst_faster_than_the_flusher_is_accepted_while_the_queue_has_room() {
    let exporter = batching(
        "batch_burst",
        1000,
        batch(2, 2, Duration::from_secs(10)),
        RecordingSender::new(None),
    );
    exporter.start(&Host::default()).await.unwrap();
    // Nothing in between yields to the flusher, so the pending limit (4 items) is reached at the
    // third payload; the queue has room, so `consume` waits for the flusher instead of refusing.
    for burst in 0..50 {
        exporter
            .consume(spans(&format!("p{burst}"), 2))
            .await
            .unwrap();
    }
    exporter
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();
    let requests = exporter.sender().requests();
    let expected: Vec<Vec<String>> = (0..50).map(|b| names(&format!("p{b}"), 0..2)).collect();
    assert_eq!(requests, expected);
}
