"""The OpenTelemetry Python SDK → collector A → collector B → file, nothing lost or altered.

Collector A receives OTLP over gRPC, HTTP/protobuf and HTTP/JSON, batches, and forwards with its
`otlp` (gRPC) exporter in one run and its `otlphttp` exporter in the other. Collector B receives
and writes every request as an OTLP JSON line with the `file` exporter. What B wrote must equal,
field for field, what the SDK produced: the expected values come from the SDK's in-memory exporter
and reader, encoded with the SDK's own OTLP encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from harness import (
    Collector,
    CollectorPool,
    all_signals,
    file_sink_config,
    free_port,
    otlp_receiver,
    service,
    wait_until,
)
from otlp_json import logs_by_index, metrics_by_name, read_json_lines, spans_by_id
from sdk_telemetry import (
    EVERY_ATTRIBUTE_TYPE,
    TRANSPORTS,
    Endpoints,
    make_logs,
    make_metrics,
    make_traces,
    send_logs,
    send_metrics,
    send_traces,
)

ARRIVAL_TIMEOUT_S = 30.0


@dataclass
class Relay:
    forwarder: str
    a: Collector
    b: Collector
    output: Path
    endpoints: Endpoints

    @property
    def collectors(self) -> list[Collector]:
        return [self.a, self.b]

    def written(self):
        return read_json_lines(self.output)


def forwarder_config(forwarder: str, b_grpc: int, b_http: int) -> dict:
    retry = {"initial_interval": "100ms", "max_interval": "1s", "max_elapsed_time": "60s"}
    if forwarder == "otlp":
        return {"endpoint": f"127.0.0.1:{b_grpc}", "tls": {"insecure": True},
                "retry_on_failure": retry}
    return {"endpoint": f"http://127.0.0.1:{b_http}", "retry_on_failure": retry}


@pytest.fixture(scope="module", params=["otlp", "otlphttp"])
def relay(request, tmp_path_factory):
    forwarder = request.param
    pool = CollectorPool(tmp_path_factory.mktemp(f"relay-{forwarder}"))
    output = pool.workdir / "b-output.json"
    b_grpc, b_http, b_health, b_metrics = (free_port() for _ in range(4))
    b = pool.start("B", file_sink_config(b_grpc, b_http, b_health, b_metrics, output),
                   health_port=b_health, metrics_port=b_metrics)

    a_grpc, a_http, a_health, a_metrics = (free_port() for _ in range(4))
    a_config = {
        "receivers": {"otlp": otlp_receiver(a_grpc, a_http)},
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {forwarder: forwarder_config(forwarder, b_grpc, b_http)},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{a_health}"}},
        "service": service(all_signals(["otlp"], ["batch"], [forwarder]), a_metrics),
    }
    a = pool.start("A", a_config, health_port=a_health, metrics_port=a_metrics)
    yield Relay(forwarder, a, b, output, Endpoints(a_grpc, a_http))
    # A first, so whatever it still holds is delivered to a running B.
    exit_codes = {"A": a.stop(), "B": b.stop()}
    pool.close()
    assert exit_codes == {"A": 0, "B": 0}, "collectors must exit cleanly on SIGTERM"


def assert_views_equal(actual: dict, expected: dict, what: str) -> None:
    missing = sorted(set(expected) - set(actual))
    assert not missing, f"{what}: never arrived: {missing}"
    for key, want in expected.items():
        assert actual[key] == want, f"{what} {key} differs from what the SDK produced"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_traces_arrive_exactly_as_the_sdk_produced_them(relay: Relay, transport: str):
    spans = make_traces(f"{relay.forwarder}-{transport}-traces")
    expected = spans_by_id([encode_spans(spans)])

    # The SDK produced what this test claims to cover.
    by_name = {view["span"]["name"]: view["span"] for view in expected.values()}
    assert {span["kind"] for span in by_name.values()} == {1, 2, 3, 4, 5}
    server = by_name["GET /orders/{id}"]
    assert {a["key"] for a in server["attributes"]} >= set(EVERY_ATTRIBUTE_TYPE)
    assert server["parent_span_id"] and server["trace_state"] and server["links"][0]["attributes"]
    assert server["events"][0]["attributes"] and server["start_time_unix_nano"].endswith("789")
    assert by_name["SELECT orders"]["status"] == {"code": 2, "message": "connection reset by peer"}

    send_traces(spans, transport, relay.endpoints)

    def arrived():
        found = spans_by_id(relay.written())
        return found if set(expected) <= set(found) else None

    actual = wait_until(arrived, ARRIVAL_TIMEOUT_S, message=f"{len(expected)} spans in B's file")
    assert_views_equal(actual, expected, "span")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metrics_arrive_exactly_as_the_sdk_produced_them(relay: Relay, transport: str):
    case = f"{relay.forwarder}-{transport}-metrics"
    data = make_metrics(case)
    expected = metrics_by_name([encode_metrics(data)], case)

    metrics = {name: view["metric"] for name, view in expected.items()}
    requests_sum = metrics["e2e.requests"]["sum"]
    assert requests_sum["is_monotonic"] and requests_sum["aggregation_temporality"] == 2
    assert requests_sum["data_points"][0]["exemplars"][0]["trace_id"]
    assert not metrics["e2e.in_flight"]["sum"].get("is_monotonic")
    histogram_point = metrics["e2e.request.duration"]["histogram"]["data_points"][0]
    assert histogram_point["explicit_bounds"] == [0.0, 5.0, 10.0, 25.0, 100.0]
    assert {"bucket_counts", "sum", "count", "min", "max", "exemplars"} <= set(histogram_point)
    assert metrics["e2e.payload.size"]["exponential_histogram"]["data_points"][0]["positive"]
    assert len(metrics["e2e.temperature"]["gauge"]["data_points"]) == 2
    assert "as_double" in metrics["e2e.cpu.ratio"]["sum"]["data_points"][0]

    send_metrics(data, transport, relay.endpoints)

    def arrived():
        found = metrics_by_name(relay.written(), case)
        return found if set(expected) <= set(found) else None

    actual = wait_until(arrived, ARRIVAL_TIMEOUT_S, message=f"{len(expected)} metrics in B's file")
    assert_views_equal(actual, expected, "metric")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_logs_arrive_exactly_as_the_sdk_produced_them(relay: Relay, transport: str):
    case = f"{relay.forwarder}-{transport}-logs"
    records = make_logs(case)
    expected = logs_by_index([encode_logs(records)], case)

    bodies = {index: view["record"]["body"] for index, view in expected.items()}
    assert {next(iter(body)) for body in bodies.values()} == {
        "string_value", "kvlist_value", "array_value", "bytes_value", "int_value"}
    traced = expected["0"]["record"]
    assert traced["trace_id"] and traced["span_id"] and traced["observed_time_unix_nano"]
    assert expected["1"]["record"]["event_name"] == "e2e.event"
    assert "trace_id" not in expected[str(len(expected) - 1)]["record"]

    send_logs(records, transport, relay.endpoints)

    def arrived():
        found = logs_by_index(relay.written(), case)
        return found if set(expected) <= set(found) else None

    actual = wait_until(arrived, ARRIVAL_TIMEOUT_S, message=f"{len(expected)} logs in B's file")
    assert_views_equal(actual, expected, "log record")
