"""The HTTP backend behind nginx in the eBPF tests: a plain `http.server` application with no
tracing library, calling Redis once per request over one kept-alive connection.

Usage: python3 backend.py <http port> <redis port>

- `GET <path>` runs `INCR hits:<X-Request-ID>` and answers 200 with the new count.
- `GET <path>?fail=1` runs `GET fail:<X-Request-ID>` and answers 500.

Naming the Redis key after the request id lets the tests find each request's Redis spans by
their `db.query.summary` alone, independently of how the receiver linked them. The server is
single-threaded, so every read and write of a request happens on the process's main thread.
"""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class RedisConnection:
    """A minimal RESP2 client: one command at a time on one TCP connection."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.reader = None

    def command(self, *arguments: str):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            self.reader = self.sock.makefile("rb")
        encoded = [argument.encode() for argument in arguments]
        message = b"*%d\r\n" % len(encoded) + b"".join(
            b"$%d\r\n%s\r\n" % (len(argument), argument) for argument in encoded)
        self.sock.sendall(message)
        return self._reply()

    def _reply(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError(f"redis closed the connection mid-reply: {line!r}")
        kind, text = line[:1], line[1:-2].decode()
        if kind == b":":
            return int(text)
        if kind == b"+":
            return text
        if kind == b"-":
            raise RuntimeError(f"redis error: {text}")
        if kind == b"$":
            length = int(text)
            if length < 0:
                return None
            return self.reader.read(length + 2)[:-2].decode()
        raise ValueError(f"unexpected redis reply {line!r}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    redis: RedisConnection

    def do_GET(self):
        request_id = self.headers.get("X-Request-ID", "none")
        path, _, query = self.path.partition("?")
        if "fail=1" in query.split("&"):
            value = self.redis.command("GET", f"fail:{request_id}")
            status = 500
        else:
            value = self.redis.command("INCR", f"hits:{request_id}")
            status = 200
        body = f"{path} {value}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("backend: " + format % args + "\n")


def main() -> None:
    http_port, redis_port = int(sys.argv[1]), int(sys.argv[2])
    Handler.redis = RedisConnection(redis_port)
    server = HTTPServer(("127.0.0.1", http_port), Handler)
    print(f"listening on 127.0.0.1:{http_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
