//! Kernel side of Cormorant's eBPF capture: the socket tracer (C, CO-RE, syscall
//! tracepoints only, in `bpf/`) and its loader.
//!
//! [`SocketTracer::load`] checks privileges, BTF and tracefs, loads the committed object
//! with the payload size, ring buffer size and excluded pid baked in, and attaches every
//! tracepoint. [`SocketTracer::events`] then yields [`TracerEvent`]s: a [`SocketEvent`] per
//! successful send/receive on an inet socket (with the first payload bytes and the TCP
//! sequence of the first byte), plus connect, accept and close events that carry the
//! 5-tuple; and a [`ProcessEvent`] when a process execs (path and argv) or ends.
//! Protocol parsing and span building live in the `ebpf` receiver.

mod clock;
mod comm;
mod event;
mod filters;
mod loader;
mod process;
mod stream;

pub use clock::monotonic_to_unix_nanos;
pub use comm::Comm;
pub use event::{
    DecodeError, Direction, EventKind, HEADER_SIZE, MAX_PAYLOAD_BYTES, SocketEvent, SocketRole,
    Syscall, TracerEvent, Transport,
};
pub use filters::KernelFilters;
pub use loader::{LoadError, SocketTracer, TracerConfig};
pub use process::{ProcessEvent, ProcessEventKind};
pub use stream::{EventError, EventStream};
