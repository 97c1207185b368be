//! Shared helpers: feeding recorded-style byte streams into a [`Connection`] in chosen chunk
//! splits, and reducing its events to what must not depend on the split.

use std::sync::Arc;

use cormorant_receiver_ebpf::pairing::ConnectionEvent;
use cormorant_receiver_ebpf::{
    Chunk, Connection, Direction, L7Parser, Request, Response, Role, Transport,
};

/// Split-independent view of a connection event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Seen(u64),
    Pair(Request, Response),
    Unanswered(Request),
    Orphan(Response),
    Invalid,
}

pub fn outcomes(events: &[ConnectionEvent]) -> Vec<Outcome> {
    events
        .iter()
        .map(|event| match event {
            ConnectionEvent::Exchange(exchange) => Outcome::Pair(
                exchange.request.message.clone(),
                exchange.response.message.clone(),
            ),
            ConnectionEvent::RequestSeen { sequence } => Outcome::Seen(*sequence),
            ConnectionEvent::Unanswered(pending) => {
                Outcome::Unanswered(pending.request.message.clone())
            }
            ConnectionEvent::Orphan(frame) => Outcome::Orphan(frame.message.clone()),
            ConnectionEvent::Invalid { .. } => Outcome::Invalid,
        })
        .collect()
}

/// Cuts `bytes` at the given offsets (unsorted, duplicates and out-of-range allowed).
pub fn split_at<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points
        .iter()
        .map(|point| point % (bytes.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        if cut > start {
            chunks.push(&bytes[start..cut]);
            start = cut;
        }
    }
    chunks
}

/// Feeds every request chunk, then every response chunk (as a pipelining client would send
/// them), to a server-side connection, closes it, and returns all events. Request chunk `i` is
/// stamped `1000 + i`, response chunk `i` `2000 + i`, the close `3000`.
pub fn run_server(
    parser: Arc<dyn L7Parser>,
    transport: Transport,
    request_chunks: &[&[u8]],
    response_chunks: &[&[u8]],
) -> Vec<ConnectionEvent> {
    let mut connection = Connection::new(parser, Role::Server, transport);
    let mut events = Vec::new();
    for (index, chunk) in request_chunks.iter().enumerate() {
        events.extend(
            connection.on_data(Direction::Ingress, Chunk::whole(1000 + index as u64, chunk)),
        );
    }
    for (index, chunk) in response_chunks.iter().enumerate() {
        events.extend(
            connection.on_data(Direction::Egress, Chunk::whole(2000 + index as u64, chunk)),
        );
    }
    events.extend(connection.close(3000));
    events
}

/// [`run_server`] with both streams in one chunk each.
pub fn run_whole(
    parser: Arc<dyn L7Parser>,
    transport: Transport,
    requests: &[u8],
    responses: &[u8],
) -> Vec<ConnectionEvent> {
    run_server(parser, transport, &[requests], &[responses])
}

/// Asserts that cutting either stream at any single byte gives the same outcomes as whole
/// buffers.
pub fn assert_split_invariant(parser: Arc<dyn L7Parser>, requests: &[u8], responses: &[u8]) {
    let expected = outcomes(&run_whole(
        parser.clone(),
        Transport::Stream,
        requests,
        responses,
    ));
    for cut in 0..=requests.len() {
        let chunks = split_at(requests, &[cut]);
        let events = run_server(parser.clone(), Transport::Stream, &chunks, &[responses]);
        assert_eq!(outcomes(&events), expected, "requests cut at {cut}");
    }
    for cut in 0..=responses.len() {
        let chunks = split_at(responses, &[cut]);
        let events = run_server(parser.clone(), Transport::Stream, &[requests], &chunks);
        assert_eq!(outcomes(&events), expected, "responses cut at {cut}");
    }
    let bytewise_requests: Vec<&[u8]> = requests.chunks(1).collect();
    let bytewise_responses: Vec<&[u8]> = responses.chunks(1).collect();
    let events = run_server(
        parser,
        Transport::Stream,
        &bytewise_requests,
        &bytewise_responses,
    );
    assert_eq!(outcomes(&events), expected, "one byte per chunk");
}

/// The events other than [`ConnectionEvent::RequestSeen`]: what completes or fails.
pub fn completions(events: &[ConnectionEvent]) -> Vec<&ConnectionEvent> {
    events
        .iter()
        .filter(|event| !matches!(event, ConnectionEvent::RequestSeen { .. }))
        .collect()
}

/// The exchanges among `events`, in order.
pub fn exchanges(events: &[ConnectionEvent]) -> Vec<&cormorant_receiver_ebpf::Exchange> {
    events
        .iter()
        .filter_map(|event| match event {
            ConnectionEvent::Exchange(exchange) => Some(exchange),
            _ => None,
        })
        .collect()
}

pub fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
