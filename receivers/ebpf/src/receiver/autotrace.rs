//! AutoTracing: trace and span ids for captured requests without any SDK in the traced
//! processes.
//!
//! Ids are assigned when a request's bytes are seen, so a downstream request made while the
//! upstream one is still being served can name it as parent. Three links, strongest first:
//!
//! - **Trace headers**: an inbound request carrying `traceparent` (else B3, `uber-trace-id`,
//!   `sw8`) joins the caller's trace under the caller's span.
//! - **Thread association**: a request a thread writes is a child of an inbound request that
//!   thread read and has not answered yet (see below).
//! - **TCP sequence**: on one host the client's `write_seq` of a request's first byte equals
//!   the server's `copied_seq` for it, on the same 4-tuple seen from both ends. The server span
//!   becomes the client span's child. The two events may arrive in either order; when the
//!   server's comes first its ids are already handed out (its children may use them), so the
//!   link is recorded as an alias from the server's trace id to the client's and applied when
//!   spans are emitted ([`AutoTracer::resolve`]).
//!
//! ## Thread association
//!
//! A thread-per-request server reads one request, makes its downstream calls and answers it
//! before it reads the next, so "the request the thread is serving" is unambiguous. An
//! event-loop server (nginx, Node.js, Redis-backed proxies) reads the requests of several
//! clients on one thread and interleaves their downstream calls: it may read A, then B, then
//! write the upstream request for A. So each thread keeps the inbound requests it read and has
//! not answered yet, oldest first, and a request it writes picks its parent among them:
//!
//! 1. exactly one open inbound request: that one, for every request written until it is
//!    answered (a handler calling several backends);
//! 2. several: those whose HTTP method and target the outbound request repeats, since a proxy
//!    forwards the request line it read ([`request_signature`]); without such a repeat, all
//!    of them;
//! 3. among those, the one the thread was serving (its most recent open request) when it
//!    connected the socket the request is written on: nginx connects upstream right after it
//!    read a request, but writes on the connection once it is established, possibly after
//!    reading other requests, and not necessarily in the order it connected (a backend with a
//!    full accept queue establishes later). This tells identical requests apart;
//! 4. else the oldest that has no child yet, as an event loop serves in the order it reads;
//! 5. when every one already has a child, the most recent.
//!
//! An inbound request stops being open when a response is written on its socket (the oldest
//! open one of that socket is the one answered, as HTTP/1.x and RESP answer in order) or the
//! socket is closed, whichever thread does it. A thread keeps at most
//! [`MAX_OPEN_PER_THREAD`] open requests and each lives at most the time to live, so requests
//! whose answer was never seen cannot pile up; such a request can still take one child that
//! is not its own before rule 3 passes it over. The rules are a heuristic: an event loop whose
//! downstream calls do not repeat the inbound request line (a Redis lookup, a rewritten path)
//! and that makes several calls per request can still pick a sibling as parent.
//!
//! Everything here is bounded and forgets entries after a time to live, measured on the
//! caller's clock (event timestamps), which keeps this module pure and testable.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use foldhash::HashMap;
use foldhash::fast::FixedState;

use crate::protocol::Request;
use crate::trace_context::TraceContext;

/// How many hops an alias chain may have; longer chains only arise from loops.
const MAX_ALIAS_HOPS: usize = 8;

/// Unanswered inbound requests kept per thread. An event loop rarely has this many requests
/// between reading them and forwarding them; past it the oldest, most likely one whose answer
/// was missed, is forgotten.
pub const MAX_OPEN_PER_THREAD: usize = 64;

/// Server requests kept for a client request not seen yet. On one host the client's write
/// reaches the ring buffer moments after the server could read its bytes, so a candidate is
/// claimed within a few events or never: its client is on another host or not traced, as for
/// every request an ingress receives. A short list stays in the CPU caches (the full-size one
/// cost 7 % of the receiver's time per proxied request in the capture benchmark) and still
/// spans 200 ms of unclaimed requests at 40k requests/s.
const MAX_SERVER_CANDIDATES: usize = 8_192;

/// The ids of one span, as assigned when its request was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanIds {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
}

/// A connection seen from the client's side, the same from both ends of a same-host link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqKey {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub tcp_seq: u32,
}

/// Three integer writes instead of `SocketAddr`'s field-by-field hashing (variant, octets,
/// port, and for IPv6 flow info and scope): this key is hashed up to three times per request.
/// Equal keys have equal addresses, ports and sequence, so they hash alike.
impl Hash for SeqKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let bits = |address: &SocketAddr| match address.ip() {
            IpAddr::V4(v4) => u128::from(v4.to_bits()),
            IpAddr::V6(v6) => v6.to_bits(),
        };
        state.write_u128(bits(&self.client));
        state.write_u128(bits(&self.server));
        state.write_u64(
            u64::from(self.client.port()) << 48
                | u64::from(self.server.port()) << 32
                | u64::from(self.tcp_seq),
        );
    }
}

/// What the tracer needs to know about a request when its bytes are seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSeen {
    pub pid: u32,
    pub tid: u32,
    /// The socket the request went through: a response written on it answers it.
    pub fd: i32,
    /// [`request_signature`] of the request, matching a forwarded request to its inbound one.
    pub signature: Option<u64>,
    /// The client-side view of the connection and the request's first TCP sequence; `None`
    /// for UDP or when the sequence of the request's first byte is unknown.
    pub seq: Option<SeqKey>,
    pub timestamp_ns: u64,
}

/// Bounds and lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoTraceLimits {
    /// Entries kept per map before the oldest is dropped.
    pub max_entries: usize,
    /// How long a thread association, a sequence candidate or an alias lives.
    pub ttl_ns: u64,
}

impl Default for AutoTraceLimits {
    fn default() -> Self {
        AutoTraceLimits {
            max_entries: 65_536,
            ttl_ns: 120_000_000_000,
        }
    }
}

/// A map with insertion-order eviction and a time to live.
struct ExpiringMap<K, V> {
    entries: HashMap<K, (V, u64)>,
    order: VecDeque<(K, u64)>,
    limits: AutoTraceLimits,
}

impl<K: Hash + Eq + Copy, V> ExpiringMap<K, V> {
    fn new(limits: AutoTraceLimits) -> Self {
        ExpiringMap {
            entries: HashMap::default(),
            order: VecDeque::new(),
            limits,
        }
    }

    fn insert(&mut self, key: K, value: V, now_ns: u64) {
        self.entries.insert(key, (value, now_ns));
        self.order.push_back((key, now_ns));
        while self.entries.len() > self.limits.max_entries {
            let Some((old, stamp)) = self.order.pop_front() else {
                break;
            };
            self.remove_if_stamped(&old, stamp);
        }
        // The order queue also holds stale stamps of overwritten keys; keep it bounded too.
        if self.order.len() > 2 * self.limits.max_entries.max(1) {
            self.order
                .retain(|(key, stamp)| self.entries.get(key).is_some_and(|(_, s)| s == stamp));
        }
    }

    fn get(&self, key: &K, now_ns: u64) -> Option<&V> {
        let (value, stamp) = self.entries.get(key)?;
        (now_ns.saturating_sub(*stamp) <= self.limits.ttl_ns).then_some(value)
    }

    fn get_mut(&mut self, key: &K, now_ns: u64) -> Option<&mut V> {
        let (value, stamp) = self.entries.get_mut(key)?;
        (now_ns.saturating_sub(*stamp) <= self.limits.ttl_ns).then_some(value)
    }

    /// The value under `key` (a default one if it was missing or expired), stamped so that it
    /// lives at least seven eighths of a time to live from now. `None` only when the map holds
    /// nothing (`max_entries` 0).
    fn refreshed(&mut self, key: K, now_ns: u64) -> Option<&mut V>
    where
        V: Default,
    {
        let fresh = self
            .entries
            .get(&key)
            .is_some_and(|(_, stamp)| self.fresh(*stamp, now_ns));
        if !fresh {
            let value = self.remove(&key, now_ns).unwrap_or_default();
            self.insert(key, value, now_ns);
        }
        self.entries.get_mut(&key).map(|(value, _)| value)
    }

    /// Stores `value` under `key` unless it is there already and fresh; the per-request
    /// updates of a busy socket or thread then cost one lookup.
    fn upsert(&mut self, key: K, value: V, now_ns: u64)
    where
        V: PartialEq,
    {
        let current = self
            .entries
            .get(&key)
            .is_some_and(|(held, stamp)| *held == value && self.fresh(*stamp, now_ns));
        if !current {
            self.insert(key, value, now_ns);
        }
    }

    /// Whether an entry stamped `stamp` is within the last eighth of a time to live.
    /// Restamping only past that keeps the order queue from growing by one entry per request
    /// on a busy key, while the entry still lives at least seven eighths of a time to live
    /// after its last use.
    fn fresh(&self, stamp: u64, now_ns: u64) -> bool {
        now_ns.saturating_sub(stamp) <= self.limits.ttl_ns / 8
    }

    fn remove(&mut self, key: &K, now_ns: u64) -> Option<V> {
        let (value, stamp) = self.entries.remove(key)?;
        (now_ns.saturating_sub(stamp) <= self.limits.ttl_ns).then_some(value)
    }

    fn remove_if_stamped(&mut self, key: &K, stamp: u64) {
        if self.entries.get(key).is_some_and(|(_, s)| *s == stamp) {
            self.entries.remove(key);
        }
    }

    fn expire(&mut self, now_ns: u64) {
        while let Some(&(key, stamp)) = self.order.front() {
            if now_ns.saturating_sub(stamp) <= self.limits.ttl_ns {
                break;
            }
            self.order.pop_front();
            self.remove_if_stamped(&key, stamp);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The span a server-side request produced, kept until a client with the same sequence
/// shows up (or the entry expires).
#[derive(Clone, Copy)]
struct ServerCandidate {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

/// An inbound request a thread read and has not answered yet.
#[derive(Debug, Clone, Copy)]
struct OpenInbound {
    ids: SpanIds,
    fd: i32,
    signature: Option<u64>,
    /// Whether a request the thread wrote was already made its child.
    has_child: bool,
    read_ns: u64,
}

/// The open inbound requests of one thread, oldest first, at most [`MAX_OPEN_PER_THREAD`].
#[derive(Debug, Default)]
struct OpenInbounds {
    oldest_first: Vec<OpenInbound>,
}

impl OpenInbounds {
    fn open(&mut self, inbound: OpenInbound, ttl_ns: u64) {
        self.forget_older_than(inbound.read_ns, ttl_ns);
        if self.oldest_first.len() >= MAX_OPEN_PER_THREAD {
            self.oldest_first.remove(0);
        }
        self.oldest_first.push(inbound);
    }

    /// The parent of a request the thread writes now, by the rules in the module docs;
    /// `connected_for` is the span the thread served when it connected the request's socket.
    fn parent_for(
        &mut self,
        signature: Option<u64>,
        connected_for: Option<[u8; 8]>,
        now_ns: u64,
        ttl_ns: u64,
    ) -> Option<SpanIds> {
        self.forget_older_than(now_ns, ttl_ns);
        let chosen = match self.oldest_first.as_slice() {
            [] => return None,
            [_] => 0,
            open => {
                let repeats =
                    |inbound: &OpenInbound| signature.is_some() && inbound.signature == signature;
                let any_repeated = open.iter().any(repeats);
                let candidate = |inbound: &OpenInbound| !any_repeated || repeats(inbound);
                let served_at_connect =
                    |inbound: &OpenInbound| Some(inbound.ids.span_id) == connected_for;
                open.iter()
                    .position(|inbound| candidate(inbound) && served_at_connect(inbound))
                    .or_else(|| {
                        open.iter()
                            .position(|inbound| candidate(inbound) && !inbound.has_child)
                    })
                    .or_else(|| open.iter().rposition(candidate))
                    .unwrap_or(open.len() - 1)
            }
        };
        let inbound = &mut self.oldest_first[chosen];
        inbound.has_child = true;
        Some(inbound.ids)
    }

    /// A response went out on `fd`: its oldest open request there is answered.
    fn answer(&mut self, fd: i32) {
        if let Some(index) = self.oldest_first.iter().position(|open| open.fd == fd) {
            self.oldest_first.remove(index);
        }
    }

    /// `fd` was closed: its requests will get no answer from this thread.
    fn close(&mut self, fd: i32) {
        self.oldest_first.retain(|open| open.fd != fd);
    }

    /// The request the thread is serving now: the one it read last.
    fn most_recent(&self) -> Option<&OpenInbound> {
        self.oldest_first.last()
    }

    fn forget_older_than(&mut self, now_ns: u64, ttl_ns: u64) {
        self.oldest_first
            .retain(|open| now_ns.saturating_sub(open.read_ns) <= ttl_ns);
    }

    fn len(&self) -> usize {
        self.oldest_first.len()
    }
}

/// Assigns ids and resolves late links. One per receiver, driven by the event task.
pub struct AutoTracer {
    /// (pid, tid) → the inbound requests the thread read and has not answered.
    threads: ExpiringMap<(u32, u32), OpenInbounds>,
    /// (pid, fd) → the thread that last read an inbound request from the socket, so that an
    /// answer or a close by any thread ends that thread's open request.
    readers: ExpiringMap<(u32, i32), u32>,
    /// (pid, fd) → the span its thread was serving when it connected the socket.
    connected_for: ExpiringMap<(u32, i32), [u8; 8]>,
    /// Client requests by sequence, for servers seen later.
    clients: ExpiringMap<SeqKey, SpanIds>,
    /// Server requests by sequence that no client claimed yet.
    servers: ExpiringMap<SeqKey, ServerCandidate>,
    /// Server trace id → the client's trace id it really belongs to.
    aliases: ExpiringMap<[u8; 16], [u8; 16]>,
    /// Server span id → its client parent, learned after the server's ids were handed out.
    late_parents: ExpiringMap<[u8; 8], [u8; 8]>,
    ttl_ns: u64,
}

impl AutoTracer {
    pub fn new(limits: AutoTraceLimits) -> AutoTracer {
        AutoTracer {
            threads: ExpiringMap::new(limits),
            readers: ExpiringMap::new(limits),
            connected_for: ExpiringMap::new(limits),
            ttl_ns: limits.ttl_ns,
            clients: ExpiringMap::new(limits),
            servers: ExpiringMap::new(AutoTraceLimits {
                max_entries: limits.max_entries.min(MAX_SERVER_CANDIDATES),
                ..limits
            }),
            aliases: ExpiringMap::new(limits),
            late_parents: ExpiringMap::new(limits),
        }
    }

    /// Ids for a request the process read. `caller` is the context decoded from its trace
    /// headers. The request stays open on its thread until it is answered.
    pub fn server_request(&mut self, seen: RequestSeen, caller: Option<TraceContext>) -> SpanIds {
        let now = seen.timestamp_ns;
        let span_id = new_span_id();
        let ids = if let Some(caller) = caller {
            SpanIds {
                trace_id: caller.trace_id,
                span_id,
                parent_span_id: Some(caller.parent_span_id),
            }
        } else if let Some(client) = seen.seq.and_then(|key| self.clients.remove(&key, now)) {
            SpanIds {
                trace_id: client.trace_id,
                span_id,
                parent_span_id: Some(client.span_id),
            }
        } else {
            let ids = SpanIds {
                trace_id: new_trace_id(),
                span_id,
                parent_span_id: None,
            };
            if let Some(key) = seen.seq {
                let candidate = ServerCandidate {
                    trace_id: ids.trace_id,
                    span_id,
                };
                self.servers.insert(key, candidate, now);
            }
            ids
        };
        let inbound = OpenInbound {
            ids,
            fd: seen.fd,
            signature: seen.signature,
            has_child: false,
            read_ns: now,
        };
        if let Some(open) = self.threads.refreshed((seen.pid, seen.tid), now) {
            open.open(inbound, self.ttl_ns);
        }
        self.readers.upsert((seen.pid, seen.fd), seen.tid, now);
        ids
    }

    /// Ids for a request the process wrote: a child of an open inbound request of its thread
    /// (chosen as the module docs say), if any, else a new trace. A server that already read
    /// this request (same sequence) becomes its child through an alias.
    pub fn client_request(&mut self, seen: RequestSeen) -> SpanIds {
        let now = seen.timestamp_ns;
        let ttl_ns = self.ttl_ns;
        let connected_for = self.connected_for.get(&(seen.pid, seen.fd), now).copied();
        let parent = self
            .threads
            .get_mut(&(seen.pid, seen.tid), now)
            .and_then(|open| open.parent_for(seen.signature, connected_for, now, ttl_ns));
        let ids = match parent {
            Some(server) => SpanIds {
                trace_id: server.trace_id,
                span_id: new_span_id(),
                parent_span_id: Some(server.span_id),
            },
            None => SpanIds {
                trace_id: new_trace_id(),
                span_id: new_span_id(),
                parent_span_id: None,
            },
        };
        if let Some(key) = seen.seq {
            match self.servers.remove(&key, now) {
                Some(server) => {
                    if server.trace_id != ids.trace_id {
                        self.aliases.insert(server.trace_id, ids.trace_id, now);
                    }
                    self.late_parents.insert(server.span_id, ids.span_id, now);
                }
                None => self.clients.insert(key, ids, now),
            }
        }
        ids
    }

    /// A response was written on socket `fd`: the oldest request open on it is answered, and
    /// requests written later are no longer its children.
    pub fn response_written(&mut self, pid: u32, fd: i32, now_ns: u64) {
        if let Some(open) = self.open_on_socket(pid, fd, now_ns) {
            open.answer(fd);
        }
    }

    /// Thread `tid` connected socket `fd`: requests written on it most likely belong to the
    /// request the thread is serving now, however late they are written.
    pub fn socket_connected(&mut self, pid: u32, tid: u32, fd: i32, now_ns: u64) {
        let serving = self
            .threads
            .get(&(pid, tid), now_ns)
            .and_then(OpenInbounds::most_recent)
            .map(|inbound| inbound.ids.span_id);
        match serving {
            Some(span_id) => self.connected_for.insert((pid, fd), span_id, now_ns),
            None => {
                self.connected_for.remove(&(pid, fd), now_ns);
            }
        }
    }

    /// Socket `fd` was closed: none of its open requests will be answered.
    pub fn socket_closed(&mut self, pid: u32, fd: i32, now_ns: u64) {
        if let Some(open) = self.open_on_socket(pid, fd, now_ns) {
            open.close(fd);
        }
        self.readers.remove(&(pid, fd), now_ns);
        self.connected_for.remove(&(pid, fd), now_ns);
    }

    /// The open requests of the thread that read from the socket last.
    fn open_on_socket(&mut self, pid: u32, fd: i32, now_ns: u64) -> Option<&mut OpenInbounds> {
        let reader = *self.readers.get(&(pid, fd), now_ns)?;
        self.threads.get_mut(&(pid, reader), now_ns)
    }

    /// The ids a span is emitted with: its trace id after following aliases, and the parent
    /// learned after its ids were assigned.
    pub fn resolve(&self, ids: SpanIds, now_ns: u64) -> SpanIds {
        let mut trace_id = ids.trace_id;
        for _ in 0..MAX_ALIAS_HOPS {
            match self.aliases.get(&trace_id, now_ns) {
                Some(next) if *next != trace_id => trace_id = *next,
                _ => break,
            }
        }
        let parent_span_id = ids
            .parent_span_id
            .or_else(|| self.late_parents.get(&ids.span_id, now_ns).copied());
        SpanIds {
            trace_id,
            span_id: ids.span_id,
            parent_span_id,
        }
    }

    /// Drops entries older than the time to live.
    pub fn expire(&mut self, now_ns: u64) {
        self.threads.expire(now_ns);
        self.readers.expire(now_ns);
        self.connected_for.expire(now_ns);
        self.clients.expire(now_ns);
        self.servers.expire(now_ns);
        self.aliases.expire(now_ns);
        self.late_parents.expire(now_ns);
    }

    /// Entries held, over all maps, open inbound requests counted one by one (for tests and
    /// bounds checks).
    pub fn len(&self) -> usize {
        self.threads
            .entries
            .values()
            .map(|(open, _)| open.len())
            .sum::<usize>()
            + self.readers.len()
            + self.connected_for.len()
            + self.clients.len()
            + self.servers.len()
            + self.aliases.len()
            + self.late_parents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What identifies a request when a proxy forwards it: a hash of the HTTP method and the
/// target in origin form (an absolute-form target, as sent to a forward proxy, loses its
/// scheme and authority). `None` for other protocols, whose requests are not forwarded as is.
pub fn request_signature(request: &Request) -> Option<u64> {
    let Request::Http(http) = request else {
        return None;
    };
    let target = http.target.as_str();
    let origin_form = match target.split_once("://") {
        Some((_, rest)) if !target.starts_with('/') => rest.find('/').map_or("/", |at| &rest[at..]),
        _ => target,
    };
    Some(FixedState::default().hash_one((http.method.as_str(), origin_form)))
}

/// A random, non-zero trace id (all zeros is invalid in OTLP).
fn new_trace_id() -> [u8; 16] {
    loop {
        let id: u128 = rand::random();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

/// A random, non-zero span id.
fn new_span_id() -> [u8; 8] {
    loop {
        let id: u64 = rand::random();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

#[cfg(test)]
#[path = "autotrace_tests.rs"]
mod tests;
