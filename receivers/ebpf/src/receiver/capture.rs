//! The event processing of the receiver, free of I/O: socket events in, spans and RED
//! measurements out. The async task ([`super::runtime`]) feeds it and ships what it builds.
//!
//! Per event: filters first (cheapest rejection), then the connection table entry of the
//! socket, protocol inference on a new connection's first bytes, reassembly and pairing in the
//! entry's [`Connection`], ids from the [`AutoTracer`] when a request is seen, and a span plus
//! a RED measurement when it completes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cormorant_core::pdata::common::{InstrumentationScope, KeyValue};
use cormorant_core::pdata::metrics::ResourceMetrics;
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_ebpf::{EventKind, SocketEvent, SocketRole, Transport as EventTransport};
use foldhash::HashMap;

use super::autotrace::{
    AutoTraceLimits, AutoTracer, RequestSeen, SeqKey, SpanIds, request_signature,
};
use super::config::EbpfReceiverConfig;
use super::connections::{
    ChunkMeta, ConnectionKey, ConnectionTable, INFERENCE_ATTEMPTS, MessageOrigin, ParseState,
    RequestState, TrackedConnection,
};
use super::spans::{CaptureSite, Timing, endpoint, exchange_span, status_class, unanswered_span};
use super::telemetry::EbpfTelemetry;
use crate::dns::DnsParser;
use crate::http1::{Http1Config, Http1Parser};
use crate::pairing::{Connection, ConnectionEvent, Exchange, PendingRequest};
use crate::process::{ProcessCache, host_name, resource_attributes};
use crate::protocol::{Confidence, Direction, L7Parser, Protocol, Request, Role, infer_protocol};
use crate::red::{DEFAULT_DURATION_BOUNDS, RedKey, RedKind, RedMetrics, SCOPE_NAME};
use crate::redis::RedisParser;
use crate::stream::{Chunk, Transport};

/// Sockets tracked at once.
const MAX_CONNECTIONS: usize = 65_536;
/// A request unanswered for this long is reported with status Error.
const REQUEST_TIMEOUT_NS: u64 = 30_000_000_000;
/// A socket without traffic for this long is forgotten.
const IDLE_TIMEOUT_NS: u64 = 300_000_000_000;

/// Converts the kernel's monotonic timestamps to Unix time. The two clocks differ by an
/// offset that moves only when the wall clock is stepped, so the capture reads it through
/// this function once per housekeeping pass rather than twice per span.
pub type Clock = fn(u64) -> u64;

/// What the event processing produces and keeps.
pub struct Capture {
    config: Arc<EbpfReceiverConfig>,
    stream_parsers: Vec<Arc<dyn L7Parser>>,
    datagram_parsers: Vec<Arc<dyn L7Parser>>,
    table: ConnectionTable,
    tracer: AutoTracer,
    /// Spans waiting to be shipped, with their process id, in the order built. One list that
    /// keeps its capacity between shipments: per-process lists grown span by span cost a
    /// reallocation and a copy of every span at each doubling.
    spans: Vec<(u32, Span)>,
    red: RedMetrics,
    processes: ProcessCache,
    host_name: String,
    /// Unix time the RED series collected next began (receiver start, then each collect).
    metrics_since_unix_ns: u64,
    telemetry: EbpfTelemetry,
    clock: Clock,
    /// Unix time minus monotonic time, from `clock`, refreshed by [`Capture::expire`].
    unix_offset_ns: u64,
    /// What the connection fed with the current chunk reported; kept between events so the
    /// list is not allocated per event.
    connection_events: Vec<ConnectionEvent>,
}

impl Capture {
    pub fn new(config: Arc<EbpfReceiverConfig>, telemetry: EbpfTelemetry, clock: Clock) -> Self {
        let mut stream_parsers: Vec<Arc<dyn L7Parser>> = Vec::new();
        let mut datagram_parsers: Vec<Arc<dyn L7Parser>> = Vec::new();
        if config.enables(Protocol::Http1) {
            stream_parsers.push(Arc::new(Http1Parser::new(Http1Config {
                extra_headers: config.extra_headers.clone(),
                ..Http1Config::default()
            })));
        }
        if config.enables(Protocol::Redis) {
            stream_parsers.push(Arc::new(RedisParser));
        }
        if config.enables(Protocol::Dns) {
            stream_parsers.push(Arc::new(DnsParser::new(Transport::Stream)));
            datagram_parsers.push(Arc::new(DnsParser::new(Transport::Datagram)));
        }
        Capture {
            config,
            stream_parsers,
            datagram_parsers,
            table: ConnectionTable::new(MAX_CONNECTIONS),
            tracer: AutoTracer::new(AutoTraceLimits::default()),
            spans: Vec::new(),
            red: RedMetrics::new(DEFAULT_DURATION_BOUNDS.to_vec()),
            processes: ProcessCache::new(PathBuf::from("/proc")),
            host_name: host_name(),
            metrics_since_unix_ns: unix_now_ns(),
            telemetry,
            clock,
            unix_offset_ns: clock(0),
            connection_events: Vec::new(),
        }
    }

    /// Spans built and not yet taken.
    pub fn pending_spans(&self) -> usize {
        self.spans.len()
    }

    pub fn connections(&self) -> usize {
        self.table.len()
    }

    /// Processes one socket event.
    pub fn handle(&mut self, event: SocketEvent) {
        self.telemetry.events.inc();
        let transport = match event.transport {
            EventTransport::Tcp => "tcp",
            EventTransport::Udp => "udp",
            EventTransport::Other(_) => return,
        };
        if !self.admits(&event) {
            return;
        }
        let key = ConnectionKey {
            pid: event.pid,
            fd: event.fd,
        };
        match event.kind {
            EventKind::Close => {
                if let Some(entry) = self.table.remove(&key) {
                    // A closed connection's requests are done, answered or not: later
                    // requests the process writes must not become children of them.
                    if matches!(&entry.state, ParseState::Parsing(c) if c.role() == Role::Server) {
                        self.tracer
                            .socket_closed(event.pid, event.fd, event.timestamp_ns);
                    }
                    self.close_entry(key, entry, event.timestamp_ns);
                }
            }
            EventKind::Connect | EventKind::Accept => {
                if let Some(entry) = self.table.remove(&key) {
                    self.close_entry(key, entry, event.timestamp_ns);
                }
                let role = if event.kind == EventKind::Connect {
                    SocketRole::Client
                } else {
                    SocketRole::Server
                };
                let entry = TrackedConnection::new(
                    event.local,
                    event.remote,
                    transport,
                    role,
                    event.timestamp_ns,
                );
                self.insert(key, entry, event.timestamp_ns, &event.comm);
                if role == SocketRole::Client {
                    self.tracer.socket_connected(
                        event.pid,
                        event.tid,
                        event.fd,
                        event.timestamp_ns,
                    );
                }
            }
            EventKind::Data => self.on_data(key, transport, &event),
        }
    }

    fn admits(&self, event: &SocketEvent) -> bool {
        let config = &self.config;
        config
            .ports
            .admits_either(&event.local.port(), &event.remote.port())
            && config.pids.admits(&event.pid)
            && config.comm.admits(event.comm.as_str())
    }

    /// Adds a socket's entry. Its process is looked up now, while it surely runs: a short
    /// client (curl) may have exited by the time its spans are shipped.
    fn insert(&mut self, key: ConnectionKey, entry: TrackedConnection, now_ns: u64, comm: &str) {
        self.processes.get(key.pid, comm);
        for (old_key, old) in self.table.insert(key, entry) {
            self.close_entry(old_key, old, now_ns);
        }
    }

    fn on_data(&mut self, key: ConnectionKey, transport: &'static str, event: &SocketEvent) {
        if self.table.get_mut(&key).is_none() {
            let entry = TrackedConnection::new(
                event.local,
                event.remote,
                transport,
                event.role,
                event.timestamp_ns,
            );
            self.insert(key, entry, event.timestamp_ns, &event.comm);
        }
        let direction = match event.direction {
            cormorant_ebpf::Direction::Egress => Direction::Egress,
            cormorant_ebpf::Direction::Ingress => Direction::Ingress,
        };
        let tcp_seq = (transport == "tcp").then_some(event.tcp_seq);
        let Some(entry) = self.table.get_mut(&key) else {
            return;
        };
        entry.record_chunk(
            direction,
            ChunkMeta::new(event.timestamp_ns, event.tid, tcp_seq, event.remote),
        );
        if let ParseState::Unclassified { attempts } = entry.state {
            let parsers = if transport == "udp" {
                &self.datagram_parsers
            } else {
                &self.stream_parsers
            };
            entry.state = classify(parsers, entry, direction, &event.payload, attempts);
        }
        let chunk = Chunk {
            timestamp_ns: event.timestamp_ns,
            data: &event.payload,
            length: usize::try_from(event.bytes)
                .unwrap_or(0)
                .max(event.payload.len()),
        };
        let mut events = std::mem::take(&mut self.connection_events);
        let role = match &mut entry.state {
            ParseState::Parsing(connection) => {
                connection.on_data_into(direction, chunk, &mut events);
                connection.role()
            }
            ParseState::Unclassified { .. } | ParseState::Ignored => return,
        };
        self.apply(key, events.drain(..), None);
        self.connection_events = events;
        if role == Role::Server && direction == Direction::Egress {
            self.tracer
                .response_written(event.pid, event.fd, event.timestamp_ns);
        }
    }

    /// Handles what a connection reported. `closed_at` is the close time when the
    /// connection ended, which then ends its unanswered requests.
    fn apply(
        &mut self,
        key: ConnectionKey,
        events: impl IntoIterator<Item = ConnectionEvent>,
        closed_at: Option<u64>,
    ) {
        for event in events {
            match event {
                ConnectionEvent::RequestSeen { sequence } => self.request_seen(key, sequence),
                ConnectionEvent::Exchange(exchange) => self.exchange(key, exchange),
                ConnectionEvent::Unanswered(pending) => self.unanswered(key, pending, closed_at),
                ConnectionEvent::Invalid { .. } => self.telemetry.parse_errors.inc(),
                ConnectionEvent::Orphan(_) => {}
            }
        }
    }

    /// A request answered: its span (with the response's TCP sequence) and RED measurement.
    fn exchange(&mut self, key: ConnectionKey, exchange: Exchange) {
        let Some((state, site)) = self.completion(key, exchange.sequence) else {
            return;
        };
        let response_origin = self.table.get_mut(&key).and_then(|entry| {
            let direction = match site.role {
                Role::Server => Direction::Egress,
                Role::Client => Direction::Ingress,
            };
            entry.message_origin(
                direction,
                exchange.response.first_byte_ns,
                exchange.response.last_byte_ns,
            )
        });
        let site = CaptureSite {
            response_seq: response_origin.and_then(|origin| origin.tcp_seq),
            ..site
        };
        let timing = self.timing(
            exchange.request.first_byte_ns,
            exchange.response.last_byte_ns,
        );
        self.record_red(
            key.pid,
            site.role,
            &exchange.request.message,
            Some(&exchange.response.message),
            exchange.duration_ns(),
        );
        if self.config.spans.enabled {
            let span = exchange_span(
                state.ids,
                &site,
                exchange.request.message,
                &exchange.response.message,
                timing,
            );
            self.push_span(key.pid, span);
        }
    }

    fn request_seen(&mut self, key: ConnectionKey, sequence: u64) {
        let Some(entry) = self.table.get_mut(&key) else {
            return;
        };
        let ParseState::Parsing(connection) = &entry.state else {
            return;
        };
        let role = connection.role();
        let Some(pending) = connection.pending_request(sequence) else {
            return;
        };
        let first = pending.request.first_byte_ns;
        let last = pending.request.last_byte_ns;
        let caller = match &pending.request.message {
            Request::Http(http) if role == Role::Server => {
                http.trace_context().map(|(context, _)| context)
            }
            _ => None,
        };
        let signature = request_signature(&pending.request.message);
        let origin = entry
            .message_origin(role.request_direction(), first, last)
            .unwrap_or(MessageOrigin {
                tid: key.pid,
                tcp_seq: None,
                remote: entry.remote,
            });
        let (client, server) = match role {
            Role::Client => (entry.local, origin.remote),
            Role::Server => (origin.remote, entry.local),
        };
        let seen = RequestSeen {
            pid: key.pid,
            tid: origin.tid,
            fd: key.fd,
            signature,
            seq: origin.tcp_seq.map(|tcp_seq| SeqKey {
                client,
                server,
                tcp_seq,
            }),
            timestamp_ns: first,
        };
        let ids = match role {
            Role::Server => self.tracer.server_request(seen, caller),
            Role::Client => self.tracer.client_request(seen),
        };
        entry
            .requests
            .insert(sequence, RequestState { ids, origin });
    }

    /// The ids and capture site of a completed request; a request whose `RequestSeen` was
    /// missed (the table entry was reset in between) gets fresh ids.
    fn completion(
        &mut self,
        key: ConnectionKey,
        sequence: u64,
    ) -> Option<(RequestState, CaptureSite)> {
        let entry = self.table.get_mut(&key)?;
        let role = match &entry.state {
            ParseState::Parsing(connection) => connection.role(),
            _ => return None,
        };
        let state = match entry.requests.remove(&sequence) {
            Some(state) => state,
            None => {
                let origin = MessageOrigin {
                    tid: key.pid,
                    tcp_seq: None,
                    remote: entry.remote,
                };
                let seen = RequestSeen {
                    pid: key.pid,
                    tid: origin.tid,
                    fd: key.fd,
                    signature: None,
                    seq: None,
                    timestamp_ns: entry.last_seen_ns,
                };
                let ids = match role {
                    Role::Server => self.tracer.server_request(seen, None),
                    Role::Client => self.tracer.client_request(seen),
                };
                RequestState { ids, origin }
            }
        };
        let site = CaptureSite {
            role,
            transport: entry.transport,
            local: entry.local,
            remote: state.origin.remote,
            thread_id: state.origin.tid,
            request_seq: state.origin.tcp_seq,
            response_seq: None,
        };
        Some((state, site))
    }

    fn unanswered(&mut self, key: ConnectionKey, pending: PendingRequest, closed_at: Option<u64>) {
        let request = &pending.request;
        let Some((state, site)) = self.completion(key, pending.sequence) else {
            return;
        };
        let end = closed_at
            .unwrap_or(request.last_byte_ns)
            .max(request.last_byte_ns);
        self.record_red(
            key.pid,
            site.role,
            &request.message,
            None,
            end.saturating_sub(request.first_byte_ns),
        );
        if self.config.spans.enabled {
            let timing = self.timing(request.first_byte_ns, end);
            self.push_span(
                key.pid,
                unanswered_span(state.ids, &site, pending.request.message, timing),
            );
        }
    }

    fn close_entry(&mut self, key: ConnectionKey, mut entry: TrackedConnection, now_ns: u64) {
        let events = match &mut entry.state {
            ParseState::Parsing(connection) => connection.close(now_ns),
            _ => return,
        };
        // Completions look the entry up: put it back while they are handled.
        self.table.insert(key, entry);
        self.apply(key, events, Some(now_ns));
        self.table.remove(&key);
    }

    fn timing(&self, start_ns: u64, end_ns: u64) -> Timing {
        Timing {
            start_unix_ns: start_ns.saturating_add(self.unix_offset_ns),
            end_unix_ns: end_ns.saturating_add(self.unix_offset_ns),
        }
    }

    fn record_red(
        &mut self,
        pid: u32,
        role: Role,
        request: &Request,
        response: Option<&crate::protocol::Response>,
        duration_ns: u64,
    ) {
        if !self.config.metrics.enabled {
            return;
        }
        let error = response.is_none_or(|response| response.is_error());
        let key = RedKey {
            pid,
            protocol: request.protocol().as_str(),
            endpoint: endpoint(request),
            status_class: status_class(response),
            kind: match role {
                Role::Server => RedKind::Server,
                Role::Client => RedKind::Client,
            },
        };
        self.red.record(key, duration_ns, error);
    }

    fn push_span(&mut self, pid: u32, span: Span) {
        self.telemetry.spans.inc();
        self.spans.push((pid, span));
    }

    /// Reports requests waiting longer than the timeout and forgets idle sockets and stale
    /// AutoTracing state; `now_ns` is on the kernel's monotonic clock.
    pub fn expire(&mut self, now_ns: u64) {
        self.unix_offset_ns = (self.clock)(0);
        let deadline = now_ns.saturating_sub(REQUEST_TIMEOUT_NS);
        let expired: Vec<(ConnectionKey, Vec<ConnectionEvent>)> = self
            .table
            .parsing_mut()
            .filter_map(|(key, entry)| match &mut entry.state {
                ParseState::Parsing(connection) => {
                    let events = connection.expire(deadline);
                    (!events.is_empty()).then_some((*key, events))
                }
                _ => None,
            })
            .collect();
        for (key, events) in expired {
            self.apply(key, events, None);
        }
        for (key, entry) in self
            .table
            .evict_idle(now_ns.saturating_sub(IDLE_TIMEOUT_NS))
        {
            self.close_entry(key, entry, now_ns);
        }
        self.tracer.expire(now_ns);
        if !self.config.metrics.enabled {
            self.processes.sweep_exited();
        }
    }

    /// The spans built so far, grouped by process, with each process's resource.
    ///
    /// Spans are built with the ids their request got and take their final trace and parent
    /// here, once, rather than when they are built: a same-host server can read a request and
    /// answer it before its client's write is processed (the client thread may be descheduled
    /// between queueing the bytes and leaving the system call), so the link by TCP sequence can
    /// be learned after the server's span was built. Entries past their time to live but not yet
    /// swept still apply; what they say stays true.
    pub fn take_spans(&mut self) -> Vec<ResourceSpans> {
        for (_, span) in &mut self.spans {
            relink(&self.tracer, span);
        }
        let mut counts: HashMap<u32, usize> = HashMap::default();
        for (pid, _) in &self.spans {
            *counts.entry(*pid).or_default() += 1;
        }
        let mut by_process: HashMap<u32, Vec<Span>> = HashMap::default();
        for (pid, span) in self.spans.drain(..) {
            by_process
                .entry(pid)
                .or_insert_with(|| Vec::with_capacity(counts.get(&pid).copied().unwrap_or(1)))
                .push(span);
        }
        by_process
            .into_iter()
            .map(|(pid, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: self.resource_of(pid),
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect()
    }

    /// The cumulative RED metrics, per process.
    pub fn collect_metrics(&mut self) -> Vec<ResourceMetrics> {
        let now = unix_now_ns();
        let since = std::mem::replace(&mut self.metrics_since_unix_ns, now);
        let processes = &mut self.processes;
        let host_name = &self.host_name;
        let metrics = self.red.collect(since, now, |pid| {
            resource_attributes(&processes.get(pid, ""), host_name)
        });
        // Exited processes' metadata goes once their last RED points are out.
        self.processes.sweep_exited();
        metrics
    }

    /// The resource attributes of a traced process (cached since its first socket event).
    fn resource_of(&mut self, pid: u32) -> Vec<KeyValue> {
        resource_attributes(&self.processes.get(pid, ""), &self.host_name)
    }
}

fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// The instrumentation scope of everything the receiver emits.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_owned(),
        version: cormorant_core::VERSION.to_owned(),
        ..InstrumentationScope::default()
    }
}

/// Tries the parsers on a connection's bytes; the role comes from the kernel (connect or
/// accept) when known, else from what was recognised and which way it moved. Weak
/// inferences are not enough, so Redis inline commands (telnet-style) are not captured.
fn classify(
    parsers: &[Arc<dyn L7Parser>],
    entry: &TrackedConnection,
    direction: Direction,
    payload: &[u8],
    attempts: u8,
) -> ParseState {
    if parsers.is_empty() {
        return ParseState::Ignored;
    }
    let candidates: Vec<&dyn L7Parser> = parsers.iter().map(|parser| parser.as_ref()).collect();
    // A weak guess (a Redis inline command that may be any text line, a bare RESP integer)
    // would misparse a whole connection; wait for bytes that tell.
    let inferred = infer_protocol(&candidates, payload)
        .filter(|(_, inference)| inference.confidence >= Confidence::Strong);
    let Some((parser, inference)) = inferred else {
        return if attempts + 1 >= INFERENCE_ATTEMPTS {
            ParseState::Ignored
        } else {
            ParseState::Unclassified {
                attempts: attempts + 1,
            }
        };
    };
    let protocol = parser.protocol();
    let Some(parser) = parsers.iter().find(|p| p.protocol() == protocol) else {
        return ParseState::Ignored;
    };
    let role = match entry.kernel_role {
        SocketRole::Client => Role::Client,
        SocketRole::Server => Role::Server,
        SocketRole::Unknown => inference.role(direction),
    };
    let transport = if entry.transport == "udp" {
        Transport::Datagram
    } else {
        Transport::Stream
    };
    ParseState::Parsing(Box::new(Connection::new(parser.clone(), role, transport)))
}

/// Applies links learned since `span` was built: the trace its trace id was aliased to, and a
/// parent found later.
fn relink(tracer: &AutoTracer, span: &mut Span) {
    let (Ok(trace_id), Ok(span_id)) = (
        <[u8; 16]>::try_from(span.trace_id.as_slice()),
        <[u8; 8]>::try_from(span.span_id.as_slice()),
    ) else {
        return;
    };
    let ids = SpanIds {
        trace_id,
        span_id,
        parent_span_id: <[u8; 8]>::try_from(span.parent_span_id.as_slice()).ok(),
    };
    let resolved = tracer.resolve(ids, 0);
    if resolved.trace_id != trace_id {
        span.trace_id = resolved.trace_id.to_vec();
    }
    if let (None, Some(parent)) = (ids.parent_span_id, resolved.parent_span_id) {
        span.parent_span_id = parent.to_vec();
    }
}

#[path = "process_events.rs"]
mod process_events;

#[cfg(test)]
#[path = "capture_tests.rs"]
mod tests;
