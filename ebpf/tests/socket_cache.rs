//! Loads the real tracer and checks what the per-(process, fd) socket cache and the exit-time
//! TCP sequence must get right: an fd number that changes sockets without a close call
//! (dup2) reports the new socket, and a MSG_PEEK receive reports the same first-byte sequence
//! as the receive that consumes the bytes. Needs root; prints "skipped: needs root" otherwise.

mod common;

use std::time::Duration;

use common::{load_or_skip, spawn_python};
use cormorant_ebpf::{
    Direction, EventKind, ProcessEventKind, SocketEvent, SocketRole, Syscall, TracerConfig,
    TracerEvent,
};
use futures::StreamExt;

/// fd N first holds a connection to listener A (and sends on it, so the tracer caches it),
/// then dup2 puts a connection to listener B on the same number; A's side peeks, then reads.
const SCRIPT: &str = r#"
import os, socket
a = socket.socket(); a.bind(("127.0.0.1", 0)); a.listen(4)
b = socket.socket(); b.bind(("127.0.0.1", 0)); b.listen(4)
first = socket.create_connection(a.getsockname())
first.send(b"to-a")
second = socket.create_connection(b.getsockname())
os.dup2(second.fileno(), first.fileno())
os.write(first.fileno(), b"to-b")
conn, _ = a.accept()
assert conn.recv(4, socket.MSG_PEEK) == b"to-a"
assert conn.recv(4) == b"to-a"
print(first.fileno(), a.getsockname()[1], b.getsockname()[1], conn.fileno())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_fd_reports_its_new_socket_and_peeks_keep_the_sequence() {
    let Some((_tracer, mut events)) = load_or_skip(&TracerConfig::default()) else {
        return;
    };
    let (pid, peer) = spawn_python(SCRIPT);

    // Everything the child did, up to its exit.
    let mut captured: Vec<SocketEvent> = Vec::new();
    let collect = async {
        while let Some(event) = events.next().await {
            match event.expect("decodable event") {
                TracerEvent::Socket(event) if event.pid == pid => captured.push(event),
                TracerEvent::Process(event)
                    if event.tgid == pid && event.kind == ProcessEventKind::Exit =>
                {
                    break;
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .unwrap_or_else(|_| panic!("timed out; captured so far: {captured:#?}"));
    let output = peer.await.unwrap().expect("python3 ran");
    assert!(output.status.success(), "peer script failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u16> = text
        .split_whitespace()
        .map(|word| word.parse().unwrap())
        .collect();
    let [reused_fd, port_a, port_b, server_fd] = numbers[..] else {
        panic!("four numbers expected in {text:?}");
    };
    let data = |syscall: Syscall, fd: u16| -> Vec<&SocketEvent> {
        captured
            .iter()
            .filter(|e| e.kind == EventKind::Data && e.syscall == syscall && e.fd == i32::from(fd))
            .collect()
    };

    let to_a = data(Syscall::Sendto, reused_fd);
    assert_eq!(to_a.len(), 1, "{captured:#?}");
    assert_eq!(to_a[0].payload, b"to-a");
    assert_eq!(to_a[0].remote.port(), port_a);
    assert_eq!(to_a[0].role, SocketRole::Client);

    let to_b = data(Syscall::Write, reused_fd);
    assert_eq!(to_b.len(), 1, "{captured:#?}");
    assert_eq!(to_b[0].payload, b"to-b");
    assert_eq!(
        to_b[0].remote.port(),
        port_b,
        "after dup2 the fd number holds the connection to B"
    );
    assert_eq!(
        to_b[0].role,
        SocketRole::Unknown,
        "the role of the fd's previous socket must not carry over"
    );

    let received = data(Syscall::Recvfrom, server_fd);
    assert_eq!(received.len(), 2, "peek, then read: {captured:#?}");
    for event in &received {
        assert_eq!(event.direction, Direction::Ingress);
        assert_eq!(event.payload, b"to-a");
        assert_eq!(
            event.tcp_seq, to_a[0].tcp_seq,
            "peeked and consumed bytes start at the sender's first-byte sequence"
        );
    }
}
