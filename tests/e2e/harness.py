"""Runs the real `cormorant` binary as subprocesses, and builds the configs the tests give it.

Nothing here builds: `tests/run_all.sh` runs `cargo build --workspace` first. The binary is
`target/debug/cormorant` at the repository root, or the path in `CORMORANT_BIN`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def cormorant_binary() -> Path:
    path = Path(os.environ.get("CORMORANT_BIN", REPO_ROOT / "target" / "debug" / "cormorant"))
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"cormorant binary not found at {path}; run `cargo build -p cormorant` "
            "(tests/run_all.sh builds it) or set CORMORANT_BIN"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """One `cormorant` process with its config file and a log file holding its stderr."""

    def __init__(self, name: str, config: dict | str, workdir: Path, health_port: int | None,
                 metrics_port: int | None, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None):
        self.name = name
        self.workdir = workdir
        self.health_port = health_port
        self.metrics_port = metrics_port
        self.config_path = workdir / f"{name}.yaml"
        # JSON is YAML: generated configs are written as JSON, hand-written ones as given.
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        self.config_path.write_text(text)
        self.log_path = workdir / f"{name}.log"
        self.extra_args = extra_args or []
        self.env = env
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None

    def start(self) -> "Collector":
        command = [str(cormorant_binary()), "--config", str(self.config_path), *self.extra_args]
        environment = dict(os.environ)
        environment.setdefault("RUST_BACKTRACE", "1")
        if self.env:
            environment.update(self.env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=environment,
                                            cwd=self.workdir)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{self.health_port}/", timeout=2)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> "Collector":
        """Waits until the health_check extension answers 200."""
        assert self.health_port is not None, f"{self.name} has no health_check port"
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.is_running():
                raise AssertionError(
                    f"collector {self.name} exited with {self.process.returncode} before it was "
                    f"ready; log:\n{self.log()}")
            try:
                response = self.health()
                if response.status_code == 200:
                    return self
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except requests.RequestException as error:
                last = str(error)
            time.sleep(0.05)
        raise AssertionError(f"collector {self.name} not ready after {timeout}s ({last}); "
                             f"log:\n{self.log()}")

    def metrics_text(self) -> str:
        assert self.metrics_port is not None, f"{self.name} has no self-metrics port"
        response = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5)
        response.raise_for_status()
        return response.text

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then wait; a process that ignores it is killed and reported as -9."""
        if self.process is None:
            raise AssertionError(f"collector {self.name} was never started")
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self.returncode = -9
                return self.returncode
        self.returncode = self.process.returncode
        return self.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class CollectorPool:
    """Starts collectors for one test (or module) and makes sure none outlives it."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.collectors: list[Collector] = []

    def start(self, name: str, config: dict | str, health_port: int | None = None,
              metrics_port: int | None = None, wait: bool = True,
              extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> Collector:
        collector = Collector(name, config, self.workdir, health_port, metrics_port,
                              extra_args, env)
        self.collectors.append(collector)
        collector.start()
        if wait:
            collector.wait_ready()
        return collector

    def close(self) -> None:
        for collector in self.collectors:
            collector.kill()


# An OTLP receiver and a file exporter around a test's own processors and pipelines, in YAML as
# users write it; `{...}` fields are filled in by `file_sink_yaml`.
_FILE_SINK_YAML = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  file:
    path: {path}
    flush_interval: 100ms
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
{pipelines}
{processors}
"""


def file_sink_yaml(processors: str, pipelines: str, values: dict) -> str:
    """A config: `processors` (a top-level `processors:` section) and `pipelines` (the body of
    `service.pipelines`, indented four spaces) between an OTLP receiver on `values["grpc"]` and
    `values["http"]` and a file exporter writing `values["path"]`."""
    return _FILE_SINK_YAML.format(processors=processors, pipelines=pipelines, **values)


def start_file_sink(collectors: CollectorPool, name: str, processors: str,
                    pipelines: str) -> tuple[Collector, dict]:
    """Starts a collector from `file_sink_yaml` on free ports; returns it with the ports and the
    exporter's path."""
    values = {key: free_port() for key in ("grpc", "http", "health", "metrics")}
    values["path"] = collectors.workdir / f"{name}.out.json"
    collector = collectors.start(name, file_sink_yaml(processors, pipelines, values),
                                 health_port=values["health"], metrics_port=values["metrics"])
    return collector, values


def otlp_receiver(grpc_port: int | None, http_port: int | None) -> dict:
    protocols = {}
    if grpc_port is not None:
        protocols["grpc"] = {"endpoint": f"127.0.0.1:{grpc_port}"}
    if http_port is not None:
        protocols["http"] = {"endpoint": f"127.0.0.1:{http_port}"}
    return {"protocols": protocols}


def service(pipelines: dict, metrics_port: int) -> dict:
    return {
        "extensions": ["health_check"],
        "telemetry": {"metrics": {"address": f"127.0.0.1:{metrics_port}"}},
        "pipelines": pipelines,
    }


def all_signals(receivers: list[str], processors: list[str], exporters: list[str]) -> dict:
    return {signal: {"receivers": receivers, "processors": processors, "exporters": exporters}
            for signal in ("traces", "metrics", "logs")}


def file_sink_config(grpc_port: int, http_port: int, health_port: int, metrics_port: int,
                     path: Path) -> dict:
    """Collector B: OTLP in, every signal written as OTLP JSON lines to `path`."""
    return {
        "receivers": {"otlp": otlp_receiver(grpc_port, http_port)},
        "exporters": {"file": {"path": str(path), "flush_interval": "100ms"}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": service(all_signals(["otlp"], [], ["file"]), metrics_port),
    }


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    """Polls `predicate` until it returns a truthy value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric_value(prometheus_text: str, name: str, **labels: str) -> float:
    """The sum of every sample of `name` whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for line in prometheus_text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != name:
            continue
        sample_labels = dict(_LABEL.findall(match.group(2) or ""))
        if all(sample_labels.get(key) == value for key, value in labels.items()):
            total += float(match.group(3))
    return total
