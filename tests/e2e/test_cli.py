"""The `cormorant` command line and process behaviour a user of otelcol relies on: `validate`,
`print-config` (expansion, merging, `--set`, redaction), `components`, `--version`, the
health_check extension, self-metrics, and a graceful SIGTERM that delivers what was batched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import grpc
import requests
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from harness import (
    REPO_ROOT,
    all_signals,
    cormorant_binary,
    file_sink_config,
    free_port,
    metric_value,
    otlp_receiver,
    service,
    wait_until,
)
from otlp_json import read_json_lines, spans_by_id
from raw_otlp import SPANS_PER_REQUEST, traces_request

GOOD_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
processors:
  batch: {}
exporters:
  debug: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
"""


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run([str(cormorant_binary()), *args], capture_output=True, text=True,
                          timeout=30, env=environment, cwd=cwd, stdin=subprocess.DEVNULL)


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def print_config(*args: str, env: dict[str, str] | None = None) -> dict:
    result = run_cli("print-config", "--format", "json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------- validate


def test_validate_accepts_a_good_config(tmp_path):
    result = run_cli("validate", "--config", write(tmp_path, "good.yaml", GOOD_CONFIG))
    assert result.returncode == 0, result.stderr


def test_every_example_config_validates():
    examples = sorted((REPO_ROOT / "config" / "examples").glob("*.yaml"))
    assert examples, "config/examples holds example configs"
    for example in examples:
        result = run_cli("validate", "--config", str(example))
        assert result.returncode == 0, f"{example.name}: {result.stderr}"


def test_validate_names_the_path_of_an_unknown_key(tmp_path):
    config = GOOD_CONFIG.replace("endpoint: 127.0.0.1:4317", "endpont: 127.0.0.1:4317")
    result = run_cli("validate", "--config", write(tmp_path, "typo.yaml", config))
    assert result.returncode != 0
    assert "receivers::otlp: 'protocols.grpc' has invalid keys: endpont" in result.stderr


def test_validate_reports_an_undefined_processor(tmp_path):
    config = GOOD_CONFIG.replace("processors: [batch]", "processors: [batch/x]")
    result = run_cli("validate", "--config", write(tmp_path, "undefined.yaml", config))
    assert result.returncode != 0
    assert ('service::pipelines::traces: references processor "batch/x" which is not configured'
            in result.stderr)


def test_validate_lists_every_error_at_once(tmp_path):
    config = (GOOD_CONFIG.replace("endpoint: 127.0.0.1:4317", "endpont: 127.0.0.1:4317")
              .replace("processors: [batch]", "processors: [batch/x]")
              .replace("exporters: [debug]", "exporters: [debug, otlp/missing]"))
    result = run_cli("validate", "--config", write(tmp_path, "many.yaml", config))
    assert result.returncode != 0
    for expected in (
        "receivers::otlp: 'protocols.grpc' has invalid keys: endpont",
        'service::pipelines::traces: references processor "batch/x" which is not configured',
        'service::pipelines::traces: references exporter "otlp/missing" which is not configured',
    ):
        assert expected in result.stderr, f"missing {expected!r} in:\n{result.stderr}"


def test_no_config_is_an_error():
    result = run_cli("validate")
    assert result.returncode != 0
    assert "at least one config flag must be provided" in result.stderr


# ---------------------------------------------------------------- print-config


EXPANSION_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:E2E_GRPC_ENDPOINT}
      http:
        endpoint: ${E2E_UNSET_HOST:-127.0.0.1}:${E2E_HTTP_PORT}
processors:
  batch:
    timeout: ${env:E2E_UNSET_TIMEOUT:-3s}
exporters:
  otlp:
    endpoint: backend.example:4317
    headers:
      authorization: "Bearer ${env:E2E_TOKEN}"
      x-price: "$$5 for ${env:E2E_TENANT}"
      x-literal: "$${env:E2E_TENANT}"
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
"""

EXPANSION_ENV = {"E2E_GRPC_ENDPOINT": "127.0.0.1:5317", "E2E_HTTP_PORT": "5318",
                 "E2E_TOKEN": "s3cr3t-t0ken", "E2E_TENANT": "acme"}


def test_print_config_expands_env_defaults_and_dollar_escapes(tmp_path):
    path = write(tmp_path, "expand.yaml", EXPANSION_CONFIG)
    config = print_config("--config", path, env=EXPANSION_ENV)
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "127.0.0.1:5317"
    assert protocols["http"]["endpoint"] == "127.0.0.1:5318"
    assert config["processors"]["batch"]["timeout"] == "3s"
    headers = config["exporters"]["otlp"]["headers"]
    assert headers["x-price"] == "$5 for acme"
    assert headers["x-literal"] == "${env:E2E_TENANT}"


def test_print_config_redacts_secrets_unless_asked_not_to(tmp_path):
    path = write(tmp_path, "secret.yaml", EXPANSION_CONFIG)
    redacted = run_cli("print-config", "--config", path, env=EXPANSION_ENV)
    assert redacted.returncode == 0, redacted.stderr
    assert "s3cr3t-t0ken" not in redacted.stdout
    parsed = yaml.safe_load(redacted.stdout)
    assert parsed["exporters"]["otlp"]["headers"]["authorization"] == "[REDACTED]"
    assert parsed["exporters"]["otlp"]["headers"]["x-price"] == "$5 for acme"

    plain = print_config("--config", path, "--mode", "unredacted", env=EXPANSION_ENV)
    assert plain["exporters"]["otlp"]["headers"]["authorization"] == "Bearer s3cr3t-t0ken"


def test_two_configs_merge_and_set_applies_last(tmp_path):
    base = write(tmp_path, "base.yaml", GOOD_CONFIG.replace(
        "batch: {}", "batch: {timeout: 1s, send_batch_size: 100}").replace(
        "debug: {}", "debug: {}\n  nop: {}").replace(
        "exporters: [debug]", "exporters: [debug, nop]"))
    override = write(tmp_path, "override.yaml", """
processors:
  batch:
    timeout: 5s
service:
  pipelines:
    traces:
      exporters: [nop]
""")
    args = ("--config", base, "--config", override,
            "--set", "processors.batch.send_batch_max_size=200",
            "--set", "processors.batch.timeout=7s")
    config = print_config(*args)
    assert config["processors"]["batch"] == {
        "timeout": "7s", "send_batch_size": 100, "send_batch_max_size": 200}
    traces = config["service"]["pipelines"]["traces"]
    assert traces["exporters"] == ["nop"], "a later list replaces the earlier one"
    assert traces["receivers"] == ["otlp"] and traces["processors"] == ["batch"]
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "127.0.0.1:4317"
    result = run_cli("validate", *args)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- components, version


def test_components_lists_every_component_with_stability():
    result = run_cli("components")
    assert result.returncode == 0, result.stderr
    listing = yaml.safe_load(result.stdout)

    def entries(section):
        found = {}
        for entry in listing[section] or []:
            names = [entry["name"], *entry.get("deprecated_aliases", [])]
            for name in names:
                found[name] = entry
        return found

    receivers, processors = entries("receivers"), entries("processors")
    exporters, extensions = entries("exporters"), entries("extensions")
    assert "otlp" in receivers
    assert {"batch", "memory_limiter"} <= set(processors)
    assert {"otlp", "otlp_grpc", "otlphttp", "otlp_http", "debug", "nop", "file"} <= set(exporters)
    assert "health_check" in extensions
    valid = {"Development", "Alpha", "Beta", "Stable", "Deprecated"}
    for section in ("receivers", "processors", "exporters", "extensions"):
        for entry in listing[section]:
            assert entry["stability"] and set(entry["stability"].values()) <= valid, entry
    assert exporters["file"]["stability"] == {"traces": "Alpha", "metrics": "Alpha", "logs": "Alpha"}
    assert set(receivers["otlp"]["stability"]) == {"traces", "metrics", "logs"}


def test_version_matches_the_workspace_version():
    version = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["cormorant", version]


# ---------------------------------------------------------------- running collectors


def test_self_metrics_count_accepted_and_exported_spans(collectors):
    grpc_port, http_port, health_port, metrics_port = (free_port() for _ in range(4))
    output = collectors.workdir / "out.json"
    collector = collectors.start(
        "metrics", file_sink_config(grpc_port, http_port, health_port, metrics_port, output),
        health_port=health_port, metrics_port=metrics_port)
    body = collector.health().json()
    assert body["status"] == "Server available" and "upSince" in body and "uptime" in body

    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = TraceServiceStub(channel)
        for number in range(4):
            stub.Export(traces_request(number)[0], timeout=10)
    response = requests.post(f"http://127.0.0.1:{http_port}/v1/traces",
                             data=traces_request(99)[0].SerializeToString(),
                             headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert response.status_code == 200, response.text
    per_request = SPANS_PER_REQUEST

    text = collector.metrics_text()
    assert metric_value(text, "otelcol_receiver_accepted_spans",
                        receiver="otlp", transport="grpc") == 4 * per_request
    assert metric_value(text, "otelcol_receiver_accepted_spans",
                        receiver="otlp", transport="http") == per_request
    assert metric_value(text, "otelcol_exporter_sent_spans", exporter="file") == 5 * per_request
    assert metric_value(text, "otelcol_receiver_refused_spans", receiver="otlp") == 0
    assert collector.stop() == 0


def test_health_check_is_unavailable_while_shutting_down(collectors):
    grpc_port, health_port, metrics_port, dead_port = (free_port() for _ in range(4))
    collector = collectors.start("draining", {
        "receivers": {"otlp": otlp_receiver(grpc_port, None)},
        "exporters": {"otlp": {"endpoint": f"127.0.0.1:{dead_port}", "tls": {"insecure": True},
                               "retry_on_failure": {"initial_interval": "100ms",
                                                    "max_elapsed_time": "10m"}}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": service(all_signals(["otlp"], [], ["otlp"]), metrics_port),
    }, health_port=health_port, metrics_port=metrics_port, extra_args=["--shutdown-timeout", "3s"])
    assert collector.health().status_code == 200

    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        TraceServiceStub(channel).Export(traces_request(1)[0], timeout=10)
    # The queued request cannot be delivered, so shutdown drains until its deadline while the
    # extension (stopped last) keeps answering.
    collector.process.send_signal(signal.SIGTERM)
    statuses = []
    deadline = time.monotonic() + 20
    while collector.is_running() and time.monotonic() < deadline:
        try:
            statuses.append(collector.health().status_code)
        except requests.RequestException:
            pass
        time.sleep(0.05)
    assert not collector.is_running(), "shutdown did not finish within its deadline"
    assert 503 in statuses, f"health_check answered {statuses} during shutdown, expected 503"
    # A poll may be answered before the signal is handled; after the first 503, never ready again.
    after_first_503 = statuses[statuses.index(503):]
    assert 200 not in after_first_503, f"health_check went back to 200 while stopping: {statuses}"


def test_sigterm_delivers_what_the_batch_processor_held(collectors):
    b_grpc, b_http, b_health, b_metrics = (free_port() for _ in range(4))
    output = collectors.workdir / "b-output.json"
    b = collectors.start("B", file_sink_config(b_grpc, b_http, b_health, b_metrics, output),
                         health_port=b_health, metrics_port=b_metrics)
    a_grpc, a_health, a_metrics = (free_port() for _ in range(3))
    a = collectors.start("A", {
        "receivers": {"otlp": otlp_receiver(a_grpc, None)},
        "processors": {"batch": {"timeout": "1h", "send_batch_size": 100000}},
        "exporters": {"otlp": {"endpoint": f"127.0.0.1:{b_grpc}", "tls": {"insecure": True}}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{a_health}"}},
        "service": service(all_signals(["otlp"], ["batch"], ["otlp"]), a_metrics),
    }, health_port=a_health, metrics_port=a_metrics)

    sent = []
    with grpc.insecure_channel(f"127.0.0.1:{a_grpc}") as channel:
        stub = TraceServiceStub(channel)
        for number in range(5):
            request, span_ids = traces_request(number)
            stub.Export(request, timeout=10)
            sent.extend(span_ids)
    time.sleep(1)
    assert not spans_by_id(read_json_lines(output)), (
        "with a one-hour batch timeout nothing may be forwarded before shutdown")

    assert a.stop() == 0, "a graceful shutdown that delivered everything exits 0"
    def everything_arrived():
        found = spans_by_id(read_json_lines(output))
        return found if set(sent) <= set(found) else None

    delivered = wait_until(everything_arrived, 10,
                           message="the batch flushed at shutdown in B's file")
    assert sorted(delivered) == sorted(sent)
    assert b.stop() == 0
