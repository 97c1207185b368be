"""Zero-code capture and AutoTracing with real programs: curl → nginx (Debian) → a Python
`http.server` backend → redis-server, none of them instrumented. The `ebpf` receiver of the
real `cormorant` binary must turn each request into five linked spans in one trace, keep the
gateway's X-Request-ID, join a caller's `traceparent`, and count RED metrics.

Runs as root (CI does); skipped otherwise.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ebpf_stack import USER_AGENT, GatewayStack, ebpf_collector_config, require_root
from ebpf_views import (
    SCOPE_NAME,
    SPAN_KIND_CLIENT,
    SPAN_KIND_SERVER,
    STATUS_ERROR,
    STATUS_UNSET,
    SystemSpan,
    latest_cumulative,
    only,
    read_metric_points,
    read_spans,
)
from harness import CollectorPool, free_port, metric_value, wait_until

SPAN_TIMEOUT_S = 15.0
METRICS_INTERVAL_S = 1.0
# Span times are converted from the kernel's monotonic clock to unix time.
CLOCK_SLACK_NS = 1_000_000_000
DURATION_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0]
ROLES = ("nginx server", "nginx client", "backend server", "backend client", "redis server")


@dataclass
class Exchange:
    """One curl request through the gateway and what nginx logged for it."""
    target: str
    path: str
    query: str
    status: int
    request_id: str
    redis_command: str
    sent_ns: int
    done_ns: int

    @property
    def redis_summary(self) -> str:
        key = "fail" if self.redis_command == "GET" else "hits"
        return f"{self.redis_command} {key}:{self.request_id}"


class Gateway:
    """The running stack, the collector capturing it, and the files the collector writes."""

    def __init__(self, stack: GatewayStack, collectors: list, traces_path: Path,
                 metrics_path: Path):
        self.stack = stack
        self.collectors = collectors
        self.traces_path = traces_path
        self.metrics_path = metrics_path

    @property
    def collector(self):
        return self.collectors[0]

    def send(self, target: str, headers: dict[str, str] | None = None) -> Exchange:
        sent_ns = time.time_ns()
        status = self.stack.curl(target, headers)
        done_ns = time.time_ns()
        entry = wait_until(lambda: self.stack.access_log().get(target), timeout=5,
                           message=f"nginx access log entry for {target}")
        assert entry.status == status
        path, _, query = target.partition("?")
        command = "GET" if "fail=1" in query.split("&") else "INCR"
        return Exchange(target, path, query, status, entry.request_id, command, sent_ns, done_ns)

    def spans_of(self, exchange: Exchange, spans: list[SystemSpan]) -> dict:
        stack = self.stack
        url = {"url.path": exchange.path}
        redis = {"db.query.summary": exchange.redis_summary}
        return {
            "nginx server": only(spans, "nginx server", SPAN_KIND_SERVER,
                                 stack.nginx_worker_pid, **url),
            "nginx client": only(spans, "nginx client", SPAN_KIND_CLIENT,
                                 stack.nginx_worker_pid, **url),
            "backend server": only(spans, "backend server", SPAN_KIND_SERVER,
                                   stack.backend.pid, **url),
            "backend client": only(spans, "backend client", SPAN_KIND_CLIENT,
                                   stack.backend.pid, **redis),
            "redis server": only(spans, "redis server", SPAN_KIND_SERVER,
                                 stack.redis.pid, **redis),
        }

    def wait_spans(self, exchange: Exchange) -> tuple[dict, list[SystemSpan]]:
        """The five spans of one request, once all were written."""
        deadline = time.monotonic() + SPAN_TIMEOUT_S
        while True:
            spans = read_spans(self.traces_path)
            found = self.spans_of(exchange, spans)
            if all(found.values()):
                return found, spans
            if time.monotonic() >= deadline:
                missing = [role for role, span in found.items() if span is None]
                raise AssertionError(
                    f"no {missing} span for {exchange.target} (request id "
                    f"{exchange.request_id}) after {SPAN_TIMEOUT_S}s; pids: nginx worker "
                    f"{self.stack.nginx_worker_pid}, backend {self.stack.backend.pid}, redis "
                    f"{self.stack.redis.pid}; {len(spans)} spans written:\n"
                    + "\n".join(span.describe() for span in spans[-40:])
                    + f"\n{self.stack.logs()}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    require_root()
    workdir = tmp_path_factory.mktemp("ebpf-gateway")
    stack = GatewayStack(workdir)
    health_port, metrics_port = free_port(), free_port()
    traces_path, metrics_path = workdir / "traces.json", workdir / "metrics.json"
    receiver = stack.receiver_config(metrics={"interval": f"{METRICS_INTERVAL_S}s"})
    pool = CollectorPool(workdir)
    try:
        # The collector first: every connection of the stack is then seen from its start.
        collector = pool.start("ebpf", ebpf_collector_config(
            receiver, traces_path, metrics_path, health_port, metrics_port),
            health_port=health_port, metrics_port=metrics_port)
        stack.start()
        running = Gateway(stack, [collector], traces_path, metrics_path)
        running.wait_spans(running.send("/warmup"))
        yield running
    finally:
        stack.stop()
        pool.close()


def proc_command_line(pid: int) -> str:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return " ".join(part.decode() for part in raw.split(b"\0") if part)


def executable_name(pid: int) -> str:
    return Path(f"/proc/{pid}/exe").resolve().name


def assert_resource(span: SystemSpan, pid: int) -> None:
    resource = span.resource
    assert resource["process.pid"] == pid, span.describe()
    assert resource["host.name"] == socket.gethostname()
    assert resource["process.executable.name"] == executable_name(pid), resource
    assert resource["service.name"] == resource["process.executable.name"], resource
    assert resource["process.command_line"] == proc_command_line(pid), resource
    assert span.scope == SCOPE_NAME


def assert_common(span: SystemSpan, exchange: Exchange, protocol: str, server_port: int,
                  pid: int) -> None:
    """What every span of a TCP exchange on loopback carries."""
    attrs = span.attributes
    assert attrs["cormorant.span.source"] == "system", span.describe()
    assert attrs["cormorant.l7.protocol"] == protocol, span.describe()
    assert attrs["network.transport"] == "tcp", span.describe()
    assert attrs["server.address"] == "127.0.0.1", span.describe()
    assert attrs["server.port"] == server_port, span.describe()
    assert attrs["client.address"] == "127.0.0.1", span.describe()
    assert isinstance(attrs["client.port"], int) and attrs["client.port"] != server_port
    if span.kind == SPAN_KIND_SERVER:
        peer = (attrs["client.address"], attrs["client.port"])
    else:
        peer = (attrs["server.address"], attrs["server.port"])
    assert (attrs["network.peer.address"], attrs["network.peer.port"]) == peer, span.describe()
    # Each of these servers does all of a request's I/O on its main thread.
    assert attrs["thread.id"] == pid, span.describe()
    for key in ("cormorant.tcp.seq.request", "cormorant.tcp.seq.response"):
        assert isinstance(attrs[key], int), span.describe()
    assert exchange.sent_ns - CLOCK_SLACK_NS <= span.start_ns <= span.end_ns, span.describe()
    assert span.end_ns <= exchange.done_ns + CLOCK_SLACK_NS, span.describe()
    assert_resource(span, pid)


def assert_http(span: SystemSpan, exchange: Exchange, forwarded: bool) -> None:
    attrs = span.attributes
    endpoint = "/".join(exchange.path.split("/")[:3]) or "/"
    assert span.name == f"GET {endpoint}", span.describe()
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.path"] == exchange.path
    if exchange.query:
        assert attrs["url.query"] == exchange.query, span.describe()
    else:
        assert "url.query" not in attrs, span.describe()
    assert attrs["http.response.status_code"] == exchange.status, span.describe()
    assert attrs["user_agent.original"] == USER_AGENT, span.describe()
    assert attrs["network.protocol.version"] == "1.1", span.describe()
    if forwarded:
        # nginx's `proxy_set_header X-Request-ID $request_id`, as nginx logged it.
        assert attrs["http.request.header.x-request-id"] == [exchange.request_id], \
            span.describe()
    else:
        assert "http.request.header.x-request-id" not in attrs, span.describe()
    if exchange.status >= 500:
        assert span.status_code == STATUS_ERROR, span.describe()
    else:
        assert span.status_code == STATUS_UNSET, span.describe()


def assert_redis(span: SystemSpan, exchange: Exchange) -> None:
    attrs = span.attributes
    assert span.name == exchange.redis_command, span.describe()
    assert attrs["db.system.name"] == "redis"
    assert attrs["db.operation.name"] == exchange.redis_command
    assert attrs["db.query.summary"] == exchange.redis_summary
    # GET of a missing key answers nil, which is not an error reply.
    assert span.status_code == STATUS_UNSET, span.describe()


def assert_same_request_on_both_ends(client: SystemSpan, server: SystemSpan) -> None:
    """A client span and the server span of the same request on the same connection."""
    for key in ("client.port", "server.port", "cormorant.tcp.seq.request",
                "cormorant.tcp.seq.response"):
        assert client.attributes[key] == server.attributes[key], (
            f"{key} differs:\n{client.describe()}\n{server.describe()}")
    assert client.start_ns <= server.start_ns <= server.end_ns <= client.end_ns, (
        f"the server's exchange is not inside the client's:\n{client.describe()}\n"
        f"{server.describe()}")


def assert_spans(gateway: Gateway, exchange: Exchange, spans: dict) -> None:
    stack = gateway.stack
    nginx_pid, backend_pid, redis_pid = (stack.nginx_worker_pid, stack.backend.pid,
                                         stack.redis.pid)
    assert_common(spans["nginx server"], exchange, "http", stack.nginx_port, nginx_pid)
    assert_common(spans["nginx client"], exchange, "http", stack.backend_port, nginx_pid)
    assert_common(spans["backend server"], exchange, "http", stack.backend_port, backend_pid)
    assert_common(spans["backend client"], exchange, "redis", stack.redis_port, backend_pid)
    assert_common(spans["redis server"], exchange, "redis", stack.redis_port, redis_pid)
    assert_http(spans["nginx server"], exchange, forwarded=False)
    assert_http(spans["nginx client"], exchange, forwarded=True)
    assert_http(spans["backend server"], exchange, forwarded=True)
    assert_redis(spans["backend client"], exchange)
    assert_redis(spans["redis server"], exchange)
    assert_same_request_on_both_ends(spans["nginx client"], spans["backend server"])
    assert_same_request_on_both_ends(spans["backend client"], spans["redis server"])


def assert_parent(child: SystemSpan, parent: SystemSpan) -> None:
    assert child.trace_id == parent.trace_id, f"\n{child.describe()}\n{parent.describe()}"
    assert child.parent_span_id == parent.span_id, f"\n{child.describe()}\n{parent.describe()}"
    assert parent.start_ns <= child.start_ns <= child.end_ns <= parent.end_ns, (
        f"child outside its parent:\n{child.describe()}\n{parent.describe()}")


def assert_chain_below_gateway(spans: dict) -> None:
    """nginx's call to the backend is a child of nginx's request (same thread), and the backend
    → redis hop is linked the same way and by TCP sequence."""
    assert_parent(spans["nginx client"], spans["nginx server"])
    assert_parent(spans["backend client"], spans["backend server"])
    assert_parent(spans["redis server"], spans["backend client"])


def assert_one_trace(spans: dict, everything: list[SystemSpan]) -> None:
    trace_id = spans["nginx server"].trace_id
    in_trace = {span.span_id for span in everything if span.trace_id == trace_id}
    assert in_trace == {span.span_id for span in spans.values()}, (
        "the trace holds other spans than the request's five:\n"
        + "\n".join(span.describe() for span in everything if span.trace_id == trace_id))


def test_each_request_is_one_trace_of_five_linked_spans(gateway):
    trace_ids = set()
    for number in range(3):
        exchange = gateway.send(f"/api/v1/items/{number}?color=blue&n={number}")
        assert exchange.status == 200
        spans, everything = gateway.wait_spans(exchange)
        assert_spans(gateway, exchange, spans)
        root = spans["nginx server"]
        assert root.parent_span_id == "", f"nginx's span should start the trace: {root.describe()}"
        assert_chain_below_gateway(spans)
        assert_parent(spans["backend server"], spans["nginx client"])
        assert_one_trace(spans, everything)
        trace_ids.add(root.trace_id)
    assert len(trace_ids) == 3, "each request must get its own trace"


def test_a_5xx_answer_marks_the_http_spans_as_errors(gateway):
    exchange = gateway.send("/api/v1/orders/7?fail=1")
    assert exchange.status == 500
    spans, everything = gateway.wait_spans(exchange)
    assert_spans(gateway, exchange, spans)
    for role in ("nginx server", "nginx client", "backend server"):
        assert spans[role].status_code == STATUS_ERROR, spans[role].describe()
    assert_chain_below_gateway(spans)
    assert_parent(spans["backend server"], spans["nginx client"])
    assert_one_trace(spans, everything)


def test_an_inbound_traceparent_joins_the_callers_trace(gateway):
    trace_id, caller_span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    exchange = gateway.send("/api/v2/joined/1",
                            {"traceparent": f"00-{trace_id}-{caller_span_id}-01"})
    assert exchange.status == 200
    spans, everything = gateway.wait_spans(exchange)
    assert_spans(gateway, exchange, spans)
    root = spans["nginx server"]
    assert root.trace_id == trace_id, root.describe()
    assert root.parent_span_id == caller_span_id, root.describe()
    assert_chain_below_gateway(spans)
    # nginx forwards the caller's traceparent unchanged, so the backend's request carries it
    # too: the backend span joins the same trace whichever link names its parent.
    assert spans["backend server"].trace_id == trace_id, spans["backend server"].describe()
    assert_one_trace(spans, everything)


def red_value(points, pid: int, kind: str, **attributes) -> float | None:
    point = latest_cumulative(points, pid, **{"span.kind": kind, **attributes})
    return None if point is None else point.value


def test_red_metrics_count_requests_errors_and_latency_per_process(gateway):
    stack = gateway.stack
    for number in range(5):
        assert gateway.send(f"/shop/cart/{number}").status == 200
    for number in range(2):
        assert gateway.send(f"/shop/cart/{number}?fail=1").status == 500
    http = {"cormorant.l7.protocol": "http", "cormorant.endpoint": "/shop/cart"}
    expected = {"2xx": 5, "5xx": 2}

    def counts(name: str, pid: int, kind: str) -> dict:
        points = read_metric_points(gateway.metrics_path, name)
        return {status_class: red_value(points, pid, kind, **http,
                                        **{"cormorant.status_class": status_class})
                for status_class in expected}

    processes = [(stack.nginx_worker_pid, "server"), (stack.nginx_worker_pid, "client"),
                 (stack.backend.pid, "server")]
    for pid, kind in processes:
        wait_until(lambda: counts("cormorant.ebpf.requests", pid, kind) == expected,
                   timeout=SPAN_TIMEOUT_S,
                   message=f"cormorant.ebpf.requests of pid {pid} ({kind}) to reach {expected}, "
                           f"last {counts('cormorant.ebpf.requests', pid, kind)}")
    for pid, kind in processes:
        assert counts("cormorant.ebpf.errors", pid, kind) in (
            {"2xx": None, "5xx": 2}, {"2xx": 0, "5xx": 2}), (pid, kind)
        assert counts("cormorant.ebpf.request.duration", pid, kind) == expected, (pid, kind)

    requests = read_metric_points(gateway.metrics_path, "cormorant.ebpf.requests")
    sample = latest_cumulative(requests, stack.nginx_worker_pid, **http)
    assert sample.kind == "sum" and sample.monotonic and sample.temporality == 2, sample
    assert sample.resource["process.pid"] == stack.nginx_worker_pid
    durations = read_metric_points(gateway.metrics_path, "cormorant.ebpf.request.duration")
    histogram = latest_cumulative(durations, stack.nginx_worker_pid, **http)
    assert histogram.kind == "histogram" and histogram.unit == "s", histogram
    assert histogram.bounds == DURATION_BOUNDS, histogram

    # Cumulative: the next exports repeat the totals instead of adding to them.
    time.sleep(2.5 * METRICS_INTERVAL_S)
    for pid, kind in processes:
        assert counts("cormorant.ebpf.requests", pid, kind) == expected, (pid, kind)

    telemetry = gateway.collector.metrics_text()
    assert metric_value(telemetry, "cormorant_ebpf_events_total", receiver="ebpf") > 0
    assert metric_value(telemetry, "cormorant_ebpf_spans_total", receiver="ebpf") >= 5 * 7
    assert metric_value(telemetry, "cormorant_ebpf_lost_events_total", receiver="ebpf") == 0


def test_only_the_filtered_processes_and_ports_are_traced(gateway):
    stack = gateway.stack
    exchange = gateway.send("/api/v1/filters/1")
    gateway.wait_spans(exchange)
    traced = {stack.nginx_worker_pid, stack.backend.pid, stack.redis.pid}
    for span in read_spans(gateway.traces_path):
        assert span.pid in traced, f"a process outside the filters was traced: {span.describe()}"
        assert span.attributes["server.port"] in stack.ports, span.describe()
