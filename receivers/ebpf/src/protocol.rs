//! The small interface every L7 protocol parser implements, and the message types it produces.
//!
//! The kernel side hands over socket payload in chunks: one chunk per syscall, possibly cut
//! short by the capture limit, so a message may span several chunks and one chunk may hold
//! several messages. Parsers therefore never see "a message"; they see the front of a per-socket,
//! per-direction reassembly buffer and say how many bytes the next message head took
//! ([`Parsed::Complete`]), that they need more bytes ([`Parsed::NeedMore`]), or that the bytes
//! cannot be this protocol ([`Parsed::Invalid`]). Bodies that carry nothing the span needs (HTTP
//! bodies, large Redis values, DNS answer records) are described by [`BodyFraming`] instead of
//! being buffered, so [`crate::stream::MessageStream`] can skip them even when the kernel did not
//! capture their bytes.

use crate::dns::DnsMessage;
use crate::http1::{HttpRequest, HttpResponse};
use crate::redis::{RedisCommand, RedisReply};

/// The application protocols this crate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.0 and HTTP/1.1.
    Http1,
    /// Redis RESP2 and RESP3.
    Redis,
    /// DNS over UDP or TCP.
    Dns,
}

impl Protocol {
    /// The lowercase name used in attributes and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http1 => "http",
            Protocol::Redis => "redis",
            Protocol::Dns => "dns",
        }
    }
}

/// Which way the bytes moved, seen from the traced process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Written by the process (write, send, sendmsg...).
    Egress,
    /// Read by the process (read, recv, recvmsg...).
    Ingress,
}

/// The traced process's side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The process sends requests (it connected, or it wrote the first request).
    Client,
    /// The process answers requests (it accepted, or it read the first request).
    Server,
}

impl Role {
    /// The direction in which this side's requests travel.
    pub fn request_direction(self) -> Direction {
        match self {
            Role::Client => Direction::Egress,
            Role::Server => Direction::Ingress,
        }
    }
}

/// Whether bytes hold a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Request,
    Response,
}

/// How sure an inference is; ordered so the strongest candidate parser can be picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// Plausible, but short or ambiguous input (e.g. a Redis inline command).
    Weak,
    /// The framing checks out.
    Strong,
    /// The framing checks out and carries an unmistakable marker (e.g. `HTTP/1.1`).
    Certain,
}

/// What a parser recognised in the first bytes of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inference {
    pub confidence: Confidence,
    pub kind: MessageKind,
}

impl Inference {
    /// The role of the traced process when it moved these bytes in `direction`: whoever
    /// writes a request, or reads a response, is the client. Used when the kernel saw neither
    /// `connect` nor `accept` for the socket (it was opened before tracing started).
    pub fn role(&self, direction: Direction) -> Role {
        match (self.kind, direction) {
            (MessageKind::Request, Direction::Egress)
            | (MessageKind::Response, Direction::Ingress) => Role::Client,
            (MessageKind::Request, Direction::Ingress)
            | (MessageKind::Response, Direction::Egress) => Role::Server,
        }
    }
}

/// The outcome of parsing the front of a reassembly buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<M> {
    /// A message head was recognised in the first `consumed` bytes. Any body announced by the
    /// message's [`Framed::body`] follows those bytes and is not part of `consumed`.
    Complete { consumed: usize, message: M },
    /// The buffer holds a valid prefix; call again when more bytes arrived.
    NeedMore,
    /// The bytes are not (or no longer) this protocol.
    Invalid(ParseError),
}

impl<M> Parsed<M> {
    /// Converts the message of a complete parse, keeping the other outcomes.
    pub fn map<N>(self, wrap: impl FnOnce(M) -> N) -> Parsed<N> {
        match self {
            Parsed::Complete { consumed, message } => Parsed::Complete {
                consumed,
                message: wrap(message),
            },
            Parsed::NeedMore => Parsed::NeedMore,
            Parsed::Invalid(error) => Parsed::Invalid(error),
        }
    }
}

/// Why bytes were rejected. Kept allocation-free: garbage is frequent and must be cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{protocol:?} message head exceeds the {limit}-byte limit")]
    TooLarge { protocol: Protocol, limit: usize },
    #[error("malformed {protocol:?} message: {detail}")]
    Malformed {
        protocol: Protocol,
        detail: &'static str,
    },
    #[error("{protocol:?} message was cut short by the capture limit before its head ended")]
    Truncated { protocol: Protocol },
}

/// How the bytes after a message head belong to that message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// The head is the whole message.
    None,
    /// Exactly this many more bytes.
    Length(u64),
    /// HTTP/1.1 chunked transfer coding, ending with the last chunk and the trailer section.
    Chunked,
    /// Everything until the connection closes (HTTP/1.x responses without a length).
    UntilClose,
}

/// How a response finds its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correlation {
    /// In order: the oldest unanswered request (HTTP/1.x, Redis).
    Fifo,
    /// The request carrying the same id (DNS).
    Id(u16),
    /// Not an answer: an informational response (HTTP 1xx) that a final response will follow.
    Interim,
    /// Not an answer: a message the server sent on its own (RESP3 push).
    Unsolicited,
}

/// Parsed messages that know how their body is framed.
pub trait Framed {
    fn body(&self) -> BodyFraming;
}

/// A request of any supported protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Boxed: an HTTP head (with its trace headers) is several times larger than the others.
    Http(Box<HttpRequest>),
    Redis(RedisCommand),
    Dns(DnsMessage),
}

/// A response of any supported protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Http(HttpResponse),
    Redis(RedisReply),
    Dns(DnsMessage),
}

impl Request {
    pub fn protocol(&self) -> Protocol {
        match self {
            Request::Http(_) => Protocol::Http1,
            Request::Redis(_) => Protocol::Redis,
            Request::Dns(_) => Protocol::Dns,
        }
    }

    /// How the response to this request will be found.
    pub fn correlation(&self) -> Correlation {
        match self {
            Request::Dns(message) => Correlation::Id(message.id),
            Request::Http(_) | Request::Redis(_) => Correlation::Fifo,
        }
    }
}

impl Framed for Request {
    fn body(&self) -> BodyFraming {
        match self {
            Request::Http(request) => request.body,
            Request::Redis(command) => command.body,
            Request::Dns(message) => message.body,
        }
    }
}

impl Response {
    pub fn protocol(&self) -> Protocol {
        match self {
            Response::Http(_) => Protocol::Http1,
            Response::Redis(_) => Protocol::Redis,
            Response::Dns(_) => Protocol::Dns,
        }
    }

    /// How this response finds its request.
    pub fn correlation(&self) -> Correlation {
        match self {
            Response::Http(response) if response.is_interim() => Correlation::Interim,
            Response::Redis(reply) if reply.is_push() => Correlation::Unsolicited,
            Response::Dns(message) => Correlation::Id(message.id),
            Response::Http(_) | Response::Redis(_) => Correlation::Fifo,
        }
    }

    /// Whether the span of this exchange gets status Error: HTTP 5xx, a Redis error reply, a
    /// DNS rcode other than NOERROR.
    pub fn is_error(&self) -> bool {
        match self {
            Response::Http(response) => response.status >= 500,
            Response::Redis(reply) => reply.error.is_some(),
            Response::Dns(message) => message.rcode != 0,
        }
    }
}

impl Framed for Response {
    fn body(&self) -> BodyFraming {
        match self {
            Response::Http(response) => response.body,
            Response::Redis(reply) => reply.body,
            Response::Dns(message) => message.body,
        }
    }
}

/// One protocol's parser. Implementations are stateless (all stream state lives in
/// [`crate::stream::MessageStream`] and [`crate::pairing::Pairer`]), so one instance serves
/// every connection.
pub trait L7Parser: Send + Sync {
    fn protocol(&self) -> Protocol;

    /// Looks at the first bytes seen on a connection (either direction) and says whether they
    /// are this protocol, and whether they are a request or a response. `None` means "not this
    /// protocol". Must be cheap: it runs for every unclassified connection.
    fn infer(&self, first_bytes: &[u8]) -> Option<Inference>;

    /// Parses the request head at the front of `buf`.
    fn parse_request(&self, buf: &[u8]) -> Parsed<Request>;

    /// Parses the response head at the front of `buf`. `request` is the request this response
    /// most likely answers (the oldest unanswered one), when known: an HTTP response to `HEAD`
    /// has no body whatever its headers say.
    fn parse_response(&self, buf: &[u8], request: Option<&Request>) -> Parsed<Response>;
}

/// Picks the parser that recognises `first_bytes` with the highest confidence; ties go to the
/// earlier parser in `parsers`.
pub fn infer_protocol<'p>(
    parsers: &'p [&'p dyn L7Parser],
    first_bytes: &[u8],
) -> Option<(&'p dyn L7Parser, Inference)> {
    let mut best: Option<(&'p dyn L7Parser, Inference)> = None;
    for parser in parsers {
        if let Some(inference) = parser.infer(first_bytes)
            && best.is_none_or(|(_, current)| inference.confidence > current.confidence)
        {
            best = Some((*parser, inference));
        }
    }
    best
}
