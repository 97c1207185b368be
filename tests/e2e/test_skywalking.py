"""The `skywalking` receiver with real SkyWalking agents. Python (apache-skywalking 1.2.0):
two instrumented services, `orders` calling `inventory` over HTTP, report to Cormorant over gRPC
(as to OAP's port 11800) or HTTP (12800). The spans must form one trace in which the inventory
service's server span is the child of the orders service's client span, the log lines written
inside them must point at them, and (over gRPC) their meters must arrive as metrics. Node.js
(skywalking-backend-js 0.9.0, gRPC only): a request becomes a server span."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from clickhouse_store import Store
from harness import free_port, metric_value, wait_until
from otlp_json import flat_items, read_json_lines

APPS = Path(__file__).resolve().parent / "skywalking_apps"


def string_attributes(item) -> dict:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in item.attributes}


def skywalking_collector(collectors, name: str) -> tuple:
    """A collector with the skywalking receiver feeding a file exporter for every signal; returns
    it with its gRPC port, HTTP port and output path."""
    grpc_port, http_port, health, metrics = (free_port() for _ in range(4))
    path = collectors.workdir / f"{name}.out.json"
    pipeline = {"receivers": ["skywalking"], "exporters": ["file"]}
    config = {
        "receivers": {"skywalking": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{grpc_port}"},
            "http": {"endpoint": f"127.0.0.1:{http_port}"}}}},
        "exporters": {"file": {"path": str(path), "flush_interval": "100ms"}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health}"}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"address": f"127.0.0.1:{metrics}"}},
            "pipelines": {signal: pipeline for signal in ("traces", "metrics", "logs")},
        },
    }
    collector = collectors.start(name, config, health_port=health, metrics_port=metrics)
    return collector, grpc_port, http_port, path


@pytest.fixture
def processes():
    """Agent-instrumented services started by a test, killed when it ends."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def start_service(processes: list, command: list[str], env: dict) -> None:
    """Starts an instrumented service and waits until it prints `ready`."""
    process = subprocess.Popen(command, env={"PATH": "/usr/bin:/bin", **env},
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    processes.append(process)
    line = process.stdout.readline()
    assert line.strip() == "ready", f"{env['SERVICE']} did not start (exit {process.poll()})"


def start_python_services(processes: list, collector_address: str, protocol: str) -> tuple:
    """`inventory`, and `orders`, which calls inventory; returns their ports."""
    inventory_port, orders_port = free_port(), free_port()
    # The agent reads its reporting period when it is imported, before `config.init`.
    base = {"COLLECTOR": collector_address, "PROTOCOL": protocol,
            "SW_AGENT_METER_REPORTER_PERIOD": "1"}
    script = str(APPS / "service.py")
    start_service(processes, [sys.executable, script, str(inventory_port)],
                  {**base, "SERVICE": "inventory"})
    start_service(processes, [sys.executable, script, str(orders_port)],
                  {**base, "SERVICE": "orders",
                   "DOWNSTREAM": f"http://127.0.0.1:{inventory_port}"})
    return inventory_port, orders_port


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_python_agents_calls_become_one_trace_with_linked_logs(collectors, processes, protocol):
    collector, grpc_port, http_port, path = skywalking_collector(collectors,
                                                                 f"skywalking-{protocol}")
    port = grpc_port if protocol == "grpc" else http_port
    inventory_port, orders_port = start_python_services(processes, f"127.0.0.1:{port}",
                                                        protocol)

    response = requests.get(f"http://127.0.0.1:{orders_port}/orders", timeout=10)
    assert response.status_code == 200

    def received():
        items = flat_items(read_json_lines(path))
        served = {string_attributes(resource)["service.name"]
                  for resource, name, point in items["points"]
                  if name == "shop_requests_served" and point.as_double >= 1}
        # The agent reports meters over gRPC only.
        meters_in = served == {"orders", "inventory"} or protocol == "http"
        complete = len(items["spans"]) >= 3 and len(items["records"]) >= 2 and meters_in
        return items if complete else None

    items = wait_until(received, timeout=20,
                       message="3 spans, 2 log records and (over gRPC) both services' meters")
    text = collector.metrics_text()
    assert metric_value(text, "otelcol_receiver_accepted_spans", receiver="skywalking",
                        transport=protocol) == 3
    assert collector.stop() == 0

    spans = {}
    for resource, span in items["spans"]:
        service = string_attributes(resource)["service.name"]
        assert string_attributes(resource)["service.instance.id"] == f"{service}-1"
        spans[(service, span.kind)] = span
    assert sorted(spans) == [("inventory", 2), ("orders", 2), ("orders", 3)], \
        "orders: SERVER and CLIENT spans; inventory: a SERVER span"
    orders_server, orders_client = spans[("orders", 2)], spans[("orders", 3)]
    inventory_server = spans[("inventory", 2)]

    assert len({span.trace_id for span in spans.values()}) == 1, "one trace"
    assert orders_server.parent_span_id == b"", "the request from the test is the root"
    assert orders_client.parent_span_id == orders_server.span_id
    assert inventory_server.parent_span_id == orders_client.span_id, \
        "the downstream server span is the child of the caller's client span"
    assert [string_attributes(link)["sw8.parent_service"] for link in inventory_server.links] == \
        ["orders"]

    client_attributes = string_attributes(orders_client)
    assert client_attributes["url.full"] == \
        f"http://127.0.0.1:{inventory_port}/inventory"
    assert client_attributes["http.response.status_code"] == 200
    assert client_attributes["server.port"] == inventory_port
    assert string_attributes(orders_server)["http.request.method"] == "GET"

    meter_names = {name for _, name, _ in items["points"]}
    if protocol == "grpc":
        assert "instance_pvm_thread_active_count" in meter_names, sorted(meter_names)
        served = [(string_attributes(point), point.as_double) for _, name, point in items["points"]
                  if name == "shop_requests_served"]
        assert ({"service": "orders"}, 1.0) in served, served
    else:
        assert meter_names == set(), "the agent sends no meters over HTTP"

    records = {string_attributes(resource)["service.name"]: record
               for resource, record in items["records"]}
    for service, server_span in (("orders", orders_server), ("inventory", inventory_server)):
        record = records[service]
        assert record.severity_text == "WARNING" and record.severity_number == 13
        assert record.body.string_value.endswith(f"served /{service}"), record.body
        assert (record.trace_id, record.span_id) == (server_span.trace_id, server_span.span_id), \
            f"the {service} log line points at the span it was written in"


def test_node_agent_server_span(collectors, processes):
    """The Node.js agent (skywalking-backend-js 0.9.0, gRPC only) reports an Entry span per
    request; the receiver turns it into a server span with its URL, method, status and client."""
    node = shutil.which("node")
    assert node, "Node.js is needed (tests/run_all.sh installs it)"
    collector, grpc_port, _, path = skywalking_collector(collectors, "skywalking-node")
    port = free_port()
    start_service(processes, [node, str(APPS / "node" / "app.js"), str(port)],
                  {"SERVICE": "nodesvc", "COLLECTOR": f"127.0.0.1:{grpc_port}"})

    assert requests.get(f"http://127.0.0.1:{port}/hello?x=1", timeout=10).status_code == 200
    items = wait_until(lambda: flat_items(read_json_lines(path))["spans"] or None, timeout=20,
                       message="the Node.js agent's span")
    assert collector.stop() == 0

    [(resource, span)] = items
    assert string_attributes(resource) == {"service.name": "nodesvc",
                                           "service.instance.id": "nodesvc-1"}
    assert (span.name, span.kind) == ("GET:/hello", 2)
    assert len(span.trace_id) == 16 and span.parent_span_id == b""
    attributes = string_attributes(span)
    assert attributes["url.full"] == f"http://127.0.0.1:{port}/hello?x=1"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["client.address"].endswith("127.0.0.1")


def test_python_agents_trace_lands_in_the_store_as_grafana_reads_it(collectors, processes,
                                                                     tmp_path):
    """The main job's path for SkyWalking agents: agent → skywalking receiver → ClickHouse, then
    the trace read back with the query Grafana's trace view runs."""
    store = Store(tmp_path / "store", tmp_path / "store.log").start()
    try:
        grpc_port, health, metrics = free_port(), free_port(), free_port()
        pipeline = {"receivers": ["skywalking"], "exporters": ["clickhouse"]}
        config = {
            "receivers": {"skywalking": {"protocols": {
                "grpc": {"endpoint": f"127.0.0.1:{grpc_port}"}}}},
            "exporters": {"clickhouse": {
                "endpoint": store.url, "database": "skywalking", "timeout": "10s",
                "sending_queue": {"batch": {"flush_timeout": "200ms"}}}},
            "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health}"}},
            "service": {"extensions": ["health_check"],
                        "telemetry": {"metrics": {"address": f"127.0.0.1:{metrics}"}},
                        "pipelines": {"traces": pipeline, "logs": pipeline}},
        }
        collector = collectors.start("skywalking-store", config, health_port=health,
                                     metrics_port=metrics)
        _, orders_port = start_python_services(processes, f"127.0.0.1:{grpc_port}", "grpc")
        assert requests.get(f"http://127.0.0.1:{orders_port}/orders", timeout=10).ok

        count = "SELECT count() FROM skywalking.otel_traces"
        wait_until(lambda: store.scalar(count) >= 3, timeout=30, message="3 stored spans")
        [trace_id] = [row["TraceId"] for row in store.rows(
            "SELECT DISTINCT TraceId FROM skywalking.otel_traces")]
        rows = store.rows(
            "SELECT SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, "
            "SpanAttributes['http.request.method'] AS method "
            f"FROM skywalking.otel_traces WHERE TraceId = '{trace_id}' ORDER BY Timestamp")
        by_kind = {(row["ServiceName"], row["SpanKind"]): row for row in rows}
        assert sorted(by_kind) == [("inventory", "Server"), ("orders", "Client"),
                                   ("orders", "Server")]
        assert by_kind[("orders", "Server")]["ParentSpanId"] == ""
        assert by_kind[("orders", "Client")]["ParentSpanId"] == \
            by_kind[("orders", "Server")]["SpanId"]
        assert by_kind[("inventory", "Server")]["ParentSpanId"] == \
            by_kind[("orders", "Client")]["SpanId"]
        assert by_kind[("orders", "Server")]["method"] == "GET"

        logs = "SELECT count() FROM skywalking.otel_logs WHERE TraceId = '{}'".format(trace_id)
        wait_until(lambda: store.scalar(logs) == 2, timeout=30,
                   message="both services' log lines stored with the trace id")
        assert collector.stop() == 0
    finally:
        store.stop()
