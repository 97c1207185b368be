use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::dns::DnsParser;
use crate::http1::{Http1Config, Http1Parser};
use crate::pairing::{Connection, ConnectionEvent, Exchange};
use crate::protocol::{Direction, L7Parser};
use crate::redis::RedisParser;
use crate::stream::{Chunk, Transport};

const IDS: SpanIds = SpanIds {
    trace_id: [1; 16],
    span_id: [2; 8],
    parent_span_id: Some([3; 8]),
};

fn site(role: Role) -> CaptureSite {
    CaptureSite {
        role,
        transport: "tcp",
        local: "10.0.0.1:8080".parse().unwrap(),
        remote: "10.0.0.2:51000".parse().unwrap(),
        thread_id: 77,
        request_seq: Some(1000),
        response_seq: Some(2000),
    }
}

/// Feeds recorded request and response bytes through a real connection and returns the
/// exchange it paired.
fn record(
    parser: Arc<dyn L7Parser>,
    transport: Transport,
    request: &[u8],
    response: &[u8],
) -> Exchange {
    let mut connection = Connection::new(parser, Role::Server, transport);
    let mut events = connection.on_data(Direction::Ingress, Chunk::whole(100, request));
    events.extend(connection.on_data(Direction::Egress, Chunk::whole(350, response)));
    events
        .into_iter()
        .find_map(|event| match event {
            ConnectionEvent::Exchange(exchange) => Some(exchange),
            _ => None,
        })
        .expect("an exchange")
}

fn attributes(span: &Span) -> HashMap<&str, &Value> {
    span.attributes
        .iter()
        .map(|kv| {
            (
                kv.key.as_str(),
                kv.value.as_ref().unwrap().value.as_ref().unwrap(),
            )
        })
        .collect()
}

fn text<'a>(attributes: &HashMap<&str, &'a Value>, key: &str) -> &'a str {
    match attributes.get(key) {
        Some(Value::StringValue(value)) => value,
        other => panic!("{key}: {other:?}"),
    }
}

fn number(attributes: &HashMap<&str, &Value>, key: &str) -> i64 {
    match attributes.get(key) {
        Some(Value::IntValue(value)) => *value,
        other => panic!("{key}: {other:?}"),
    }
}

fn span_of(exchange: &Exchange, role: Role) -> Span {
    let timing = Timing {
        start_unix_ns: exchange.request.first_byte_ns,
        end_unix_ns: exchange.response.last_byte_ns,
    };
    exchange_span(
        IDS,
        &site(role),
        exchange.request.message.clone(),
        &exchange.response.message,
        timing,
    )
}

#[test]
fn http_server_span_carries_the_contract_attributes() {
    let parser = Arc::new(Http1Parser::new(Http1Config {
        extra_headers: vec!["X-Tenant".into()],
        ..Http1Config::default()
    }));
    let exchange = record(
        parser,
        Transport::Stream,
        b"GET /api/v1/users/42?verbose=1 HTTP/1.1\r\nHost: svc\r\nUser-Agent: curl/8.0\r\n\
          X-Request-ID: abc-123\r\nX-Tenant: blue\r\n\r\n",
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    );
    let span = span_of(&exchange, Role::Server);
    assert_eq!(span.name, "GET /api/v1");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(
        (span.start_time_unix_nano, span.end_time_unix_nano),
        (100, 350)
    );
    assert_eq!(span.trace_id, vec![1; 16]);
    assert_eq!(span.parent_span_id, vec![3; 8]);
    assert_eq!(span.status.as_ref().unwrap().code, StatusCode::Error as i32);
    let a = attributes(&span);
    assert_eq!(text(&a, "cormorant.span.source"), "system");
    assert_eq!(text(&a, "cormorant.l7.protocol"), "http");
    assert_eq!(text(&a, "network.transport"), "tcp");
    assert_eq!(text(&a, "http.request.method"), "GET");
    assert_eq!(text(&a, "url.path"), "/api/v1/users/42");
    assert_eq!(text(&a, "url.query"), "verbose=1");
    assert_eq!(number(&a, "http.response.status_code"), 503);
    assert_eq!(text(&a, "user_agent.original"), "curl/8.0");
    assert_eq!(text(&a, "network.protocol.version"), "1.1");
    assert_eq!(text(&a, "server.address"), "10.0.0.1");
    assert_eq!(number(&a, "server.port"), 8080);
    assert_eq!(text(&a, "client.address"), "10.0.0.2");
    assert_eq!(number(&a, "client.port"), 51000);
    assert_eq!(text(&a, "network.peer.address"), "10.0.0.2");
    assert_eq!(number(&a, "network.peer.port"), 51000);
    assert_eq!(number(&a, "thread.id"), 77);
    assert_eq!(number(&a, "cormorant.tcp.seq.request"), 1000);
    assert_eq!(number(&a, "cormorant.tcp.seq.response"), 2000);
    for (key, expected) in [
        ("http.request.header.x-request-id", "abc-123"),
        ("http.request.header.x-tenant", "blue"),
    ] {
        let Some(Value::ArrayValue(array)) = a.get(key) else {
            panic!("{key} is not an array");
        };
        assert_eq!(
            array.values[0].value,
            Some(Value::StringValue(expected.into()))
        );
    }
    assert_eq!(status_class(Some(&exchange.response.message)), "5xx");
    assert_eq!(endpoint(&exchange.request.message), "/api/v1");
}

#[test]
fn http_client_span_swaps_server_and_client() {
    let exchange = record(
        Arc::new(Http1Parser::default()),
        Transport::Stream,
        b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let span = span_of(&exchange, Role::Client);
    assert_eq!(span.name, "POST /");
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert!(span.status.is_none());
    let a = attributes(&span);
    assert_eq!(text(&a, "server.address"), "10.0.0.2");
    assert_eq!(number(&a, "server.port"), 51000);
    assert_eq!(number(&a, "client.port"), 8080);
    assert_eq!(text(&a, "network.protocol.version"), "1.0");
    assert!(!a.contains_key("url.query") && !a.contains_key("user_agent.original"));
    assert_eq!(status_class(Some(&exchange.response.message)), "2xx");
}

#[test]
fn redis_span_names_the_command_and_flags_error_replies() {
    let exchange = record(
        Arc::new(RedisParser),
        Transport::Stream,
        b"*2\r\n$3\r\nget\r\n$7\r\nuser:42\r\n",
        b"-WRONGTYPE Operation against a key\r\n",
    );
    let span = span_of(&exchange, Role::Client);
    assert_eq!(span.name, "GET");
    let status = span.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert!(
        status.message.starts_with("WRONGTYPE"),
        "{}",
        status.message
    );
    let a = attributes(&span);
    assert_eq!(text(&a, "cormorant.l7.protocol"), "redis");
    assert_eq!(text(&a, "db.system.name"), "redis");
    assert_eq!(text(&a, "db.operation.name"), "GET");
    assert_eq!(text(&a, "db.query.summary"), "GET user:42");
    assert_eq!(status_class(Some(&exchange.response.message)), "error");
    assert_eq!(endpoint(&exchange.request.message), "GET");
}

#[test]
fn dns_span_reports_question_rcode_and_answers() {
    let query: &[u8] = &[
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l',
        b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
    let mut answer = query.to_vec();
    answer[2] = 0x81;
    answer[3] = 0x83;
    let exchange = record(
        Arc::new(DnsParser::new(Transport::Datagram)),
        Transport::Datagram,
        query,
        &answer,
    );
    let mut udp = site(Role::Client);
    udp.transport = "udp";
    udp.request_seq = None;
    udp.response_seq = None;
    // An unconnected UDP client socket has no source address until each datagram is routed.
    udp.local = "0.0.0.0:40000".parse().unwrap();
    let timing = Timing {
        start_unix_ns: 5,
        end_unix_ns: 9,
    };
    let span = exchange_span(
        IDS,
        &udp,
        exchange.request.message.clone(),
        &exchange.response.message,
        timing,
    );
    assert_eq!(span.name, "DNS A");
    assert_eq!(span.status.as_ref().unwrap().code, StatusCode::Error as i32);
    let a = attributes(&span);
    assert_eq!(text(&a, "network.transport"), "udp");
    assert_eq!(text(&a, "dns.question.name"), "example.com");
    assert_eq!(text(&a, "cormorant.dns.question.type"), "A");
    assert_eq!(text(&a, "cormorant.dns.response_code"), "NXDOMAIN");
    assert_eq!(number(&a, "cormorant.dns.answers"), 0);
    assert!(!a.contains_key("cormorant.tcp.seq.request"));
    assert!(
        !a.contains_key("client.address"),
        "the wildcard address names no client"
    );
    assert_eq!(number(&a, "client.port"), 40000);
    assert_eq!(text(&a, "server.address"), "10.0.0.2");
}

#[test]
fn unanswered_request_is_an_error_span() {
    let exchange = record(
        Arc::new(Http1Parser::default()),
        Transport::Stream,
        b"GET /slow HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let timing = Timing {
        start_unix_ns: 10,
        end_unix_ns: 4,
    };
    let span = unanswered_span(IDS, &site(Role::Server), exchange.request.message, timing);
    assert_eq!(span.name, "GET /slow");
    assert_eq!(span.end_time_unix_nano, 10, "never ends before it starts");
    let status = span.status.unwrap();
    assert_eq!(
        (status.code, status.message.as_str()),
        (StatusCode::Error as i32, "no response")
    );
    assert_eq!(status_class(None), "error");
}

#[test]
fn endpoints_keep_two_segments() {
    for (path, expected) in [
        ("/api/v1/users/42", "/api/v1"),
        ("/", "/"),
        ("", "/"),
        ("/health", "/health"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b"),
    ] {
        assert_eq!(http_endpoint(path), expected, "{path}");
    }
}

#[test]
fn addresses_read_as_the_standard_text() {
    for address in [
        "0.0.0.0",
        "1.2.3.4",
        "10.0.0.255",
        "127.0.0.1",
        "255.255.255.255",
        "::1",
        "fd00::5",
        "::ffff:10.1.2.3",
    ] {
        let ip: IpAddr = address.parse().unwrap();
        assert_eq!(ip_text(ip), ip.to_string());
        assert_eq!(ip_text(ip), address);
    }
}
