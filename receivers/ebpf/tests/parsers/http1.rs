use std::sync::Arc;

use cormorant_receiver_ebpf::pairing::ConnectionEvent;
use cormorant_receiver_ebpf::protocol::infer_protocol;
use cormorant_receiver_ebpf::{
    BodyFraming, Chunk, Confidence, Connection, Direction, DnsParser, Http1Config, Http1Parser,
    L7Parser, MessageKind, ParseError, Parsed, Protocol, RedisParser, Request, Response, Role,
    TraceFormat, Transport,
};

use crate::captures::*;
use crate::common::*;

fn http() -> Arc<dyn L7Parser> {
    Arc::new(Http1Parser::default())
}

fn request(exchange: &cormorant_receiver_ebpf::Exchange) -> &cormorant_receiver_ebpf::HttpRequest {
    match &exchange.request.message {
        Request::Http(request) => request,
        other => panic!("not HTTP: {other:?}"),
    }
}

fn response(
    exchange: &cormorant_receiver_ebpf::Exchange,
) -> &cormorant_receiver_ebpf::HttpResponse {
    match &exchange.response.message {
        Response::Http(response) => response,
        other => panic!("not HTTP: {other:?}"),
    }
}

#[test]
fn curl_to_nginx_exchange_with_timestamps() {
    let response_bytes = nginx_index_response();
    let request_chunks = split_at(CURL_GET, &[20]);
    let response_chunks = split_at(&response_bytes, &[100, 400]);
    let events = run_server(http(), Transport::Stream, &request_chunks, &response_chunks);
    assert_eq!(completions(&events).len(), 1, "{events:?}");
    let exchange = exchanges(&events)[0];
    let request = request(exchange);
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/index.html");
    assert_eq!(request.path(), Some("/index.html"));
    assert_eq!(request.minor_version, 1);
    assert_eq!(request.host.as_deref(), Some("localhost:8080"));
    assert_eq!(request.user_agent.as_deref(), Some("curl/8.14.1"));
    assert_eq!(request.body, BodyFraming::None);
    let response = response(exchange);
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length, Some(NGINX_INDEX_LENGTH as u64));
    assert!(!exchange.response.message.is_error());
    assert_eq!(
        (
            exchange.request.first_byte_ns,
            exchange.request.last_byte_ns
        ),
        (1000, 1001)
    );
    assert_eq!(
        (
            exchange.response.first_byte_ns,
            exchange.response.last_byte_ns
        ),
        (2000, 2002)
    );
    assert_eq!(exchange.duration_ns(), 1002);
    assert!(exchange.response.body_complete);
}

#[test]
fn nginx_to_python_backend_carries_request_id_and_traceparent() {
    let events = run_whole(
        http(),
        Transport::Stream,
        NGINX_TO_BACKEND,
        PYTHON_JSON_RESPONSE,
    );
    let exchange = exchanges(&events)[0];
    let request = request(exchange);
    assert_eq!(request.minor_version, 0);
    assert_eq!(request.path(), Some("/api/items"));
    assert_eq!(request.query(), Some("id=7"));
    assert_eq!(
        request.request_id.as_deref(),
        Some("5f1c0b6e0d6b4c4e9b7b3f0c2d1a9e8f")
    );
    let (context, format) = request.trace_context().expect("traceparent");
    assert_eq!(format, TraceFormat::W3c);
    assert_eq!(
        context.parent_span_id,
        [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
    );
    assert_eq!(
        request.trace_headers.valid_tracestate(),
        Some("congo=t61rcWkgMzE")
    );
    assert_eq!(response(exchange).status, 200);
    assert_eq!(response(exchange).body, BodyFraming::Length(27));
}

#[test]
fn body_until_close_ends_at_close() {
    let mut connection = Connection::new(http(), Role::Server, Transport::Stream);
    let seen = connection.on_data(Direction::Ingress, Chunk::whole(10, NGINX_TO_BACKEND));
    assert_eq!(seen, [ConnectionEvent::RequestSeen { sequence: 0 }]);
    assert!(
        connection
            .on_data(
                Direction::Egress,
                Chunk::whole(20, PYTHON_UNTIL_CLOSE_RESPONSE)
            )
            .is_empty(),
        "the body runs until close"
    );
    let events = connection.close(30);
    let exchange = exchanges(&events)[0];
    assert_eq!(response(exchange).status, 500);
    assert_eq!(response(exchange).body, BodyFraming::UntilClose);
    assert!(exchange.response.message.is_error());
    assert_eq!(exchange.response.last_byte_ns, 30);
    assert!(exchange.response.body_complete);
}

#[test]
fn pipelined_keep_alive_session_pairs_in_order() {
    let events = run_whole(
        http(),
        Transport::Stream,
        PIPELINED_REQUESTS,
        PIPELINED_RESPONSES,
    );
    let pairs: Vec<(String, String, u16)> = exchanges(&events)
        .iter()
        .map(|exchange| {
            (
                request(exchange).method.clone(),
                request(exchange).target.clone(),
                response(exchange).status,
            )
        })
        .collect();
    let expected = [
        ("POST", "/api/orders", 201),
        ("POST", "/upload", 200),
        ("HEAD", "/index.html", 200),
        ("GET", "/logo.png", 304),
        ("DELETE", "/api/orders/9", 204),
    ];
    let expected: Vec<(String, String, u16)> = expected
        .iter()
        .map(|(method, target, status)| (method.to_string(), target.to_string(), *status))
        .collect();
    assert_eq!(pairs, expected);
    assert_eq!(completions(&events).len(), 5, "nothing else: {events:?}");
    let sequences: Vec<u64> = exchanges(&events)
        .iter()
        .map(|exchange| exchange.sequence)
        .collect();
    assert_eq!(sequences, [0, 1, 2, 3, 4]);

    let all = exchanges(&events);
    assert_eq!(request(all[0]).content_length, Some(18));
    assert_eq!(
        response(all[0]).request_id.as_deref(),
        Some("11111111-2222-4333-8444-555555555555")
    );
    assert_eq!(request(all[1]).body, BodyFraming::Chunked);
    assert_eq!(
        request(all[1]).trace_context().map(|(_, format)| format),
        Some(TraceFormat::B3)
    );
    assert_eq!(
        response(all[2]).body,
        BodyFraming::None,
        "HEAD answer has no body"
    );
    assert_eq!(
        request(all[3]).trace_context().map(|(_, format)| format),
        Some(TraceFormat::Jaeger)
    );
}

#[test]
fn split_and_coalesced_reads_give_the_same_exchanges() {
    assert_split_invariant(http(), PIPELINED_REQUESTS, PIPELINED_RESPONSES);
    assert_split_invariant(http(), CURL_GET, &nginx_index_response());
    assert_split_invariant(http(), NGINX_TO_BACKEND, PYTHON_JSON_RESPONSE);
}

#[test]
fn uncaptured_body_bytes_are_skipped_without_losing_sync() {
    let upload_length = 100_000;
    let head =
        format!("PUT /blob HTTP/1.1\r\nHost: store\r\nContent-Length: {upload_length}\r\n\r\n");
    let mut upload = head.into_bytes();
    upload.resize(upload.len() + upload_length, b'x');
    let mut connection = Connection::new(http(), Role::Server, Transport::Stream);
    // The kernel captured the first 1024 bytes of each 64 KiB write.
    let mut events = Vec::new();
    for (index, write) in upload.chunks(64 * 1024).enumerate() {
        let chunk = Chunk {
            timestamp_ns: 10 + index as u64,
            data: &write[..1024],
            length: write.len(),
        };
        events.extend(connection.on_data(Direction::Ingress, chunk));
    }
    events.extend(connection.on_data(Direction::Ingress, Chunk::whole(20, CURL_GET)));
    assert!(completions(&events).is_empty(), "{events:?}");
    assert_eq!(connection.pending_requests(), 2);
    let reply = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    events.extend(connection.on_data(Direction::Egress, Chunk::whole(30, reply)));
    events.extend(connection.on_data(Direction::Egress, Chunk::whole(31, &nginx_index_response())));
    let all = exchanges(&events);
    assert_eq!(all.len(), 2);
    assert_eq!(request(all[0]).method, "PUT");
    assert_eq!(all[0].request.last_byte_ns, 11);
    assert_eq!(request(all[1]).target, "/index.html");
}

#[test]
fn client_side_connection_reads_requests_from_egress() {
    let mut connection = Connection::new(http(), Role::Client, Transport::Stream);
    connection.on_data(Direction::Egress, Chunk::whole(1, NGINX_TO_BACKEND));
    let events = connection.on_data(Direction::Ingress, Chunk::whole(5, PYTHON_JSON_RESPONSE));
    assert_eq!(exchanges(&events)[0].duration_ns(), 4);
}

#[test]
fn configured_extra_headers_any_case() {
    let parser = Http1Parser::new(Http1Config {
        extra_headers: vec!["X-Forwarded-For".into(), "content-type".into()],
        ..Http1Config::default()
    });
    let bytes = b"POST /x HTTP/1.1\r\nx-forwarded-for: 10.0.0.1\r\nCONTENT-TYPE: text/plain\r\nContent-Length: 0\r\n\r\n";
    let Parsed::Complete { consumed, message } = parser.parse_http_request(bytes) else {
        panic!("complete request expected");
    };
    assert_eq!(consumed, bytes.len());
    assert_eq!(
        message.extra_headers,
        vec![
            ("x-forwarded-for".to_string(), "10.0.0.1".to_string()),
            ("content-type".to_string(), "text/plain".to_string()),
        ]
    );
}

fn rejected(bytes: &[u8]) -> ParseError {
    match Http1Parser::default().parse_http_request(bytes) {
        Parsed::Invalid(error) => error,
        other => panic!("expected rejection of {bytes:?}, got {other:?}"),
    }
}

#[test]
fn bad_framing_and_garbage_are_rejected() {
    let tls_client_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    assert!(matches!(
        rejected(tls_client_hello),
        ParseError::Malformed { .. }
    ));
    rejected(b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    rejected(b"GET / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n");
    rejected(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
    rejected(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
    rejected(b"GET / HTTP/2.0\r\n\r\n");
    rejected(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    let mut endless = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    endless.resize(20_000, b'a');
    assert_eq!(
        rejected(&endless),
        ParseError::TooLarge {
            protocol: Protocol::Http1,
            limit: 16 * 1024
        }
    );
    assert_eq!(
        Http1Parser::default().parse_http_request(b"GET /a"),
        Parsed::NeedMore
    );
    let same_lengths = b"GET / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n";
    assert!(matches!(
        Http1Parser::default().parse_http_request(same_lengths),
        Parsed::Complete { message, .. } if message.body == BodyFraming::Length(3)
    ));
}

#[test]
fn garbage_then_valid_traffic_resynchronises() {
    let mut connection = Connection::new(http(), Role::Server, Transport::Stream);
    let events = connection.on_data(Direction::Ingress, Chunk::whole(1, b"\x00\xffgarbage\r\n"));
    assert!(matches!(events[..], [ConnectionEvent::Invalid { .. }]));
    connection.on_data(Direction::Ingress, Chunk::whole(2, CURL_GET));
    let events = connection.on_data(Direction::Egress, Chunk::whole(3, &nginx_index_response()));
    assert_eq!(exchanges(&events).len(), 1);
}

#[test]
fn inference_picks_the_protocol_and_role() {
    let http = Http1Parser::default();
    let redis = RedisParser;
    let dns = DnsParser::new(Transport::Datagram);
    let parsers: [&dyn L7Parser; 3] = [&http, &redis, &dns];

    let (parser, inference) = infer_protocol(&parsers, CURL_GET).expect("http");
    assert_eq!(parser.protocol(), Protocol::Http1);
    assert_eq!(inference.confidence, Confidence::Certain);
    assert_eq!(inference.kind, MessageKind::Request);
    assert_eq!(inference.role(Direction::Ingress), Role::Server);
    assert_eq!(inference.role(Direction::Egress), Role::Client);

    let (parser, inference) = infer_protocol(&parsers, PYTHON_JSON_RESPONSE).expect("http");
    assert_eq!(parser.protocol(), Protocol::Http1);
    assert_eq!(inference.kind, MessageKind::Response);
    assert_eq!(inference.role(Direction::Ingress), Role::Client);

    let (parser, _) = infer_protocol(&parsers, REDIS_CLI_COMMANDS).expect("redis");
    assert_eq!(parser.protocol(), Protocol::Redis);
    let (parser, _) = infer_protocol(&parsers, &dig_query(7, "example.com", 1)).expect("dns");
    assert_eq!(parser.protocol(), Protocol::Dns);
    assert!(infer_protocol(&parsers, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").is_none());
    assert!(infer_protocol(&parsers, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").is_none());
}

#[test]
fn websocket_upgrade_hands_the_connection_over() {
    let upgrade = b"GET /chat HTTP/1.1\r\nHost: chat.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let switching = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello";
    let mut connection = Connection::new(http(), Role::Server, Transport::Stream);
    connection.on_data(Direction::Ingress, Chunk::whole(1, upgrade));
    let events = connection.on_data(Direction::Egress, Chunk::whole(2, switching));
    assert_eq!(completions(&events).len(), 1, "{events:?}");
    assert!(exchanges(&events)[0].switches_protocol());
    let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    assert!(
        connection
            .on_data(Direction::Ingress, Chunk::whole(3, frame))
            .is_empty()
    );
    assert!(connection.close(4).is_empty());
}

#[test]
fn requests_are_visible_before_their_responses() {
    let mut connection = Connection::new(http(), Role::Server, Transport::Stream);
    let events = connection.on_data(Direction::Ingress, Chunk::whole(5, NGINX_TO_BACKEND));
    let [ConnectionEvent::RequestSeen { sequence }] = events[..] else {
        panic!("one request expected: {events:?}");
    };
    let pending = connection.pending_request(sequence).expect("still waiting");
    let Request::Http(request) = &pending.request.message else {
        panic!("HTTP request expected");
    };
    assert!(
        request.trace_context().is_some(),
        "parent known before the response"
    );
    assert_eq!(pending.request.first_byte_ns, 5);
    let events = connection.on_data(Direction::Egress, Chunk::whole(9, PYTHON_JSON_RESPONSE));
    assert_eq!(exchanges(&events)[0].sequence, sequence);
    assert!(connection.pending_request(sequence).is_none());
}

#[test]
fn early_response_answers_a_request_whose_body_is_still_arriving() {
    let mut connection = Connection::new(http(), Role::Server, Transport::Stream);
    let upload = b"POST /upload HTTP/1.1\r\nHost: store\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n";
    connection.on_data(Direction::Ingress, Chunk::whole(1, upload));
    let rejection =
        b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let events = connection.on_data(Direction::Egress, Chunk::whole(2, rejection));
    let all = exchanges(&events);
    assert_eq!(all.len(), 1, "{events:?}");
    assert_eq!(response(all[0]).status, 413);
    assert!(!all[0].request.body_complete);
    assert_eq!(all[0].request.last_byte_ns, 1);
    let body_bytes = connection.on_data(Direction::Ingress, Chunk::whole(3, &[b'x'; 4096]));
    assert!(
        body_bytes.is_empty(),
        "the body is still skipped: {body_bytes:?}"
    );
    assert!(completions(&connection.close(4)).is_empty());
}

#[test]
fn continue_then_body_then_final_response() {
    let mut connection = Connection::new(http(), Role::Server, Transport::Stream);
    let head =
        b"PUT /doc HTTP/1.1\r\nHost: store\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
    connection.on_data(Direction::Ingress, Chunk::whole(1, head));
    let interim = connection.on_data(
        Direction::Egress,
        Chunk::whole(2, b"HTTP/1.1 100 Continue\r\n\r\n"),
    );
    assert!(interim.is_empty(), "{interim:?}");
    connection.on_data(Direction::Ingress, Chunk::whole(3, b"data"));
    let events = connection.on_data(
        Direction::Egress,
        Chunk::whole(4, b"HTTP/1.1 204 No Content\r\n\r\n"),
    );
    let all = exchanges(&events);
    assert_eq!(all.len(), 1, "{events:?}");
    assert_eq!(response(all[0]).status, 204);
    assert_eq!(all[0].request.last_byte_ns, 3);
    assert!(all[0].request.body_complete);
}
