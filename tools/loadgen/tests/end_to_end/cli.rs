use crate::support::loadgen;

#[tokio::test]
async fn tls_without_a_ca_file_is_a_usage_error() {
    let run = loadgen(&["traces", "--requests", "1"]).await;
    assert!(!run.success);
    assert!(run.summary.is_empty(), "{run:?}");
    assert!(
        run.stderr.contains("--ca-file") && run.stderr.contains("--insecure"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn decode_bench_prints_the_decode_limit() {
    let run = loadgen(&[
        "decode-bench",
        "--batch-size",
        "512",
        "--bench-duration",
        "200ms",
    ])
    .await;
    assert!(run.success, "{run:?}");
    let rate: f64 = run
        .summary
        .strip_prefix("decode: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {:?}", run.summary));
    assert!(rate > 10_000.0, "{rate} spans/s");
    assert!(
        run.summary.contains("512 spans per request"),
        "{}",
        run.summary
    );
}
