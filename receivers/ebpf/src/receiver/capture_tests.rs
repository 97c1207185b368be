use std::net::SocketAddr;

use cormorant_core::ComponentId;
use cormorant_core::pdata::trace::span::SpanKind;
use cormorant_core::pdata::trace::status::StatusCode;
use cormorant_ebpf::{Comm, Direction as EventDirection, Syscall};

use super::*;

const CURL: u32 = 300;
const GATEWAY: u32 = 100;
const BACKEND: u32 = 200;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

struct Event {
    pid: u32,
    tid: u32,
    fd: i32,
    local: u16,
    remote: u16,
}

impl Event {
    fn on(pid: u32, tid: u32, fd: i32, local: u16, remote: u16) -> Event {
        Event {
            pid,
            tid,
            fd,
            local,
            remote,
        }
    }

    fn base(&self, kind: EventKind, timestamp_ns: u64) -> SocketEvent {
        SocketEvent {
            timestamp_ns,
            cgroup_id: 1,
            bytes: 0,
            pid: self.pid,
            tid: self.tid,
            fd: self.fd,
            tcp_seq: 0,
            kind,
            direction: EventDirection::Egress,
            role: SocketRole::Unknown,
            syscall: Syscall::Close,
            transport: EventTransport::Tcp,
            local: addr(self.local),
            remote: addr(self.remote),
            comm: Comm::from(format!("proc{}", self.pid).as_str()),
            payload: Vec::new(),
        }
    }

    fn connect(&self, timestamp_ns: u64) -> SocketEvent {
        self.base(EventKind::Connect, timestamp_ns)
    }

    fn close(&self, timestamp_ns: u64) -> SocketEvent {
        self.base(EventKind::Close, timestamp_ns)
    }

    fn data(&self, direction: EventDirection, seq: u32, ts: u64, payload: &[u8]) -> SocketEvent {
        SocketEvent {
            bytes: payload.len() as i64,
            tcp_seq: seq,
            direction,
            syscall: match direction {
                EventDirection::Egress => Syscall::Write,
                EventDirection::Ingress => Syscall::Read,
            },
            payload: payload.to_vec(),
            ..self.base(EventKind::Data, ts)
        }
    }

    fn write(&self, seq: u32, ts: u64, payload: &[u8]) -> SocketEvent {
        self.data(EventDirection::Egress, seq, ts, payload)
    }

    fn read(&self, seq: u32, ts: u64, payload: &[u8]) -> SocketEvent {
        self.data(EventDirection::Ingress, seq, ts, payload)
    }
}

fn capture(yaml: &str) -> Capture {
    let config: EbpfReceiverConfig =
        cormorant_core::parse_config(&cormorant_confmap::parse_yaml(yaml).unwrap()).unwrap();
    Capture::new(
        Arc::new(config),
        EbpfTelemetry::new(&ComponentId::new("ebpf")),
        |monotonic| monotonic + 1_000,
    )
}

/// Every span taken, with its process id.
fn spans(capture: &mut Capture) -> Vec<(i64, Span)> {
    capture
        .take_spans()
        .into_iter()
        .flat_map(|resource_spans| {
            let pid = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|kv| kv.key == "process.pid")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    cormorant_core::pdata::common::any_value::Value::IntValue(pid) => Some(*pid),
                    _ => None,
                })
                .unwrap_or(-1);
            resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
                .map(move |span| (pid, span))
        })
        .collect()
}

const REQUEST: &[u8] = b"GET /api/v1/orders HTTP/1.1\r\nHost: gw\r\n\r\n";
const BACKEND_REQUEST: &[u8] = b"GET /inventory/7 HTTP/1.1\r\nHost: backend\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// The order the backend's events are processed in, relative to the gateway's write of the
/// request they answer.
#[derive(Clone, Copy, PartialEq)]
enum BackendOrder {
    /// The read before the gateway's write: the ring buffer may order them so.
    ReadsFirst,
    /// Read and answered before the gateway's write: the gateway thread was descheduled
    /// between queueing the bytes and leaving the system call.
    AnswersFirst,
}

/// curl → gateway → backend, the backend socket predating tracing, its events ordered by
/// `order`.
fn three_hops(capture: &mut Capture, order: BackendOrder) {
    let curl = Event::on(CURL, CURL, 3, 50_000, 8080);
    let gateway_in = Event::on(GATEWAY, 101, 5, 8080, 50_000);
    let gateway_out = Event::on(GATEWAY, 101, 6, 40_000, 9000);
    let backend = Event::on(BACKEND, 201, 7, 9000, 40_000);
    capture.handle(curl.connect(1));
    capture.handle(gateway_in.base(EventKind::Accept, 2));
    capture.handle(curl.write(1000, 10, REQUEST));
    capture.handle(gateway_in.read(1000, 20, REQUEST));
    capture.handle(gateway_out.connect(21));
    capture.handle(backend.read(5000, 31, BACKEND_REQUEST));
    if order == BackendOrder::AnswersFirst {
        capture.handle(backend.write(7000, 40, RESPONSE));
    }
    capture.handle(gateway_out.write(5000, 30, BACKEND_REQUEST));
    if order == BackendOrder::ReadsFirst {
        capture.handle(backend.write(7000, 40, RESPONSE));
    }
    capture.handle(gateway_out.read(7000, 45, RESPONSE));
    capture.handle(gateway_in.write(9000, 50, RESPONSE));
    capture.handle(curl.read(9000, 55, RESPONSE));
}

/// The span named `name` of `kind` among `spans`.
fn find<'a>(spans: &'a [(i64, Span)], name: &str, kind: SpanKind) -> &'a Span {
    spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| span.name == name && span.kind == kind as i32)
        .unwrap_or_else(|| panic!("{name} {kind:?} in {spans:#?}"))
}

#[test]
fn three_processes_form_one_trace() {
    let mut capture = capture("{}");
    three_hops(&mut capture, BackendOrder::ReadsFirst);
    assert_eq!(capture.pending_spans(), 4);
    let spans = spans(&mut capture);
    let curl = find(&spans, "GET /api/v1", SpanKind::Client);
    let gateway = find(&spans, "GET /api/v1", SpanKind::Server);
    let gateway_call = find(&spans, "GET /inventory/7", SpanKind::Client);
    let backend = find(&spans, "GET /inventory/7", SpanKind::Server);
    assert!(curl.parent_span_id.is_empty());
    assert_eq!(
        gateway.parent_span_id, curl.span_id,
        "TCP sequence, client first"
    );
    assert_eq!(
        gateway_call.parent_span_id, gateway.span_id,
        "thread association"
    );
    assert_eq!(
        backend.parent_span_id, gateway_call.span_id,
        "TCP sequence, server first"
    );
    for span in [gateway, gateway_call, backend] {
        assert_eq!(span.trace_id, curl.trace_id, "{}", span.name);
    }
    assert_eq!(
        (curl.start_time_unix_nano, curl.end_time_unix_nano),
        (1_010, 1_055)
    );
}

/// The link by TCP sequence comes after the backend's span was built; it still joins the trace.
#[test]
fn a_server_answered_before_its_clients_write_was_seen_still_joins_the_trace() {
    let mut capture = capture("{}");
    three_hops(&mut capture, BackendOrder::AnswersFirst);
    let spans = spans(&mut capture);
    let curl = find(&spans, "GET /api/v1", SpanKind::Client);
    let gateway_call = find(&spans, "GET /inventory/7", SpanKind::Client);
    let backend = find(&spans, "GET /inventory/7", SpanKind::Server);
    assert_eq!(backend.trace_id, curl.trace_id);
    assert_eq!(backend.parent_span_id, gateway_call.span_id);
}

#[test]
fn filters_drop_events_before_any_state_is_kept() {
    let mut capture = capture("ports: {exclude: [9000]}\npids: {exclude: [300]}");
    three_hops(&mut capture, BackendOrder::ReadsFirst);
    let spans = spans(&mut capture);
    let names: Vec<(&str, i32)> = spans
        .iter()
        .map(|(_, span)| (span.name.as_str(), span.kind))
        .collect();
    assert_eq!(names, [("GET /api/v1", SpanKind::Server as i32)]);
    assert!(
        spans[0].1.parent_span_id.is_empty(),
        "curl was filtered out"
    );

    let mut by_comm = self::capture("comm: {include: [proc200]}");
    three_hops(&mut by_comm, BackendOrder::ReadsFirst);
    let spans = self::spans(&mut by_comm);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].1.kind, SpanKind::Server as i32);
    assert_eq!(spans[0].1.name, "GET /inventory/7");
}

#[test]
fn closed_and_timed_out_requests_become_error_spans() {
    let mut capture = capture("{}");
    let closed = Event::on(CURL, CURL, 3, 50_001, 8080);
    capture.handle(closed.connect(1));
    capture.handle(closed.write(1, 10, REQUEST));
    capture.handle(closed.close(500));
    let stuck = Event::on(CURL, CURL, 4, 50_002, 6379);
    capture.handle(stuck.connect(2));
    capture.handle(stuck.write(1, 20, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
    assert_eq!(capture.connections(), 1, "the closed socket is forgotten");
    capture.expire(20 + REQUEST_TIMEOUT_NS + 1);

    let spans = spans(&mut capture);
    assert_eq!(spans.len(), 2);
    for (_, span) in &spans {
        let status = span.status.as_ref().unwrap();
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "no response");
    }
    let closed_span = spans
        .iter()
        .find(|(_, span)| span.name == "GET /api/v1")
        .unwrap();
    assert_eq!(closed_span.1.end_time_unix_nano, 1_500, "ends at the close");
    assert!(spans.iter().any(|(_, span)| span.name == "GET"));
}

#[test]
fn unrecognised_traffic_is_given_up_and_disabled_protocols_are_not_parsed() {
    let mut capture = capture("protocols: [redis]");
    let socket = Event::on(CURL, CURL, 3, 50_000, 8080);
    capture.handle(socket.connect(1));
    capture.handle(socket.write(1, 10, REQUEST));
    capture.handle(socket.read(1, 20, RESPONSE));
    capture.handle(socket.close(30));
    let garbage = Event::on(CURL, CURL, 5, 50_003, 1234);
    for attempt in 0..40 {
        capture.handle(garbage.write(attempt, 100 + u64::from(attempt), b"\x00\x01binary"));
    }
    assert_eq!(capture.pending_spans(), 0);
    assert_eq!(capture.connections(), 1);
}

#[test]
fn an_inbound_traceparent_joins_the_callers_trace() {
    let mut capture = capture("{}");
    let server = Event::on(GATEWAY, 101, 5, 8080, 50_000);
    capture.handle(server.base(EventKind::Accept, 1));
    capture.handle(server.read(
        1,
        10,
        b"GET / HTTP/1.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
    ));
    capture.handle(server.write(1, 20, RESPONSE));
    let spans = spans(&mut capture);
    assert_eq!(spans.len(), 1);
    let span = &spans[0].1;
    assert_eq!(
        span.trace_id,
        [
            0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
            0x31, 0x9c
        ]
    );
    assert_eq!(
        span.parent_span_id,
        [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
    );
}

#[test]
fn closing_a_served_connection_ends_the_thread_association() {
    let mut capture = capture("{}");
    let served = Event::on(GATEWAY, 101, 5, 8080, 50_000);
    capture.handle(served.base(EventKind::Accept, 1));
    capture.handle(served.read(1, 10, REQUEST));
    capture.handle(served.close(20));
    let later = Event::on(GATEWAY, 101, 6, 40_000, 9000);
    capture.handle(later.connect(30));
    capture.handle(later.write(1, 40, BACKEND_REQUEST));
    capture.handle(later.read(1, 50, RESPONSE));
    let spans = spans(&mut capture);
    let server = spans
        .iter()
        .find(|(_, span)| span.kind == SpanKind::Server as i32)
        .unwrap();
    let client = spans
        .iter()
        .find(|(_, span)| span.kind == SpanKind::Client as i32)
        .unwrap();
    assert_eq!(server.1.status.as_ref().unwrap().message, "no response");
    assert!(client.1.parent_span_id.is_empty(), "{:?}", client.1);
    assert_ne!(client.1.trace_id, server.1.trace_id);
}

/// Above the kernel's PID_MAX_LIMIT: no process on the test machine has this pid.
const EXITED_CLIENT: u32 = 4_194_400;

fn process_event(
    kind: cormorant_ebpf::ProcessEventKind,
    timestamp_ns: u64,
) -> cormorant_ebpf::ProcessEvent {
    cormorant_ebpf::ProcessEvent {
        kind,
        timestamp_ns,
        tgid: EXITED_CLIENT,
        cgroup_id: 0,
        comm: Comm::from("curl"),
        executable: Some("/usr/bin/curl".to_owned()),
        command_line: vec!["curl".to_owned(), "http://gw:8080/api/v1/orders".to_owned()],
    }
}

fn metric_pids(metrics: &[ResourceMetrics]) -> Vec<i64> {
    metrics
        .iter()
        .filter_map(|resource_metrics| {
            let resource = resource_metrics.resource.as_ref()?;
            let pid = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "process.pid")?;
            match pid.value.as_ref()?.value.as_ref()? {
                cormorant_core::pdata::common::any_value::Value::IntValue(pid) => Some(*pid),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn a_process_exit_ends_its_connections_then_its_series() {
    use cormorant_ebpf::ProcessEventKind;
    let mut capture = capture("{}");
    capture.handle_process(process_event(ProcessEventKind::Exec, 1));
    let client = Event::on(EXITED_CLIENT, EXITED_CLIENT, 3, 50_003, 8080);
    capture.handle(client.connect(2));
    capture.handle(client.write(1, 10, REQUEST));
    assert_eq!(capture.connections(), 1);

    capture.handle_process(process_event(ProcessEventKind::Exit, 600));
    assert_eq!(capture.connections(), 0, "the exit closed the socket");
    let spans = capture.take_spans();
    assert_eq!(spans.len(), 1);
    let resource = &spans[0].resource.as_ref().unwrap().attributes;
    let command_line = resource
        .iter()
        .find(|kv| kv.key == "process.command_line")
        .and_then(|kv| kv.value.clone());
    assert_eq!(
        command_line.and_then(|value| value.value),
        Some(
            cormorant_core::pdata::common::any_value::Value::StringValue(
                "curl http://gw:8080/api/v1/orders".to_owned()
            )
        ),
        "described by its exec record: /proc has no such pid"
    );
    let span = &spans[0].scope_spans[0].spans[0];
    assert_eq!(
        span.end_time_unix_nano, 1_600,
        "unanswered, ended at the exit"
    );
    assert_eq!(span.status.as_ref().unwrap().code, StatusCode::Error as i32);

    assert_eq!(
        metric_pids(&capture.collect_metrics()),
        vec![i64::from(EXITED_CLIENT)],
        "the last count goes out once more"
    );
    assert!(metric_pids(&capture.collect_metrics()).is_empty());
}

#[test]
fn process_events_of_filtered_processes_are_ignored() {
    use cormorant_ebpf::ProcessEventKind;
    let mut capture = capture("comm: {include: [nginx]}");
    capture.handle_process(process_event(ProcessEventKind::Exec, 1));
    assert!(capture.processes.cached(EXITED_CLIENT).is_none());
}
