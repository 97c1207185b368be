//! Request/response pairing per connection, and [`Connection`], which ties a parser, the two
//! reassembly streams and the pairer together.
//!
//! HTTP/1.x and Redis answer in request order, so keep-alive and pipelined connections pair
//! first-in, first-out; DNS answers by id, in any order, possibly many queries on one UDP
//! socket. Interim HTTP responses (1xx) and RESP3 pushes answer nothing and are passed over.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::protocol::{
    Correlation, Direction, L7Parser, ParseError, Parsed, Request, Response, Role,
};
use crate::stream::{Chunk, Frame, MessageStream, StreamStats, Transport};

/// Unanswered requests kept per connection before the oldest is given up.
pub const DEFAULT_MAX_PENDING: usize = 1024;

/// A request waiting for its response.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRequest {
    /// Numbers the connection's requests in the order they were seen, from 0. It names the
    /// request between [`ConnectionEvent::RequestSeen`] and the event that completes it, so
    /// span ids can be assigned as soon as a request is seen.
    pub sequence: u64,
    pub request: Frame<Request>,
}

/// What [`Pairer::request`] did with a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// The request's sequence number; `None` when it repeated a pending DNS query's id (a
    /// retransmission: the first copy's timing is the one the client waited on).
    pub sequence: Option<u64>,
    /// The oldest request, dropped because the queue was full.
    pub evicted: Option<PendingRequest>,
}

/// A request with its response and the four timestamps a span and its latency need.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The request's [`PendingRequest::sequence`].
    pub sequence: u64,
    pub request: Frame<Request>,
    pub response: Frame<Response>,
}

impl Exchange {
    /// From the request's first byte to the response's last byte.
    pub fn duration_ns(&self) -> u64 {
        self.response
            .last_byte_ns
            .saturating_sub(self.request.first_byte_ns)
    }

    /// Whether the connection stops carrying this protocol after this exchange: an HTTP
    /// upgrade (101, e.g. WebSocket) or an established CONNECT tunnel.
    pub fn switches_protocol(&self) -> bool {
        match (&self.request.message, &self.response.message) {
            (Request::Http(request), Response::Http(response)) => {
                response.status == 101
                    || (request.method == "CONNECT" && (200..300).contains(&response.status))
            }
            _ => false,
        }
    }
}

/// What became of a response handed to [`Pairer::response`].
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseOutcome {
    Paired(Exchange),
    /// Interim (HTTP 1xx) or unsolicited (RESP3 push): answers no request.
    NotAnAnswer(Frame<Response>),
    /// No pending request matches (its request was seen before tracing started, or lost).
    Orphan(Frame<Response>),
}

/// Matches responses to pending requests of one connection.
#[derive(Debug, Clone)]
pub struct Pairer {
    pending: VecDeque<PendingRequest>,
    max_pending: usize,
    next_sequence: u64,
}

impl Default for Pairer {
    fn default() -> Pairer {
        Pairer::new(DEFAULT_MAX_PENDING)
    }
}

impl Pairer {
    pub fn new(max_pending: usize) -> Pairer {
        Pairer {
            pending: VecDeque::new(),
            max_pending: max_pending.max(1),
            next_sequence: 0,
        }
    }

    /// Queues a request and numbers it.
    pub fn request(&mut self, request: Frame<Request>) -> Queued {
        if let Correlation::Id(id) = request.message.correlation()
            && self.position_of_id(id).is_some()
        {
            return Queued {
                sequence: None,
                evicted: None,
            };
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.pending.push_back(PendingRequest { sequence, request });
        let evicted = (self.pending.len() > self.max_pending)
            .then(|| self.pending.pop_front())
            .flatten();
        Queued {
            sequence: Some(sequence),
            evicted,
        }
    }

    /// Pairs a response with its request.
    pub fn response(&mut self, response: Frame<Response>) -> ResponseOutcome {
        let index = match response.message.correlation() {
            Correlation::Interim | Correlation::Unsolicited => {
                return ResponseOutcome::NotAnAnswer(response);
            }
            Correlation::Fifo => (!self.pending.is_empty()).then_some(0),
            Correlation::Id(id) => self.position_of_id(id),
        };
        match index.and_then(|index| self.pending.remove(index)) {
            Some(pending) => ResponseOutcome::Paired(Exchange {
                sequence: pending.sequence,
                request: pending.request,
                response,
            }),
            None => ResponseOutcome::Orphan(response),
        }
    }

    /// The `nth` oldest request still waiting (for parsing responses that depend on it).
    pub fn waiting(&self, nth: usize) -> Option<&Request> {
        self.pending
            .get(nth)
            .map(|pending| &pending.request.message)
    }

    /// The pending request numbered `sequence`, if it is still waiting.
    pub fn get(&self, sequence: u64) -> Option<&PendingRequest> {
        self.pending
            .iter()
            .find(|pending| pending.sequence == sequence)
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Removes requests whose first byte is older than `deadline_ns`.
    pub fn expire(&mut self, deadline_ns: u64) -> Vec<PendingRequest> {
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|pending| pending.request.first_byte_ns < deadline_ns);
        self.pending = kept.into();
        expired
    }

    /// Removes the in-order requests sent by `timestamp_ns`: after responses were lost, which
    /// of them were answered is unknown, and pairing later responses with them would be wrong.
    pub fn abandon_in_order(&mut self, timestamp_ns: u64) -> Vec<PendingRequest> {
        let (abandoned, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|pending| {
                pending.request.message.correlation() == Correlation::Fifo
                    && pending.request.first_byte_ns <= timestamp_ns
            });
        self.pending = kept.into();
        abandoned
    }

    /// Removes every pending request (the connection closed).
    pub fn drain(&mut self) -> Vec<PendingRequest> {
        self.pending.drain(..).collect()
    }

    fn position_of_id(&self, id: u16) -> Option<usize> {
        self.pending
            .iter()
            .position(|pending| pending.request.message.correlation() == Correlation::Id(id))
    }
}

/// What a connection produced from a chunk.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionEvent {
    /// A request was parsed; [`Connection::pending_request`] shows it until it completes.
    RequestSeen {
        sequence: u64,
    },
    Exchange(Exchange),
    /// A request that got no response (closed, evicted, or expired connection).
    Unanswered(PendingRequest),
    /// A response without a request; still worth a span with the response's data.
    Orphan(Frame<Response>),
    /// Bytes that failed to parse; the stream resynchronised on the next chunk.
    Invalid {
        direction: Direction,
        error: ParseError,
    },
}

/// One traced connection: parser, reassembly per direction, and pairing.
pub struct Connection {
    parser: Arc<dyn L7Parser>,
    role: Role,
    requests: MessageStream<Request>,
    responses: MessageStream<Response>,
    pairer: Pairer,
    /// Set once an exchange switched the connection to another protocol; later bytes are not
    /// this parser's to judge.
    switched: bool,
    /// Frames of the chunk being handled, kept between chunks so their lists are not
    /// allocated per chunk; empty outside [`Connection::on_data_into`].
    request_frames: Vec<Result<Frame<Request>, ParseError>>,
    response_frames: Vec<Result<Frame<Response>, ParseError>>,
}

impl Connection {
    pub fn new(parser: Arc<dyn L7Parser>, role: Role, transport: Transport) -> Connection {
        let protocol = parser.protocol();
        Connection {
            parser,
            role,
            requests: MessageStream::new(protocol, transport),
            responses: MessageStream::new(protocol, transport),
            pairer: Pairer::default(),
            switched: false,
            request_frames: Vec::new(),
            response_frames: Vec::new(),
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Requests seen that have not been answered yet.
    pub fn pending_requests(&self) -> usize {
        self.pairer.pending_count()
    }

    /// The request announced by [`ConnectionEvent::RequestSeen`] with this number, while it
    /// waits for its response.
    pub fn pending_request(&self, sequence: u64) -> Option<&PendingRequest> {
        self.pairer.get(sequence)
    }

    /// Reassembly counters: (request direction, response direction).
    pub fn stats(&self) -> (StreamStats, StreamStats) {
        (self.requests.stats(), self.responses.stats())
    }

    /// Feeds one syscall's payload moved in `direction`.
    pub fn on_data(&mut self, direction: Direction, chunk: Chunk<'_>) -> Vec<ConnectionEvent> {
        let mut events = Vec::new();
        self.on_data_into(direction, chunk, &mut events);
        events
    }

    /// [`Connection::on_data`] appending to `events`, so a caller handling a stream of chunks
    /// reuses one list instead of allocating one per chunk.
    pub fn on_data_into(
        &mut self,
        direction: Direction,
        chunk: Chunk<'_>,
        events: &mut Vec<ConnectionEvent>,
    ) {
        if self.switched {
            return;
        }
        if direction == self.role.request_direction() {
            let parser = &self.parser;
            let mut frames = std::mem::take(&mut self.request_frames);
            self.requests
                .push_into(chunk, |buf| parser.parse_request(buf), &mut frames);
            for result in frames.drain(..) {
                match result {
                    Ok(frame) => self.queue_request(frame, events),
                    Err(error) => events.push(ConnectionEvent::Invalid { direction, error }),
                }
            }
            self.request_frames = frames;
        } else {
            let parser = &self.parser;
            let pairer = &self.pairer;
            // Responses parsed but not paired yet (earlier in this chunk, or one whose body is
            // still being skipped) answer the oldest requests, so the n-th of them is framed
            // against the n-th waiting request.
            let mut answered = usize::from(
                self.responses
                    .pending()
                    .is_some_and(|response| response.correlation() == Correlation::Fifo),
            );
            let mut frames = std::mem::take(&mut self.response_frames);
            self.responses.push_into(
                chunk,
                |buf| {
                    let parsed = parser.parse_response(buf, pairer.waiting(answered));
                    if let Parsed::Complete { message, .. } = &parsed
                        && message.correlation() == Correlation::Fifo
                    {
                        answered += 1;
                    }
                    parsed
                },
                &mut frames,
            );
            for result in frames.drain(..) {
                match result {
                    Ok(frame) => match self.pair_response(frame, events) {
                        ResponseOutcome::Paired(exchange) => {
                            let switches = exchange.switches_protocol();
                            events.push(ConnectionEvent::Exchange(exchange));
                            if switches {
                                // What follows in this chunk is the new protocol.
                                self.switched = true;
                                break;
                            }
                        }
                        ResponseOutcome::Orphan(frame) => {
                            events.push(ConnectionEvent::Orphan(frame))
                        }
                        ResponseOutcome::NotAnAnswer(_) => {}
                    },
                    Err(error) => {
                        events.push(ConnectionEvent::Invalid { direction, error });
                        events.extend(
                            self.pairer
                                .abandon_in_order(chunk.timestamp_ns)
                                .into_iter()
                                .map(ConnectionEvent::Unanswered),
                        );
                    }
                }
            }
            self.response_frames = frames;
        }
    }

    /// Pairs a response. A final in-order response with no request waiting answers the
    /// request whose body is still arriving: servers reject uploads (401, 413, 417) without
    /// reading them.
    fn pair_response(
        &mut self,
        response: Frame<Response>,
        events: &mut Vec<ConnectionEvent>,
    ) -> ResponseOutcome {
        if response.message.correlation() == Correlation::Fifo
            && self.pairer.pending_count() == 0
            && let Some(request) = self.requests.detach_pending()
        {
            self.queue_request(request, events);
        }
        self.pairer.response(response)
    }

    fn queue_request(&mut self, request: Frame<Request>, events: &mut Vec<ConnectionEvent>) {
        let queued = self.pairer.request(request);
        if let Some(evicted) = queued.evicted {
            events.push(ConnectionEvent::Unanswered(evicted));
        }
        if let Some(sequence) = queued.sequence {
            events.push(ConnectionEvent::RequestSeen { sequence });
        }
    }

    /// Gives up requests older than `deadline_ns`.
    pub fn expire(&mut self, deadline_ns: u64) -> Vec<ConnectionEvent> {
        self.pairer
            .expire(deadline_ns)
            .into_iter()
            .map(ConnectionEvent::Unanswered)
            .collect()
    }

    /// The socket closed at `timestamp_ns`: bodies that run until close end, and requests
    /// still waiting are reported unanswered.
    pub fn close(&mut self, timestamp_ns: u64) -> Vec<ConnectionEvent> {
        let mut events = Vec::new();
        if let Some(request) = self.requests.close(timestamp_ns) {
            self.queue_request(request, &mut events);
        }
        if let Some(response) = self.responses.close(timestamp_ns) {
            match self.pairer.response(response) {
                ResponseOutcome::Paired(exchange) => {
                    events.push(ConnectionEvent::Exchange(exchange))
                }
                ResponseOutcome::Orphan(frame) => events.push(ConnectionEvent::Orphan(frame)),
                ResponseOutcome::NotAnAnswer(_) => {}
            }
        }
        events.extend(
            self.pairer
                .drain()
                .into_iter()
                .map(ConnectionEvent::Unanswered),
        );
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::DnsMessage;
    use crate::protocol::BodyFraming;
    use crate::redis::{RedisCommand, RedisReply, ReplyKind};

    fn frame<M>(message: M, timestamp_ns: u64) -> Frame<M> {
        Frame {
            message,
            first_byte_ns: timestamp_ns,
            last_byte_ns: timestamp_ns,
            body_complete: true,
        }
    }

    fn command(name: &str) -> Request {
        Request::Redis(RedisCommand {
            name: name.to_owned(),
            subcommand: None,
            key: None,
            argument_count: 0,
            inline: false,
            body: BodyFraming::None,
        })
    }

    fn reply(kind: ReplyKind) -> Response {
        Response::Redis(RedisReply {
            kind,
            error: None,
            body: BodyFraming::None,
        })
    }

    fn dns(id: u16, is_response: bool) -> DnsMessage {
        DnsMessage {
            id,
            is_response,
            opcode: 0,
            rcode: 0,
            truncated: false,
            question_count: 1,
            answer_count: 0,
            query_name: Some("a.example".into()),
            query_type: Some(1),
            body: BodyFraming::None,
        }
    }

    #[test]
    fn fifo_pairs_in_order_and_skips_pushes() {
        let mut pairer = Pairer::default();
        pairer.request(frame(command("GET"), 1));
        pairer.request(frame(command("SET"), 2));
        let push = pairer.response(frame(reply(ReplyKind::Push), 3));
        assert!(matches!(push, ResponseOutcome::NotAnAnswer(_)));
        let ResponseOutcome::Paired(first) =
            pairer.response(frame(reply(ReplyKind::BulkString), 4))
        else {
            panic!("paired expected");
        };
        assert_eq!(first.request.message, command("GET"));
        assert_eq!(first.duration_ns(), 3);
        assert!(matches!(
            pairer.response(frame(reply(ReplyKind::SimpleString), 5)),
            ResponseOutcome::Paired(_)
        ));
        assert!(matches!(
            pairer.response(frame(reply(ReplyKind::SimpleString), 6)),
            ResponseOutcome::Orphan(_)
        ));
    }

    #[test]
    fn bounded_queue_evicts_oldest_and_expiry_removes_stale() {
        let mut pairer = Pairer::new(2);
        assert_eq!(pairer.request(frame(command("A"), 1)).sequence, Some(0));
        assert!(pairer.request(frame(command("B"), 2)).evicted.is_none());
        let queued = pairer.request(frame(command("C"), 3));
        assert_eq!(queued.sequence, Some(2));
        let evicted = queued.evicted.expect("evicted");
        assert_eq!(
            (evicted.sequence, evicted.request.message),
            (0, command("A"))
        );
        assert_eq!(pairer.get(1).map(|pending| pending.sequence), Some(1));
        let expired = pairer.expire(3);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].request.message, command("B"));
        assert_eq!(pairer.pending_count(), 1);
        assert_eq!(pairer.drain().len(), 1);
    }

    #[test]
    fn dns_pairs_by_id_and_ignores_retransmissions() {
        let mut pairer = Pairer::default();
        pairer.request(frame(Request::Dns(dns(1, false)), 10));
        pairer.request(frame(Request::Dns(dns(2, false)), 11));
        let retransmission = pairer.request(frame(Request::Dns(dns(1, false)), 15));
        assert_eq!(retransmission.sequence, None);
        assert_eq!(
            pairer.pending_count(),
            2,
            "retransmission is not a new query"
        );
        let ResponseOutcome::Paired(exchange) =
            pairer.response(frame(Response::Dns(dns(2, true)), 20))
        else {
            panic!("paired expected");
        };
        assert_eq!((exchange.sequence, exchange.request.first_byte_ns), (1, 11));
        let ResponseOutcome::Paired(exchange) =
            pairer.response(frame(Response::Dns(dns(1, true)), 30))
        else {
            panic!("paired expected");
        };
        assert_eq!(exchange.duration_ns(), 20, "timed from the first copy");
    }
}
