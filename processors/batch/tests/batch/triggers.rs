//! When batches leave: size trigger, timeout trigger, and splitting to `send_batch_max_size`.

use super::common::{Recorder, resource_spans, span, spans};
use super::{id, started};
use cormorant_core::pdata::common::any_value::Value;
use cormorant_core::{Consumer, Payload};
use cormorant_processor_batch::BatchConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep, sleep_until};

const SIZE_TRIGGER: &str = "otelcol_processor_batch_batch_size_trigger_send";
const TIMEOUT_TRIGGER: &str = "otelcol_processor_batch_timeout_trigger_send";
const SEND_SIZE: &str = "otelcol_processor_batch_batch_send_size";

/// The `service.name` of each resource in a batch, in order.
fn services(payload: &Payload) -> Vec<String> {
    let Payload::Traces(resources) = payload else {
        panic!("expected traces");
    };
    resources
        .iter()
        .map(|r| {
            let attribute = &r.resource.as_ref().unwrap().attributes[0];
            match attribute.value.as_ref().unwrap().value.as_ref().unwrap() {
                Value::StringValue(name) => name.clone(),
                other => panic!("unexpected value {other:?}"),
            }
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn reaching_send_batch_size_sends_everything_pending() {
    let recorder = Recorder::new();
    let config = BatchConfig {
        send_batch_size: 100,
        timeout: Duration::from_secs(10),
        ..BatchConfig::default()
    };
    let processor = started("size_trigger", config, Arc::new(recorder.clone())).await;
    let start = Instant::now();

    processor.consume(spans(0..60)).await.unwrap();
    sleep(Duration::from_secs(1)).await;
    assert!(recorder.received().is_empty(), "60 of 100 items must wait");

    processor.consume(spans(60..110)).await.unwrap();
    recorder.wait_for_items(110, Duration::from_secs(1)).await;
    let received = recorder.received();
    assert_eq!(recorder.batch_sizes(), vec![110]);
    assert_eq!(recorder.all_ids(), (0..110).collect::<Vec<_>>());
    assert!(received[0].at - start < Duration::from_secs(2));

    let id = id("size_trigger");
    assert_eq!(super::common::metric(SIZE_TRIGGER, &id), Some((1.0, 0.0)));
    assert_eq!(
        super::common::metric(TIMEOUT_TRIGGER, &id),
        Some((0.0, 0.0))
    );
    assert_eq!(super::common::metric(SEND_SIZE, &id), Some((1.0, 110.0)));
}

#[tokio::test(start_paused = true)]
async fn a_small_batch_leaves_once_its_oldest_item_waited_the_timeout() {
    let recorder = Recorder::new();
    let config = BatchConfig {
        send_batch_size: 1000,
        timeout: Duration::from_millis(200),
        ..BatchConfig::default()
    };
    let processor = started("timeout_trigger", config, Arc::new(recorder.clone())).await;
    let start = Instant::now();

    processor.consume(spans(0..10)).await.unwrap();
    sleep(Duration::from_millis(100)).await;
    processor.consume(spans(10..15)).await.unwrap();
    sleep_until(start + Duration::from_millis(199)).await;
    assert!(recorder.received().is_empty(), "sent before the timeout");

    recorder.wait_for_items(15, Duration::from_secs(1)).await;
    let received = recorder.received();
    assert_eq!(recorder.batch_sizes(), vec![15]);
    assert_eq!(recorder.all_ids(), (0..15).collect::<Vec<_>>());
    let waited = received[0].at - start;
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(210),
        "the timeout counts from the first item: waited {waited:?}"
    );

    let id = id("timeout_trigger");
    assert_eq!(
        super::common::metric(TIMEOUT_TRIGGER, &id),
        Some((1.0, 0.0))
    );
    assert_eq!(super::common::metric(SIZE_TRIGGER, &id), Some((0.0, 0.0)));
}

#[tokio::test(start_paused = true)]
async fn zero_timeout_sends_without_waiting() {
    let recorder = Recorder::new();
    let config = BatchConfig {
        timeout: Duration::ZERO,
        ..BatchConfig::default()
    };
    let processor = started("zero_timeout", config, Arc::new(recorder.clone())).await;
    let start = Instant::now();

    processor.consume(spans(0..3)).await.unwrap();
    recorder.wait_for_items(3, Duration::from_secs(1)).await;
    processor.consume(spans(3..5)).await.unwrap();
    recorder.wait_for_items(5, Duration::from_secs(1)).await;

    assert_eq!(recorder.batch_sizes(), vec![3, 2]);
    assert!(recorder.received()[1].at - start < Duration::from_millis(5));
}

#[tokio::test(start_paused = true)]
async fn large_batches_are_split_to_the_max_size_in_order() {
    let recorder = Recorder::new();
    let config = BatchConfig {
        send_batch_size: 10,
        send_batch_max_size: 15,
        timeout: Duration::from_secs(10),
        ..BatchConfig::default()
    };
    let processor = started("split", config, Arc::new(recorder.clone())).await;
    let payload = Payload::Traces(vec![
        resource_spans("a", 0..12),
        resource_spans("b", 12..20),
        resource_spans("c", 20..40),
    ]);

    processor.consume(payload).await.unwrap();
    recorder.wait_for_items(40, Duration::from_secs(1)).await;

    let received = recorder.received();
    assert_eq!(recorder.batch_sizes(), vec![15, 15, 10]);
    assert_eq!(recorder.all_ids(), (0..40).collect::<Vec<_>>());
    let per_batch: Vec<Vec<String>> = received.iter().map(|r| services(&r.payload)).collect();
    assert_eq!(per_batch, vec![vec!["a", "b"], vec!["b", "c"], vec!["c"]]);
    for batch in &received {
        let Payload::Traces(resources) = &batch.payload else {
            unreachable!()
        };
        let sent: Vec<_> = resources
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect();
        let expected: Vec<_> = batch.ids.iter().map(|&n| span(n)).collect();
        assert_eq!(sent, expected, "spans must arrive unchanged");
    }
}

#[tokio::test(start_paused = true)]
async fn a_split_remainder_below_the_size_waits_for_its_timeout() {
    let recorder = Recorder::new();
    let config = BatchConfig {
        send_batch_size: 10,
        send_batch_max_size: 15,
        timeout: Duration::from_secs(10),
        ..BatchConfig::default()
    };
    let processor = started("split_remainder", config, Arc::new(recorder.clone())).await;
    let start = Instant::now();

    processor.consume(spans(0..35)).await.unwrap();
    recorder.wait_for_items(30, Duration::from_secs(1)).await;
    sleep(Duration::from_secs(5)).await;
    assert_eq!(recorder.batch_sizes(), vec![15, 15]);

    processor.consume(spans(35..37)).await.unwrap();
    recorder.wait_for_items(37, Duration::from_secs(10)).await;
    let received = recorder.received();
    assert_eq!(recorder.batch_sizes(), vec![15, 15, 7]);
    assert_eq!(recorder.all_ids(), (0..37).collect::<Vec<_>>());
    let waited = received[2].at - start;
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_millis(10_010),
        "the remainder keeps the arrival time of its oldest item: waited {waited:?}"
    );

    let id = id("split_remainder");
    assert_eq!(super::common::metric(SIZE_TRIGGER, &id), Some((2.0, 0.0)));
    assert_eq!(
        super::common::metric(TIMEOUT_TRIGGER, &id),
        Some((1.0, 0.0))
    );
    assert_eq!(super::common::metric(SEND_SIZE, &id), Some((3.0, 37.0)));
}
