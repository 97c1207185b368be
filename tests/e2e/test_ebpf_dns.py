"""DNS capture by the `ebpf` receiver of the real `cormorant` binary: `dig` (BIND 9) and a
hand-built Python client query a small local DNS server over UDP and over TCP; both ends of
each lookup must become spans with the question, the response code and the answer count.

The two clients use different syscalls: `dig` a connected UDP socket (`sendmmsg`/`recvmsg`)
and, over TCP, one `writev` of the length prefix and the query as two buffers; the Python
client an unconnected UDP socket (`sendto`/`recvfrom`) and one `send` over TCP. `dig` does its
network I/O on threads named `isc-net-NNNN`, so the receiver is filtered by the server's port
only, not by process name. Runs as root (CI does); skipped otherwise.
"""

from __future__ import annotations

import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from ebpf_stack import DnsServer, Lookup, ebpf_collector_config, python3, require_root
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
from harness import CollectorPool, free_port, wait_until

SPAN_TIMEOUT_S = 15.0
CLIENTS = ("dig", "python3")
ADDRESSES = ["192.0.2.10", "192.0.2.11"]
# One name per client and transport, so that each lookup's server span is found by its name.
ZONE = {f"{transport}-{client}.cormorant.test": ADDRESSES
        for client in CLIENTS for transport in ("udp", "tcp")}
RED_NAME = "red.cormorant.test"
ZONE[RED_NAME] = ADDRESSES
QUERIES = [(client, transport, rcode)
           for client in CLIENTS for transport in ("udp", "tcp")
           for rcode in ("NOERROR", "NXDOMAIN")]


def query_name(client: str, transport: str, rcode: str) -> str:
    name = f"{transport}-{client}.cormorant.test"
    return name if rcode == "NOERROR" else f"missing-{name}"


def executable_name(client: str) -> str:
    """What `/proc/<pid>/exe` of the client names (python3 is usually a link to python3.N)."""
    path = shutil.which("dig") if client == "dig" else python3()
    return Path(path).resolve().name


class Resolver:
    """The DNS server, the collector capturing it, and the files the collector writes."""

    def __init__(self, server: DnsServer, collectors: list, traces_path: Path,
                 metrics_path: Path):
        self.server = server
        self.collectors = collectors
        self.traces_path = traces_path
        self.metrics_path = metrics_path
        # Lookups answered so far, by RED status class: what the server's counters must show.
        self.answered = {"ok": 0, "error": 0}

    def lookup(self, client: str, name: str, transport: str) -> Lookup:
        result = self.server.lookup(client, name, transport)
        self.answered["ok" if result.rcode == "NOERROR" else "error"] += 1
        return result

    def wait_span(self, name: str, kind: int, pid: int) -> SystemSpan:
        """The one span of `kind` from process `pid` asking for `name`, once written."""
        side = "server" if kind == SPAN_KIND_SERVER else "client"
        deadline = time.monotonic() + SPAN_TIMEOUT_S
        while True:
            spans = read_spans(self.traces_path)
            span = only(spans, f"{side} {name}", kind, pid, **{"dns.question.name": name})
            if span is not None:
                return span
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no {side} DNS span for {name} from pid {pid} after {SPAN_TIMEOUT_S}s; "
                    f"{len(spans)} spans:\n" + "\n".join(span.describe() for span in spans)
                    + f"\n--- dns server ---\n{self.server.child.log()}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def resolver(tmp_path_factory):
    require_root()
    workdir = tmp_path_factory.mktemp("ebpf-dns")
    health_port, metrics_port = free_port(), free_port()
    traces_path, metrics_path = workdir / "traces.json", workdir / "metrics.json"
    pool = CollectorPool(workdir)
    server = None
    try:
        server = DnsServer(workdir, ZONE)
        receiver = {
            "protocols": ["dns"],
            "ports": {"include": [server.port]},
            "metrics": {"interval": "1s"},
        }
        collector = pool.start("ebpf-dns", ebpf_collector_config(
            receiver, traces_path, metrics_path, health_port, metrics_port),
            health_port=health_port, metrics_port=metrics_port)
        yield Resolver(server, [collector], traces_path, metrics_path)
    finally:
        if server is not None:
            server.stop()
        pool.close()


def assert_dns_span(span: SystemSpan, transport: str, name: str, rcode: str, answers: int,
                    port: int, pid: int) -> None:
    attrs = span.attributes
    assert span.name == "DNS A", span.describe()
    assert attrs["cormorant.span.source"] == "system", span.describe()
    assert attrs["cormorant.l7.protocol"] == "dns", span.describe()
    assert attrs["network.transport"] == transport, span.describe()
    assert attrs["dns.question.name"] == name
    assert attrs["cormorant.dns.question.type"] == "A", span.describe()
    assert attrs["cormorant.dns.response_code"] == rcode, span.describe()
    assert attrs["cormorant.dns.answers"] == answers, span.describe()
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == port, \
        span.describe()
    if span.kind == SPAN_KIND_CLIENT and "client.address" not in attrs:
        # An unconnected UDP socket has no local address until the kernel routes each
        # datagram: the receiver may leave the attribute out, but never report the wildcard.
        assert transport == "udp", span.describe()
    else:
        assert attrs["client.address"] == "127.0.0.1", span.describe()
    assert isinstance(attrs["client.port"], int) and attrs["client.port"] != port
    if span.kind == SPAN_KIND_SERVER:
        peer = ("127.0.0.1", attrs["client.port"])
    else:
        peer = (attrs["server.address"], attrs["server.port"])
    assert (attrs["network.peer.address"], attrs["network.peer.port"]) == peer, span.describe()
    assert isinstance(attrs["thread.id"], int), span.describe()
    has_seq = "cormorant.tcp.seq.request" in attrs and "cormorant.tcp.seq.response" in attrs
    assert has_seq == (transport == "tcp"), span.describe()
    expected_status = STATUS_UNSET if rcode == "NOERROR" else STATUS_ERROR
    assert span.status_code == expected_status, span.describe()
    assert span.start_ns <= span.end_ns
    assert span.resource["process.pid"] == pid
    assert span.resource["host.name"] == socket.gethostname()
    assert span.scope == SCOPE_NAME


@pytest.mark.parametrize("client,transport,rcode", QUERIES,
                         ids=["-".join(query) for query in QUERIES])
def test_a_lookup_gives_a_client_and_a_server_span(resolver, client, transport, rcode):
    name = query_name(client, transport, rcode)
    answers = len(ZONE.get(name, []))
    result = resolver.lookup(client, name, transport)
    assert (result.rcode, result.answers) == (rcode, answers), result.output

    port = resolver.server.port
    server = resolver.wait_span(name, SPAN_KIND_SERVER, resolver.server.pid)
    assert_dns_span(server, transport, name, rcode, answers, port, resolver.server.pid)
    caller = resolver.wait_span(name, SPAN_KIND_CLIENT, result.pid)
    assert_dns_span(caller, transport, name, rcode, answers, port, result.pid)
    assert caller.resource["process.executable.name"] == executable_name(result.client), \
        caller.resource
    assert caller.attributes["client.port"] == server.attributes["client.port"]
    assert caller.start_ns <= server.start_ns <= server.end_ns <= caller.end_ns, (
        f"\n{caller.describe()}\n{server.describe()}")
    if transport == "tcp":
        # Same host, same connection: the server's request is the client's, by TCP sequence.
        for key in ("cormorant.tcp.seq.request", "cormorant.tcp.seq.response"):
            assert caller.attributes[key] == server.attributes[key], key
        assert server.trace_id == caller.trace_id, f"\n{caller.describe()}\n{server.describe()}"
        assert server.parent_span_id == caller.span_id


def red_count(resolver: Resolver, pid: int, kind: str, outcome: str) -> float | None:
    points = read_metric_points(resolver.metrics_path, "cormorant.ebpf.requests")
    point = latest_cumulative(points, pid, **{
        "span.kind": kind, "cormorant.l7.protocol": "dns", "cormorant.endpoint": "A",
        "cormorant.status_class": outcome})
    return None if point is None else point.value


def test_red_metrics_count_lookups_by_outcome(resolver):
    lookups = []
    for transport in ("udp", "tcp"):
        found = resolver.lookup("dig", RED_NAME, transport)
        missing = resolver.lookup("dig", "nothing.cormorant.test", transport)
        lookups += [(found.pid, transport, "ok"), (missing.pid, transport, "error")]
    expected = dict(resolver.answered)
    wait_until(lambda: {outcome: red_count(resolver, resolver.server.pid, "server", outcome)
                        for outcome in expected} == expected,
               timeout=SPAN_TIMEOUT_S, message=f"DNS server lookups counted as {expected}")
    # Each dig is a process of its own, so each has its own series.
    for pid, transport, outcome in lookups:
        wait_until(lambda: red_count(resolver, pid, "client", outcome) == 1,
                   timeout=SPAN_TIMEOUT_S,
                   message=f"one {outcome} {transport} lookup counted for dig pid {pid}")


def test_a_client_gone_before_its_events_are_read_keeps_its_command_line(resolver):
    """The collector is stopped while `dig` runs and exits, so `/proc/<pid>` is gone when the
    collector reads dig's events: the program start the kernel reported describes it."""
    name = "gone.cormorant.test"
    collector = resolver.collectors[0].process
    collector.send_signal(signal.SIGSTOP)
    try:
        result = resolver.lookup("dig", name, "udp")
        assert not Path(f"/proc/{result.pid}").exists()
    finally:
        collector.send_signal(signal.SIGCONT)
    caller = resolver.wait_span(name, SPAN_KIND_CLIENT, result.pid)
    assert caller.resource["process.executable.name"] == executable_name("dig"), caller.resource
    command_line = caller.resource.get("process.command_line", "")
    assert command_line.startswith(f"dig @127.0.0.1 -p {resolver.server.port} {name} A"), \
        caller.resource


def test_an_exited_process_series_go_out_once_more_then_stop(resolver):
    """A dig process's RED series is exported with its final count after dig exits, and then
    no more, while the server's series keep being exported."""
    result = resolver.lookup("dig", RED_NAME, "tcp")

    def dig_points_then_two_server_exports():
        points = read_metric_points(resolver.metrics_path, "cormorant.ebpf.requests")
        dig = [point for point in points if point.resource.get("process.pid") == result.pid]
        if not dig:
            return None
        last = max(point.time_ns for point in dig)
        later = {point.time_ns for point in points
                 if point.resource.get("process.pid") == resolver.server.pid
                 and point.time_ns > last}
        return dig if len(later) >= 2 else None

    dig = wait_until(dig_points_then_two_server_exports, timeout=SPAN_TIMEOUT_S,
                     message=f"dig pid {result.pid}'s series to stop while the server's go on")
    final = max(dig, key=lambda point: point.time_ns)
    assert final.value == 1, final
