//! `remote-write` against real axum servers standing in for remote_write receivers: every
//! target gets the same snappy-compressed requests with Alloy's headers, each series' timestamps
//! strictly increase, and each target's refusals are counted on its own line.

use crate::support::loadgen;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cormorant_loadgen::remote_write::request::WriteRequest;
use prost::Message;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// What one receiver got: the compressed bodies, and per series (its label text) the
/// timestamps in arrival order.
#[derive(Default)]
struct Receiver {
    answer: Option<StatusCode>,
    bodies: Mutex<Vec<Bytes>>,
    timestamps: Mutex<HashMap<String, Vec<i64>>>,
    header_errors: Mutex<Vec<String>>,
}

async fn write(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    for (name, expected) in [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "snappy"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ] {
        let got = headers.get(name).and_then(|v| v.to_str().ok());
        if got != Some(expected) {
            receiver
                .header_errors
                .lock()
                .unwrap()
                .push(format!("{name}: {got:?}"));
        }
    }
    let user_agent = headers.get("user-agent").and_then(|v| v.to_str().ok());
    if !user_agent.is_some_and(|agent| agent.starts_with("Alloy/v1.") && agent.ends_with("(linux)"))
    {
        receiver
            .header_errors
            .lock()
            .unwrap()
            .push(format!("user-agent: {user_agent:?}"));
    }
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let request = WriteRequest::decode(raw.as_slice()).unwrap();
    {
        let mut timestamps = receiver.timestamps.lock().unwrap();
        for series in request.timeseries {
            let key = series
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
                .join(",");
            let entry = timestamps.entry(key).or_default();
            entry.extend(series.samples.iter().map(|s| s.timestamp));
        }
    }
    receiver.bodies.lock().unwrap().push(body);
    receiver.answer.unwrap_or(StatusCode::NO_CONTENT)
}

async fn start(answer: Option<StatusCode>) -> (SocketAddr, Arc<Receiver>) {
    let receiver = Arc::new(Receiver {
        answer,
        ..Receiver::default()
    });
    let app = Router::new()
        .route("/api/v1/write", post(write))
        .with_state(receiver.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, receiver)
}

/// The count after `key=` on the summary line that starts with `prefix`.
fn field(summary: &str, prefix: &str, key: &str) -> u64 {
    let line = summary
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in {summary}"));
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
        .trim_end_matches(',')
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_gets_the_same_alloy_shaped_requests() {
    let (first, first_received) = start(None).await;
    let (second, second_received) = start(None).await;
    let first_url = format!("http://{first}/api/v1/write");
    let second_url = format!("http://{second}/api/v1/write");
    // 1000 series in requests of 200: 5 requests per round; 17 requests over 3 workers make
    // several rounds, so series receive more than one sample.
    let run = loadgen(&[
        "remote-write",
        "--url",
        &first_url,
        "--url",
        &second_url,
        "--series",
        "1000",
        "--series-per-request",
        "200",
        "--workers",
        "3",
        "--requests",
        "17",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(field(&run.summary, "remote-write:", "sent"), 17 * 200);
    for url in [&first_url, &second_url] {
        let prefix = format!("target {url} ");
        assert_eq!(field(&run.summary, &prefix, "requests"), 17);
        assert_eq!(field(&run.summary, &prefix, "samples_accepted"), 17 * 200);
        assert_eq!(field(&run.summary, &prefix, "refused_requests"), 0);
    }

    for received in [&first_received, &second_received] {
        assert_eq!(
            *received.header_errors.lock().unwrap(),
            Vec::<String>::new()
        );
        let timestamps = received.timestamps.lock().unwrap();
        assert_eq!(timestamps.len(), 1000, "every series was sent");
        let samples: usize = timestamps.values().map(Vec::len).sum();
        assert_eq!(samples, 17 * 200);
        assert!(timestamps.values().any(|t| t.len() > 1));
        for (series, times) in timestamps.iter() {
            assert!(series.starts_with("__name__=node_"), "{series}");
            assert!(series.contains("job=integrations/unix"), "{series}");
            assert!(
                times.windows(2).all(|w| w[1] > w[0]),
                "{series}: timestamps must strictly increase, got {times:?}"
            );
        }
    }
    let mut first_bodies = first_received.bodies.lock().unwrap().clone();
    let mut second_bodies = second_received.bodies.lock().unwrap().clone();
    first_bodies.sort();
    second_bodies.sort();
    assert_eq!(
        first_bodies, second_bodies,
        "both targets got the same bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_rejections_are_counted_per_target() {
    let (accepting, _) = start(None).await;
    let (refusing, _) = start(Some(StatusCode::SERVICE_UNAVAILABLE)).await;
    let (rejecting, _) = start(Some(StatusCode::BAD_REQUEST)).await;
    let urls = [accepting, refusing, rejecting].map(|a| format!("http://{a}/api/v1/write"));
    let mut args = vec![
        "remote-write",
        "--series",
        "400",
        "--series-per-request",
        "100",
        "--requests",
        "4",
    ];
    for url in &urls {
        args.extend(["--url", url.as_str()]);
    }

    let run = loadgen(&args).await;
    assert!(!run.success, "failures must fail the run: {run:?}");
    assert!(run.stderr.contains("503"), "{}", run.stderr);
    let run = loadgen(&[args.as_slice(), &["--allow-failures"]].concat()).await;
    assert!(run.success, "{run:?}");
    let target = |index: usize| format!("target {} ", urls[index]);
    assert_eq!(field(&run.summary, &target(0), "samples_accepted"), 400);
    assert_eq!(field(&run.summary, &target(1), "refused_requests"), 4);
    assert_eq!(field(&run.summary, &target(1), "samples_accepted"), 0);
    assert_eq!(field(&run.summary, &target(2), "rejected_requests"), 4);

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}/api/v1/write", closed.local_addr().unwrap());
    drop(closed);
    let run = loadgen(&[
        "remote-write",
        "--url",
        &closed_url,
        "--series",
        "10",
        "--requests",
        "2",
        "--allow-failures",
    ])
    .await;
    assert!(run.success, "{run:?}");
    assert_eq!(
        field(
            &run.summary,
            &format!("target {closed_url} "),
            "transport_errors"
        ),
        2
    );
}
