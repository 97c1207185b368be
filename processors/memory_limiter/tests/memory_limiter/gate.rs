//! Refusing and passing data as the sampled memory usage crosses the limits.

use super::{SetUsage, Sink, spans};
use cormorant_core::{
    ComponentError, ComponentId, ConsumeError, Consumer, Host, Lifecycle, Signal,
};
use cormorant_processor_memory_limiter::{
    MemoryLimiterConfig, MemoryLimiterProcessor, REFUSED_MESSAGE, SystemMemory,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep};

const CHECK: Duration = Duration::from_secs(1);

/// Waits just past the next sampling tick.
async fn next_sample() {
    sleep(CHECK + Duration::from_millis(1)).await;
}

fn id(name: &str) -> ComponentId {
    ComponentId::parse(&format!("memory_limiter/{name}")).unwrap()
}

/// A limiter with a 100 MiB hard limit and the default 20 % spike: soft limit 80 MiB.
fn limiter(name: &str, usage: &Arc<SetUsage>, sink: &Arc<Sink>) -> MemoryLimiterProcessor {
    let config = MemoryLimiterConfig {
        check_interval: CHECK,
        limit_mib: 100,
        ..MemoryLimiterConfig::default()
    };
    MemoryLimiterProcessor::with_sources(
        id(name),
        Signal::Traces,
        config,
        sink.clone(),
        usage.clone(),
        SystemMemory::host(),
    )
    .unwrap()
}

fn refused() -> ConsumeError {
    ConsumeError::Refused {
        message: REFUSED_MESSAGE.to_string(),
        retry_after: None,
        throttled: false,
    }
}

fn refused_spans(name: &str) -> f64 {
    let id = id(name).to_string();
    cormorant_core::telemetry::registry()
        .gather()
        .into_iter()
        .filter(|family| family.name() == "otelcol_processor_memory_limiter_refused_spans")
        .flat_map(|family| family.get_metric().to_vec())
        .find(|m| m.get_label().iter().any(|l| l.value() == id))
        .map(|m| m.get_counter().get_value())
        .unwrap_or(0.0)
}

#[tokio::test(start_paused = true)]
async fn refuses_above_the_soft_and_hard_limits_and_passes_below() {
    let usage = Arc::new(SetUsage::default());
    let sink = Arc::new(Sink::default());
    usage.set_mib(50);
    let processor = limiter("levels", &usage, &sink);
    processor.start(&Host::default()).await.unwrap();

    processor.consume(spans(3)).await.unwrap();
    assert_eq!(sink.items(), 3);

    usage.set_mib(85);
    processor.consume(spans(1)).await.unwrap();
    assert_eq!(
        sink.items(),
        4,
        "the verdict changes only at the next sample"
    );
    next_sample().await;
    assert_eq!(processor.consume(spans(2)).await, Err(refused()));
    assert_eq!(
        sink.items(),
        4,
        "refused data never reaches the next consumer"
    );

    usage.set_mib(120);
    next_sample().await;
    assert_eq!(processor.consume(spans(5)).await, Err(refused()));

    usage.set_mib(81);
    next_sample().await;
    assert_eq!(processor.consume(spans(1)).await, Err(refused()));

    usage.set_mib(79);
    next_sample().await;
    processor.consume(spans(1)).await.unwrap();
    assert_eq!(sink.items(), 5);
    assert_eq!(refused_spans("levels"), 8.0);
}

#[tokio::test(start_paused = true)]
async fn start_judges_memory_before_the_first_tick() {
    let usage = Arc::new(SetUsage::default());
    let sink = Arc::new(Sink::default());
    usage.set_mib(90);
    let processor = limiter("first_sample", &usage, &sink);
    processor.consume(spans(1)).await.unwrap();

    processor.start(&Host::default()).await.unwrap();
    let returned = processor.consume_or_return(spans(2)).await.unwrap_err();
    assert_eq!(returned.error, refused());
    assert_eq!(
        returned.payload,
        spans(2),
        "the refused payload comes back whole"
    );
    assert!(returned.error.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn a_failing_reading_keeps_the_last_verdict() {
    let usage = Arc::new(SetUsage::default());
    let sink = Arc::new(Sink::default());
    usage.set_mib(95);
    let processor = limiter("failing_read", &usage, &sink);
    processor.start(&Host::default()).await.unwrap();

    usage.fail();
    next_sample().await;
    next_sample().await;
    assert_eq!(processor.consume(spans(1)).await, Err(refused()));

    usage.set_mib(10);
    next_sample().await;
    processor.consume(spans(1)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn start_fails_when_memory_cannot_be_read() {
    let usage = Arc::new(SetUsage::default());
    usage.fail();
    let processor = limiter("unreadable", &usage, &Arc::new(Sink::default()));
    let err = processor.start(&Host::default()).await.unwrap_err();
    let ComponentError::Failed(message) = err else {
        panic!("expected a start failure");
    };
    assert!(
        message.contains("cannot read the process's memory usage")
            && message.contains("usage source unavailable"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_sampling() {
    let usage = Arc::new(SetUsage::default());
    let sink = Arc::new(Sink::default());
    usage.set_mib(10);
    let processor = limiter("stopped", &usage, &sink);
    processor.start(&Host::default()).await.unwrap();
    processor
        .shutdown(Instant::now() + Duration::from_secs(1))
        .await
        .unwrap();

    usage.set_mib(99);
    next_sample().await;
    next_sample().await;
    processor.consume(spans(1)).await.unwrap();
    assert_eq!(sink.items(), 1);
}

#[tokio::test]
async fn the_real_rss_of_this_process_exceeds_a_one_mib_limit() {
    let sink = Arc::new(Sink::default());
    let tiny = MemoryLimiterConfig {
        check_interval: Duration::from_millis(10),
        limit_mib: 1,
        ..MemoryLimiterConfig::default()
    };
    let processor =
        MemoryLimiterProcessor::new(id("real_tiny"), Signal::Traces, tiny, sink.clone()).unwrap();
    processor.start(&Host::default()).await.unwrap();
    assert_eq!(processor.consume(spans(1)).await, Err(refused()));

    let roomy = MemoryLimiterConfig {
        check_interval: Duration::from_millis(10),
        limit_mib: 1 << 30,
        ..MemoryLimiterConfig::default()
    };
    let processor =
        MemoryLimiterProcessor::new(id("real_roomy"), Signal::Traces, roomy, sink.clone()).unwrap();
    processor.start(&Host::default()).await.unwrap();
    processor.consume(spans(1)).await.unwrap();
    assert_eq!(sink.items(), 1);
}
