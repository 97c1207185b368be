//! User side of the eBPF receiver: the protocol layer turns the socket payload chunks captured
//! by the kernel programs (`ebpf/`) into paired, timed L7 requests and responses, and the
//! [`receiver`] module turns those into spans with AutoTracing ids and RED metrics.
//!
//! - [`protocol`]: the [`L7Parser`] interface every protocol implements, and the message types.
//! - [`http1`], [`redis`], [`dns`]: the parsers.
//! - [`trace_context`]: W3C, B3, Jaeger and SkyWalking header decoding, so eBPF spans join the
//!   caller's trace.
//! - [`stream`]: per-socket, per-direction reassembly of split and coalesced reads, body
//!   skipping across uncaptured bytes.
//! - [`pairing`]: request/response matching (FIFO for pipelined HTTP/1.x and Redis, by id for
//!   DNS) with first/last-byte timestamps for both sides.
//! - [`receiver`]: the `ebpf` receiver (config, factory, event task, AutoTracing, spans).

pub mod body;
pub mod cgroup;
pub mod dns;
pub mod http1;
pub mod pairing;
pub mod process;
pub mod protocol;
pub mod receiver;
pub mod red;
pub mod redis;
pub mod stream;
pub mod trace_context;

pub use dns::{DnsMessage, DnsParser};
pub use http1::{Http1Config, Http1Parser, HttpRequest, HttpResponse};
pub use pairing::{Connection, ConnectionEvent, Exchange, Pairer, PendingRequest};
pub use protocol::{
    BodyFraming, Confidence, Correlation, Direction, Framed, Inference, L7Parser, MessageKind,
    ParseError, Parsed, Protocol, Request, Response, Role, infer_protocol,
};
pub use redis::{RedisCommand, RedisParser, RedisReply};
pub use stream::{Chunk, Frame, MessageStream, Transport};
pub use trace_context::{TraceContext, TraceFormat, TraceHeaders};
