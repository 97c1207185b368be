"""A tiny authoritative DNS server for the eBPF DNS tests, on UDP and TCP (RFC 1035 §4.2.2
two-byte length prefix) at the same port.

Usage: python3 dns_server.py <port> <name>=<ipv4>[,<ipv4>...] ...

A query of type A (class IN) for a configured name gets its addresses; any other name gets
NXDOMAIN; a query that cannot be read gets FORMERR. The additional section of the query (the
EDNS OPT record `dig` sends) is ignored and no OPT record is sent back.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import sys
import threading

TYPE_A = 1
CLASS_IN = 1
RCODE_FORMERR = 1
RCODE_NXDOMAIN = 3
HEADER = struct.Struct("!HHHHHH")
ANSWER_TTL = 60


def read_question(message: bytes) -> tuple[str, int, int, int]:
    """The first question's name, type, class and the offset where it ends."""
    labels = []
    offset = HEADER.size
    while True:
        length = message[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise ValueError("compressed names are not expected in a question")
        labels.append(message[offset:offset + length].decode("ascii").lower())
        offset += length
    qtype, qclass = struct.unpack_from("!HH", message, offset)
    return ".".join(labels), qtype, qclass, offset + 4


def answer(query: bytes, zone: dict[str, list[str]]) -> bytes:
    query_id, flags = struct.unpack_from("!HH", query)
    opcode_and_rd = flags & 0x7900
    try:
        name, qtype, qclass, question_end = read_question(query)
    except (IndexError, ValueError, struct.error, UnicodeDecodeError):
        return HEADER.pack(query_id, 0x8080 | opcode_and_rd | RCODE_FORMERR, 0, 0, 0, 0)
    addresses = zone.get(name)
    rcode = 0 if addresses is not None else RCODE_NXDOMAIN
    records = addresses if addresses is not None and qtype == TYPE_A and qclass == CLASS_IN else []
    # QR, AA and RA set; opcode and RD copied from the query.
    header = HEADER.pack(query_id, 0x8480 | opcode_and_rd | rcode, 1, len(records), 0, 0)
    question = query[HEADER.size:question_end]
    answers = b"".join(
        struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, ANSWER_TTL, 4) + socket.inet_aton(address)
        for address in records)
    return header + question + answers


class UdpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        query, sock = self.request
        sock.sendto(answer(query, self.server.zone), self.client_address)


class TcpHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            prefix = self.rfile.read(2)
            if len(prefix) < 2:
                return
            (length,) = struct.unpack("!H", prefix)
            query = self.rfile.read(length)
            if len(query) < length:
                return
            reply = answer(query, self.server.zone)
            self.wfile.write(struct.pack("!H", len(reply)) + reply)


class UdpServer(socketserver.UDPServer):
    allow_reuse_address = True


class TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def parse_zone(arguments: list[str]) -> dict[str, list[str]]:
    zone = {}
    for argument in arguments:
        name, _, addresses = argument.partition("=")
        zone[name.lower().rstrip(".")] = addresses.split(",")
    return zone


def main() -> None:
    port = int(sys.argv[1])
    zone = parse_zone(sys.argv[2:])
    udp = UdpServer(("127.0.0.1", port), UdpHandler)
    tcp = TcpServer(("127.0.0.1", port), TcpHandler)
    udp.zone = tcp.zone = zone
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    print(f"serving {sorted(zone)} on 127.0.0.1:{port} udp+tcp", flush=True)
    udp.serve_forever()


if __name__ == "__main__":
    main()
