//! The connection table: one entry per traced socket, keyed by (process, fd).
//!
//! An fd number is reused as soon as it is closed, so entries are reset by the kernel's
//! close, connect and accept events. The table is bounded: past its capacity the least
//! recently active eighth is evicted in one go (cheaper than exact LRU bookkeeping on every
//! event), and entries idle for too long are dropped by [`ConnectionTable::evict_idle`].

use std::collections::VecDeque;
use std::net::SocketAddr;

use cormorant_ebpf::SocketRole;
// Keys are small integers the kernel hands out, not attacker-chosen strings: a fast
// non-cryptographic hash is safe here, and several lookups happen per event.
use foldhash::HashMap;

use super::autotrace::SpanIds;
use crate::pairing::Connection;
use crate::protocol::Direction;

/// Chunk timings kept per direction to find the thread and TCP sequence of a message's
/// first byte (messages name their chunks by timestamp only).
const CHUNKS_KEPT: usize = 64;
/// Data chunks tried for protocol inference before a connection is ignored: a connection
/// seen mid-body needs a few chunks to reach a message boundary.
pub const INFERENCE_ATTEMPTS: u8 = 16;

/// Identifies a socket: the traced process and the fd number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    pub pid: u32,
    pub fd: i32,
}

/// One syscall's facts, kept to attribute messages to threads and TCP sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub timestamp_ns: u64,
    pub tid: u32,
    pub tcp_seq: Option<u32>,
    pub remote: SocketAddr,
    /// Set once a message started or ended in this chunk: a later message starting in it
    /// starts mid-chunk, so the chunk's sequence is not its first byte's.
    used: bool,
}

impl ChunkMeta {
    pub fn new(timestamp_ns: u64, tid: u32, tcp_seq: Option<u32>, remote: SocketAddr) -> Self {
        ChunkMeta {
            timestamp_ns,
            tid,
            tcp_seq,
            remote,
            used: false,
        }
    }
}

/// The thread, TCP sequence and peer of a message's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageOrigin {
    pub tid: u32,
    pub tcp_seq: Option<u32>,
    pub remote: SocketAddr,
}

/// Ids and origin of a request between its `RequestSeen` and its completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestState {
    pub ids: SpanIds,
    pub origin: MessageOrigin,
}

/// What is known about the protocol on a socket.
pub enum ParseState {
    /// No parser recognised the bytes yet; `attempts` data chunks were tried.
    Unclassified {
        attempts: u8,
    },
    Parsing(Box<Connection>),
    /// No enabled protocol; the socket is skipped until its fd is reset.
    Ignored,
}

/// One traced socket.
pub struct TrackedConnection {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// `"tcp"` or `"udp"`.
    pub transport: &'static str,
    pub kernel_role: SocketRole,
    pub state: ParseState,
    pub last_seen_ns: u64,
    /// Requests seen but not completed, by their sequence on the connection.
    pub requests: HashMap<u64, RequestState>,
    chunks: [VecDeque<ChunkMeta>; 2],
}

fn slot(direction: Direction) -> usize {
    match direction {
        Direction::Egress => 0,
        Direction::Ingress => 1,
    }
}

impl TrackedConnection {
    pub fn new(
        local: SocketAddr,
        remote: SocketAddr,
        transport: &'static str,
        kernel_role: SocketRole,
        now_ns: u64,
    ) -> Self {
        TrackedConnection {
            local,
            remote,
            transport,
            kernel_role,
            state: ParseState::Unclassified { attempts: 0 },
            last_seen_ns: now_ns,
            requests: HashMap::default(),
            chunks: [VecDeque::new(), VecDeque::new()],
        }
    }

    /// Remembers a data chunk moved in `direction`.
    pub fn record_chunk(&mut self, direction: Direction, chunk: ChunkMeta) {
        let chunks = &mut self.chunks[slot(direction)];
        if chunks.len() == CHUNKS_KEPT {
            chunks.pop_front();
        }
        chunks.push_back(chunk);
        self.last_seen_ns = self.last_seen_ns.max(chunk.timestamp_ns);
    }

    /// The origin of a message whose bytes ran from `first_byte_ns` to `last_byte_ns` in
    /// `direction`. The sequence is given only when the message started its chunk; both
    /// chunks are then marked so a message starting after this one in them gets none.
    pub fn message_origin(
        &mut self,
        direction: Direction,
        first_byte_ns: u64,
        last_byte_ns: u64,
    ) -> Option<MessageOrigin> {
        let chunks = &mut self.chunks[slot(direction)];
        // Searched from the newest: the message just completed, so its chunks are recent.
        let first = chunks
            .iter()
            .rposition(|chunk| chunk.timestamp_ns == first_byte_ns)?;
        let chunk = chunks[first];
        let origin = MessageOrigin {
            tid: chunk.tid,
            tcp_seq: chunk.tcp_seq.filter(|_| !chunk.used),
            remote: chunk.remote,
        };
        chunks[first].used = true;
        if let Some(last) = chunks
            .iter_mut()
            .rev()
            .find(|chunk| chunk.timestamp_ns == last_byte_ns)
        {
            last.used = true;
        }
        Some(origin)
    }
}

/// Every traced socket, bounded.
pub struct ConnectionTable {
    entries: HashMap<ConnectionKey, TrackedConnection>,
    capacity: usize,
}

impl ConnectionTable {
    pub fn new(capacity: usize) -> Self {
        ConnectionTable {
            entries: HashMap::default(),
            capacity: capacity.max(8),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get_mut(&mut self, key: &ConnectionKey) -> Option<&mut TrackedConnection> {
        self.entries.get_mut(key)
    }

    /// Removes the entry of a socket whose fd was closed or reused.
    pub fn remove(&mut self, key: &ConnectionKey) -> Option<TrackedConnection> {
        self.entries.remove(key)
    }

    /// Adds an entry; returns the entries evicted to make room, for the caller to close.
    pub fn insert(
        &mut self,
        key: ConnectionKey,
        connection: TrackedConnection,
    ) -> Vec<(ConnectionKey, TrackedConnection)> {
        let mut evicted = Vec::new();
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let mut ages: Vec<(u64, ConnectionKey)> = self
                .entries
                .iter()
                .map(|(key, entry)| (entry.last_seen_ns, *key))
                .collect();
            ages.sort_unstable_by_key(|(seen, _)| *seen);
            let count = (self.capacity / 8).max(1);
            for (_, old) in ages.into_iter().take(count) {
                if let Some(entry) = self.entries.remove(&old) {
                    evicted.push((old, entry));
                }
            }
        }
        self.entries.insert(key, connection);
        evicted
    }

    /// Removes entries with no activity since `deadline_ns`.
    pub fn evict_idle(&mut self, deadline_ns: u64) -> Vec<(ConnectionKey, TrackedConnection)> {
        let stale: Vec<ConnectionKey> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.last_seen_ns < deadline_ns)
            .map(|(key, _)| *key)
            .collect();
        stale
            .into_iter()
            .filter_map(|key| self.entries.remove(&key).map(|entry| (key, entry)))
            .collect()
    }

    /// Removes the entries of process `pid`, which exited: the kernel closes its sockets
    /// without a `close` call.
    pub fn remove_process(&mut self, pid: u32) -> Vec<(ConnectionKey, TrackedConnection)> {
        let owned: Vec<ConnectionKey> = self
            .entries
            .keys()
            .filter(|key| key.pid == pid)
            .copied()
            .collect();
        owned
            .into_iter()
            .filter_map(|key| self.entries.remove(&key).map(|entry| (key, entry)))
            .collect()
    }

    /// Every entry still parsing, for request expiry.
    pub fn parsing_mut(
        &mut self,
    ) -> impl Iterator<Item = (&ConnectionKey, &mut TrackedConnection)> {
        self.entries
            .iter_mut()
            .filter(|(_, entry)| matches!(entry.state, ParseState::Parsing(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seen: u64) -> TrackedConnection {
        TrackedConnection::new(
            "127.0.0.1:80".parse().unwrap(),
            "127.0.0.1:5000".parse().unwrap(),
            "tcp",
            SocketRole::Server,
            seen,
        )
    }

    fn key(fd: i32) -> ConnectionKey {
        ConnectionKey { pid: 1, fd }
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_active() {
        let mut table = ConnectionTable::new(16);
        for fd in 0..16 {
            assert!(table.insert(key(fd), entry(100 + fd as u64)).is_empty());
        }
        let evicted = table.insert(key(99), entry(1000));
        let fds: Vec<i32> = evicted.iter().map(|(key, _)| key.fd).collect();
        assert_eq!(fds, [0, 1]);
        assert_eq!(table.len(), 15);
        assert!(table.get_mut(&key(99)).is_some());
    }

    #[test]
    fn idle_entries_are_evicted() {
        let mut table = ConnectionTable::new(16);
        table.insert(key(1), entry(10));
        table.insert(key(2), entry(50));
        let evicted = table.evict_idle(20);
        assert_eq!(evicted.len(), 1);
        assert_eq!(evicted[0].0, key(1));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn only_a_message_that_starts_its_chunk_gets_the_sequence() {
        let mut connection = entry(0);
        let remote: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        connection.record_chunk(Direction::Ingress, ChunkMeta::new(10, 7, Some(500), remote));
        connection.record_chunk(Direction::Ingress, ChunkMeta::new(20, 8, Some(600), remote));
        let first = connection
            .message_origin(Direction::Ingress, 10, 20)
            .unwrap();
        assert_eq!((first.tid, first.tcp_seq), (7, Some(500)));
        // A pipelined request that started in the chunk the first one ended in.
        let second = connection
            .message_origin(Direction::Ingress, 20, 20)
            .unwrap();
        assert_eq!((second.tid, second.tcp_seq), (8, None));
        assert!(
            connection
                .message_origin(Direction::Egress, 10, 10)
                .is_none()
        );
        assert_eq!(connection.last_seen_ns, 20);
    }
}
