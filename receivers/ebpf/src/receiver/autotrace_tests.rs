//! Unit tests of [`super::AutoTracer`]: the three links, thread association on
//! thread-per-request and event-loop servers, expiry and bounds.

use super::*;
use crate::http1::{Http1Config, Http1Parser};
use crate::protocol::{L7Parser, Parsed};
use crate::redis::RedisParser;

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
        fd: 3,
        signature: None,
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
    tracer.response_written(10, 3, 3 * SECOND);
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
fn a_server_candidate_waits_through_thousands_of_unclaimed_requests_and_no_longer() {
    let mut tracer = AutoTracer::new(AutoTraceLimits::default());
    // Server-first link with MAX_SERVER_CANDIDATES - 1 requests of untraced clients between
    // the server's read and the client's write: still linked.
    let server = tracer.server_request(seen(2, 2, Some(1), SECOND), None);
    let unclaimed = |tracer: &mut AutoTracer, from: u32| {
        for seq in from..from + MAX_SERVER_CANDIDATES as u32 - 1 {
            tracer.server_request(seen(3, 3, Some(seq), SECOND), None);
        }
    };
    unclaimed(&mut tracer, 1_000_000);
    let client = tracer.client_request(seen(1, 1, Some(1), SECOND));
    assert_eq!(tracer.resolve(server, SECOND).trace_id, client.trace_id);

    // One more unclaimed request and the candidate is gone: the list is bounded.
    let server = tracer.server_request(seen(2, 2, Some(2), SECOND), None);
    unclaimed(&mut tracer, 2_000_000);
    tracer.server_request(seen(3, 3, Some(3_000_000), SECOND), None);
    let client = tracer.client_request(seen(1, 1, Some(2), SECOND));
    assert_ne!(tracer.resolve(server, SECOND).trace_id, client.trace_id);
    assert!(tracer.servers.len() <= MAX_SERVER_CANDIDATES);
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
    // Threads, their sockets and server candidates: each map holds at most four.
    assert!(tracer.len() <= 3 * 4, "{} entries", tracer.len());
}

/// The event-loop process of the thread-association tests, serving on one thread.
const GATEWAY_PID: u32 = 20;
const LOOP_THREAD: u32 = 21;

/// The signature of an HTTP request head, parsed by the receiver's own parser.
fn signature_of(head: &str) -> u64 {
    let parser = Http1Parser::new(Http1Config::default());
    match parser.parse_request(head.as_bytes()) {
        Parsed::Complete { message, .. } => {
            request_signature(&message).expect("HTTP requests have a signature")
        }
        other => panic!("{head:?} did not parse: {other:?}"),
    }
}

/// A request the gateway's loop thread moved on socket `fd`; `head` is its HTTP head, `None`
/// for a request of another protocol.
fn on_loop(fd: i32, head: Option<&str>, at: u64) -> RequestSeen {
    RequestSeen {
        pid: GATEWAY_PID,
        tid: LOOP_THREAD,
        fd,
        signature: head.map(signature_of),
        seq: None,
        timestamp_ns: at,
    }
}

const GET_A: &str = "GET /items/1?n=1 HTTP/1.1\r\nHost: gateway\r\n\r\n";
const GET_B: &str = "GET /items/2?n=2 HTTP/1.1\r\nHost: gateway\r\n\r\n";
/// What nginx forwards for `GET_A`: the same request line, other headers.
const FORWARDED_A: &str =
    "GET /items/1?n=1 HTTP/1.1\r\nHost: backend\r\nX-Request-ID: 9f\r\nConnection: close\r\n\r\n";
const FORWARDED_B: &str =
    "GET /items/2?n=2 HTTP/1.1\r\nHost: backend\r\nX-Request-ID: 7e\r\nConnection: close\r\n\r\n";

fn assert_child_of(child: SpanIds, parent: SpanIds) {
    assert_eq!(
        child.trace_id, parent.trace_id,
        "{child:?} not in {parent:?}'s trace"
    );
    assert_eq!(
        child.parent_span_id,
        Some(parent.span_id),
        "{child:?} not under {parent:?}"
    );
}

#[test]
fn interleaved_requests_of_an_event_loop_follow_the_forwarded_request_line() {
    let mut tracer = tracer();
    let a = tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    let b = tracer.server_request(on_loop(6, Some(GET_B), SECOND + 1), None);
    let upstream_a = tracer.client_request(on_loop(9, Some(FORWARDED_A), SECOND + 2));
    let upstream_b = tracer.client_request(on_loop(10, Some(FORWARDED_B), SECOND + 3));
    assert_child_of(upstream_a, a);
    assert_child_of(upstream_b, b);

    // Forwarded in the other order than read: the request line decides, not the order.
    let c = tracer.server_request(on_loop(7, Some(GET_A), 2 * SECOND), None);
    let d = tracer.server_request(on_loop(8, Some(GET_B), 2 * SECOND + 1), None);
    tracer.response_written(GATEWAY_PID, 5, 2 * SECOND + 2);
    tracer.response_written(GATEWAY_PID, 6, 2 * SECOND + 2);
    let upstream_d = tracer.client_request(on_loop(11, Some(FORWARDED_B), 2 * SECOND + 3));
    let upstream_c = tracer.client_request(on_loop(12, Some(FORWARDED_A), 2 * SECOND + 4));
    assert_child_of(upstream_d, d);
    assert_child_of(upstream_c, c);
}

#[test]
fn a_single_open_request_adopts_every_downstream_call() {
    let mut tracer = tracer();
    let inbound = tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    // A cache lookup, an unrelated HTTP call and a retry of the forwarded request.
    for (at, head) in [
        (2, None),
        (3, Some(GET_B)),
        (4, Some(FORWARDED_A)),
        (5, Some(FORWARDED_A)),
    ] {
        let call = tracer.client_request(on_loop(9, head, SECOND + at));
        assert_child_of(call, inbound);
    }
    tracer.response_written(GATEWAY_PID, 5, 2 * SECOND);
    let after = tracer.client_request(on_loop(9, Some(FORWARDED_A), 3 * SECOND));
    assert_eq!(after.parent_span_id, None, "the request was answered");
    assert_ne!(after.trace_id, inbound.trace_id);
}

#[test]
fn identical_requests_are_matched_first_in_first_out() {
    let mut tracer = tracer();
    let first = tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    let second = tracer.server_request(on_loop(6, Some(GET_A), SECOND + 1), None);
    let other = tracer.server_request(on_loop(7, Some(GET_B), SECOND + 2), None);
    let upstream_first = tracer.client_request(on_loop(9, Some(FORWARDED_A), SECOND + 3));
    let upstream_second = tracer.client_request(on_loop(10, Some(FORWARDED_A), SECOND + 4));
    assert_child_of(upstream_first, first);
    assert_child_of(upstream_second, second);
    // Both copies have a child: a retry goes to the most recent copy, never to `other`.
    let retry = tracer.client_request(on_loop(11, Some(FORWARDED_A), SECOND + 5));
    assert_child_of(retry, second);
    let upstream_other = tracer.client_request(on_loop(12, Some(FORWARDED_B), SECOND + 6));
    assert_child_of(upstream_other, other);
}

#[test]
fn identical_requests_follow_the_request_served_when_their_socket_was_connected() {
    let mut tracer = tracer();
    let first = tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    tracer.socket_connected(GATEWAY_PID, LOOP_THREAD, 9, SECOND + 1);
    let second = tracer.server_request(on_loop(6, Some(GET_A), SECOND + 2), None);
    tracer.socket_connected(GATEWAY_PID, LOOP_THREAD, 10, SECOND + 3);
    // The second upstream connection is established first (the backend's accept queue).
    let upstream_second = tracer.client_request(on_loop(10, Some(FORWARDED_A), SECOND + 4));
    let upstream_first = tracer.client_request(on_loop(9, Some(FORWARDED_A), SECOND + 5));
    assert_child_of(upstream_second, second);
    assert_child_of(upstream_first, first);
}

#[test]
fn a_connection_outliving_its_request_is_matched_by_the_other_rules() {
    let mut tracer = tracer();
    let a = tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    tracer.socket_connected(GATEWAY_PID, LOOP_THREAD, 9, SECOND + 1);
    let b = tracer.server_request(on_loop(6, Some(GET_B), SECOND + 2), None);
    // A pooled upstream connection reused for B while A is still open: the request line wins.
    let reused = tracer.client_request(on_loop(9, Some(FORWARDED_B), SECOND + 3));
    assert_child_of(reused, b);
    // A answered: its connection, reused for two identical requests, goes first in, first out.
    tracer.response_written(GATEWAY_PID, 5, 2 * SECOND);
    tracer.response_written(GATEWAY_PID, 6, 2 * SECOND);
    let c = tracer.server_request(on_loop(7, Some(GET_A), 3 * SECOND), None);
    let d = tracer.server_request(on_loop(8, Some(GET_A), 3 * SECOND + 1), None);
    let pooled = tracer.client_request(on_loop(9, Some(FORWARDED_A), 3 * SECOND + 2));
    assert_child_of(pooled, c);
    assert_ne!(pooled.trace_id, a.trace_id);
    let next = tracer.client_request(on_loop(9, Some(FORWARDED_A), 3 * SECOND + 3));
    assert_child_of(next, d);
}

#[test]
fn a_connection_made_while_serving_nothing_binds_to_nothing() {
    let mut tracer = tracer();
    tracer.socket_connected(GATEWAY_PID, LOOP_THREAD, 9, SECOND);
    let a = tracer.server_request(on_loop(5, Some(GET_A), SECOND + 1), None);
    let b = tracer.server_request(on_loop(6, Some(GET_A), SECOND + 2), None);
    // Connected while serving b, then the fd number is connected again by a thread serving
    // nothing (its close was missed): the binding to b is forgotten.
    tracer.socket_connected(GATEWAY_PID, LOOP_THREAD, 10, SECOND + 3);
    tracer.socket_connected(GATEWAY_PID, LOOP_THREAD + 1, 10, SECOND + 4);
    let call = tracer.client_request(on_loop(10, Some(FORWARDED_A), SECOND + 5));
    assert_child_of(call, a);
    let call = tracer.client_request(on_loop(9, Some(FORWARDED_A), SECOND + 6));
    assert_child_of(call, b);
}

#[test]
fn without_a_repeated_request_line_the_oldest_childless_request_is_the_parent() {
    let mut tracer = tracer();
    let a = tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    let b = tracer.server_request(on_loop(6, Some(GET_B), SECOND + 1), None);
    // Redis calls carry no request line: event loops serve in the order they read.
    let lookup_a = tracer.client_request(on_loop(9, None, SECOND + 2));
    let lookup_b = tracer.client_request(on_loop(9, None, SECOND + 3));
    assert_child_of(lookup_a, a);
    assert_child_of(lookup_b, b);
    // Every open request has a child: the most recent one is the best guess left.
    let unrelated = "GET /health HTTP/1.1\r\n\r\n";
    let third = tracer.client_request(on_loop(10, Some(unrelated), SECOND + 4));
    assert_child_of(third, b);
}

#[test]
fn a_response_or_a_close_ends_only_the_request_of_its_socket() {
    let mut tracer = tracer();
    tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    let b = tracer.server_request(on_loop(6, Some(GET_B), SECOND + 1), None);
    // The response to A, its head and body written one after the other.
    tracer.response_written(GATEWAY_PID, 5, SECOND + 2);
    tracer.response_written(GATEWAY_PID, 5, SECOND + 3);
    let call = tracer.client_request(on_loop(9, Some(FORWARDED_A), SECOND + 4));
    assert_child_of(call, b);

    let c = tracer.server_request(on_loop(7, Some(GET_A), 2 * SECOND), None);
    tracer.socket_closed(GATEWAY_PID, 6, 2 * SECOND + 1);
    let call = tracer.client_request(on_loop(9, None, 2 * SECOND + 2));
    assert_child_of(call, c);
    tracer.socket_closed(GATEWAY_PID, 7, 2 * SECOND + 3);
    let call = tracer.client_request(on_loop(9, None, 2 * SECOND + 4));
    assert_eq!(call.parent_span_id, None, "every request ended");
    assert_ne!(call.trace_id, c.trace_id);
}

#[test]
fn keep_alive_responses_answer_their_socket_in_order() {
    let mut tracer = tracer();
    let first = tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    // Pipelined: the second request of the connection is read before the first is answered.
    let second = tracer.server_request(on_loop(5, Some(GET_B), SECOND + 1), None);
    tracer.response_written(GATEWAY_PID, 5, SECOND + 2);
    let call = tracer.client_request(on_loop(9, Some(FORWARDED_A), SECOND + 3));
    assert_child_of(call, second);
    assert_ne!(call.trace_id, first.trace_id);
}

#[test]
fn open_requests_per_thread_are_bounded() {
    let mut tracer = tracer();
    let heads: Vec<String> = (0..MAX_OPEN_PER_THREAD + 6)
        .map(|n| format!("GET /items/{n} HTTP/1.1\r\n\r\n"))
        .collect();
    let opened: Vec<SpanIds> = heads
        .iter()
        .enumerate()
        .map(|(n, head)| {
            let fd = 100 + i32::try_from(n).unwrap();
            tracer.server_request(on_loop(fd, Some(head), SECOND), None)
        })
        .collect();
    // Open requests plus at most four sockets remembered for their readers.
    assert!(
        tracer.len() <= MAX_OPEN_PER_THREAD + 4,
        "{} entries",
        tracer.len()
    );
    // The oldest were forgotten: its forwarded copy goes to the oldest request kept.
    let forgotten = tracer.client_request(on_loop(9, Some(&heads[0]), 2 * SECOND));
    assert_child_of(forgotten, opened[6]);
    let kept = tracer.client_request(on_loop(9, Some(&heads[40]), 2 * SECOND));
    assert_child_of(kept, opened[40]);
}

/// A keep-alive socket served for longer than a time to live: its thread and reader entries
/// stay alive through use, and the order queues grow by restamps, not by one per request.
#[test]
fn a_busy_socket_stays_known_without_an_order_entry_per_request() {
    // Room for every request, so only restamping can keep the order queues short.
    let mut tracer = AutoTracer::new(AutoTraceLimits {
        max_entries: 1024,
        ttl_ns: 10 * SECOND,
    });
    let mut at = SECOND;
    let mut last = None;
    for _ in 0..400 {
        last = Some(tracer.server_request(on_loop(5, Some(GET_A), at), None));
        tracer.response_written(GATEWAY_PID, 5, at + 1);
        at += SECOND / 10;
    }
    // 40 s of requests against a 10 s time to live: restamped every 1.25 s at most.
    let restamps_bound = 2 * 40 * 8 / 10 + 2;
    for (name, queued) in [
        ("threads", tracer.threads.order.len()),
        ("readers", tracer.readers.order.len()),
    ] {
        assert!(queued <= restamps_bound, "{name}: {queued} order entries");
    }
    // The socket is still known: a response answers the request its thread read last.
    let open = tracer.server_request(on_loop(5, Some(GET_B), at), None);
    tracer.response_written(GATEWAY_PID, 5, at + 1);
    let call = tracer.client_request(on_loop(9, Some(FORWARDED_A), at + 2));
    assert_ne!(
        call.trace_id, open.trace_id,
        "the answered request kept a child"
    );
    assert_ne!(Some(call.trace_id), last.map(|ids| ids.trace_id));
}

#[test]
fn open_requests_older_than_the_time_to_live_are_no_candidates() {
    let mut tracer = tracer();
    // The first is forgotten, even for its own forwarded copy.
    tracer.server_request(on_loop(5, Some(GET_A), SECOND), None);
    let recent = tracer.server_request(on_loop(6, Some(GET_B), 9 * SECOND), None);
    let call = tracer.client_request(on_loop(9, Some(FORWARDED_A), 12 * SECOND));
    assert_child_of(call, recent);
    tracer.expire(100 * SECOND);
    assert!(tracer.is_empty(), "{} entries left", tracer.len());
}

#[test]
fn signatures_name_method_and_target_in_origin_form() {
    assert_eq!(signature_of(GET_A), signature_of(FORWARDED_A));
    assert_eq!(
        signature_of("GET http://backend:8080/items/1?n=1 HTTP/1.1\r\nHost: backend\r\n\r\n"),
        signature_of(GET_A),
        "a forward proxy receives the absolute form and sends the origin form"
    );
    assert_ne!(signature_of(GET_A), signature_of(GET_B));
    assert_ne!(
        signature_of(GET_A),
        signature_of("HEAD /items/1?n=1 HTTP/1.1\r\n\r\n")
    );
    let command = match RedisParser.parse_request(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") {
        Parsed::Complete { message, .. } => message,
        other => panic!("RESP did not parse: {other:?}"),
    };
    assert_eq!(request_signature(&command), None);
}
