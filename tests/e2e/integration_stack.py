"""The `integration` receiver end to end: a cormorant process whose integration listener feeds the
`clickhouse` exporter, a chdb-backed ClickHouse store behind it, and the wire formats the tests
send (remote_write 1.0 and 2.0 from our own `.proto` files under `proto/`, compiled with
grpcio-tools at test time, and snappy block compression)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cramjam
import requests

from clickhouse_store import Store
from harness import CollectorPool, Collector, free_port, service, wait_until

PROTO_DIR = Path(__file__).resolve().parent / "proto"
PROTO_FILES = ("remote_write_v1.proto", "remote_write_v2.proto", "opentelemetry_lua_trace.proto")

DATABASE = "e2e_integration"
# The receiver's `service_name`, given to APISIX resources and Telegraf points without one.
SERVICE_NAME = "apisix-gateway"

# Longer than the exporter's batch flush timeout (200ms): what is still to come has arrived.
SETTLE_S = 0.6

RW1_CONTENT_TYPE = "application/x-protobuf;proto=prometheus.WriteRequest"
RW2_CONTENT_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
PROMETHEUS_PATH = "/api/v1/prometheus"

_compiled: dict[str, object] = {}


def protos(output_dir: Path):
    """The generated modules, compiled once per test process into `output_dir`:
    (remote_write_v1_pb2, remote_write_v2_pb2, opentelemetry_lua_trace_pb2)."""
    if not _compiled:
        output_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}",
             f"--python_out={output_dir}", *PROTO_FILES],
            check=True, capture_output=True)
        sys.path.insert(0, str(output_dir))
        for name in PROTO_FILES:
            module = name.removesuffix(".proto") + "_pb2"
            _compiled[module] = importlib.import_module(module)
    return tuple(_compiled[name.removesuffix(".proto") + "_pb2"] for name in PROTO_FILES)


def snappy_block(data: bytes) -> bytes:
    """Snappy block format (not framed), as remote_write requires."""
    return bytes(cramjam.snappy.compress_raw(data))


@dataclass
class IntegrationStack:
    store: Store
    collector: Collector
    port: int

    @property
    def collectors(self) -> list[Collector]:
        """For conftest: a failing test's report carries this collector's log."""
        return [self.collector]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(f"{self.url}{path}", data=body, headers=headers, timeout=30)

    def remote_write_v1(self, request) -> requests.Response:
        return self.post(PROMETHEUS_PATH, snappy_block(request.SerializeToString()), {
            "Content-Type": RW1_CONTENT_TYPE, "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "Prometheus/2.53.0"})

    def remote_write_v2(self, request) -> requests.Response:
        return self.post(PROMETHEUS_PATH, snappy_block(request.SerializeToString()), {
            "Content-Type": RW2_CONTENT_TYPE, "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "2.0.0", "User-Agent": "Prometheus/3.8.0"})

    def rows(self, sql: str) -> list[dict]:
        return self.store.rows(sql)

    def wait_for_count(self, table: str, where: str, count: int, timeout: float = 30,
                       settle: float = 0.0) -> None:
        """Waits until `count` rows match, then checks, `settle` seconds later, that no more than
        that arrived (a settle longer than the exporter's batch flush catches late duplicates)."""
        sql = f"SELECT count() FROM {DATABASE}.{table} WHERE {where}"
        wait_until(lambda: self.store.scalar(sql) >= count, timeout=timeout,
                   message=f"{count} rows in {table} where {where}")
        time.sleep(settle)
        assert self.store.scalar(sql) == count, f"{table} where {where}: more rows than sent"


def collector_config(store: Store, port: int, health_port: int, metrics_port: int) -> dict:
    pipeline = {"receivers": ["integration"], "processors": [], "exporters": ["clickhouse"]}
    return {
        "receivers": {"integration": {"endpoint": f"127.0.0.1:{port}",
                                      "service_name": SERVICE_NAME}},
        "exporters": {"clickhouse": {
            "endpoint": store.url, "database": DATABASE, "compress": "lz4", "timeout": "10s",
            "sending_queue": {"batch": {"flush_timeout": "200ms"}}}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": service({"traces": pipeline, "metrics": pipeline}, metrics_port),
    }


def start_stack(workdir: Path) -> tuple[IntegrationStack, CollectorPool]:
    """The store and one collector whose integration listener writes into it."""
    store = Store(workdir / "data", workdir / "store.log").start()
    pool = CollectorPool(workdir)
    port, health_port, metrics_port = free_port(), free_port(), free_port()
    try:
        collector = pool.start("integration", collector_config(store, port, health_port,
                                                                metrics_port),
                               health_port=health_port, metrics_port=metrics_port)
    except BaseException:
        pool.close()
        store.stop()
        raise
    return IntegrationStack(store, collector, port), pool
