//! Ring buffer records: the `#[repr(C)]` mirror of `struct socket_event`
//! (`bpf/socket_trace.h`) and its decoding into an owned, typed [`SocketEvent`].
//!
//! Decoding never trusts the record: every field is read from a bounds-checked byte
//! slice at the offset the mirror struct gives it (no pointer casts, no `unsafe`), enum
//! values outside the known set are errors, and the payload length is checked against
//! both the record size and the kernel-side cap.

use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

use crate::comm::Comm;
use crate::process::{ProcessEvent, ProcessEventKind};

/// Kernel-side cap on captured payload bytes (`MAX_PAYLOAD_BYTES` in `socket_trace.h`).
pub const MAX_PAYLOAD_BYTES: u32 = 8192;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Field-for-field mirror of the C `struct socket_event`; its offsets drive decoding.
#[repr(C)]
struct RawSocketEvent {
    timestamp_ns: u64,
    cgroup_id: u64,
    bytes: i64,
    tgid: u32,
    tid: u32,
    fd: i32,
    tcp_seq: u32,
    payload_len: u32,
    family: u16,
    local_port: u16,
    remote_port: u16,
    kind: u8,
    direction: u8,
    role: u8,
    syscall: u8,
    protocol: u8,
    reserved: u8,
    local_addr: [u8; 16],
    remote_addr: [u8; 16],
    comm: [u8; 16],
}

/// Size of the fixed record header; the payload follows it.
pub const HEADER_SIZE: usize = size_of::<RawSocketEvent>();

// The C struct is 104 bytes with these offsets; a drift between the two is a build error.
const _: () = {
    assert!(HEADER_SIZE == 104);
    assert!(offset_of!(RawSocketEvent, tgid) == 24);
    assert!(offset_of!(RawSocketEvent, payload_len) == 40);
    assert!(offset_of!(RawSocketEvent, kind) == 50);
    assert!(offset_of!(RawSocketEvent, reserved) == 55);
    assert!(offset_of!(RawSocketEvent, local_addr) == 56);
    assert!(offset_of!(RawSocketEvent, comm) == 88);
};

/// Why a ring buffer record could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {actual} bytes is shorter than the {HEADER_SIZE}-byte event header")]
    TooShort { actual: usize },
    #[error(
        "record announces {announced} payload bytes but carries {available} (cap {MAX_PAYLOAD_BYTES})"
    )]
    PayloadLength { announced: u32, available: usize },
    #[error("unknown {field} value {value} (object and decoder out of sync?)")]
    UnknownValue { field: &'static str, value: u32 },
}

/// What happened on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Bytes were sent or received.
    Data,
    /// `connect` succeeded (or is in progress on a non-blocking socket).
    Connect,
    /// `accept`/`accept4` returned a new connection.
    Accept,
    /// The socket's fd is being closed.
    Close,
}

/// Data direction from the traced process's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Egress,
    Ingress,
}

/// The side the traced process plays on this socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketRole {
    /// Neither `connect` nor `accept` was seen (socket opened before tracing started,
    /// unconnected UDP, inherited fd).
    Unknown,
    /// The process called `connect` on it.
    Client,
    /// The process got it from `accept`.
    Server,
}

/// Transport protocol of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
    /// Any other inet protocol (raw sockets, SCTP, ...), by number.
    Other(u8),
}

/// The syscall that produced the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syscall {
    Read,
    Write,
    Readv,
    Writev,
    Sendto,
    Recvfrom,
    Sendmsg,
    Recvmsg,
    Sendmmsg,
    Recvmmsg,
    Connect,
    Accept,
    Accept4,
    Close,
}

/// One decoded socket event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEvent {
    /// `CLOCK_MONOTONIC` nanoseconds: syscall entry for sends, exit for receives and for
    /// connection events. See [`crate::monotonic_to_unix_nanos`].
    pub timestamp_ns: u64,
    pub cgroup_id: u64,
    /// Bytes the call moved (for `sendmmsg`/`recvmmsg`: the first message's length); for
    /// `accept` the new fd, for `connect` its return value.
    pub bytes: i64,
    /// Process id (thread group id).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    pub fd: i32,
    /// TCP sequence number of the first byte of this call (what a packet capture shows for
    /// it): derived at exit as `write_seq` minus the bytes sent, or `copied_seq` minus the
    /// bytes received (a `MSG_PEEK` receive consumes none); 0 for non-TCP sockets, connection
    /// events and `*mmsg` calls that moved more than 8 messages.
    pub tcp_seq: u32,
    pub kind: EventKind,
    pub direction: Direction,
    pub role: SocketRole,
    pub syscall: Syscall,
    pub transport: Transport,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The thread's command name (`/proc/<pid>/task/<tid>/comm`).
    pub comm: Comm,
    /// The first bytes the call moved (at most the configured payload size; for
    /// vectored calls the first segment only).
    pub payload: Vec<u8>,
}

/// Bounds-checked little cursor over the record, indexed by mirror-struct offsets.
struct Record<'a>(&'a [u8]);

impl Record<'_> {
    fn array<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.0[offset..offset + N]);
        out
    }
    fn u8(&self, offset: usize) -> u8 {
        self.0[offset]
    }
    fn u16(&self, offset: usize) -> u16 {
        u16::from_ne_bytes(self.array(offset))
    }
    fn u32(&self, offset: usize) -> u32 {
        u32::from_ne_bytes(self.array(offset))
    }
    fn i32(&self, offset: usize) -> i32 {
        i32::from_ne_bytes(self.array(offset))
    }
    fn u64(&self, offset: usize) -> u64 {
        u64::from_ne_bytes(self.array(offset))
    }
    fn i64(&self, offset: usize) -> i64 {
        i64::from_ne_bytes(self.array(offset))
    }
}

macro_rules! at {
    ($field:ident) => {
        offset_of!(RawSocketEvent, $field)
    };
}

/// Anything the tracer reports, in ring buffer (commit) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TracerEvent {
    /// A send, receive, connect, accept or close on an inet socket.
    Socket(SocketEvent),
    /// A process started a new program or ended.
    Process(ProcessEvent),
}

/// `enum event_kind` values of the process events.
const KIND_EXEC: u8 = 4;
const KIND_EXIT: u8 = 5;

impl TracerEvent {
    /// Decodes one ring buffer record of any kind (header followed by `payload_len` bytes;
    /// the ring buffer may pad the record to 8 bytes, so trailing bytes are allowed).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (record, payload) = split_record(bytes)?;
        let kind = match record.u8(at!(kind)) {
            KIND_EXEC => ProcessEventKind::Exec,
            KIND_EXIT => ProcessEventKind::Exit,
            _ => return SocketEvent::from_record(&record, payload).map(TracerEvent::Socket),
        };
        Ok(TracerEvent::Process(ProcessEvent::from_record(
            kind,
            record.u64(at!(timestamp_ns)),
            record.u32(at!(tgid)),
            record.u64(at!(cgroup_id)),
            comm(&record),
            payload,
        )))
    }
}

/// The fixed header and the announced payload of a record, both bounds-checked.
fn split_record(bytes: &[u8]) -> Result<(Record<'_>, &[u8]), DecodeError> {
    if bytes.len() < HEADER_SIZE {
        return Err(DecodeError::TooShort {
            actual: bytes.len(),
        });
    }
    let record = Record(bytes);
    let payload_len = record.u32(at!(payload_len));
    let available = bytes.len() - HEADER_SIZE;
    if payload_len > MAX_PAYLOAD_BYTES || payload_len as usize > available {
        return Err(DecodeError::PayloadLength {
            announced: payload_len,
            available,
        });
    }
    Ok((
        record,
        &bytes[HEADER_SIZE..HEADER_SIZE + payload_len as usize],
    ))
}

fn comm(record: &Record<'_>) -> Comm {
    Comm::from_kernel(record.array(at!(comm)))
}

impl SocketEvent {
    /// Decodes one socket record (header followed by `payload_len` bytes; the ring buffer
    /// may pad the record to 8 bytes, so trailing bytes are allowed). Process records are
    /// an error here: [`TracerEvent::decode`] takes every kind.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (record, payload) = split_record(bytes)?;
        SocketEvent::from_record(&record, payload)
    }

    fn from_record(record: &Record<'_>, payload: &[u8]) -> Result<Self, DecodeError> {
        let family = record.u16(at!(family));
        let local_ip = ip_address(family, record.array(at!(local_addr)))?;
        let remote_ip = ip_address(family, record.array(at!(remote_addr)))?;
        Ok(SocketEvent {
            timestamp_ns: record.u64(at!(timestamp_ns)),
            cgroup_id: record.u64(at!(cgroup_id)),
            bytes: record.i64(at!(bytes)),
            pid: record.u32(at!(tgid)),
            tid: record.u32(at!(tid)),
            fd: record.i32(at!(fd)),
            tcp_seq: record.u32(at!(tcp_seq)),
            kind: event_kind(record.u8(at!(kind)))?,
            direction: direction(record.u8(at!(direction)))?,
            role: socket_role(record.u8(at!(role)))?,
            syscall: syscall(record.u8(at!(syscall)))?,
            transport: match record.u8(at!(protocol)) {
                IPPROTO_TCP => Transport::Tcp,
                IPPROTO_UDP => Transport::Udp,
                other => Transport::Other(other),
            },
            local: SocketAddr::new(local_ip, record.u16(at!(local_port))),
            remote: SocketAddr::new(remote_ip, record.u16(at!(remote_port))),
            comm: comm(record),
            payload: payload.to_vec(),
        })
    }
}

fn unknown(field: &'static str, value: impl Into<u32>) -> DecodeError {
    DecodeError::UnknownValue {
        field,
        value: value.into(),
    }
}

fn ip_address(family: u16, raw: [u8; 16]) -> Result<IpAddr, DecodeError> {
    match family {
        AF_INET => Ok(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))),
        AF_INET6 => Ok(IpAddr::V6(Ipv6Addr::from(raw))),
        other => Err(unknown("address family", other)),
    }
}

fn event_kind(value: u8) -> Result<EventKind, DecodeError> {
    match value {
        0 => Ok(EventKind::Data),
        1 => Ok(EventKind::Connect),
        2 => Ok(EventKind::Accept),
        3 => Ok(EventKind::Close),
        other => Err(unknown("event kind", other)),
    }
}

fn direction(value: u8) -> Result<Direction, DecodeError> {
    match value {
        0 => Ok(Direction::Egress),
        1 => Ok(Direction::Ingress),
        other => Err(unknown("direction", other)),
    }
}

fn socket_role(value: u8) -> Result<SocketRole, DecodeError> {
    match value {
        0 => Ok(SocketRole::Unknown),
        1 => Ok(SocketRole::Client),
        2 => Ok(SocketRole::Server),
        other => Err(unknown("socket role", other)),
    }
}

fn syscall(value: u8) -> Result<Syscall, DecodeError> {
    const ALL: [Syscall; 14] = [
        Syscall::Read,
        Syscall::Write,
        Syscall::Readv,
        Syscall::Writev,
        Syscall::Sendto,
        Syscall::Recvfrom,
        Syscall::Sendmsg,
        Syscall::Recvmsg,
        Syscall::Sendmmsg,
        Syscall::Recvmmsg,
        Syscall::Connect,
        Syscall::Accept,
        Syscall::Accept4,
        Syscall::Close,
    ];
    ALL.get(usize::from(value))
        .copied()
        .ok_or_else(|| unknown("syscall", value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a record the way the kernel program lays it out.
    fn record(family: u16, kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_SIZE];
        let mut put = |offset: usize, bytes: &[u8]| {
            out[offset..offset + bytes.len()].copy_from_slice(bytes);
        };
        put(at!(timestamp_ns), &123_456_789u64.to_ne_bytes());
        put(at!(cgroup_id), &42u64.to_ne_bytes());
        put(at!(bytes), &(payload.len() as i64 + 10).to_ne_bytes());
        put(at!(tgid), &1000u32.to_ne_bytes());
        put(at!(tid), &1001u32.to_ne_bytes());
        put(at!(fd), &7i32.to_ne_bytes());
        put(at!(tcp_seq), &0xdead_beefu32.to_ne_bytes());
        put(at!(payload_len), &(payload.len() as u32).to_ne_bytes());
        put(at!(family), &family.to_ne_bytes());
        put(at!(local_port), &8080u16.to_ne_bytes());
        put(at!(remote_port), &51234u16.to_ne_bytes());
        put(at!(kind), &[kind]);
        put(at!(direction), &[1]);
        put(at!(role), &[2]);
        put(at!(syscall), &[5]);
        put(at!(protocol), &[IPPROTO_TCP]);
        if family == AF_INET {
            put(at!(local_addr), &[127, 0, 0, 1]);
            put(at!(remote_addr), &[10, 1, 2, 3]);
        } else {
            put(at!(local_addr), &Ipv6Addr::LOCALHOST.octets());
            put(
                at!(remote_addr),
                &"fd00::5".parse::<Ipv6Addr>().unwrap().octets(),
            );
        }
        put(at!(comm), b"python3\0garbage!");
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_an_ipv4_data_record() {
        let event = SocketEvent::decode(&record(AF_INET, 0, b"GET / HTTP/1.1\r\n")).unwrap();
        assert_eq!(event.timestamp_ns, 123_456_789);
        assert_eq!(event.cgroup_id, 42);
        assert_eq!(event.bytes, 26);
        assert_eq!((event.pid, event.tid, event.fd), (1000, 1001, 7));
        assert_eq!(event.tcp_seq, 0xdead_beef);
        assert_eq!(event.kind, EventKind::Data);
        assert_eq!(event.direction, Direction::Ingress);
        assert_eq!(event.role, SocketRole::Server);
        assert_eq!(event.syscall, Syscall::Recvfrom);
        assert_eq!(event.transport, Transport::Tcp);
        assert_eq!(event.local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(event.remote, "10.1.2.3:51234".parse().unwrap());
        assert_eq!(event.comm, "python3");
        assert_eq!(event.payload, b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn decodes_an_ipv6_close_record_with_ring_padding() {
        let mut bytes = record(AF_INET6, 3, b"");
        bytes.extend_from_slice(&[0; 7]);
        let event = SocketEvent::decode(&bytes).unwrap();
        assert_eq!(event.kind, EventKind::Close);
        assert_eq!(event.local, "[::1]:8080".parse().unwrap());
        assert_eq!(event.remote, "[fd00::5]:51234".parse().unwrap());
        assert!(event.payload.is_empty());
    }

    #[test]
    fn rejects_truncated_headers() {
        let bytes = record(AF_INET, 0, b"");
        for len in [0, 1, HEADER_SIZE - 1] {
            assert_eq!(
                SocketEvent::decode(&bytes[..len]),
                Err(DecodeError::TooShort { actual: len })
            );
        }
    }

    #[test]
    fn rejects_a_payload_longer_than_the_record() {
        let mut bytes = record(AF_INET, 0, b"abcdef");
        bytes.truncate(HEADER_SIZE + 3);
        assert_eq!(
            SocketEvent::decode(&bytes),
            Err(DecodeError::PayloadLength {
                announced: 6,
                available: 3
            })
        );
    }

    #[test]
    fn rejects_a_payload_above_the_kernel_cap() {
        let mut bytes = record(AF_INET, 0, b"");
        bytes[at!(payload_len)..at!(payload_len) + 4]
            .copy_from_slice(&(MAX_PAYLOAD_BYTES + 1).to_ne_bytes());
        bytes.resize(HEADER_SIZE + MAX_PAYLOAD_BYTES as usize + 8, 0);
        assert!(matches!(
            SocketEvent::decode(&bytes),
            Err(DecodeError::PayloadLength { .. })
        ));
    }

    #[test]
    fn rejects_unknown_enum_values() {
        let bytes = record(AF_INET, 9, b"");
        assert_eq!(
            SocketEvent::decode(&bytes),
            Err(DecodeError::UnknownValue {
                field: "event kind",
                value: 9
            })
        );
        let mut bytes = record(AF_INET, 0, b"");
        bytes[at!(syscall)] = 14;
        assert!(matches!(
            SocketEvent::decode(&bytes),
            Err(DecodeError::UnknownValue {
                field: "syscall",
                ..
            })
        ));
        let bytes = record(1, 0, b"");
        assert!(matches!(
            SocketEvent::decode(&bytes),
            Err(DecodeError::UnknownValue {
                field: "address family",
                value: 1
            })
        ));
    }

    /// A process record as the kernel lays it out: socket fields zero.
    fn process_record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_SIZE];
        let mut put = |offset: usize, bytes: &[u8]| {
            out[offset..offset + bytes.len()].copy_from_slice(bytes);
        };
        put(at!(timestamp_ns), &99u64.to_ne_bytes());
        put(at!(cgroup_id), &5u64.to_ne_bytes());
        put(at!(tgid), &4321u32.to_ne_bytes());
        put(at!(tid), &4321u32.to_ne_bytes());
        put(at!(payload_len), &(payload.len() as u32).to_ne_bytes());
        put(at!(kind), &[kind]);
        put(at!(comm), b"python3\0\0\0\0\0\0\0\0\0");
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_exec_and_exit_records() {
        let bytes = process_record(KIND_EXEC, b"/usr/bin/python3\0python3\0-c\0pass\0");
        let TracerEvent::Process(exec) = TracerEvent::decode(&bytes).unwrap() else {
            panic!("a process event expected");
        };
        assert_eq!(exec.kind, ProcessEventKind::Exec);
        assert_eq!(
            (exec.timestamp_ns, exec.tgid, exec.cgroup_id),
            (99, 4321, 5)
        );
        assert_eq!(exec.comm, "python3");
        assert_eq!(exec.executable.as_deref(), Some("/usr/bin/python3"));
        assert_eq!(exec.command_line, ["python3", "-c", "pass"]);

        let mut bytes = process_record(KIND_EXIT, b"");
        bytes.extend_from_slice(&[0; 4]);
        let TracerEvent::Process(exit) = TracerEvent::decode(&bytes).unwrap() else {
            panic!("a process event expected");
        };
        assert_eq!(exit.kind, ProcessEventKind::Exit);
        assert_eq!(exit.executable, None);
        assert!(exit.command_line.is_empty());
    }

    #[test]
    fn an_exec_record_cut_mid_argument_keeps_what_arrived() {
        let bytes = process_record(KIND_EXEC, b"/bin/sh\0sh\0-c\0sleep 10 && ec");
        let TracerEvent::Process(exec) = TracerEvent::decode(&bytes).unwrap() else {
            panic!("a process event expected");
        };
        assert_eq!(exec.command_line, ["sh", "-c", "sleep 10 && ec"]);
    }

    #[test]
    fn process_records_are_bounds_checked_like_socket_records() {
        let mut bytes = process_record(KIND_EXEC, b"/bin/sh\0sh\0");
        bytes.truncate(HEADER_SIZE + 4);
        assert_eq!(
            TracerEvent::decode(&bytes),
            Err(DecodeError::PayloadLength {
                announced: 11,
                available: 4
            })
        );
        assert_eq!(
            TracerEvent::decode(&bytes[..HEADER_SIZE - 1]),
            Err(DecodeError::TooShort {
                actual: HEADER_SIZE - 1
            })
        );
        // The socket decoder does not take process kinds.
        let exit = process_record(KIND_EXIT, b"");
        assert!(SocketEvent::decode(&exit).is_err());
    }

    #[test]
    fn socket_records_decode_through_the_tracer_event_too() {
        let bytes = record(AF_INET, 0, b"GET / HTTP/1.1\r\n");
        assert_eq!(
            TracerEvent::decode(&bytes),
            Ok(TracerEvent::Socket(SocketEvent::decode(&bytes).unwrap()))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = SocketEvent::decode(&bytes);
            let _ = TracerEvent::decode(&bytes);
        }
    }
}
