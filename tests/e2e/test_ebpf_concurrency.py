"""AutoTracing under concurrent load: many clients at once through the nginx gateway of
`ebpf_stack` (curl → nginx → Python backend → redis-server, none instrumented).

nginx serves every connection from one event-loop thread: it reads the requests of several
clients before it writes the first upstream request, so "the request the thread read last" is
often not the one an upstream request belongs to. Every span is tied to its request here
independently of how the receiver linked them: nginx logs the client's port and the
`$request_id` it forwards as X-Request-ID, the backend names its Redis key after that id. Every
request must become exactly one trace whose five spans hang off each other in order.

Runs as root (CI does); skipped otherwise.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from ebpf_stack import USER_AGENT, GatewayStack, ebpf_collector_config, require_root
from ebpf_views import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, SystemSpan, read_spans
from harness import CollectorPool, free_port, wait_until

PARALLEL_CLIENTS = 16
REQUESTS = 160
# Generous for a busy 2-core machine: a batch takes about a second when idle.
BATCH_TIMEOUT_S = 120
SPAN_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.2
# A request's spans, each the parent of the next.
ROLES = ("nginx server", "nginx client", "backend server", "backend client", "redis server")
HTTP_ROLES = ROLES[:3]


@dataclass(frozen=True)
class Sent:
    """One request of a batch as nginx logged it."""
    target: str
    status: int
    request_id: str
    client_port: int

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    @property
    def redis_summary(self) -> str:
        return f"INCR hits:{self.request_id}"


@dataclass(frozen=True)
class CapturedStack:
    """The running gateway stack and the file the capturing collector writes spans to."""
    stack: GatewayStack
    traces_path: Path


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    require_root()
    workdir = tmp_path_factory.mktemp("ebpf-concurrency")
    stack = GatewayStack(workdir)
    health_port, metrics_port = free_port(), free_port()
    traces_path = workdir / "traces.json"
    receiver = stack.receiver_config(metrics={"enabled": False})
    pool = CollectorPool(workdir)
    try:
        # The collector first: every connection of the stack is then seen from its start.
        pool.start("ebpf", ebpf_collector_config(
            receiver, traces_path, workdir / "metrics.json", health_port, metrics_port),
            health_port=health_port, metrics_port=metrics_port)
        stack.start()
        assert stack.curl("/warmup") == 200
        yield CapturedStack(stack, traces_path)
    finally:
        stack.stop()
        pool.close()


def send_concurrently(stack: GatewayStack, targets: list[str]) -> list[Sent]:
    """GETs every target through nginx from one `curl` running `PARALLEL_CLIENTS` transfers
    at once, each on a connection of its own; returns them as nginx logged them."""
    logged_before = {entry.request_id for entry in stack.access_log_entries()}
    wanted = set(targets)
    config = stack.workdir / "parallel-urls.curlrc"
    config.write_text("".join(f'url = "{stack.url(target)}"\noutput = "/dev/null"\n'
                              for target in targets))
    command = ["curl", "-sS", "--parallel", "--parallel-immediate", "--parallel-max",
               str(PARALLEL_CLIENTS), "-H", "Connection: close", "--max-time", "60",
               "-A", USER_AGENT, "-w", "%{http_code}\\n", "-K", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=BATCH_TIMEOUT_S)
    assert result.returncode == 0, f"parallel curl failed: {result.stderr}"
    assert result.stdout.split() == ["200"] * len(targets), result.stdout

    def batch_logged():
        # nginx logs a request after answering it: an earlier request may be logged late.
        entries = [entry for entry in stack.access_log_entries()
                   if entry.request_id not in logged_before and entry.uri in wanted]
        return entries if len(entries) >= len(targets) else None

    entries = wait_until(batch_logged, timeout=10, message="nginx access log entries of the batch")
    assert Counter(entry.uri for entry in entries) == Counter(targets)
    batch = [Sent(entry.uri, entry.status, entry.request_id, entry.remote_port)
             for entry in entries]
    assert len({sent.request_id for sent in batch}) == len(targets)
    assert len({sent.client_port for sent in batch}) == len(targets), "a client port repeats"
    return batch


def request_id_of(span: SystemSpan) -> str | None:
    forwarded = span.attributes.get("http.request.header.x-request-id")
    return forwarded[0] if forwarded and len(forwarded) == 1 else None


class SpanIndex:
    """The written spans by what ties each to its request, whatever the receiver linked: the
    client's port for nginx's server span, the forwarded request id for the HTTP spans behind
    it, the Redis key (named after that id) for the Redis spans. Every span under a key is
    kept, so that duplicates fail the test. Client ports are reused across batches, so nginx
    server spans that started before `since_ns` (an earlier batch's) are not keyed."""

    def __init__(self, spans: list[SystemSpan], stack: GatewayStack, since_ns: int):
        self.spans = spans
        self.by_key: dict[tuple, list[SystemSpan]] = defaultdict(list)
        self.by_trace: dict[str, list[SystemSpan]] = defaultdict(list)
        self.children: dict[str, list[SystemSpan]] = defaultdict(list)
        roles = {(stack.nginx_worker_pid, SPAN_KIND_SERVER): "nginx server",
                 (stack.nginx_worker_pid, SPAN_KIND_CLIENT): "nginx client",
                 (stack.backend.pid, SPAN_KIND_SERVER): "backend server",
                 (stack.backend.pid, SPAN_KIND_CLIENT): "backend client",
                 (stack.redis.pid, SPAN_KIND_SERVER): "redis server"}
        for span in spans:
            self.by_trace[span.trace_id].append(span)
            if span.parent_span_id:
                self.children[span.parent_span_id].append(span)
            role = roles.get((span.pid, span.kind))
            if role == "nginx server":
                key = span.attributes.get("client.port") if span.start_ns >= since_ns else None
            elif role in HTTP_ROLES:
                key = request_id_of(span)
            else:
                key = span.attributes.get("db.query.summary")
            if role is not None and key is not None:
                self.by_key[(role, key)].append(span)

    def of(self, sent: Sent) -> dict[str, list[SystemSpan]]:
        """Each role's spans for one request."""
        keys = {"nginx server": sent.client_port, "nginx client": sent.request_id,
                "backend server": sent.request_id, "backend client": sent.redis_summary,
                "redis server": sent.redis_summary}
        return {role: self.by_key.get((role, keys[role]), []) for role in ROLES}


def wait_for_spans(captured: CapturedStack, batch: list[Sent], since_ns: int) -> SpanIndex:
    """The index once every request of the batch, sent after `since_ns`, has all five spans
    written."""
    stack = captured.stack
    deadline = time.monotonic() + SPAN_TIMEOUT_S
    while True:
        index = SpanIndex(read_spans(captured.traces_path), stack, since_ns)
        missing = [(sent.target, sent.request_id, role) for sent in batch
                   for role, found in index.of(sent).items() if not found]
        if not missing:
            return index
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{len(missing)} spans missing after {SPAN_TIMEOUT_S}s, e.g. {missing[:10]}; "
                f"{len(index.spans)} spans written\n{stack.logs()}")
        time.sleep(POLL_INTERVAL_S)


def brief(span: SystemSpan) -> str:
    return (f"({span.attributes.get('url.path') or span.name} trace={span.trace_id} "
            f"span={span.span_id} parent={span.parent_span_id or '-'})")


def link_problems(sent: Sent, index: SpanIndex) -> list[str]:
    """Everything wrong with one request's trace; empty when it is right."""
    found = index.of(sent)
    duplicated = [role for role, spans in found.items() if len(spans) != 1]
    if duplicated:
        return [f"{role}: {len(found[role])} spans" for role in duplicated]
    spans = {role: found[role][0] for role in ROLES}
    problems = []
    for role in HTTP_ROLES:
        attributes = spans[role].attributes
        if (attributes.get("url.path"), attributes.get("url.query")) != (sent.path, sent.query):
            problems.append(f"{role} {brief(spans[role])} has another target than {sent.target}")
    root = spans["nginx server"]
    if root.parent_span_id:
        problems.append(f"nginx's server span has a parent {root.parent_span_id}")
    for parent_role, child_role in zip(ROLES, ROLES[1:]):
        parent, child = spans[parent_role], spans[child_role]
        if child.parent_span_id != parent.span_id or child.trace_id != parent.trace_id:
            problems.append(f"{child_role} {brief(child)} is not a child of {parent_role} "
                            f"{brief(parent)}")
    # What nginx's server span adopted: exactly its own upstream call.
    upstream_calls = [span for span in index.children.get(root.span_id, [])
                      if span.pid == root.pid and span.kind == SPAN_KIND_CLIENT]
    adopted = [request_id_of(span) for span in upstream_calls]
    if adopted != [sent.request_id]:
        problems.append(f"nginx's server span adopted upstream calls of request ids {adopted}")
    in_trace = {span.span_id for span in index.by_trace[root.trace_id]}
    if in_trace != {span.span_id for span in spans.values()}:
        problems.append(f"the trace holds {len(in_trace)} spans, not the request's five")
    return problems


def peak_concurrency(spans: list[SystemSpan]) -> int:
    """The most spans in progress at one instant."""
    edges = sorted([(span.start_ns, 1) for span in spans] + [(span.end_ns, -1) for span in spans])
    peak = running = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def assert_each_request_is_one_linked_trace(captured: CapturedStack, targets: list[str]):
    since_ns = time.time_ns()
    batch = send_concurrently(captured.stack, targets)
    index = wait_for_spans(captured, batch, since_ns)
    roots = [index.of(sent)["nginx server"][0] for sent in batch]
    # The point of the test: nginx's one thread had many requests open at once.
    assert peak_concurrency(roots) >= PARALLEL_CLIENTS // 2, (
        f"nginx served at most {peak_concurrency(roots)} requests at once")
    problems = {sent: link_problems(sent, index) for sent in batch}
    wrong = {sent: found for sent, found in problems.items() if found}
    assert not wrong, (
        f"{len(wrong)} of {len(batch)} requests are not one correctly linked trace:\n"
        + "\n".join(f"{sent.target} (request id {sent.request_id}, client port "
                    f"{sent.client_port}): " + "; ".join(found)
                    for sent, found in list(wrong.items())[:10]))
    assert len({root.trace_id for root in roots}) == len(batch)


def test_concurrent_requests_with_distinct_targets_stay_in_their_own_traces(captured):
    """nginx forwards each request line as it read it: the upstream call repeats it."""
    assert_each_request_is_one_linked_trace(captured, [
        f"/items/{number}?slot={number % PARALLEL_CLIENTS}&n={number}"
        for number in range(REQUESTS)])


def test_concurrent_identical_requests_stay_in_their_own_traces(captured):
    """Every request line is the same: only the order nginx forwards them in tells them
    apart."""
    assert_each_request_is_one_linked_trace(captured, ["/items/same?color=blue"] * REQUESTS)
