//! What happens when the next consumer refuses: retries without loss or duplicates, a bounded
//! backlog that pushes back on the sender, permanent rejections, and shutdown.

use super::common::{Answer, Recorder, ReturningRecorder, metric, spans};
use super::{id, started};
use cormorant_core::{ComponentError, ComponentId, ConsumeError, Consumer, Lifecycle, Signal};
use cormorant_processor_batch::{BatchConfig, BatchProcessor};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep};

fn config(send_batch_size: usize, timeout: Duration) -> BatchConfig {
    BatchConfig {
        send_batch_size,
        timeout,
        ..BatchConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn refused_batches_are_retried_until_taken_without_loss_or_duplicates() {
    let recorder = Recorder::new();
    recorder.script(vec![Answer::Refuse, Answer::Refuse, Answer::Refuse]);
    let processor = started(
        "retry",
        config(50, Duration::from_millis(50)),
        Arc::new(recorder.clone()),
    )
    .await;

    for part in 0..5 {
        processor
            .consume(spans(part * 20..(part + 1) * 20))
            .await
            .unwrap();
        sleep(Duration::from_millis(30)).await;
    }
    recorder.wait_for_items(100, Duration::from_secs(30)).await;
    sleep(Duration::from_secs(1)).await;

    assert_eq!(recorder.all_ids(), (0..100).collect::<Vec<_>>());
    assert_eq!(
        recorder.attempts(),
        recorder.received().len() + 3,
        "each refusal is followed by exactly one retry of the same batch"
    );
    let id = id("retry");
    assert_eq!(
        metric("otelcol_processor_outgoing_items", &id),
        Some((100.0, 0.0))
    );
    assert_eq!(
        metric("otelcol_processor_incoming_items", &id),
        Some((100.0, 0.0))
    );
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially() {
    let recorder = Recorder::new();
    recorder.script(vec![Answer::Refuse; 4]);
    let processor = started(
        "backoff",
        config(10, Duration::from_secs(1)),
        Arc::new(recorder.clone()),
    )
    .await;
    let start = Instant::now();

    processor.consume(spans(0..10)).await.unwrap();
    recorder.wait_for_items(10, Duration::from_secs(10)).await;

    let waited = recorder.received()[0].at - start;
    let expected = Duration::from_millis(100 + 200 + 400 + 800);
    assert!(
        waited >= expected && waited < expected + Duration::from_millis(10),
        "four refusals wait 100+200+400+800ms, waited {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_hand_the_same_data_back_without_copying() {
    let inner = Recorder::new();
    inner.script(vec![Answer::Refuse, Answer::Refuse]);
    let next = ReturningRecorder(inner.clone());
    let processor = started(
        "no_copy",
        config(10, Duration::from_secs(1)),
        Arc::new(next),
    )
    .await;

    processor.consume(spans(0..10)).await.unwrap();
    inner.wait_for_items(10, Duration::from_secs(5)).await;

    let addresses = inner.attempt_addresses();
    assert_eq!(addresses.len(), 3);
    assert!(
        addresses.iter().all(|&a| a == addresses[0]),
        "every attempt must carry the original span list, not a copy: {addresses:?}"
    );
    assert_eq!(inner.all_ids(), (0..10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_full_backlog_refuses_upstream_until_it_drains() {
    let recorder = Recorder::new();
    recorder.refuse_all(true);
    let batch_config = config(100, Duration::from_millis(200));
    assert_eq!(batch_config.pending_limit(), 16384);
    let processor = started("backlog", batch_config, Arc::new(recorder.clone())).await;

    for part in 0..4 {
        processor
            .consume(spans(part * 4096..(part + 1) * 4096))
            .await
            .unwrap();
    }
    sleep(Duration::from_secs(1)).await;

    let fifth = spans(16384..20480);
    let returned = processor
        .consume_or_return(fifth.clone())
        .await
        .unwrap_err();
    assert!(returned.error.is_retryable(), "{:?}", returned.error);
    assert_eq!(
        returned.payload, fifth,
        "the refused data comes back intact"
    );
    let err = processor.consume(fifth.clone()).await.unwrap_err();
    match &err {
        ConsumeError::Refused { message, .. } => {
            assert!(message.contains("is full"), "{message}")
        }
        other => panic!("expected a retryable refusal, got {other:?}"),
    }

    recorder.refuse_all(false);
    recorder
        .wait_for_items(16384, Duration::from_secs(30))
        .await;
    processor.consume(fifth).await.unwrap();
    recorder
        .wait_for_items(20480, Duration::from_secs(30))
        .await;
    assert_eq!(recorder.all_ids(), (0..20480).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_permanent_rejection_drops_only_that_batch() {
    let recorder = Recorder::new();
    recorder.script(vec![Answer::RejectPermanently]);
    let processor = started(
        "permanent",
        config(10, Duration::from_secs(1)),
        Arc::new(recorder.clone()),
    )
    .await;

    processor.consume(spans(0..10)).await.unwrap();
    while recorder.attempts() == 0 {
        sleep(Duration::from_millis(1)).await;
    }
    processor.consume(spans(10..20)).await.unwrap();
    recorder.wait_for_items(10, Duration::from_secs(5)).await;

    assert_eq!(recorder.all_ids(), (10..20).collect::<Vec<_>>());
    assert_eq!(
        recorder.attempts(),
        2,
        "a permanent rejection is not retried"
    );
    assert_eq!(
        metric("otelcol_processor_batch_dropped_items", &id("permanent")),
        Some((10.0, 0.0))
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_sends_what_is_pending_and_then_refuses() {
    let recorder = Recorder::new();
    let processor = started(
        "shutdown_flush",
        config(1000, Duration::from_secs(3600)),
        Arc::new(recorder.clone()),
    )
    .await;

    processor.consume(spans(0..30)).await.unwrap();
    processor
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();

    assert_eq!(recorder.batch_sizes(), vec![30]);
    assert_eq!(recorder.all_ids(), (0..30).collect::<Vec<_>>());
    let err = processor.consume(spans(30..31)).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(err.to_string().contains("shutting down"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_keeps_retrying_refusals_until_its_deadline() {
    let recorder = Recorder::new();
    recorder.script(vec![Answer::Refuse, Answer::Refuse]);
    let processor = started(
        "shutdown_retry",
        config(1000, Duration::from_secs(3600)),
        Arc::new(recorder.clone()),
    )
    .await;

    processor.consume(spans(0..30)).await.unwrap();
    processor
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(recorder.all_ids(), (0..30).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn shutdown_reports_what_its_deadline_left_undelivered() {
    let recorder = Recorder::new();
    recorder.refuse_all(true);
    let processor = started(
        "shutdown_deadline",
        config(10, Duration::from_secs(3600)),
        Arc::new(recorder.clone()),
    )
    .await;

    processor.consume(spans(0..10)).await.unwrap();
    processor.consume(spans(10..15)).await.unwrap();
    let start = Instant::now();
    let err = processor
        .shutdown(start + Duration::from_secs(2))
        .await
        .unwrap_err();

    assert!(Instant::now() - start >= Duration::from_secs(2));
    assert!(Instant::now() - start < Duration::from_millis(2010));
    let ComponentError::Failed(message) = err else {
        panic!("expected a failure report");
    };
    assert!(
        message.contains("15 spans could not be delivered")
            && message.contains("downstream is busy"),
        "{message}"
    );
    assert!(recorder.received().is_empty());
    assert_eq!(
        metric(
            "otelcol_processor_batch_dropped_items",
            &id("shutdown_deadline")
        ),
        Some((15.0, 0.0))
    );
}

#[tokio::test]
async fn shutdown_without_start_still_delivers() {
    let recorder = Recorder::new();
    let processor = BatchProcessor::new(
        ComponentId::parse("batch/never_started").unwrap(),
        Signal::Traces,
        &config(1000, Duration::from_secs(3600)),
        Arc::new(recorder.clone()),
    );
    processor.consume(spans(0..5)).await.unwrap();
    processor
        .shutdown(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(recorder.all_ids(), (0..5).collect::<Vec<_>>());
}
