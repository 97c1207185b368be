//! Shared pieces of the store tests: the chdb-backed ClickHouse server of
//! `deploy/clickhouse-local`, an HTTP proxy that can take the store away, OTLP payload builders,
//! and SQL helpers.

use bytes::Bytes;
use cormorant_core::{ComponentId, CreateSettings, Exporter, Host, Payload, Signal};
use cormorant_exporter_clickhouse::client::ClickHouseClient;
use cormorant_exporter_clickhouse::config::ClickHouseConfig;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exponential_histogram_data_point, metric, number_data_point,
    summary_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// How long the server may take to import chdb and answer `/ping`.
const SERVER_START_LIMIT: Duration = Duration::from_secs(90);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits two levels below the workspace root")
        .to_path_buf()
}

/// A Python that can import chdb: `CLICKHOUSE_LOCAL_PYTHON`, the test venv, or `python3`.
fn python_with_chdb() -> Option<PathBuf> {
    let candidates = std::env::var_os("CLICKHOUSE_LOCAL_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            workspace_root().join("tests/.venv/bin/python"),
            PathBuf::from("python3"),
        ]);
    for python in candidates {
        let imports = Command::new(&python)
            .args(["-c", "import chdb"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if imports.is_ok_and(|status| status.success()) {
            return Some(python);
        }
    }
    None
}

/// The chdb-backed ClickHouse HTTP server with its data in a temporary directory; the process
/// is killed and the directory removed on drop.
pub struct Store {
    child: Child,
    pub addr: SocketAddr,
    /// Declared after `child` so the data is removed only once the server is gone.
    _dir: tempfile::TempDir,
}

impl Store {
    /// Starts the server, or returns `None` (after saying so) when chdb-core is not installed
    /// outside CI; in CI a missing engine fails the test.
    pub async fn start(test: &str) -> Option<Store> {
        let Some(python) = python_with_chdb() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "chdb-core is not installed, but CI must run the ClickHouse store tests"
            );
            eprintln!("skipping {test}: chdb-core is not installed (pip install chdb-core)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("listening");
        let mut child = Command::new(python)
            .arg(workspace_root().join("deploy/clickhouse-local/server.py"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warning",
                "--path",
            ])
            .arg(dir.path().join("data"))
            .arg("--port-file")
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start deploy/clickhouse-local/server.py");
        let deadline = tokio::time::Instant::now() + SERVER_START_LIMIT;
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().parse().expect("host:port in the port file");
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the ClickHouse store exited at start: {status}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the ClickHouse store did not listen within {SERVER_START_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let store = Store {
            child,
            addr,
            _dir: dir,
        };
        store.wait_ready().await;
        Some(store)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_ready(&self) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let url: hyper::Uri = format!("http://{}/ping", self.addr).parse().unwrap();
        let deadline = tokio::time::Instant::now() + SERVER_START_LIMIT;
        loop {
            if let Ok(response) = client.get(url.clone()).await
                && response.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the ClickHouse store did not answer /ping within {SERVER_START_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses an exporter config from YAML, as the collector would.
pub fn config(yaml: &str) -> ClickHouseConfig {
    let raw = cormorant_confmap::parse_yaml(yaml).expect("valid YAML");
    cormorant_core::parse_config(&raw).expect("valid clickhouse config")
}

/// A client for checking what reached the store.
pub fn sql_client(endpoint: &str, database: &str) -> ClickHouseClient {
    ClickHouseClient::new(&config(&format!(
        "endpoint: {endpoint}\ndatabase: {database}"
    )))
    .unwrap()
}

/// Runs a statement and returns its TabSeparated output, trimmed.
pub async fn query(client: &ClickHouseClient, sql: &str) -> String {
    let answer = client
        .execute(sql, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    String::from_utf8(answer.to_vec())
        .unwrap()
        .trim()
        .to_string()
}

pub async fn count(client: &ClickHouseClient, table: &str) -> u64 {
    query(client, &format!("SELECT count() FROM {table}"))
        .await
        .parse()
        .unwrap()
}

/// Builds and starts the exporter of `signal` through the registered factory.
pub async fn start_exporter(id: &str, yaml: &str, signal: Signal) -> Arc<dyn Exporter> {
    let exporter = create_exporter(id, yaml, signal);
    exporter
        .start(&Host::default())
        .await
        .expect("exporter starts");
    exporter
}

pub fn create_exporter(id: &str, yaml: &str, signal: Signal) -> Arc<dyn Exporter> {
    let raw = cormorant_confmap::parse_yaml(yaml).expect("valid YAML");
    cormorant_exporter_clickhouse::factory()
        .create(
            CreateSettings {
                id: ComponentId::parse(id).unwrap(),
            },
            &raw,
            signal,
        )
        .expect("exporter is created")
}

/// Stops an exporter, letting its queue drain for up to `limit`.
pub async fn stop(exporter: &Arc<dyn Exporter>, limit: Duration) {
    exporter
        .shutdown(tokio::time::Instant::now() + limit)
        .await
        .expect("every queued item is delivered before the deadline");
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![text("service.name", "checkout")],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "store-tests".into(),
        version: "1.0".into(),
        ..Default::default()
    })
}

/// `count` server spans whose span ids are `first_id`, `first_id + 1`, ... (as 8 big-endian bytes).
pub fn traces(first_id: u64, count: u64) -> Payload {
    let start = now_nanos();
    let spans = (first_id..first_id + count)
        .map(|id| Span {
            trace_id: [[0x5a; 8], id.to_be_bytes()].concat(),
            span_id: id.to_be_bytes().to_vec(),
            name: "GET /cart".into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_500_000,
            attributes: vec![text("http.route", "/cart")],
            ..Default::default()
        })
        .collect();
    Payload::Traces(vec![ResourceSpans {
        resource: resource(),
        scope_spans: vec![ScopeSpans {
            scope: scope(),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }])
}

pub fn logs(count: usize) -> Payload {
    let now = now_nanos();
    let log_records = (0..count)
        .map(|i| LogRecord {
            time_unix_nano: now + i as u64,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("order {i} placed"))),
            }),
            ..Default::default()
        })
        .collect();
    Payload::Logs(vec![ResourceLogs {
        resource: resource(),
        scope_logs: vec![ScopeLogs {
            scope: scope(),
            log_records,
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn number(value: f64, time: u64) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

/// Points per metric type in [`metrics`].
pub const GAUGE_POINTS: usize = 3;
pub const SUM_POINTS: usize = 2;
pub const HISTOGRAM_POINTS: usize = 1;
pub const EXP_HISTOGRAM_POINTS: usize = 1;
pub const SUMMARY_POINTS: usize = 1;

/// One metric of every type, with the point counts above.
pub fn metrics() -> Payload {
    metrics_of(&[
        "gauge",
        "sum",
        "histogram",
        "exponential_histogram",
        "summary",
    ])
}

/// One metric of each named type (`gauge`, `sum`, `histogram`, `exponential_histogram`,
/// `summary`).
pub fn metrics_of(kinds: &[&str]) -> Payload {
    let now = now_nanos();
    let metrics = kinds
        .iter()
        .map(|kind| {
            let data = match *kind {
                "gauge" => metric::Data::Gauge(Gauge {
                    data_points: (0..GAUGE_POINTS)
                        .map(|i| number(i as f64, now + i as u64))
                        .collect(),
                }),
                "sum" => metric::Data::Sum(Sum {
                    data_points: (0..SUM_POINTS)
                        .map(|i| number(10.0 + i as f64, now + i as u64))
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
                "histogram" => metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: now,
                        count: 3,
                        sum: Some(7.5),
                        bucket_counts: vec![1, 2, 0],
                        explicit_bounds: vec![1.0, 5.0],
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                }),
                "exponential_histogram" => {
                    metric::Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            time_unix_nano: now,
                            count: 4,
                            sum: Some(9.0),
                            scale: 1,
                            zero_count: 1,
                            positive: Some(exponential_histogram_data_point::Buckets {
                                offset: 0,
                                bucket_counts: vec![1, 2],
                            }),
                            ..Default::default()
                        }],
                        aggregation_temporality: AggregationTemporality::Delta as i32,
                    })
                }
                "summary" => metric::Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        time_unix_nano: now,
                        count: 2,
                        sum: 3.0,
                        quantile_values: vec![summary_data_point::ValueAtQuantile {
                            quantile: 0.5,
                            value: 1.5,
                        }],
                        ..Default::default()
                    }],
                }),
                other => panic!("unknown metric type {other}"),
            };
            Metric {
                name: format!("cart.{kind}"),
                unit: "1".into(),
                data: Some(data),
                ..Default::default()
            }
        })
        .collect();
    Payload::Metrics(vec![ResourceMetrics {
        resource: resource(),
        scope_metrics: vec![ScopeMetrics {
            scope: scope(),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }])
}

/// `cormorant_clickhouse_rejected_rows` of one exporter and table, summed over codes.
pub fn rejected_rows(exporter: &str, table: &str) -> u64 {
    cormorant_core::telemetry::registry()
        .gather()
        .iter()
        .filter(|family| family.name() == "cormorant_clickhouse_rejected_rows")
        .flat_map(|family| family.get_metric())
        .filter(|metric| {
            let label = |name: &str| {
                metric
                    .get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_string())
            };
            label("exporter").as_deref() == Some(exporter)
                && label("table").as_deref() == Some(table)
        })
        .map(|metric| metric.get_counter().get_value() as u64)
        .sum()
}

/// What the [`Proxy`] does with requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ProxyMode {
    /// Forward to the store and relay its answer.
    Forward = 0,
    /// Close every connection without an answer: the store is gone.
    Down = 1,
    /// Forward to the store, then drop its answer and reply 502, as a load balancer does when
    /// the store answers too late: the insert happened, the client cannot know.
    LoseAnswers = 2,
}

/// An HTTP proxy in front of the store whose behaviour a test switches at run time.
pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Requests whose answer was dropped in [`ProxyMode::LoseAnswers`].
    lost_answers: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(ProxyMode::Forward as u8));
        let lost_answers = Arc::new(AtomicUsize::new(0));
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let (task_mode, task_lost) = (Arc::clone(&mode), Arc::clone(&lost_answers));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                if task_mode.load(Ordering::SeqCst) == ProxyMode::Down as u8 {
                    drop(stream);
                    continue;
                }
                let (client, mode, lost) = (
                    client.clone(),
                    Arc::clone(&task_mode),
                    Arc::clone(&task_lost),
                );
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        relay(
                            client.clone(),
                            upstream,
                            Arc::clone(&mode),
                            Arc::clone(&lost),
                            request,
                        )
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            addr,
            mode,
            lost_answers,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: ProxyMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// How many answers were dropped so far.
    pub fn lost_answers(&self) -> usize {
        self.lost_answers.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct ProxyDown;

impl std::fmt::Display for ProxyDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the store is down")
    }
}

impl std::error::Error for ProxyDown {}

async fn relay(
    client: Client<HttpConnector, Incoming>,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    lost: Arc<AtomicUsize>,
    mut request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ProxyDown> {
    let mode = mode.load(Ordering::SeqCst);
    if mode == ProxyMode::Down as u8 {
        // An error from the service makes hyper close the connection without an answer.
        return Err(ProxyDown);
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    *request.uri_mut() = format!("http://{upstream}{path}").parse().unwrap();
    let response = client.request(request).await.map_err(|_| ProxyDown)?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|_| ProxyDown)?.to_bytes();
    if mode == ProxyMode::LoseAnswers as u8 {
        lost.fetch_add(1, Ordering::SeqCst);
        let mut gateway_error = Response::new(Full::new(Bytes::from_static(b"upstream timed out")));
        *gateway_error.status_mut() = StatusCode::BAD_GATEWAY;
        return Ok(gateway_error);
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}
