"""What the tests and the insert benchmark share: a server process, a RowBinary encoder, a client
side of the compressed-block framing and a traces-shaped table.

The framing here is written from the wire format, not taken from the server's `framing.py`, so the
tests check the server against an independent reading of the format (and, in `test_server.py`,
against blocks the engine itself wrote).
"""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import lz4.block
import requests
import zstandard
from clickhouse_cityhash.cityhash import CityHash128

SERVER = Path(__file__).resolve().parent / "server.py"

LZ4 = 0x82
ZSTD = 0x90
NONE = 0x02


class StoreProcess:
    """`server.py` in a subprocess on a free port, stopped with SIGTERM like a service."""

    def __init__(
        self, workdir: Path, data_path: Path | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.workdir = workdir
        self.data_path = data_path
        self.extra_args = extra_args
        self.log_path = workdir / "clickhouse-local.log"
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> StoreProcess:
        port_file = self.workdir / "port"
        port_file.unlink(missing_ok=True)
        where = ["--path", str(self.data_path)] if self.data_path is not None else ["--ephemeral"]
        command = [
            sys.executable,
            str(SERVER),
            "--listen",
            "127.0.0.1:0",
            "--port-file",
            str(port_file),
            "--log-level",
            "debug",
            *where,
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            if port_file.exists():
                self.url = "http://" + port_file.read_text().strip()
                if requests.get(self.url + "/ping", timeout=5).text == "Ok.\n":
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"server did not start within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit status (0 after a clean shutdown)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(
        self, query: str | None = None, body: bytes = b"", headers: dict | None = None, **params
    ) -> requests.Response:
        if query is not None:
            params["query"] = query
        return requests.post(self.url + "/", params=params, data=body, headers=headers, timeout=120)

    def get(self, query: str, **params) -> requests.Response:
        return requests.get(self.url + "/", params={"query": query, **params}, timeout=120)

    def ok(self, query: str | None = None, body: bytes = b"", **params) -> bytes:
        """POSTs and returns the body, failing with ClickHouse's message on an error."""
        response = self.post(query, body, **params)
        if response.status_code != 200:
            raise AssertionError(f"{response.status_code}: {response.text}")
        return response.content


# RowBinary: every value in its binary form, row after row, columns in the INSERT's order.
def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def string(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return varint(len(raw)) + raw


def uint8(value: int) -> bytes:
    return struct.pack("<B", value)


def uint32(value: int) -> bytes:
    return struct.pack("<I", value)


def uint64(value: int) -> bytes:
    return struct.pack("<Q", value)


def int32(value: int) -> bytes:
    return struct.pack("<i", value)


def datetime64_ns(value: int) -> bytes:
    """DateTime64(9): nanoseconds since the epoch as Int64."""
    return struct.pack("<q", value)


def float64(value: float) -> bytes:
    return struct.pack("<d", value)


def array(items, encode) -> bytes:
    return varint(len(items)) + b"".join(encode(item) for item in items)


def string_map(entries: dict[str, str]) -> bytes:
    """Map(LowCardinality(String), String): LowCardinality is invisible in RowBinary."""
    return varint(len(entries)) + b"".join(string(key) + string(value) for key, value in entries.items())


# ClickHouse's compressed-block framing, client side.
def block_checksum(block: bytes) -> bytes:
    """CityHash128 of header and payload: the hash's first 64-bit word (the upper half of the
    integer `CityHash128` returns), then the second, little endian."""
    digest = CityHash128(block)
    return struct.pack("<QQ", digest >> 64, digest & ((1 << 64) - 1))


def frame(data: bytes, method: int = LZ4, block_size: int = 1 << 20) -> bytes:
    out = bytearray()
    for offset in range(0, max(len(data), 1), block_size):
        chunk = data[offset : offset + block_size]
        if method == LZ4:
            payload = lz4.block.compress(chunk, store_size=False)
        elif method == ZSTD:
            payload = zstandard.ZstdCompressor(level=1).compress(chunk)
        else:
            payload = chunk
        block = struct.pack("<BII", method, 9 + len(payload), len(chunk)) + payload
        out += block_checksum(block) + block
    return bytes(out)


def unframe(body: bytes) -> bytes:
    """The data in a `compress=1` response (LZ4 blocks), every checksum checked."""
    out = bytearray()
    offset = 0
    while offset < len(body):
        method, size, decompressed = struct.unpack_from("<BII", body, offset + 16)
        assert method == LZ4, f"unexpected method 0x{method:02x}"
        block = body[offset + 16 : offset + 16 + size]
        assert body[offset : offset + 16] == block_checksum(block), f"bad checksum at byte {offset}"
        out += lz4.block.decompress(block[9:], uncompressed_size=decompressed)
        offset += 16 + size
    return bytes(out)


# A table shaped like the contrib exporter's otel_traces (columns, types, codecs, keys).
TRACES_DDL = """CREATE TABLE {table} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""

TRACES_COLUMNS = (
    "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, "
    "ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage, "
    "Events.Timestamp, Events.Name, Events.Attributes, "
    "Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes"
)


def traces_rows(count: int, first_ns: int = 1_767_225_600_000_000_000, first_id: int = 0) -> bytes:
    """`count` spans in RowBinary: one service, two span names, five span attributes, one event,
    a link on every tenth span; about 350 bytes a span."""
    resource = string_map(
        {"service.name": "checkout", "host.name": "node-1", "k8s.pod.name": "checkout-7d9f"}
    )
    scope = string("io.opentelemetry.http") + string("1.2.3")
    out = bytearray()
    for n in range(first_id, first_id + count):
        start = first_ns + n * 1000
        out += datetime64_ns(start) + string(f"{n // 8 + 1:032x}") + string(f"{n + 1:016x}")
        out += string(f"{n // 8 * 8 + 1:016x}" if n % 8 else "") + string("")
        out += string("GET /api/items/{id}" if n % 3 else "SELECT items") + string(
            "Server" if n % 3 else "Client"
        )
        out += string("checkout") + resource + scope
        out += string_map(
            {
                "http.request.method": "GET",
                "http.route": "/api/items/{id}",
                "http.response.status_code": "200",
                "server.address": f"10.0.0.{n % 250}",
                "request.n": str(n),
            }
        )
        out += uint64(1000 + n % 5000) + string("Error" if n % 50 == 0 else "Unset") + string("")
        out += (
            array([start + 10], datetime64_ns)
            + array(["cache.miss"], string)
            + array([{"cache.key": f"k{n % 100}"}], string_map)
        )
        linked = n % 10 == 0
        out += array([f"{n + 7:032x}"] if linked else [], string) + array(
            [f"{n + 7:016x}"] if linked else [], string
        )
        out += array([""] if linked else [], string) + array([{}] if linked else [], string_map)
    return bytes(out)
