//! Property tests: arbitrary and mutated bytes never panic; any chunking of a stream yields the
//! same exchanges as one buffer.

use std::sync::Arc;

use cormorant_receiver_ebpf::body::BodySkipper;
use cormorant_receiver_ebpf::{
    BodyFraming, Chunk, Connection, Direction, DnsParser, Http1Parser, L7Parser, RedisParser,
    Request, Role, Transport,
};
use proptest::prelude::*;

use crate::captures::*;
use crate::common::*;

fn all_parsers() -> Vec<Arc<dyn L7Parser>> {
    vec![
        Arc::new(Http1Parser::default()),
        Arc::new(RedisParser),
        Arc::new(DnsParser::new(Transport::Stream)),
        Arc::new(DnsParser::new(Transport::Datagram)),
    ]
}

fn http_get() -> Request {
    match Http1Parser::default().parse_request(CURL_GET) {
        cormorant_receiver_ebpf::Parsed::Complete { message, .. } => message,
        other => panic!("capture must parse: {other:?}"),
    }
}

/// A parser with a recorded request stream and the matching response stream.
type RecordedStream = (Arc<dyn L7Parser>, Vec<u8>, Vec<u8>);

/// The recorded request and response streams of each protocol.
fn recorded_streams() -> Vec<RecordedStream> {
    let dns_queries = [
        tcp_framed(&dig_query(1, "example.com", 1)),
        tcp_framed(&dig_query(2, "example.org", 28)),
    ]
    .concat();
    let dns_answers = [
        tcp_framed(&resolver_response(1, "example.com", 1, 0, 2)),
        tcp_framed(&resolver_response(2, "example.org", 28, 3, 0)),
    ]
    .concat();
    vec![
        (
            Arc::new(Http1Parser::default()),
            PIPELINED_REQUESTS.to_vec(),
            PIPELINED_RESPONSES.to_vec(),
        ),
        (
            Arc::new(RedisParser),
            concat(&[REDIS_CLI_COMMANDS, REDIS_RESP3_COMMANDS]),
            concat(&[REDIS_CLI_REPLIES, REDIS_RESP3_REPLIES]),
        ),
        (
            Arc::new(DnsParser::new(Transport::Stream)),
            dns_queries,
            dns_answers,
        ),
    ]
}

/// Writes a chunked body whose chunks have the given sizes, with extensions on odd chunks and a
/// trailer section when asked.
fn chunked_body(sizes: &[usize], trailers: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for (index, size) in sizes.iter().enumerate() {
        let extension = if index % 2 == 1 { ";ext=\"x;y\"" } else { "" };
        body.extend_from_slice(format!("{size:x}{extension}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'z', *size));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n");
    if trailers {
        body.extend_from_slice(b"Trailer-One: 1\r\nTrailer-Two: 2\r\n");
    }
    body.extend_from_slice(b"\r\n");
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let request = http_get();
        for parser in all_parsers() {
            let _ = parser.infer(&bytes);
            let _ = parser.parse_request(&bytes);
            let _ = parser.parse_response(&bytes, None);
            let _ = parser.parse_response(&bytes, Some(&request));
        }
    }

    #[test]
    fn arbitrary_chunks_with_gaps_never_panic(
        chunks in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300), 0usize..5000),
            1..20,
        ),
        transport_is_stream in any::<bool>(),
        role_is_server in any::<bool>(),
    ) {
        let transport = if transport_is_stream { Transport::Stream } else { Transport::Datagram };
        let role = if role_is_server { Role::Server } else { Role::Client };
        for parser in all_parsers() {
            let mut connection = Connection::new(parser, role, transport);
            for (index, (egress, data, gap)) in chunks.iter().enumerate() {
                let direction = if *egress { Direction::Egress } else { Direction::Ingress };
                let chunk = Chunk { timestamp_ns: index as u64, data, length: data.len() + gap };
                let _ = connection.on_data(direction, chunk);
            }
            let _ = connection.expire(5);
            let _ = connection.close(1_000);
            prop_assert_eq!(connection.pending_requests(), 0);
        }
    }

    #[test]
    fn mutated_captures_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        points in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        for (parser, requests, responses) in recorded_streams() {
            let mut requests = requests;
            let mut responses = responses;
            for (position, byte) in &flips {
                let index = position % requests.len();
                requests[index] = *byte;
                let index = position % responses.len();
                responses[index] ^= *byte;
            }
            let request_chunks = split_at(&requests, &points);
            let response_chunks = split_at(&responses, &points);
            let _ = run_server(parser, Transport::Stream, &request_chunks, &response_chunks);
        }
    }

    #[test]
    fn any_split_gives_the_same_exchanges(
        request_points in proptest::collection::vec(any::<usize>(), 0..12),
        response_points in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        for (parser, requests, responses) in recorded_streams() {
            let expected = outcomes(&run_whole(parser.clone(), Transport::Stream, &requests, &responses));
            prop_assert!(
                expected.iter().all(|outcome| matches!(outcome, Outcome::Pair(..) | Outcome::Seen(_))),
                "the recorded streams pair completely"
            );
            let request_chunks = split_at(&requests, &request_points);
            let response_chunks = split_at(&responses, &response_points);
            let events = run_server(parser, Transport::Stream, &request_chunks, &response_chunks);
            prop_assert_eq!(outcomes(&events), expected);
        }
    }

    #[test]
    fn chunked_bodies_end_exactly_however_split(
        sizes in proptest::collection::vec(1usize..300, 0..6),
        trailers in any::<bool>(),
        points in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut stream = chunked_body(&sizes, trailers);
        let body_length = stream.len();
        stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let mut skipper = BodySkipper::new(BodyFraming::Chunked).expect("chunked has a body");
        let mut offset = 0;
        let mut ended_at = None;
        for piece in split_at(&stream, &points) {
            if let Some(used) = skipper.feed(piece).expect("valid chunked body") {
                ended_at = Some(offset + used);
                break;
            }
            offset += piece.len();
        }
        prop_assert_eq!(ended_at, Some(body_length));
    }
}
