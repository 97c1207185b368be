//! The `ebpf` receiver against the running kernel: a real Python HTTP server and real curl
//! clients (child processes), captured with the real tracer, delivered to a recording
//! pipeline consumer. Needs root; prints "skipped: needs root" otherwise.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cormorant_confmap::parse_yaml;
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value::Value};
use cormorant_core::pdata::metrics::{ResourceMetrics, metric::Data, number_data_point};
use cormorant_core::pdata::trace::{Span, span::SpanKind};
use cormorant_core::{
    ComponentId, ConsumeError, Consumer, CreateSettings, Host, Payload, ReceiverConsumers,
};
use cormorant_receiver_ebpf::receiver::factory;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A pipeline end that keeps everything it is given.
#[derive(Default)]
struct Recorder {
    payloads: Mutex<Vec<Payload>>,
}

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.payloads.lock().unwrap().push(payload);
        Ok(())
    }
}

/// A span with its process's resource attributes.
#[derive(Debug, Clone)]
struct Captured {
    resource: Vec<KeyValue>,
    span: Span,
}

impl Recorder {
    fn spans(&self) -> Vec<Captured> {
        let payloads = self.payloads.lock().unwrap();
        let mut out = Vec::new();
        for payload in payloads.iter() {
            if let Payload::Traces(resource_spans) = payload {
                for resource_spans in resource_spans {
                    let resource = resource_spans
                        .resource
                        .as_ref()
                        .map(|resource| resource.attributes.clone())
                        .unwrap_or_default();
                    for scope in &resource_spans.scope_spans {
                        assert_eq!(scope.scope.as_ref().unwrap().name, "cormorant/ebpf");
                        for span in &scope.spans {
                            out.push(Captured {
                                resource: resource.clone(),
                                span: span.clone(),
                            });
                        }
                    }
                }
            }
        }
        out
    }

    fn metrics(&self) -> Vec<ResourceMetrics> {
        let payloads = self.payloads.lock().unwrap();
        payloads
            .iter()
            .filter_map(|payload| match payload {
                Payload::Metrics(metrics) => Some(metrics.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value: &AnyValue| value.value.as_ref())
}

fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match value(attributes, key) {
        Some(Value::StringValue(text)) => Some(text),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match value(attributes, key) {
        Some(Value::IntValue(number)) => Some(*number),
        _ => None,
    }
}

/// Kills the child when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_listener(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "python http.server did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The python3 server's cumulative `cormorant.ebpf.requests` for `GET /api/v1` answered 4xx.
fn server_requests(recorder: &Recorder, server_pid: u32) -> Option<i64> {
    let red = recorder.metrics();
    red.iter()
        .filter(|resource| {
            let attributes = resource
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes[..]);
            int(attributes, "process.pid") == Some(i64::from(server_pid))
        })
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .filter(|metric| metric.name == "cormorant.ebpf.requests")
        .filter_map(|metric| match &metric.data {
            Some(Data::Sum(sum)) => Some(sum),
            _ => None,
        })
        .flat_map(|sum| &sum.data_points)
        .filter(|point| {
            text(&point.attributes, "span.kind") == Some("server")
                && text(&point.attributes, "cormorant.endpoint") == Some("/api/v1")
                && text(&point.attributes, "cormorant.status_class") == Some("4xx")
        })
        .filter_map(|point| match point.value {
            Some(number_data_point::Value::AsInt(count)) => Some(count),
            _ => None,
        })
        .max()
}

/// A counter of the receiver's self-telemetry.
fn self_metric(name: &str, receiver: &str) -> u64 {
    cormorant_core::telemetry::registry()
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|metric| {
            metric
                .get_label()
                .iter()
                .any(|label| label.name() == "receiver" && label.value() == receiver)
        })
        .map(|metric| metric.get_counter().get_value() as u64)
        .sum()
}

/// One line per span, for failure messages.
fn summary(spans: &[Captured]) -> String {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    spans
        .iter()
        .map(|captured| {
            let a = &captured.span.attributes;
            format!(
                "{:?} kind={} {} trace={} span={} parent={} seq={:?}/{:?} tid={:?} peer={:?}",
                text(&captured.resource, "process.executable.name"),
                captured.span.kind,
                captured.span.name,
                hex(&captured.span.trace_id),
                hex(&captured.span.span_id),
                hex(&captured.span.parent_span_id),
                int(a, "cormorant.tcp.seq.request"),
                int(a, "cormorant.tcp.seq.response"),
                int(a, "thread.id"),
                int(a, "network.peer.port"),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The server span of a python3 process and the curl client span it is the child of.
fn linked_pair(spans: &[Captured]) -> Option<(Captured, Captured)> {
    let servers = spans.iter().filter(|captured| {
        captured.span.kind == SpanKind::Server as i32
            && text(&captured.resource, "process.executable.name")
                .is_some_and(|name| name.starts_with("python"))
    });
    for server in servers {
        let client = spans.iter().find(|captured| {
            captured.span.kind == SpanKind::Client as i32
                && captured.span.span_id == server.span.parent_span_id
        });
        if let Some(client) = client {
            return Some((server.clone(), client.clone()));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_server_and_curl_client_form_one_trace_with_red_metrics() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let port = free_port();
    let recorder = Arc::new(Recorder::default());
    let consumers = ReceiverConsumers {
        traces: Some(recorder.clone()),
        metrics: Some(recorder.clone()),
        logs: None,
    };
    let config = parse_yaml(&format!(
        "ports: {{include: [{port}]}}\nmetrics: {{interval: 1s}}\nextra_headers: [X-Tenant]\n"
    ))
    .unwrap();
    let receiver = factory()
        .create(
            CreateSettings {
                id: ComponentId::parse("ebpf/test").unwrap(),
            },
            &config,
            consumers,
        )
        .unwrap();
    receiver.start(&Host::default()).await.unwrap();

    let server = Reaped(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3"),
    );
    let server_pid = server.0.id();
    wait_for_listener(port);
    let url = format!("http://127.0.0.1:{port}/api/v1/items/7?q=1");
    let mut curl_pids = Vec::new();
    for _ in 0..3 {
        let child = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-H", "X-Request-ID: req-42"])
            .args(["-H", "X-Tenant: blue", &url])
            .spawn()
            .expect("curl");
        curl_pids.push(i64::from(child.id()));
        let status = Reaped(child).0.wait().unwrap();
        assert!(status.success());
    }

    let deadline = Instant::now() + Duration::from_secs(15);
    let (server_span, client_span) = loop {
        let spans = recorder.spans();
        let has_metrics = server_requests(&recorder, server_pid) == Some(3);
        if let Some(pair) = linked_pair(&spans).filter(|_| has_metrics) {
            break pair;
        }
        assert!(
            Instant::now() < deadline,
            "no linked python3/curl span pair (metrics seen: {has_metrics}); spans:\n{}",
            summary(&spans)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    receiver
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    drop(server);

    let (server, client) = (&server_span.span, &client_span.span);
    assert_eq!(server.trace_id, client.trace_id, "one trace");
    assert_eq!(
        client.parent_span_id,
        Vec::<u8>::new(),
        "curl starts the trace"
    );
    assert_eq!(server.name, "GET /api/v1");
    assert_eq!(client.name, "GET /api/v1");
    assert!(server.start_time_unix_nano >= client.start_time_unix_nano);
    assert!(server.end_time_unix_nano <= client.end_time_unix_nano);

    let client_pid = int(&client_span.resource, "process.pid").expect("client process.pid");
    assert!(
        curl_pids.contains(&client_pid),
        "{client_pid} not in {curl_pids:?}"
    );
    assert_eq!(
        text(&client_span.resource, "process.executable.name"),
        Some("curl")
    );
    for captured in [&server_span, &client_span] {
        let a = &captured.span.attributes;
        assert_eq!(text(a, "cormorant.span.source"), Some("system"));
        assert_eq!(text(a, "cormorant.l7.protocol"), Some("http"));
        assert_eq!(text(a, "network.transport"), Some("tcp"));
        assert_eq!(text(a, "http.request.method"), Some("GET"));
        assert_eq!(text(a, "url.path"), Some("/api/v1/items/7"));
        assert_eq!(text(a, "url.query"), Some("q=1"));
        assert_eq!(int(a, "http.response.status_code"), Some(404));
        assert_eq!(text(a, "network.protocol.version"), Some("1.1"));
        assert!(text(a, "user_agent.original").is_some_and(|agent| agent.starts_with("curl/")));
        assert_eq!(text(a, "server.address"), Some("127.0.0.1"));
        assert_eq!(int(a, "server.port"), Some(i64::from(port)));
        assert!(int(a, "thread.id").is_some_and(|tid| tid > 0));
        for header in ["x-request-id", "x-tenant"] {
            let key = format!("http.request.header.{header}");
            assert!(
                matches!(value(a, &key), Some(Value::ArrayValue(_))),
                "{key}"
            );
        }
        assert!(captured.span.status.is_none(), "404 is not an error");
    }
    let (sa, ca) = (&server.attributes, &client.attributes);
    assert_eq!(int(sa, "client.port"), int(ca, "client.port"));
    assert_eq!(int(sa, "network.peer.port"), int(ca, "client.port"));
    assert_eq!(int(ca, "network.peer.port"), Some(i64::from(port)));
    let seq = int(ca, "cormorant.tcp.seq.request").expect("client request seq");
    assert_eq!(int(sa, "cormorant.tcp.seq.request"), Some(seq));
    assert_eq!(
        int(sa, "cormorant.tcp.seq.response"),
        int(ca, "cormorant.tcp.seq.response")
    );
    assert_eq!(
        int(&server_span.resource, "process.pid"),
        Some(i64::from(server_pid))
    );
    for (name, at_least) in [
        ("cormorant_ebpf_events_total", 12),
        ("cormorant_ebpf_spans_total", 6),
    ] {
        let value = self_metric(name, "ebpf/test");
        assert!(value >= at_least, "{name} = {value}");
    }
    assert_eq!(
        self_metric("cormorant_ebpf_lost_events_total", "ebpf/test"),
        0
    );
    // RED: the python3 server counted the three requests as 4xx server requests.
    assert_eq!(server_requests(&recorder, server_pid), Some(3));
}

/// Without privileges, loading fails: a startup error that names the cause and the fix, or,
/// with `optional: true`, a receiver that starts and captures nothing. As root the test runs
/// itself again without privileges (`setpriv` to nobody).
#[tokio::test]
async fn load_failure_is_an_error_unless_optional() {
    if is_root() {
        let Some(setpriv) = which("setpriv") else {
            println!("skipped: needs setpriv to drop root");
            return;
        };
        let status = Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "load_failure_is_an_error_unless_optional",
                "--nocapture",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "unprivileged run failed: {status}");
        return;
    }
    let start = |yaml: &str| {
        let receiver = factory()
            .create(
                CreateSettings {
                    id: ComponentId::parse("ebpf/unprivileged").unwrap(),
                },
                &parse_yaml(yaml).unwrap(),
                ReceiverConsumers {
                    traces: Some(Arc::new(Recorder::default())),
                    ..ReceiverConsumers::default()
                },
            )
            .unwrap();
        async move {
            let started = receiver.start(&Host::default()).await;
            let stopped = receiver
                .shutdown(tokio::time::Instant::now() + Duration::from_secs(1))
                .await;
            (started, stopped)
        }
    };
    let (started, _) = start("{}").await;
    let message = started.expect_err("loading needs privileges").to_string();
    assert!(message.contains("CAP_BPF"), "{message}");
    assert!(message.contains("optional: true"), "{message}");
    let (started, stopped) = start("optional: true").await;
    assert!(started.is_ok(), "{started:?}");
    assert!(stopped.is_ok(), "{stopped:?}");
}

/// The path of a program on `PATH`.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|directory| directory.join(program))
        .find(|path| path.is_file())
}
