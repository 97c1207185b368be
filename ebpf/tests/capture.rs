//! Loads the real tracer into the running kernel and checks what it captures from a
//! child process exchanging one HTTP request/response over loopback TCP. Needs root;
//! prints "skipped: needs root" otherwise.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{is_root, load_or_skip, spawn_python};
use cormorant_ebpf::{
    Direction, EventKind, KernelFilters, SocketEvent, SocketRole, SocketTracer, Syscall,
    TracerConfig, TracerEvent, Transport,
};
use futures::StreamExt;

/// Server and client in one Python process (not ours: our pid is excluded). The client
/// connects non-blocking (EINPROGRESS, as curl and nginx do). The request
/// goes out with send (sendto) and in with recv_into (recvfrom); the response goes out
/// with writev (two segments) and in with recvmsg. Prints ports and fds.
const PEER_SCRIPT: &str = r#"
import os, socket, threading
REQUEST = b"GET /cormorant-probe HTTP/1.1\r\nHost: localhost\r\nUser-Agent: capture-test\r\n\r\n"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
BODY = b"hello"
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(1)
result = {}
def serve():
    conn, _ = listener.accept()
    buf = bytearray(4096)
    got = 0
    while got < len(REQUEST):
        got += conn.recv_into(memoryview(buf)[got:])
    os.writev(conn.fileno(), [HEAD, BODY])
    result["server_fd"] = conn.fileno()
    conn.close()
server = threading.Thread(target=serve)
server.start()
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.setblocking(False)
client.connect_ex(listener.getsockname())
client.setblocking(True)
client.send(REQUEST)
response = b""
while len(response) < len(HEAD) + len(BODY):
    data, _, _, _ = client.recvmsg(4096)
    response += data
server.join()
client_port, server_port, client_fd = client.getsockname()[1], listener.getsockname()[1], client.fileno()
client.close()
listener.close()
assert response == HEAD + BODY, response
print(client_port, server_port, client_fd, result["server_fd"])
"#;

const REQUEST: &[u8] =
    b"GET /cormorant-probe HTTP/1.1\r\nHost: localhost\r\nUser-Agent: capture-test\r\n\r\n";
const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
const RESPONSE_LEN: i64 = 43;
const PAYLOAD_BYTES: usize = 48;

struct PeerRun {
    client: SocketAddr,
    server: SocketAddr,
    client_fd: i32,
    server_fd: i32,
}

/// Reads the script's last line: client port, server port, client fd, server fd.
fn parse_peer_output(stdout: &[u8]) -> PeerRun {
    let text = String::from_utf8_lossy(stdout);
    let numbers: Vec<i64> = text
        .split_whitespace()
        .map(|word| {
            word.parse()
                .unwrap_or_else(|_| panic!("number in {text:?}"))
        })
        .collect();
    let [client_port, server_port, client_fd, server_fd] = numbers[..] else {
        panic!("four numbers expected in {text:?}");
    };
    let loopback = |port: i64| SocketAddr::from(([127, 0, 0, 1], port as u16));
    PeerRun {
        client: loopback(client_port),
        server: loopback(server_port),
        client_fd: client_fd as i32,
        server_fd: server_fd as i32,
    }
}

/// Socket traffic of the test process itself, which the tracer must not report.
fn own_loopback_exchange() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    client.write_all(b"own traffic").unwrap();
    let mut buffer = [0u8; 11];
    server.read_exact(&mut buffer).unwrap();
    assert_eq!(&buffer, b"own traffic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_an_http_exchange_between_two_sockets_of_a_child_process() {
    // Shorter than the request, longer than the response: shows the cut-off at work.
    let config = TracerConfig {
        payload_bytes: PAYLOAD_BYTES as u32,
        ..TracerConfig::default()
    };
    let Some((mut tracer, mut events)) = load_or_skip(&config) else {
        return;
    };
    assert!(
        tracer.events().is_err(),
        "the ring buffer has a single consumer"
    );

    own_loopback_exchange();
    let (pid, peer) = spawn_python(PEER_SCRIPT);

    // Collect the child's events until all three of its sockets reported their close.
    let own_pid = std::process::id();
    let mut own_events = 0;
    let mut captured: Vec<SocketEvent> = Vec::new();
    let collect = async {
        while let Some(event) = events.next().await {
            let TracerEvent::Socket(event) = event.expect("decodable event") else {
                continue;
            };
            own_events += usize::from(event.pid == own_pid);
            if event.pid != pid {
                continue;
            }
            captured.push(event);
            let closes = captured
                .iter()
                .filter(|e| e.kind == EventKind::Close && e.transport == Transport::Tcp)
                .count();
            // listener, accepted connection and client socket
            if closes >= 3 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .unwrap_or_else(|_| panic!("timed out; captured so far: {captured:#?}"));
    let output = peer.await.unwrap().expect("python3 ran");
    assert!(output.status.success(), "peer script failed");
    let run = parse_peer_output(&output.stdout);

    let find = |kind: EventKind, syscall: Syscall, fd: i32| -> &SocketEvent {
        captured
            .iter()
            .find(|e| e.kind == kind && e.syscall == syscall && e.fd == fd)
            .unwrap_or_else(|| panic!("no {kind:?} {syscall:?} on fd {fd} in {captured:#?}"))
    };

    let connect = find(EventKind::Connect, Syscall::Connect, run.client_fd);
    assert_eq!(connect.role, SocketRole::Client);
    assert_eq!((connect.local, connect.remote), (run.client, run.server));

    let accept = captured
        .iter()
        .find(|e| e.kind == EventKind::Accept)
        .expect("accept event");
    assert_eq!(accept.fd, run.server_fd);
    assert_eq!(accept.role, SocketRole::Server);
    assert_eq!((accept.local, accept.remote), (run.server, run.client));

    // Request: client send (sendto) -> server recv_into (recvfrom).
    let sent = find(EventKind::Data, Syscall::Sendto, run.client_fd);
    assert_eq!(sent.direction, Direction::Egress);
    assert_eq!(sent.role, SocketRole::Client);
    assert_eq!(sent.transport, Transport::Tcp);
    assert_eq!((sent.local, sent.remote), (run.client, run.server));
    assert_eq!(sent.bytes, REQUEST.len() as i64);
    assert_eq!(sent.payload, &REQUEST[..PAYLOAD_BYTES]);
    let received = find(EventKind::Data, Syscall::Recvfrom, run.server_fd);
    assert_eq!(received.direction, Direction::Ingress);
    assert_eq!(received.role, SocketRole::Server);
    assert_eq!((received.local, received.remote), (run.server, run.client));
    assert_eq!(received.bytes, REQUEST.len() as i64);
    assert_eq!(received.payload, &REQUEST[..PAYLOAD_BYTES]);
    assert_eq!(
        sent.tcp_seq, received.tcp_seq,
        "client write_seq must equal server copied_seq for the same first byte"
    );
    assert_ne!(sent.tcp_seq, 0);

    // Response: server writev([head, body]) -> client recvmsg.
    let written = find(EventKind::Data, Syscall::Writev, run.server_fd);
    assert_eq!(written.direction, Direction::Egress);
    assert_eq!(written.role, SocketRole::Server);
    assert_eq!(written.bytes, RESPONSE_LEN);
    assert_eq!(
        &written.payload[..HEAD.len()],
        HEAD,
        "vectored calls capture their segments in order"
    );
    assert_eq!(&written.payload[HEAD.len()..], b"hello");
    let read_back = find(EventKind::Data, Syscall::Recvmsg, run.client_fd);
    assert_eq!(read_back.direction, Direction::Ingress);
    assert_eq!(read_back.role, SocketRole::Client);
    assert_eq!(read_back.bytes, RESPONSE_LEN);
    assert_eq!(&read_back.payload[..HEAD.len()], HEAD);
    assert_eq!(&read_back.payload[HEAD.len()..], b"hello");
    assert_eq!(written.tcp_seq, read_back.tcp_seq);

    // Timestamps: send at entry, receive at exit, so the receive is never earlier.
    assert!(received.timestamp_ns >= sent.timestamp_ns);
    assert!(read_back.timestamp_ns >= written.timestamp_ns);
    for event in &captured {
        assert_eq!(event.comm, "python3");
        assert_ne!(event.cgroup_id, 0);
    }

    // This process talked TCP before the child started, but it is the excluded pid.
    assert_eq!(own_events, 0, "the loading process must not be traced");
    assert_eq!(tracer.lost_events().expect("lost counter"), 0);
}

#[tokio::test]
async fn rejects_configuration_the_kernel_side_cannot_honour() {
    let too_much_payload = TracerConfig {
        payload_bytes: 1 << 20,
        ..TracerConfig::default()
    };
    let error = SocketTracer::load(&too_much_payload).unwrap_err();
    assert!(error.to_string().contains("payload_bytes"), "{error}");
    let odd_ring = TracerConfig {
        ring_buffer_bytes: 3 * 4096,
        ..TracerConfig::default()
    };
    let error = SocketTracer::load(&odd_ring).unwrap_err();
    assert!(error.to_string().contains("power of two"), "{error}");
}

/// Unconnected UDP over IPv6 loopback, like a DNS server and resolver: the client
/// uses sendto/recvfrom, the server recvmsg/sendmsg, so the peer address comes from the
/// call's sockaddr (sendto/recvfrom argument or msg_name), not from the socket.
const UDP_SCRIPT: &str = r#"
import socket
server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
server.bind(("::1", 0))
client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
client.bind(("::1", 0))
client.sendto(b"query-0001", server.getsockname())
data, _, _, peer = server.recvmsg(512)
server.sendmsg([b"answer-0001"], [], 0, peer)
reply, _ = client.recvfrom(512)
assert reply == b"answer-0001"
print(client.getsockname()[1], server.getsockname()[1], client.fileno(), server.fileno())
server.close()
client.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_unconnected_udp_with_peers_from_the_call_arguments() {
    let Some((_tracer, mut events)) = load_or_skip(&TracerConfig::default()) else {
        return;
    };
    let (pid, peer) = spawn_python(UDP_SCRIPT);

    let mut captured: Vec<SocketEvent> = Vec::new();
    let collect = async {
        while let Some(event) = events.next().await {
            let TracerEvent::Socket(event) = event.expect("decodable event") else {
                continue;
            };
            if event.pid == pid {
                captured.push(event);
            }
            if captured
                .iter()
                .filter(|e| e.kind == EventKind::Close)
                .count()
                >= 2
            {
                break;
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
        .map(|w| w.parse().unwrap())
        .collect();
    let [client_port, server_port, client_fd, server_fd] = numbers[..] else {
        panic!("four numbers expected in {text:?}");
    };
    let client: SocketAddr = format!("[::1]:{client_port}").parse().unwrap();
    let server: SocketAddr = format!("[::1]:{server_port}").parse().unwrap();

    let data = |syscall: Syscall, fd: u16| -> &SocketEvent {
        captured
            .iter()
            .find(|e| e.kind == EventKind::Data && e.syscall == syscall && e.fd == i32::from(fd))
            .unwrap_or_else(|| panic!("no {syscall:?} on fd {fd} in {captured:#?}"))
    };
    let expectations = [
        (
            Syscall::Sendto,
            client_fd,
            Direction::Egress,
            client,
            server,
            &b"query-0001"[..],
        ),
        (
            Syscall::Recvmsg,
            server_fd,
            Direction::Ingress,
            server,
            client,
            b"query-0001",
        ),
        (
            Syscall::Sendmsg,
            server_fd,
            Direction::Egress,
            server,
            client,
            b"answer-0001",
        ),
        (
            Syscall::Recvfrom,
            client_fd,
            Direction::Ingress,
            client,
            server,
            b"answer-0001",
        ),
    ];
    for (syscall, fd, direction, local, remote, payload) in expectations {
        let event = data(syscall, fd);
        assert_eq!(event.transport, Transport::Udp, "{event:?}");
        assert_eq!(event.direction, direction, "{event:?}");
        assert_eq!(event.role, SocketRole::Unknown, "{event:?}");
        assert_eq!((event.local, event.remote), (local, remote), "{event:?}");
        assert_eq!(event.bytes, payload.len() as i64, "{event:?}");
        assert_eq!(event.payload, payload, "{event:?}");
        assert_eq!(event.tcp_seq, 0, "{event:?}");
    }
}

/// A single-page ring buffer that nobody reads fills after a few records; every further
/// record must be counted as lost, not silently dropped.
#[tokio::test]
async fn counts_events_dropped_on_a_full_ring_buffer() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let config = TracerConfig {
        ring_buffer_bytes: 4096,
        ..TracerConfig::default()
    };
    let tracer = SocketTracer::load(&config).expect("load socket tracer");
    // Other processes' exec and exit events may fill the unread page first.
    let lost_before = tracer.lost_events().unwrap();
    let status = Command::new("python3")
        .args([
            "-c",
            "import socket\n\
             a, b = socket.socket(), socket.socket()\n\
             a.bind(('127.0.0.1', 0)); a.listen(1); b.connect(a.getsockname()); c, _ = a.accept()\n\
             for _ in range(100):\n    b.send(b'x' * 512); c.recv(512)\n",
        ])
        .status()
        .expect("spawn python3");
    assert!(status.success());
    // 200 data events of ~616 bytes each cannot fit in 4 KiB.
    let lost = tracer.lost_events().unwrap() - lost_before;
    assert!(lost >= 150, "lost {lost}");
}

/// Runs 100 exchanges of 512 bytes over loopback in a python3 child, its listener on `port`.
fn busy_python_exchange(port: u16) {
    let script = format!(
        "import socket\n\
         a, b = socket.socket(), socket.socket()\n\
         a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         a.bind(('127.0.0.1', {port})); a.listen(1); b.connect(a.getsockname()); c, _ = a.accept()\n\
         for _ in range(100):\n    b.send(b'x' * 512); c.recv(512)\n"
    );
    let status = Command::new("python3")
        .args(["-c", &script])
        .status()
        .expect("spawn python3");
    assert!(status.success());
}

/// With a one-page ring buffer that nobody reads, every traced record past the first few is
/// lost; records the kernel filters drop never reach the ring, so nothing is lost.
#[tokio::test]
async fn kernel_filters_drop_traffic_before_the_ring_buffer() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let lost_with = |filters: KernelFilters| {
        let config = TracerConfig {
            ring_buffer_bytes: 4096,
            filters,
            ..TracerConfig::default()
        };
        let tracer = SocketTracer::load(&config).expect("load socket tracer");
        busy_python_exchange(port);
        tracer.lost_events().unwrap()
    };
    let nobody = KernelFilters {
        include_comms: vec!["no-such-comm".into()],
        ..KernelFilters::default()
    };
    assert_eq!(
        lost_with(nobody),
        0,
        "no process is on the comm include list"
    );
    let other_port = KernelFilters {
        include_comms: vec!["python3".into()],
        exclude_ports: vec![port],
        ..KernelFilters::default()
    };
    assert_eq!(lost_with(other_port), 0, "the exchange's port is excluded");
    let traced = KernelFilters {
        include_comms: vec!["python3".into()],
        include_ports: vec![port],
        ..KernelFilters::default()
    };
    let lost = lost_with(traced);
    assert!(
        lost >= 150,
        "the same exchange, traced, overflows the ring: lost {lost}"
    );
}
