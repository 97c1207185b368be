use crate::support::{Behaviour, CA_PEM, loadgen, start_grpc, start_https};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_verifies_the_collector_certificate() {
    let (address, received) = start_grpc(Behaviour::Accept, true).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--ca-file",
        CA_PEM,
        "--requests",
        "3",
        "--batch-size",
        "10",
    ])
    .await;

    assert!(run.success, "{run:?}");
    assert_eq!(received.spans(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_over_tls_checks_the_server_name() {
    let (address, received) = start_https(Behaviour::Accept).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--ca-file",
        CA_PEM,
        "--tls-server-name",
        "localhost",
        "--requests",
        "2",
        "--batch-size",
        "10",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(received.spans(), 20);

    let run = loadgen(&[
        "traces",
        "--protocol",
        "http",
        "--otlp-endpoint",
        &endpoint,
        "--ca-file",
        CA_PEM,
        "--tls-server-name",
        "collector.example",
        "--requests",
        "1",
        "--max-retries",
        "0",
    ])
    .await;
    assert!(!run.success, "{run:?}");
    assert!(run.stderr.contains("TLS handshake"), "{}", run.stderr);
    assert_eq!(received.spans(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_to_a_tls_collector_fails_cleanly() {
    let (address, received) = start_grpc(Behaviour::Accept, true).await;
    let endpoint = address.to_string();
    let run = loadgen(&[
        "traces",
        "--otlp-endpoint",
        &endpoint,
        "--insecure",
        "--requests",
        "1",
        "--max-retries",
        "0",
        "--timeout",
        "2s",
    ])
    .await;

    assert!(!run.success, "{run:?}");
    assert_eq!(run.field("failed_requests"), 1);
    assert_eq!(received.spans(), 0);
}
