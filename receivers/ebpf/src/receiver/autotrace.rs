//! AutoTracing: trace and span ids for captured requests without any SDK in the traced
//! processes.
//!
//! Ids are assigned when a request's bytes are seen, so a downstream request made while the
//! upstream one is still being served can name it as parent. Three links, strongest first:
//!
//! - **Trace headers**: an inbound request carrying `traceparent` (else B3, `uber-trace-id`,
//!   `sw8`) joins the caller's trace under the caller's span.
//! - **Thread association**: from the moment a thread reads an inbound request until it writes
//!   the response, the requests that thread writes are children of the inbound one.
//! - **TCP sequence**: on one host the client's `write_seq` of a request's first byte equals
//!   the server's `copied_seq` for it, on the same 4-tuple seen from both ends. The server span
//!   becomes the client span's child. The two events may arrive in either order; when the
//!   server's comes first its ids are already handed out (its children may use them), so the
//!   link is recorded as an alias from the server's trace id to the client's and applied when
//!   spans are emitted ([`AutoTracer::resolve`]).
//!
//! Everything here is bounded and forgets entries after a time to live, measured on the
//! caller's clock (event timestamps), which keeps this module pure and testable.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::SocketAddr;

use crate::trace_context::TraceContext;

/// How many hops an alias chain may have; longer chains only arise from loops.
const MAX_ALIAS_HOPS: usize = 8;

/// The ids of one span, as assigned when its request was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanIds {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
}

/// A connection seen from the client's side, the same from both ends of a same-host link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqKey {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub tcp_seq: u32,
}

/// What the tracer needs to know about a request when its bytes are seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSeen {
    pub pid: u32,
    pub tid: u32,
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
            entries: HashMap::new(),
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

/// Assigns ids and resolves late links. One per receiver, driven by the event task.
pub struct AutoTracer {
    /// (pid, tid) → the server span the thread is serving.
    threads: ExpiringMap<(u32, u32), SpanIds>,
    /// Client requests by sequence, for servers seen later.
    clients: ExpiringMap<SeqKey, SpanIds>,
    /// Server requests by sequence that no client claimed yet.
    servers: ExpiringMap<SeqKey, ServerCandidate>,
    /// Server trace id → the client's trace id it really belongs to.
    aliases: ExpiringMap<[u8; 16], [u8; 16]>,
    /// Server span id → its client parent, learned after the server's ids were handed out.
    late_parents: ExpiringMap<[u8; 8], [u8; 8]>,
}

impl AutoTracer {
    pub fn new(limits: AutoTraceLimits) -> AutoTracer {
        AutoTracer {
            threads: ExpiringMap::new(limits),
            clients: ExpiringMap::new(limits),
            servers: ExpiringMap::new(limits),
            aliases: ExpiringMap::new(limits),
            late_parents: ExpiringMap::new(limits),
        }
    }

    /// Ids for a request the process read. `caller` is the context decoded from its trace
    /// headers. The thread is associated with the new span until it writes its response.
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
        self.threads.insert((seen.pid, seen.tid), ids, now);
        ids
    }

    /// Ids for a request the process wrote: a child of the server span its thread is
    /// serving, if any, else a new trace. A server that already read this request (same
    /// sequence) becomes its child through an alias.
    pub fn client_request(&mut self, seen: RequestSeen) -> SpanIds {
        let now = seen.timestamp_ns;
        let ids = match self.threads.get(&(seen.pid, seen.tid), now) {
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

    /// The thread wrote its response: later requests it writes belong to no inbound request.
    pub fn response_written(&mut self, pid: u32, tid: u32, now_ns: u64) {
        self.threads.remove(&(pid, tid), now_ns);
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
        self.clients.expire(now_ns);
        self.servers.expire(now_ns);
        self.aliases.expire(now_ns);
        self.late_parents.expire(now_ns);
    }

    /// Entries held, over all maps (for tests and bounds checks).
    pub fn len(&self) -> usize {
        self.threads.len()
            + self.clients.len()
            + self.servers.len()
            + self.aliases.len()
            + self.late_parents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn tracer() -> AutoTracer {
        AutoTracer::new(AutoTraceLimits {
            max_entries: 4,
            ttl_ns: 10 * SECOND,
        })
    }

    fn seen(pid: u32, tid: u32, seq: Option<u32>, at: u64) -> RequestSeen {
        RequestSeen {
            pid,
            tid,
            seq: seq.map(|tcp_seq| SeqKey {
                client: "127.0.0.1:50000".parse().unwrap(),
                server: "127.0.0.1:8080".parse().unwrap(),
                tcp_seq,
            }),
            timestamp_ns: at,
        }
    }

    #[test]
    fn requests_written_while_serving_are_children_until_the_response() {
        let mut tracer = tracer();
        let server = tracer.server_request(seen(10, 11, None, SECOND), None);
        assert_eq!(server.parent_span_id, None);
        let child = tracer.client_request(seen(10, 11, None, 2 * SECOND));
        assert_eq!(child.trace_id, server.trace_id);
        assert_eq!(child.parent_span_id, Some(server.span_id));
        let other_thread = tracer.client_request(seen(10, 12, None, 2 * SECOND));
        assert_ne!(other_thread.trace_id, server.trace_id);
        assert_eq!(other_thread.parent_span_id, None);
        tracer.response_written(10, 11, 3 * SECOND);
        let after = tracer.client_request(seen(10, 11, None, 4 * SECOND));
        assert_ne!(after.trace_id, server.trace_id);
        assert_eq!(after.parent_span_id, None);
    }

    #[test]
    fn trace_headers_win_over_every_other_link() {
        let mut tracer = tracer();
        let client = tracer.client_request(seen(1, 1, Some(7), SECOND));
        let caller = TraceContext {
            trace_id: [0xab; 16],
            parent_span_id: [0xcd; 8],
            sampled: Some(true),
        };
        let server = tracer.server_request(seen(2, 2, Some(7), SECOND), Some(caller));
        assert_eq!(server.trace_id, [0xab; 16]);
        assert_eq!(server.parent_span_id, Some([0xcd; 8]));
        assert_ne!(server.trace_id, client.trace_id);
        let child = tracer.client_request(seen(2, 2, None, 2 * SECOND));
        assert_eq!(child.trace_id, [0xab; 16]);
        assert_eq!(child.parent_span_id, Some(server.span_id));
    }

    #[test]
    fn sequence_link_when_the_client_arrives_first() {
        let mut tracer = tracer();
        let client = tracer.client_request(seen(1, 1, Some(1000), SECOND));
        let server = tracer.server_request(seen(2, 2, Some(1000), SECOND), None);
        assert_eq!(server.trace_id, client.trace_id);
        assert_eq!(server.parent_span_id, Some(client.span_id));
        assert_eq!(tracer.resolve(server, SECOND), server);
        let other = tracer.server_request(seen(2, 2, Some(2000), SECOND), None);
        assert_ne!(other.trace_id, client.trace_id, "a different sequence");
    }

    #[test]
    fn sequence_link_when_the_server_arrives_first_is_resolved_at_emission() {
        let mut tracer = tracer();
        let server = tracer.server_request(seen(2, 2, Some(1000), SECOND), None);
        // The server calls a backend before its caller's client event shows up.
        let grandchild = tracer.client_request(seen(2, 2, None, SECOND + 1));
        assert_eq!(grandchild.trace_id, server.trace_id);
        let client = tracer.client_request(seen(1, 1, Some(1000), SECOND + 2));
        assert_ne!(
            client.trace_id, server.trace_id,
            "ids were already handed out"
        );

        let resolved = tracer.resolve(server, 2 * SECOND);
        assert_eq!(resolved.trace_id, client.trace_id);
        assert_eq!(resolved.parent_span_id, Some(client.span_id));
        assert_eq!(resolved.span_id, server.span_id);
        let resolved = tracer.resolve(grandchild, 2 * SECOND);
        assert_eq!(
            resolved.trace_id, client.trace_id,
            "the alias covers the trace"
        );
        assert_eq!(resolved.parent_span_id, Some(server.span_id));
        assert_eq!(tracer.resolve(client, 2 * SECOND), client);
    }

    #[test]
    fn aliases_chain_across_hops() {
        let mut tracer = tracer();
        // gateway (pid 1) → backend (pid 2) → database (pid 3), every server event first.
        let backend = tracer.server_request(seen(2, 2, Some(10), SECOND), None);
        let backend_call = tracer.client_request(RequestSeen {
            seq: Some(SeqKey {
                client: "127.0.0.1:40000".parse().unwrap(),
                server: "127.0.0.1:6379".parse().unwrap(),
                tcp_seq: 20,
            }),
            ..seen(2, 2, None, SECOND)
        });
        let gateway = tracer.server_request(seen(1, 1, None, SECOND), None);
        let gateway_call = tracer.client_request(seen(1, 1, Some(10), SECOND + 5));
        assert_eq!(gateway_call.trace_id, gateway.trace_id);
        for ids in [backend, backend_call] {
            assert_eq!(tracer.resolve(ids, 2 * SECOND).trace_id, gateway.trace_id);
        }
    }

    #[test]
    fn entries_expire_and_maps_stay_bounded() {
        let mut tracer = tracer();
        let server = tracer.server_request(seen(5, 5, Some(1), SECOND), None);
        let late = tracer.client_request(seen(5, 5, None, 20 * SECOND));
        assert_ne!(late.trace_id, server.trace_id, "thread association expired");
        let client = tracer.client_request(seen(9, 9, Some(1), 30 * SECOND));
        assert_ne!(
            tracer.resolve(server, 30 * SECOND).trace_id,
            client.trace_id,
            "the server candidate expired"
        );
        tracer.expire(100 * SECOND);
        assert!(tracer.is_empty(), "{} entries left", tracer.len());

        for tid in 0..100 {
            tracer.server_request(seen(1, tid, Some(tid), 200 * SECOND), None);
        }
        assert!(tracer.len() <= 2 * 4, "{} entries", tracer.len());
    }
}
