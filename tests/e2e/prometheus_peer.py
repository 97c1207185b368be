"""The real Prometheus server and node exporter (Debian's `prometheus` and
`prometheus-node-exporter` packages) as peers of cormorant: started from their binaries on free
ports of 127.0.0.1 with their own config and data directories — never the packages' system
services — and stopped at teardown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path

import requests

from harness import free_port

PROMETHEUS_BIN = Path(os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus"))
NODE_EXPORTER_BIN = Path(os.environ.get("NODE_EXPORTER_BIN", "/usr/bin/prometheus-node-exporter"))
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def require_binary(path: Path) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} not found: install Debian's prometheus and "
                           "prometheus-node-exporter packages (tests/run_all.sh does)")
    return path


class Peer(ABC):
    """One process on a free port of 127.0.0.1, its output in `<name>.log` under `workdir`."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @abstractmethod
    def command(self) -> list[str]:
        """The process's command line."""

    @abstractmethod
    def ready_path(self) -> str:
        """The HTTP path that answers 200 once the process serves."""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> "Peer":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.workdir)
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; "
                                   f"log:\n{self.log()}")
            try:
                response = requests.get(f"{self.url}{self.ready_path()}", timeout=2)
                if response.status_code == 200:
                    return self
                last = f"HTTP {response.status_code}"
            except requests.RequestException as error:
                last = str(error)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT_S}s ({last}); "
                           f"log:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class NodeExporter(Peer):
    def __init__(self, workdir: Path):
        super().__init__("node-exporter", workdir)

    def command(self) -> list[str]:
        # The systemd collector needs a running systemd's D-Bus socket, which a test machine or
        # container may not have; every other default collector stays on.
        return [str(require_binary(NODE_EXPORTER_BIN)), f"--web.listen-address={self.address}",
                "--no-collector.systemd"]

    def ready_path(self) -> str:
        return "/metrics"


class Prometheus(Peer):
    """A Prometheus server scraping itself (job `prometheus`) and `targets` (job name ->
    `host:port`) every second, and remote-writing everything it stores to `remote_write_url`."""

    def __init__(self, workdir: Path, targets: dict[str, str], remote_write_url: str):
        super().__init__("prometheus", workdir)
        self.config_path = workdir / "prometheus.yml"
        self.storage_path = workdir / "prometheus-data"
        targets = {"prometheus": self.address, **targets}
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                               for job, target in targets.items()],
            "remote_write": [{
                "url": remote_write_url,
                "queue_config": {"batch_send_deadline": "1s"},
                "metadata_config": {"send": True, "send_interval": "2s"},
            }],
        }
        # JSON is YAML.
        self.config_path.write_text(json.dumps(config, indent=2))

    def command(self) -> list[str]:
        return [str(require_binary(PROMETHEUS_BIN)),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.storage_path}",
                f"--web.listen-address={self.address}"]

    def ready_path(self) -> str:
        return "/-/ready"

    def query(self, expression: str, at_seconds: str) -> dict:
        """`GET /api/v1/query`: the `data` of a successful answer."""
        response = requests.get(f"{self.url}/api/v1/query",
                                params={"query": expression, "time": at_seconds}, timeout=30)
        body = response.json()
        assert response.status_code == 200 and body.get("status") == "success", (
            f"query {expression!r} at {at_seconds}: HTTP {response.status_code} {body}")
        return body["data"]

    def metadata(self, metric: str) -> list[dict]:
        """`GET /api/v1/metadata`: what the scraped targets said about `metric` (type, help,
        unit), one entry per distinct answer."""
        response = requests.get(f"{self.url}/api/v1/metadata", params={"metric": metric},
                                timeout=10)
        response.raise_for_status()
        return response.json()["data"].get(metric, [])

    def healthy_targets(self) -> set[str]:
        """The jobs whose targets were scraped successfully."""
        response = requests.get(f"{self.url}/api/v1/targets", timeout=10)
        response.raise_for_status()
        return {target["labels"]["job"]
                for target in response.json()["data"]["activeTargets"]
                if target["health"] == "up"}
