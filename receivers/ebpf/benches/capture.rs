//! The receiver's user-space cost per proxied request, without the kernel or the runtime.
//!
//! `cargo bench -p cormorant-receiver-ebpf --bench capture` feeds `Capture` the six socket
//! events `bench/ebpf_overhead.sh` produces per request (wrk → nginx gateway → nginx backend on
//! keep-alive connections: the gateway reads the request, writes it upstream with an
//! X-Request-ID, the backend reads it and answers, the gateway reads the answer and relays it)
//! and ships the spans every 512, as the event task does, into a drop. It prints the time and
//! the heap allocations per request and per span on one thread, the numbers the end-to-end
//! benchmark cannot resolve on a noisy machine. Each event is built per request, with its own
//! payload buffer, as decoding a ring-buffer record does.

use std::alloc::{GlobalAlloc, Layout};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cormorant_core::ComponentId;
use cormorant_ebpf::{Comm, Direction, EventKind, SocketEvent, SocketRole, Syscall, Transport};
use cormorant_receiver_ebpf::receiver::EbpfReceiverConfig;
use cormorant_receiver_ebpf::receiver::capture::Capture;
use cormorant_receiver_ebpf::receiver::telemetry::EbpfTelemetry;

/// mimalloc, as in the collector, with a count of allocations.
struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE_FOR: Duration = Duration::from_secs(3);
/// Spans per shipment, as the receiver's event task.
const SHIP_EVERY: usize = 512;
/// Spans per proxied request: gateway SERVER and CLIENT, backend SERVER.
const SPANS_PER_REQUEST: u64 = 3;

const GATEWAY_PORT: u16 = 18480;
const BACKEND_PORT: u16 = 18481;
const UPSTREAM_PORT: u16 = 41000;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 12:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n";

/// One socket of a traced process.
#[derive(Clone, Copy)]
struct Socket {
    pid: u32,
    tid: u32,
    fd: i32,
    role: SocketRole,
    local: SocketAddr,
    remote: SocketAddr,
}

impl Socket {
    fn event(
        &self,
        kind: EventKind,
        direction: Direction,
        seq: u32,
        at: u64,
        payload: &[u8],
    ) -> SocketEvent {
        SocketEvent {
            timestamp_ns: at,
            cgroup_id: 1,
            bytes: payload.len() as i64,
            pid: self.pid,
            tid: self.tid,
            fd: self.fd,
            tcp_seq: seq,
            kind,
            direction,
            role: self.role,
            syscall: match direction {
                Direction::Egress => Syscall::Writev,
                Direction::Ingress => Syscall::Recvfrom,
            },
            transport: Transport::Tcp,
            local: self.local,
            remote: self.remote,
            comm: Comm::from("nginx"),
            payload: payload.to_vec(),
        }
    }

    fn read(&self, seq: u32, at: u64, payload: &[u8]) -> SocketEvent {
        self.event(EventKind::Data, Direction::Ingress, seq, at, payload)
    }

    fn write(&self, seq: u32, at: u64, payload: &[u8]) -> SocketEvent {
        self.event(EventKind::Data, Direction::Egress, seq, at, payload)
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The gateway's and the backend's sockets for one wrk connection, the request it carries
/// (as wrk sends it and as the gateway forwards it) and the sequence numbers of each direction.
struct Path {
    request: Vec<u8>,
    upstream: Vec<u8>,
    gateway_in: Socket,
    gateway_out: Socket,
    backend_in: Socket,
    client_seq: u32,
    upstream_seq: u32,
    backend_seq: u32,
    gateway_seq: u32,
}

impl Path {
    /// Both nginx workers run in this process's pid, so their metadata resolves from `/proc`
    /// as in a real run; the threads tell them apart.
    fn new(connection: u16) -> Path {
        let pid = std::process::id();
        let fd = i32::from(connection);
        Path {
            request: format!(
                "GET /api/v1/items/{connection} HTTP/1.1\r\nHost: 127.0.0.1:{GATEWAY_PORT}\r\nUser-Agent: wrk\r\n\r\n"
            )
            .into_bytes(),
            upstream: format!(
                "GET /api/v1/items/{connection} HTTP/1.1\r\nHost: backend\r\nX-Request-ID: {connection:032x}\r\nConnection: keep-alive\r\n\r\n"
            )
            .into_bytes(),
            gateway_in: Socket {
                pid,
                tid: 1,
                fd: 1000 + fd,
                role: SocketRole::Server,
                local: loopback(GATEWAY_PORT),
                remote: loopback(50_000 + connection),
            },
            gateway_out: Socket {
                pid,
                tid: 1,
                fd: 2000 + fd,
                role: SocketRole::Client,
                local: loopback(UPSTREAM_PORT + connection),
                remote: loopback(BACKEND_PORT),
            },
            backend_in: Socket {
                pid,
                tid: 2,
                fd: 3000 + fd,
                role: SocketRole::Server,
                local: loopback(BACKEND_PORT),
                remote: loopback(UPSTREAM_PORT + connection),
            },
            client_seq: 1,
            upstream_seq: 1_000_000,
            backend_seq: 2_000_000,
            gateway_seq: 3_000_000,
        }
    }

    /// The six events of one proxied request, 5 µs apart from `at`.
    fn request(&mut self, at: u64, capture: &mut Capture) {
        let (request, upstream) = (self.request.as_slice(), self.upstream.as_slice());
        let step = 5_000;
        let events = [
            self.gateway_in.read(self.client_seq, at, request),
            self.gateway_out
                .write(self.upstream_seq, at + step, upstream),
            self.backend_in
                .read(self.upstream_seq, at + 2 * step, upstream),
            self.backend_in
                .write(self.backend_seq, at + 3 * step, RESPONSE),
            self.gateway_out
                .read(self.backend_seq, at + 4 * step, RESPONSE),
            self.gateway_in
                .write(self.gateway_seq, at + 5 * step, RESPONSE),
        ];
        for event in events {
            capture.handle(event);
        }
        self.client_seq = self.client_seq.wrapping_add(request.len() as u32);
        self.upstream_seq = self.upstream_seq.wrapping_add(upstream.len() as u32);
        self.backend_seq = self.backend_seq.wrapping_add(RESPONSE.len() as u32);
        self.gateway_seq = self.gateway_seq.wrapping_add(RESPONSE.len() as u32);
    }
}

/// Runs requests round-robin over 64 connections until `duration` passes; returns the number
/// of requests and the spans shipped.
fn run(
    capture: &mut Capture,
    paths: &mut [Path],
    clock_ns: &mut u64,
    duration: Duration,
) -> (u64, u64) {
    let started = Instant::now();
    let mut requests = 0u64;
    let mut spans = 0u64;
    while started.elapsed() < duration {
        for _ in 0..1024 {
            let path = &mut paths[(requests % paths.len() as u64) as usize];
            path.request(*clock_ns, capture);
            *clock_ns += 100_000;
            requests += 1;
            if capture.pending_spans() >= SHIP_EVERY {
                let shipped = capture.take_spans();
                spans += shipped
                    .iter()
                    .flat_map(|resource| &resource.scope_spans)
                    .map(|scope| scope.spans.len() as u64)
                    .sum::<u64>();
                drop(std::hint::black_box(shipped));
            }
        }
        drop(std::hint::black_box(capture.collect_metrics()));
    }
    (requests, spans)
}

/// What one configuration measured.
struct Measured {
    ns_per_request: f64,
    allocations_per_request: f64,
    spans: u64,
}

fn measure(spans_enabled: bool, metrics_enabled: bool) -> Measured {
    let mut config = EbpfReceiverConfig::default();
    config.spans.enabled = spans_enabled;
    config.metrics.enabled = metrics_enabled;
    let mut capture = Capture::new(
        Arc::new(config),
        EbpfTelemetry::new(&ComponentId::new("ebpf")),
        |monotonic| monotonic,
    );
    let mut paths: Vec<Path> = (0..64).map(Path::new).collect();
    let mut clock_ns = 1_000_000_000u64;
    run(&mut capture, &mut paths, &mut clock_ns, WARM_UP);

    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    let started = Instant::now();
    let (requests, spans) = run(&mut capture, &mut paths, &mut clock_ns, MEASURE_FOR);
    let elapsed = started.elapsed();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
    if spans_enabled {
        assert!(
            spans >= (requests - SHIP_EVERY as u64) * SPANS_PER_REQUEST,
            "{spans} spans shipped for {requests} requests: the events no longer pair up"
        );
    }
    Measured {
        ns_per_request: elapsed.as_nanos() as f64 / requests as f64,
        allocations_per_request: allocations as f64 / requests as f64,
        spans,
    }
}

fn main() {
    println!("capture: wrk -> gateway -> backend, 6 events and 3 spans per request, one thread");
    let full = measure(true, true);
    println!(
        "  spans and RED metrics   {:6.0} ns, {:5.1} allocations per request = {:.0} ns, {:.1} allocations per span; {:.3} cores at 10k requests/s ({} spans)",
        full.ns_per_request,
        full.allocations_per_request,
        full.ns_per_request / SPANS_PER_REQUEST as f64,
        full.allocations_per_request / SPANS_PER_REQUEST as f64,
        full.ns_per_request * 10_000.0 / 1e9,
        full.spans,
    );
    for (label, spans_enabled, metrics_enabled) in [
        ("RED metrics only      ", false, true),
        ("spans only            ", true, false),
        ("neither (parse, pair) ", false, false),
    ] {
        let part = measure(spans_enabled, metrics_enabled);
        println!(
            "  {label}  {:6.0} ns, {:5.1} allocations per request",
            part.ns_per_request, part.allocations_per_request
        );
    }
}
