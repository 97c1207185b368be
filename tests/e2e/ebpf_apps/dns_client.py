"""A hand-built DNS client for the eBPF DNS tests: one A query to 127.0.0.1, over an unconnected
UDP socket (`sendto`/`recvfrom`) or over TCP with the length prefix and the query written in
one call. `dig` covers the other syscall shapes (connected UDP, TCP via `writev`).

Usage: python3 dns_client.py <port> <name> <udp|tcp>
Prints the response code and the answer count, e.g. `rcode=0 answers=2`.
"""

from __future__ import annotations

import random
import socket
import struct
import sys

TYPE_A = 1
CLASS_IN = 1
RECURSION_DESIRED = 0x0100
TIMEOUT_S = 5


def query(name: str) -> tuple[int, bytes]:
    query_id = random.randrange(1 << 16)
    header = struct.pack("!HHHHHH", query_id, RECURSION_DESIRED, 1, 0, 0, 0)
    labels = b"".join(bytes([len(label)]) + label.encode("ascii")
                      for label in name.rstrip(".").split("."))
    return query_id, header + labels + b"\0" + struct.pack("!HH", TYPE_A, CLASS_IN)


def read_exactly(sock: socket.socket, length: int) -> bytes:
    data = b""
    while len(data) < length:
        chunk = sock.recv(length - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection mid-message")
        data += chunk
    return data


def ask(port: int, message: bytes, transport: str) -> bytes:
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(TIMEOUT_S)
            sock.sendto(message, ("127.0.0.1", port))
            reply, _ = sock.recvfrom(65535)
            return reply
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(struct.pack("!H", len(message)) + message)
        (length,) = struct.unpack("!H", read_exactly(sock, 2))
        return read_exactly(sock, length)


def main() -> None:
    port, name, transport = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    query_id, message = query(name)
    reply = ask(port, message, transport)
    reply_id, flags, _, answers, _, _ = struct.unpack_from("!HHHHHH", reply)
    if reply_id != query_id:
        raise SystemExit(f"reply id {reply_id} does not match query id {query_id}")
    print(f"rcode={flags & 0xF} answers={answers}")


if __name__ == "__main__":
    main()
