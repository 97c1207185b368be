use crate::support::{Behaviour, loadgen, start_grpc};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_sent_arrives_with_its_own_trace_id() {
    let (address, received) = start_grpc(Behaviour::Accept, false).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "30",
        "--batch-size",
        "50",
        "--workers",
        "3",
    ])
    .await;

    assert!(run.success, "{run:?}");
    assert_eq!(run.field("sent"), 1_500);
    assert_eq!(run.field("requests"), 30);
    assert_eq!(run.field("failed_requests"), 0);
    assert_eq!(received.spans(), 1_500);
    assert_eq!(received.distinct_trace_ids(), 1_500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_gzip_logs_are_counted_as_points_and_records() {
    let (address, received) = start_grpc(Behaviour::Accept, false).await;
    let endpoint = address.to_string();

    let run = loadgen(&[
        "metrics",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "5",
        "--batch-size",
        "25",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(run.field("sent"), 125);
    assert_eq!(received.points.load(Ordering::SeqCst), 125);

    let run = loadgen(&[
        "logs",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "4",
        "--batch-size",
        "10",
        "--compression",
        "gzip",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(run.field("sent"), 40);
    assert_eq!(received.logs.load(Ordering::SeqCst), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_paces_the_run() {
    let (address, received) = start_grpc(Behaviour::Accept, false).await;
    let endpoint = address.to_string();
    let started = Instant::now();
    // 100 spans per request at 2000 spans/s: one request every 50 ms, 20 within the second.
    let run = loadgen(&[
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--rate",
        "2000",
        "--duration",
        "1s",
        "--workers",
        "2",
    ])
    .await;
    let wall = started.elapsed();

    assert!(run.success, "{run:?}");
    let sent = run.field("sent");
    assert!(
        (1_800..=2_000).contains(&sent),
        "sent {sent} spans in 1 s at 2000/s"
    );
    assert_eq!(received.spans(), sent);
    assert!(
        wall >= Duration::from_millis(900),
        "finished after {wall:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_retried_until_accepted() {
    let (address, received) = start_grpc(Behaviour::RefuseFirst(2), false).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "3",
        "--batch-size",
        "10",
    ])
    .await;

    assert!(run.success, "{run:?}");
    assert_eq!(run.field("retried"), 2);
    assert_eq!(run.field("failed_requests"), 0);
    assert_eq!(run.field("sent"), 30);
    assert_eq!(received.refused.load(Ordering::SeqCst), 2);
    assert_eq!(received.spans(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_fail_the_run_unless_allowed() {
    let (address, received) = start_grpc(Behaviour::RejectAll, false).await;
    let endpoint = address.to_string();
    let args = [
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "2",
    ];

    let run = loadgen(&args).await;
    assert!(!run.success, "{run:?}");
    assert_eq!(run.field("failed_requests"), 2);
    assert_eq!(run.field("failed_items"), 200);
    assert_eq!(run.field("retried"), 0);
    assert_eq!(run.field("sent"), 0);
    assert!(run.stderr.contains("InvalidArgument"), "{}", run.stderr);
    assert_eq!(received.requests.load(Ordering::SeqCst), 2);

    let allowed: Vec<&str> = args.iter().copied().chain(["--allow-failures"]).collect();
    assert!(loadgen(&allowed).await.success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_success_counts_rejected_spans_as_a_failure() {
    let (address, _received) = start_grpc(Behaviour::PartialSuccess(5), false).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "2",
        "--batch-size",
        "20",
    ])
    .await;

    assert!(!run.success, "{run:?}");
    assert_eq!(run.field("rejected_items"), 10);
    assert_eq!(run.field("sent"), 30);
    assert_eq!(run.field("failed_requests"), 0);
    assert!(run.stderr.contains("span too old"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_reported_not_waited_for() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    drop(listener);
    let run = loadgen(&[
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "1",
        "--max-retries",
        "1",
        "--timeout",
        "2s",
    ])
    .await;

    assert!(!run.success, "{run:?}");
    assert_eq!(run.field("failed_requests"), 1);
    assert_eq!(run.field("retried"), 1);
    assert!(run.stderr.contains("first error"), "{}", run.stderr);
}
