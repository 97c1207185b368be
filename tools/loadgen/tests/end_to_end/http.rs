use crate::support::{Behaviour, loadgen, start_http};
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_over_http_arrive_exactly_once() {
    let (address, received) = start_http(Behaviour::Accept).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "25",
        "--batch-size",
        "40",
        "--workers",
        "4",
    ])
    .await;

    assert!(run.success, "{run:?}");
    assert_eq!(run.field("sent"), 1_000);
    assert_eq!(received.spans(), 1_000);
    assert_eq!(received.distinct_trace_ids(), 1_000);
    assert_eq!(received.requests.load(Ordering::SeqCst), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_and_other_signals_use_their_own_paths() {
    let (address, received) = start_http(Behaviour::Accept).await;
    let endpoint = address.to_string();

    let run = loadgen(&[
        "logs",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "6",
        "--batch-size",
        "15",
        "--compression",
        "gzip",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(received.logs.load(Ordering::SeqCst), 90);
    assert_eq!(received.gzip_requests.load(Ordering::SeqCst), 6);

    let run = loadgen(&[
        "metrics",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "2",
        "--batch-size",
        "33",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(received.points.load(Ordering::SeqCst), 66);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_url_path_is_used() {
    let (address, received) = start_http(Behaviour::Accept).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "1",
        "--otlp-http-url-path",
        "/custom/traces",
    ])
    .await;

    assert!(!run.success, "{run:?}");
    assert!(run.stderr.contains("404"), "{}", run.stderr);
    assert_eq!(received.spans(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_is_retried_and_bad_request_is_not() {
    let (address, received) = start_http(Behaviour::RefuseFirst(3)).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "2",
        "--batch-size",
        "5",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(run.field("retried"), 3);
    assert_eq!(received.spans(), 10);

    let (address, received) = start_http(Behaviour::RejectAll).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "2",
    ])
    .await;
    assert!(!run.success, "{run:?}");
    assert_eq!(run.field("failed_requests"), 2);
    assert_eq!(run.field("retried"), 0);
    assert!(
        run.stderr.contains("400") && run.stderr.contains("not welcome"),
        "{}",
        run.stderr
    );
    assert_eq!(received.spans(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_give_up_after_max_retries() {
    let (address, received) = start_http(Behaviour::RefuseFirst(100)).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "1",
        "--max-retries",
        "2",
    ])
    .await;

    assert!(!run.success, "{run:?}");
    assert_eq!(run.field("retried"), 2);
    assert_eq!(run.field("failed_requests"), 1);
    assert_eq!(received.refused.load(Ordering::SeqCst), 3);
}
