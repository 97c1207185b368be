"""Real programs for the eBPF receiver's end-to-end tests, started as children of the test:
Debian's nginx as a gateway, a Python `http.server` backend that calls a real `redis-server`,
a tiny DNS server, and the `cormorant` config that captures them with the `ebpf` receiver.

The receiver captures every process on the host that passes its filters, and pytest itself is
a `python3` process. So the tests never talk to these servers from the pytest process: every
request is made by a `curl` or `dig` child, and readiness is read from `/proc/net` rather than
by connecting.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import free_port, service, wait_until

APPS = Path(__file__).resolve().parent / "ebpf_apps"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
# TCP state LISTEN in /proc/net/tcp.
TCP_LISTEN = "0A"
USER_AGENT = "cormorant-e2e/1.0"


def require_root() -> None:
    """Loading eBPF programs needs root (or CAP_BPF + CAP_PERFMON); CI runs the tests as root."""
    if os.geteuid() != 0:
        pytest.skip("skipped: eBPF tests need root")


def require_commands(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise AssertionError(
            f"missing programs {missing}: tests/run_all.sh installs them with apt "
            "(nginx redis-server bind9-dnsutils curl)")


def free_udp_and_tcp_port() -> int:
    """A 127.0.0.1 port free for both TCP and UDP a moment ago (a DNS server binds both)."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def listening(port: int, transport: str = "tcp") -> bool:
    """Whether a socket is bound to 127.0.0.1:`port` (listening, for TCP), read from /proc/net
    so that checking opens no connection the receiver would capture."""
    loopback = "0100007F"
    with open(f"/proc/net/{transport}") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if address == loopback and int(hex_port, 16) == port and (
                    transport == "udp" or fields[3] == TCP_LISTEN):
                return True
    return False


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in text.split()]


class Child:
    """One server process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], workdir: Path):
        self.name = name
        self.command = command
        self.log_path = workdir / f"{name}.out"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=workdir)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_listening(self, port: int, transport: str = "tcp") -> "Child":
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n"
                                     f"{self.log()}")
            return listening(port, transport)

        wait_until(ready, timeout=START_TIMEOUT_S, interval=0.05,
                   message=f"{self.name} listening on 127.0.0.1:{port}/{transport}")
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@functools.cache
def python3() -> str:
    """The system interpreter's real path (not a version manager's shim script), so that the
    kernel names the apps' threads `python3` and their `/proc/<pid>/exe` is the interpreter."""
    path = shutil.which("python3")
    if path is None:
        raise AssertionError("python3 not found on PATH")
    return subprocess.run([path, "-c", "import sys; print(sys.executable)"], check=True,
                          capture_output=True, text=True, timeout=30).stdout.strip()


NGINX_CONFIG = """\
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 128; }}
http {{
    log_format request_ids '$request_id $status $remote_port "$request_uri"';
    access_log {prefix}/access.log request_ids;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{backend_port};
            proxy_http_version 1.1;
            proxy_set_header X-Request-ID $request_id;
        }}
    }}
}}
"""

ACCESS_LOG_LINE = re.compile(
    r'^(?P<request_id>[0-9a-f]{32}) (?P<status>\d{3}) (?P<remote_port>\d+) "(?P<uri>[^"]*)"$')


@dataclass(frozen=True)
class AccessLogEntry:
    request_id: str
    status: int
    uri: str
    # The client's port: tells apart requests with the same URI.
    remote_port: int


class GatewayStack:
    """nginx (one worker) → Python backend → redis-server, each on its own free port."""

    def __init__(self, workdir: Path):
        require_commands("nginx", "redis-server", "curl")
        self.workdir = workdir
        self.nginx_port, self.backend_port, self.redis_port = free_port(), free_port(), free_port()
        self.children: list[Child] = []
        self.nginx_prefix = workdir / "nginx"
        self.nginx_worker_pid: int | None = None

    @property
    def ports(self) -> list[int]:
        return [self.nginx_port, self.backend_port, self.redis_port]

    def receiver_config(self, **settings) -> dict:
        """The `ebpf` receiver limited to this stack, plus `settings`. curl (the client) stays
        out by thread name, so nginx's server span is each trace's root; the ports keep the
        test's own python3 process (health checks) out."""
        return {
            "protocols": ["http", "redis"],
            "comm": {"include": ["nginx", "python3", "redis-server"]},
            "ports": {"include": self.ports},
            **settings,
        }

    def start(self) -> "GatewayStack":
        self.redis = self._start(Child("redis-server", [
            "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
            "--daemonize", "no"], self.workdir)).wait_listening(self.redis_port)
        self.backend = self._start(Child("backend", [
            python3(), str(APPS / "backend.py"), str(self.backend_port),
            str(self.redis_port)], self.workdir)).wait_listening(self.backend_port)
        self.nginx_prefix.mkdir(exist_ok=True)
        config = self.nginx_prefix / "nginx.conf"
        config.write_text(NGINX_CONFIG.format(prefix=self.nginx_prefix, port=self.nginx_port,
                                              backend_port=self.backend_port))
        self.nginx = self._start(Child("nginx", [
            "nginx", "-p", str(self.nginx_prefix), "-c", str(config),
            "-e", str(self.nginx_prefix / "error.log"), "-g", "daemon off;"],
            self.workdir)).wait_listening(self.nginx_port)
        workers = wait_until(lambda: child_pids(self.nginx.pid), timeout=START_TIMEOUT_S,
                             message="the nginx worker process")
        assert len(workers) == 1, f"nginx started {len(workers)} workers, expected 1"
        self.nginx_worker_pid = workers[0]
        return self

    def _start(self, child: Child) -> Child:
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.nginx_port}{path}"

    def curl(self, path: str, headers: dict[str, str] | None = None) -> int:
        """GET `path` through nginx with a `curl` child; returns the HTTP status."""
        command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                   "-A", USER_AGENT]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        command.append(self.url(path))
        result = subprocess.run(command, capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, f"curl {path} failed: {result.stderr}"
        return int(result.stdout)

    def access_log_entries(self) -> list[AccessLogEntry]:
        """nginx's access log entries in the order nginx wrote them."""
        path = self.nginx_prefix / "access.log"
        entries = []
        if path.exists():
            for line in path.read_text().splitlines():
                match = ACCESS_LOG_LINE.match(line)
                assert match, f"unexpected access log line {line!r}"
                entries.append(AccessLogEntry(match["request_id"], int(match["status"]),
                                              match["uri"], int(match["remote_port"])))
        return entries

    def access_log(self) -> dict[str, AccessLogEntry]:
        """nginx's access log entries keyed by request URI (for tests whose URIs are unique)."""
        return {entry.uri: entry for entry in self.access_log_entries()}

    def logs(self) -> str:
        parts = [f"--- {child.name} ---\n{child.log()}" for child in self.children]
        error_log = self.nginx_prefix / "error.log"
        if error_log.exists():
            parts.append(f"--- nginx error.log ---\n{error_log.read_text(errors='replace')}")
        return "\n".join(parts)


RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN"}
DIG_RESULT = re.compile(r"status: (?P<rcode>[A-Z]+).*?ANSWER: (?P<answers>\d+)", re.DOTALL)
CLIENT_RESULT = re.compile(r"rcode=(?P<rcode>\d+) answers=(?P<answers>\d+)")


@dataclass(frozen=True)
class Lookup:
    """A finished query; `pid` names the process its client span belongs to."""
    client: str
    pid: int
    rcode: str
    answers: int
    output: str


class DnsServer:
    """`ebpf_apps/dns_server.py` on a free port, UDP and TCP."""

    def __init__(self, workdir: Path, zone: dict[str, list[str]]):
        require_commands("dig")
        self.port = free_udp_and_tcp_port()
        records = [f"{name}={','.join(addresses)}" for name, addresses in zone.items()]
        self.child = Child("dns-server", [python3(), str(APPS / "dns_server.py"),
                                          str(self.port), *records], workdir)
        self.child.wait_listening(self.port, "udp").wait_listening(self.port, "tcp")

    @property
    def pid(self) -> int:
        return self.child.pid

    def lookup(self, client: str, name: str, transport: str) -> Lookup:
        """One A query for `name` over `transport` ("udp" or "tcp") by `client`: "dig" (no
        retries) or "python3" (`ebpf_apps/dns_client.py`)."""
        if client == "dig":
            command = ["dig", "@127.0.0.1", "-p", str(self.port), name, "A", "+tries=1",
                       "+time=5"] + (["+tcp"] if transport == "tcp" else [])
        else:
            command = [python3(), str(APPS / "dns_client.py"), str(self.port), name, transport]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        output, _ = process.communicate(timeout=20)
        assert process.returncode == 0, f"{command} failed:\n{output}"
        match = (DIG_RESULT if client == "dig" else CLIENT_RESULT).search(output)
        assert match, f"{command} printed no result:\n{output}"
        rcode = match["rcode"] if client == "dig" else RCODE_NAMES[int(match["rcode"])]
        return Lookup(client, process.pid, rcode, int(match["answers"]), output)

    def stop(self) -> None:
        self.child.stop()


def ebpf_collector_config(receiver: dict, traces_path: Path, metrics_path: Path,
                          health_port: int, metrics_port: int) -> dict:
    """The `ebpf` receiver feeding a traces and a metrics pipeline, each written as OTLP JSON
    lines by its own file exporter."""
    return {
        "receivers": {"ebpf": receiver},
        "exporters": {
            "file/traces": {"path": str(traces_path), "flush_interval": "100ms"},
            "file/metrics": {"path": str(metrics_path), "flush_interval": "100ms"},
        },
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": service({
            "traces": {"receivers": ["ebpf"], "exporters": ["file/traces"]},
            "metrics": {"receivers": ["ebpf"], "exporters": ["file/metrics"]},
        }, metrics_port),
    }

