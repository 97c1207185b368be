use std::sync::Arc;

use cormorant_receiver_ebpf::pairing::ConnectionEvent;
use cormorant_receiver_ebpf::{
    Chunk, Connection, Direction, DnsMessage, DnsParser, Exchange, L7Parser, ParseError, Parsed,
    Protocol, Request, Response, Role, Transport,
};

use crate::captures::*;
use crate::common::*;

fn query(exchange: &Exchange) -> &DnsMessage {
    match &exchange.request.message {
        Request::Dns(message) => message,
        other => panic!("not DNS: {other:?}"),
    }
}

fn answer(exchange: &Exchange) -> &DnsMessage {
    match &exchange.response.message {
        Response::Dns(message) => message,
        other => panic!("not DNS: {other:?}"),
    }
}

fn udp_client() -> Connection {
    Connection::new(
        Arc::new(DnsParser::new(Transport::Datagram)),
        Role::Client,
        Transport::Datagram,
    )
}

#[test]
fn dig_over_udp() {
    let mut connection = udp_client();
    let sent = dig_query(0x1a2b, "example.com", 1);
    let seen = connection.on_data(Direction::Egress, Chunk::whole(100, &sent));
    assert_eq!(seen, [ConnectionEvent::RequestSeen { sequence: 0 }]);
    let received = resolver_response(0x1a2b, "example.com", 1, 0, 2);
    let events = connection.on_data(Direction::Ingress, Chunk::whole(350, &received));
    let exchange = exchanges(&events)[0];
    assert_eq!(query(exchange).query_name.as_deref(), Some("example.com"));
    assert_eq!(query(exchange).query_type_name(), Some("A"));
    assert!(!query(exchange).is_response);
    assert_eq!(answer(exchange).answer_count, 2);
    assert_eq!(answer(exchange).rcode_name(), "NOERROR");
    assert!(!exchange.response.message.is_error());
    assert_eq!(exchange.duration_ns(), 250);
}

#[test]
fn concurrent_queries_on_one_socket_pair_by_id() {
    let mut connection = udp_client();
    let mut events = Vec::new();
    for (timestamp, id, query_type) in [(1, 0x1111, 1), (2, 0x2222, 28)] {
        let sent = dig_query(id, "shop.internal", query_type);
        events.extend(connection.on_data(Direction::Egress, Chunk::whole(timestamp, &sent)));
    }
    for (timestamp, id, query_type, rcode) in [(5, 0x2222, 28, 3), (9, 0x1111, 1, 0)] {
        let received = resolver_response(
            id,
            "shop.internal",
            query_type,
            rcode,
            1 - rcode.min(1) as u16,
        );
        events.extend(connection.on_data(Direction::Ingress, Chunk::whole(timestamp, &received)));
    }
    let all = exchanges(&events);
    assert_eq!(all.len(), 2);
    assert_eq!(query(all[0]).query_type_name(), Some("AAAA"));
    assert_eq!(answer(all[0]).rcode_name(), "NXDOMAIN");
    assert!(all[0].response.message.is_error());
    assert_eq!(all[0].duration_ns(), 3);
    assert_eq!(query(all[1]).id, 0x1111);
    assert_eq!(all[1].duration_ns(), 8);

    let orphan = resolver_response(0x3333, "shop.internal", 1, 0, 1);
    let events = connection.on_data(Direction::Ingress, Chunk::whole(10, &orphan));
    assert!(matches!(events[..], [ConnectionEvent::Orphan(_)]));
}

#[test]
fn dig_over_tcp_split_anywhere() {
    let parser: Arc<dyn L7Parser> = Arc::new(DnsParser::new(Transport::Stream));
    let queries = [
        tcp_framed(&dig_query(0x0101, "example.com", 1)),
        tcp_framed(&dig_query(0x0202, "example.com", 28)),
    ]
    .concat();
    let responses = [
        tcp_framed(&resolver_response(0x0101, "example.com", 1, 0, 3)),
        tcp_framed(&resolver_response(0x0202, "example.com", 28, 3, 0)),
    ]
    .concat();
    let events = run_whole(parser.clone(), Transport::Stream, &queries, &responses);
    let all = exchanges(&events);
    assert_eq!(all.len(), 2);
    assert_eq!(answer(all[0]).answer_count, 3);
    assert_eq!(answer(all[1]).rcode, 3);
    assert_split_invariant(parser, &queries, &responses);
}

#[test]
fn large_tcp_response_beyond_the_capture() {
    let parser = Arc::new(DnsParser::new(Transport::Stream));
    let mut connection = Connection::new(parser, Role::Client, Transport::Stream);
    let sent = tcp_framed(&dig_query(7, "many.example", 1));
    connection.on_data(Direction::Egress, Chunk::whole(1, &sent));
    let received = tcp_framed(&resolver_response(7, "many.example", 1, 0, 200));
    let events = connection.on_data(
        Direction::Ingress,
        Chunk {
            timestamp_ns: 2,
            data: &received[..1024],
            length: received.len(),
        },
    );
    let exchange = exchanges(&events)[0];
    assert_eq!(answer(exchange).answer_count, 200);
    assert!(exchange.response.body_complete);
    let again = tcp_framed(&dig_query(8, "next.example", 1));
    connection.on_data(Direction::Egress, Chunk::whole(3, &again));
    let reply = tcp_framed(&resolver_response(8, "next.example", 1, 0, 1));
    let events = connection.on_data(Direction::Ingress, Chunk::whole(4, &reply));
    assert_eq!(query(exchanges(&events)[0]).id, 8, "still in sync");
}

#[test]
fn malformed_messages_are_rejected() {
    let udp = DnsParser::new(Transport::Datagram);
    let mut bad_opcode = dig_query(1, "example.com", 1);
    bad_opcode[2] |= 0x78;
    assert!(matches!(udp.parse_message(&bad_opcode), Parsed::Invalid(_)));

    let full = dig_query(1, "example.com", 1);
    assert_eq!(
        udp.parse_message(&full[..20]),
        Parsed::Invalid(ParseError::Malformed {
            protocol: Protocol::Dns,
            detail: "question overruns message"
        })
    );
    assert!(matches!(udp.parse_message(&full[..5]), Parsed::Invalid(_)));

    let mut looped = full[..12].to_vec();
    looped.extend_from_slice(b"\x01a\xc0\x0c\x00\x01\x00\x01");
    assert!(matches!(udp.parse_message(&looped), Parsed::Invalid(_)));

    let response = resolver_response(1, "example.com", 1, 0, 1);
    assert!(matches!(udp.parse_request(&response), Parsed::Invalid(_)));
    assert!(matches!(
        udp.parse_response(&full, None),
        Parsed::Invalid(_)
    ));

    let tcp = DnsParser::new(Transport::Stream);
    assert!(matches!(
        tcp.parse_message(b"\x00\x05hello"),
        Parsed::Invalid(_)
    ));
    assert_eq!(tcp.parse_message(b"\x00"), Parsed::NeedMore);
    assert!(udp.infer(b"GET / HTTP/1.1\r\n\r\n").is_none());
}

#[test]
fn a_bad_datagram_does_not_affect_the_next() {
    let mut connection = udp_client();
    let events = connection.on_data(Direction::Egress, Chunk::whole(1, b"\xff\xff\xff"));
    assert!(matches!(events[..], [ConnectionEvent::Invalid { .. }]));
    let sent = dig_query(42, "ok.example", 1);
    connection.on_data(Direction::Egress, Chunk::whole(2, &sent));
    let received = resolver_response(42, "ok.example", 1, 0, 1);
    let events = connection.on_data(Direction::Ingress, Chunk::whole(3, &received));
    assert_eq!(exchanges(&events).len(), 1);
}
