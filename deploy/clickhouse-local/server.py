#!/usr/bin/env python3
"""ClickHouse's HTTP interface over the in-process ClickHouse engine of chdb-core.

A stand-in for `clickhouse-server` where none is installed: tests and the quickstart talk to it
exactly as they would to a real server on port 8123. See README.md for what it covers.

    python3 server.py --listen 127.0.0.1:8123 --path /var/tmp/cormorant-chdb
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from engine import Engine, EngineUnavailable
from errors import (
    ABORTED,
    CANNOT_READ_ALL_DATA,
    HTTP_LENGTH_REQUIRED,
    QUERY_IS_TOO_LARGE,
    UNKNOWN_EXCEPTION,
    ClickHouseError,
)
from protocol import Credentials, QueryHandler, Response

log = logging.getLogger("clickhouse-local")

OK_BODY = b"Ok.\n"
# How long a shutdown waits for the requests being answered.
DRAIN_SECONDS = 30.0


_TEXT = "text/plain; charset=UTF-8"
_HTML = "text/html; charset=UTF-8"


def _error_response(error: ClickHouseError, engine_version: str) -> Response:
    return Response(
        status=error.http_status,
        body=error.body(engine_version),
        headers=[("X-ClickHouse-Exception-Code", str(error.code)), ("Content-Type", _TEXT)],
        exception_code=error.code,
    )


class BodyError(ClickHouseError):
    """The request body could not be read; the connection cannot be reused after it."""


class StoreServer(ThreadingHTTPServer):
    """Counts the requests being answered, so that a shutdown lets each of them finish and reach
    its client: a client that got no answer to an INSERT that was stored would send it again."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: QueryHandler, max_body_bytes: int) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, StoreRequestHandler)
        self.query_handler = handler
        self.engine_version = handler.engine_version
        self.max_body_bytes = max_body_bytes
        self._requests = threading.Condition()
        self._answering = 0
        self._draining = False

    def begin_request(self) -> bool:
        """False once the server is shutting down: the request is then refused."""
        with self._requests:
            if self._draining:
                return False
            self._answering += 1
            return True

    def end_request(self) -> None:
        with self._requests:
            self._answering -= 1
            self._requests.notify_all()

    def drain(self, seconds: float) -> int:
        """Refuses new requests and waits up to `seconds` for those being answered; returns how
        many were still unanswered."""
        deadline = time.monotonic() + seconds
        with self._requests:
            self._draining = True
            while self._answering and time.monotonic() < deadline:
                self._requests.wait(timeout=max(0.0, deadline - time.monotonic()))
            return self._answering


class StoreRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cormorant-clickhouse-local"
    sys_version = ""
    server: StoreServer
    # An idle keep-alive connection is closed after this many seconds.
    timeout = 120

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        if not self.server.begin_request():
            self.close_connection = True
            refusal = ClickHouseError.own(ABORTED, "The server is shutting down")
            self._send(_error_response(refusal, self.server.engine_version))
            return
        try:
            self._answer()
        finally:
            self.server.end_request()

    def _answer(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        self._body_size = 0
        try:
            response = self._route(url.path, url.query)
        except BodyError as error:
            self.close_connection = True
            response = _error_response(error, self.server.engine_version)
        except Exception as failure:
            log.exception("request %s %s failed", self.command, url.path)
            error = ClickHouseError.own(UNKNOWN_EXCEPTION, f"The server failed on this request: {failure!r}")
            response = _error_response(error, self.server.engine_version)
        self._send(response)
        log.debug(
            "%s %s %s %d bytes in, %d bytes out, %.1f ms%s",
            self.client_address[0],
            self.command,
            url.path,
            self._body_size,
            len(response.body),
            (time.monotonic() - started) * 1000,
            f", status {response.status}, code {response.exception_code}" if response.exception_code else "",
        )

    def _route(self, path: str, query: str) -> Response:
        if path == "/ping":
            return Response(status=200, body=OK_BODY, headers=[("Content-Type", _HTML)])
        if path not in ("", "/"):
            message = f"There is no handle {path}\n\nUse / or /ping\n".encode()
            return Response(status=404, body=message, headers=[("Content-Type", _TEXT)])
        body = self._read_body()
        self._body_size = len(body)
        params = parse_qsl(query, keep_blank_values=True)
        if self.command == "GET" and not params and not body:
            return Response(status=200, body=OK_BODY, headers=[("Content-Type", _HTML)])
        return self.server.query_handler.handle(self.command, params, self.headers, body)

    def _read_body(self) -> bytes:
        """The request body, whole: `Content-Length` or chunked transfer encoding."""
        limit = self.server.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            if self.command == "POST":
                raise BodyError.own(
                    HTTP_LENGTH_REQUIRED,
                    "The Transfer-Encoding is not chunked and there is no Content-Length header "
                    "for POST request",
                )
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise BodyError.own(CANNOT_READ_ALL_DATA, f"Invalid Content-Length '{length_header}'") from None
        if length < 0:
            raise BodyError.own(CANNOT_READ_ALL_DATA, f"Invalid Content-Length '{length_header}'")
        if length > limit:
            raise BodyError.own(
                QUERY_IS_TOO_LARGE,
                f"The request body has {length} bytes, more than the {limit} this server accepts",
            )
        body = self.rfile.read(length)
        if len(body) != length:
            raise BodyError.own(
                CANNOT_READ_ALL_DATA,
                f"Cannot read all data. Bytes read: {len(body)}. Bytes expected: {length}: "
                "the request body was cut off",
            )
        return body

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BodyError.own(
                    CANNOT_READ_ALL_DATA, f"Invalid chunk size line {line[:40]!r} in a chunked request body"
                ) from None
            if size == 0:
                break
            if len(body) + size > limit:
                raise BodyError.own(
                    QUERY_IS_TOO_LARGE, f"The request body exceeds the {limit} bytes this server accepts"
                )
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                raise BodyError.own(
                    CANNOT_READ_ALL_DATA, "Cannot read all data: a chunk of the request body was cut off"
                )
            body += chunk
        # Trailer fields, up to the empty line that ends the body.
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass
        return bytes(body)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_request(self, code="-", size="-") -> None:
        """Requests are logged once, by `_serve`, at debug level."""

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port`."""
    host, separator, port = value.rpartition(":")
    if not separator or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected host:port, got '{value}'")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="ClickHouse's HTTP interface over chdb-core's in-process ClickHouse engine."
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=("127.0.0.1", 8123),
        help="host:port to listen on (default 127.0.0.1:8123; port 0 picks a free port)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--path",
        default="/var/tmp/cormorant-chdb",
        help="data directory, kept across restarts (default /var/tmp/cormorant-chdb)",
    )
    where.add_argument(
        "--ephemeral", action="store_true", help="keep the data in a temporary directory removed at exit"
    )
    parser.add_argument("--user", help="accept only this user (any user when unset)")
    parser.add_argument("--password", default="", help="the password of --user (default empty)")
    parser.add_argument(
        "--max-body-bytes", type=int, default=1 << 30, help="largest request body accepted (default 1 GiB)"
    )
    parser.add_argument(
        "--port-file", help="write host:port here once listening (for callers that asked for port 0)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="debug logs one line per request",
    )
    args = parser.parse_args(argv)
    if args.password and args.user is None:
        parser.error("--password needs --user")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    path = tempfile.mkdtemp(prefix="cormorant-chdb-") if args.ephemeral else os.path.abspath(args.path)
    os.makedirs(path, exist_ok=True)
    try:
        engine = Engine(path)
    except EngineUnavailable as error:
        log.error("%s", error)
        return 1
    credentials = Credentials(args.user, args.password) if args.user is not None else None
    try:
        server = StoreServer(args.listen, QueryHandler(engine, credentials), args.max_body_bytes)
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", args.listen[0], args.listen[1], error)
        engine.close(0)
        return 1
    host, port = server.server_address[:2]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http")
    serving.start()
    if args.port_file:
        staging = args.port_file + ".tmp"
        with open(staging, "w") as file:
            file.write(f"{host}:{port}\n")
        os.replace(staging, args.port_file)
    log.info(
        "listening on http://%s:%d, data in %s, ClickHouse %s (chdb-core)", host, port, path, engine.version
    )
    while not stop.wait(0.5):
        pass
    log.info("shutting down")
    server.shutdown()
    serving.join()
    unanswered = server.drain(DRAIN_SECONDS)
    if unanswered:
        log.warning("%d requests still running after %.0f s; stopping anyway", unanswered, DRAIN_SECONDS)
    server.server_close()
    engine.close(0)
    if args.ephemeral:
        shutil.rmtree(path, ignore_errors=True)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
