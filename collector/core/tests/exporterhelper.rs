//! The exporter helper against a scripted destination: retries and their timing, giving up,
//! permanent errors, the bounded queue with and without blocking, and shutdown.

use async_trait::async_trait;
use cormorant_core::exporterhelper::{
    QueueSetting, QueueSizer, QueuedExporter, QueuedExporterSettings, RetrySetting, SendError,
    SendOutcome, Sender, TimeoutSetting,
};
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::{ComponentId, ConsumeError, Consumer, Host, Lifecycle, Payload, Signal};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

/// What one attempt does before the default (accept, after the gate if any).
enum Step {
    Fail(SendError),
    /// Takes this long, then accepts.
    Stall(Duration),
}

struct ScriptedSender {
    steps: Mutex<VecDeque<Step>>,
    /// When set, every accepting attempt first takes a permit: lets a test hold the workers.
    gate: Option<Arc<Semaphore>>,
    outcome: SendOutcome,
    attempts: watch::Sender<usize>,
    attempt_times: Mutex<Vec<Instant>>,
    delivered: Mutex<Vec<Payload>>,
}

impl ScriptedSender {
    fn new(steps: Vec<Step>) -> Self {
        ScriptedSender {
            steps: Mutex::new(steps.into()),
            gate: None,
            outcome: SendOutcome::accepted(),
            attempts: watch::channel(0).0,
            attempt_times: Mutex::new(Vec::new()),
            delivered: Mutex::new(Vec::new()),
        }
    }

    fn gated(gate: &Arc<Semaphore>) -> Self {
        ScriptedSender {
            gate: Some(Arc::clone(gate)),
            ..ScriptedSender::new(Vec::new())
        }
    }

    fn gaps(&self) -> Vec<Duration> {
        let times = self.attempt_times.lock().unwrap();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn delivered_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .delivered
            .lock()
            .unwrap()
            .iter()
            .flat_map(span_names)
            .collect();
        names.sort();
        names
    }

    async fn wait_for_attempts(&self, count: usize) {
        let mut attempts = self.attempts.subscribe();
        attempts.wait_for(|n| *n >= count).await.unwrap();
    }
}

#[async_trait]
impl Sender for ScriptedSender {
    async fn send(&self, payload: &Payload) -> Result<SendOutcome, SendError> {
        self.attempt_times.lock().unwrap().push(Instant::now());
        self.attempts.send_modify(|n| *n += 1);
        let step = self.steps.lock().unwrap().pop_front();
        match step {
            Some(Step::Fail(error)) => return Err(error),
            Some(Step::Stall(duration)) => tokio::time::sleep(duration).await,
            None => {}
        }
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        self.delivered.lock().unwrap().push(payload.clone());
        Ok(self.outcome.clone())
    }
}

fn span_names(payload: &Payload) -> Vec<String> {
    let Payload::Traces(resource_spans) = payload else {
        panic!("expected traces");
    };
    resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
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

fn fast_retry() -> RetrySetting {
    RetrySetting {
        initial_interval: Duration::from_millis(100),
        max_interval: Duration::from_millis(300),
        max_elapsed_time: Duration::from_secs(10),
        multiplier: 2.0,
        randomization_factor: 0.0,
        ..RetrySetting::default()
    }
}

fn inline(retry: RetrySetting) -> QueuedExporterSettings {
    QueuedExporterSettings {
        retry_on_failure: retry,
        sending_queue: QueueSetting {
            enabled: false,
            ..QueueSetting::default()
        },
        ..QueuedExporterSettings::default()
    }
}

fn queued(queue: QueueSetting) -> QueuedExporterSettings {
    QueuedExporterSettings {
        retry_on_failure: fast_retry(),
        sending_queue: queue,
        ..QueuedExporterSettings::default()
    }
}

fn new_exporter(
    id: &str,
    settings: QueuedExporterSettings,
    sender: ScriptedSender,
) -> QueuedExporter<ScriptedSender> {
    QueuedExporter::new(&ComponentId::new(id), Signal::Traces, settings, sender)
}

/// A self-metric of one exporter, read from the process registry.
fn metric(name: &str, exporter: &str) -> f64 {
    cormorant_core::telemetry::registry()
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "exporter" && l.value() == exporter)
        })
        .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
        .sum()
}

fn unavailable() -> SendError {
    SendError::retryable("destination unavailable")
}

#[tokio::test(start_paused = true)]
async fn retries_follow_exponential_backoff_up_to_max_interval() {
    let sender = ScriptedSender::new(vec![
        Step::Fail(unavailable()),
        Step::Fail(unavailable()),
        Step::Fail(unavailable()),
        Step::Fail(unavailable()),
    ]);
    let exporter = new_exporter("backoff_timing", inline(fast_retry()), sender);
    exporter.consume(spans("a", 2)).await.unwrap();

    let ms: Vec<u128> = exporter
        .sender()
        .gaps()
        .iter()
        .map(Duration::as_millis)
        .collect();
    assert_eq!(ms, [100, 200, 300, 300]);
    assert_eq!(exporter.sender().delivered_names(), ["a-0", "a-1"]);
    assert_eq!(metric("otelcol_exporter_sent_spans", "backoff_timing"), 2.0);
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "backoff_timing"),
        0.0
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_from_the_destination_is_a_minimum_wait() {
    let throttled = SendError::Retryable {
        message: "slow down".into(),
        retry_after: Some(Duration::from_secs(2)),
    };
    let sender = ScriptedSender::new(vec![Step::Fail(throttled)]);
    let exporter = new_exporter("retry_after", inline(fast_retry()), sender);
    exporter.consume(spans("a", 1)).await.unwrap();
    assert_eq!(exporter.sender().gaps(), [Duration::from_secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_elapsed_time_and_counts_the_items() {
    let retry = RetrySetting {
        max_elapsed_time: Duration::from_secs(1),
        multiplier: 1.0,
        ..fast_retry()
    };
    let failures = (0..100).map(|_| Step::Fail(unavailable())).collect();
    let exporter = new_exporter("give_up", inline(retry), ScriptedSender::new(failures));
    let started = Instant::now();
    let error = exporter.consume(spans("a", 3)).await.unwrap_err();

    assert!(
        started.elapsed() <= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(*exporter.sender().attempts.borrow(), 11);
    let ConsumeError::Refused { message, .. } = error else {
        panic!("expected a retryable refusal, got {error:?}");
    };
    assert!(message.contains("max_elapsed_time"), "{message}");
    assert!(message.contains("destination unavailable"), "{message}");
    assert_eq!(metric("otelcol_exporter_send_failed_spans", "give_up"), 3.0);
    assert!(exporter.sender().delivered_names().is_empty());
}

#[tokio::test(start_paused = true)]
async fn disabled_retry_makes_one_attempt() {
    let retry = RetrySetting {
        enabled: false,
        ..fast_retry()
    };
    let sender = ScriptedSender::new(vec![Step::Fail(unavailable())]);
    let exporter = new_exporter("no_retry", inline(retry), sender);
    let error = exporter.consume(spans("a", 1)).await.unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(*exporter.sender().attempts.borrow(), 1);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let sender = ScriptedSender::new(vec![Step::Fail(SendError::permanent("bad data"))]);
    let exporter = new_exporter("permanent_inline", inline(fast_retry()), sender);
    let error = exporter.consume(spans("a", 4)).await.unwrap_err();
    assert_eq!(error, ConsumeError::permanent("bad data", 4));
    assert_eq!(*exporter.sender().attempts.borrow(), 1);
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "permanent_inline"),
        4.0
    );

    let sender = ScriptedSender::new(vec![Step::Fail(SendError::permanent("bad data"))]);
    let exporter = new_exporter("permanent_queued", queued(QueueSetting::default()), sender);
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(spans("b", 2)).await.unwrap();
    exporter.consume(spans("c", 1)).await.unwrap();
    exporter
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(*exporter.sender().attempts.borrow(), 2);
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "permanent_queued"),
        2.0
    );
    assert_eq!(
        metric("otelcol_exporter_sent_spans", "permanent_queued"),
        1.0
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_times_out_and_is_retried() {
    let settings = QueuedExporterSettings {
        timeout: TimeoutSetting(Duration::from_millis(50)),
        ..inline(fast_retry())
    };
    let sender = ScriptedSender::new(vec![Step::Stall(Duration::from_secs(60))]);
    let exporter = new_exporter("timeout", settings, sender);
    let started = Instant::now();
    exporter.consume(spans("a", 1)).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(150));
    assert_eq!(*exporter.sender().attempts.borrow(), 2);
    assert_eq!(exporter.sender().delivered_names(), ["a-0"]);
}

#[tokio::test(start_paused = true)]
async fn partial_success_counts_rejected_items_as_failed() {
    let sender = ScriptedSender {
        outcome: SendOutcome::partially_rejected(1, "one span too old"),
        ..ScriptedSender::new(Vec::new())
    };
    let exporter = new_exporter("partial", inline(fast_retry()), sender);
    exporter.consume(spans("a", 3)).await.unwrap();
    assert_eq!(*exporter.sender().attempts.borrow(), 1);
    assert_eq!(metric("otelcol_exporter_sent_spans", "partial"), 2.0);
    assert_eq!(metric("otelcol_exporter_send_failed_spans", "partial"), 1.0);
}

fn one_worker(queue_size: usize) -> QueueSetting {
    QueueSetting {
        num_consumers: 1,
        queue_size,
        ..QueueSetting::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_and_loses_nothing() {
    let gate = Arc::new(Semaphore::new(0));
    let exporter = new_exporter(
        "queue_full",
        queued(one_worker(2)),
        ScriptedSender::gated(&gate),
    );
    exporter.start(&Host::default()).await.unwrap();
    assert_eq!(metric("otelcol_exporter_queue_capacity", "queue_full"), 2.0);

    exporter.consume(spans("a", 1)).await.unwrap();
    exporter.sender().wait_for_attempts(1).await;
    exporter.consume(spans("b", 1)).await.unwrap();
    exporter.consume(spans("c", 1)).await.unwrap();
    assert_eq!(metric("otelcol_exporter_queue_size", "queue_full"), 2.0);

    let refused = exporter.consume(spans("d", 5)).await.unwrap_err();
    assert!(refused.is_retryable(), "{refused:?}");
    assert!(refused.to_string().contains("queue"), "{refused}");
    assert_eq!(
        metric("otelcol_exporter_enqueue_failed_spans", "queue_full"),
        5.0
    );

    gate.add_permits(usize::MAX >> 4);
    // The client retries the refused payload, as it would after a 503.
    while exporter.consume(spans("d", 5)).await.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    exporter
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    let expected = ["a-0", "b-0", "c-0", "d-0", "d-1", "d-2", "d-3", "d-4"];
    assert_eq!(exporter.sender().delivered_names(), expected);
    assert_eq!(metric("otelcol_exporter_sent_spans", "queue_full"), 8.0);
    assert_eq!(metric("otelcol_exporter_queue_size", "queue_full"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_retrying_refusals_deliver_everything_once() {
    let sender = ScriptedSender::new(
        (0..40)
            .map(|i| {
                if i % 3 == 0 {
                    Step::Fail(unavailable())
                } else {
                    Step::Stall(Duration::from_millis(1))
                }
            })
            .collect(),
    );
    let settings = QueuedExporterSettings {
        retry_on_failure: RetrySetting {
            initial_interval: Duration::from_millis(1),
            max_interval: Duration::from_millis(5),
            ..fast_retry()
        },
        sending_queue: QueueSetting {
            num_consumers: 3,
            queue_size: 4,
            ..QueueSetting::default()
        },
        ..QueuedExporterSettings::default()
    };
    let exporter = Arc::new(new_exporter("concurrent", settings, sender));
    exporter.start(&Host::default()).await.unwrap();
    let mut producers = Vec::new();
    for producer in 0..8 {
        let exporter = Arc::clone(&exporter);
        producers.push(tokio::spawn(async move {
            let mut refusals = 0;
            for batch in 0..10 {
                let payload = spans(&format!("p{producer}b{batch}"), 2);
                while exporter.consume(payload.clone()).await.is_err() {
                    refusals += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            refusals
        }));
    }
    let mut refusals = 0;
    for producer in producers {
        refusals += producer.await.unwrap();
    }
    exporter
        .shutdown(Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();

    let delivered = exporter.sender().delivered_names();
    assert_eq!(delivered.len(), 160);
    let unique: std::collections::BTreeSet<_> = delivered.iter().collect();
    assert_eq!(unique.len(), 160, "a payload was delivered twice");
    assert_eq!(metric("otelcol_exporter_sent_spans", "concurrent"), 160.0);
    assert_eq!(
        metric("otelcol_exporter_enqueue_failed_spans", "concurrent"),
        f64::from(refusals * 2)
    );
}

#[tokio::test(start_paused = true)]
async fn block_on_overflow_waits_for_room() {
    let gate = Arc::new(Semaphore::new(0));
    let queue = QueueSetting {
        block_on_overflow: true,
        ..one_worker(1)
    };
    let exporter = Arc::new(new_exporter(
        "blocking",
        queued(queue),
        ScriptedSender::gated(&gate),
    ));
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(spans("a", 1)).await.unwrap();
    exporter.sender().wait_for_attempts(1).await;
    exporter.consume(spans("b", 1)).await.unwrap();

    let blocked = tokio::spawn({
        let exporter = Arc::clone(&exporter);
        async move { exporter.consume(spans("c", 1)).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !blocked.is_finished(),
        "consume returned although the queue was full"
    );
    assert_eq!(
        metric("otelcol_exporter_enqueue_failed_spans", "blocking"),
        0.0
    );

    gate.add_permits(3);
    blocked.await.unwrap().unwrap();
    exporter
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(exporter.sender().delivered_names(), ["a-0", "b-0", "c-0"]);
}

#[tokio::test(start_paused = true)]
async fn items_sizer_counts_spans_and_admits_an_oversized_payload_when_empty() {
    let gate = Arc::new(Semaphore::new(0));
    let queue = QueueSetting {
        sizer: QueueSizer::Items,
        ..one_worker(5)
    };
    let exporter = new_exporter("items_sizer", queued(queue), ScriptedSender::gated(&gate));
    exporter.start(&Host::default()).await.unwrap();
    exporter.consume(spans("a", 3)).await.unwrap();
    exporter.sender().wait_for_attempts(1).await;
    exporter.consume(spans("b", 3)).await.unwrap();
    assert_eq!(metric("otelcol_exporter_queue_size", "items_sizer"), 3.0);
    assert!(exporter.consume(spans("c", 3)).await.is_err());
    exporter.consume(spans("d", 2)).await.unwrap();

    gate.add_permits(2);
    exporter.sender().wait_for_attempts(3).await;
    exporter.consume(spans("big", 10)).await.unwrap();
    gate.add_permits(2);
    exporter
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(exporter.sender().delivered_names().len(), 18);
}

#[tokio::test(start_paused = true)]
async fn wait_for_result_returns_the_delivery_outcome() {
    let sender = ScriptedSender::new(vec![Step::Fail(SendError::permanent("schema mismatch"))]);
    let queue = QueueSetting {
        wait_for_result: true,
        ..one_worker(10)
    };
    let exporter = new_exporter("wait_for_result", queued(queue), sender);
    exporter.start(&Host::default()).await.unwrap();
    let error = exporter.consume(spans("a", 2)).await.unwrap_err();
    assert_eq!(error, ConsumeError::permanent("schema mismatch", 2));
    exporter.consume(spans("b", 1)).await.unwrap();
    assert_eq!(exporter.sender().delivered_names(), ["b-0"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_the_queue_then_refuses() {
    let steps = (0..5)
        .map(|_| Step::Stall(Duration::from_millis(100)))
        .collect();
    let exporter = new_exporter("drain", queued(one_worker(10)), ScriptedSender::new(steps));
    exporter.start(&Host::default()).await.unwrap();
    for tag in ["a", "b", "c", "d", "e"] {
        exporter.consume(spans(tag, 1)).await.unwrap();
    }
    let started = Instant::now();
    exporter
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    assert_eq!(exporter.sender().delivered_names().len(), 5);

    let refused = exporter.consume(spans("late", 1)).await.unwrap_err();
    assert!(refused.is_retryable());
    assert!(refused.to_string().contains("shutting down"), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_deadline_reports_undelivered_items() {
    let gate = Arc::new(Semaphore::new(0));
    let exporter = new_exporter(
        "leftovers",
        queued(one_worker(10)),
        ScriptedSender::gated(&gate),
    );
    exporter.start(&Host::default()).await.unwrap();
    for tag in ["a", "b", "c"] {
        exporter.consume(spans(tag, 2)).await.unwrap();
    }
    exporter.sender().wait_for_attempts(1).await;
    let started = Instant::now();
    let error = exporter
        .shutdown(Instant::now() + Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert!(
        error.to_string().contains("6 items were not delivered"),
        "{error}"
    );
    assert_eq!(
        metric("otelcol_exporter_send_failed_spans", "leftovers"),
        6.0
    );
    assert_eq!(metric("otelcol_exporter_queue_size", "leftovers"), 0.0);
    assert!(exporter.sender().delivered_names().is_empty());
}
