"""The pipeline graph as otelcol users rely on it: a receiver named in several pipelines feeds
all of them, a pipeline fans out to every exporter it lists, and signals stay in their own
pipelines."""

from __future__ import annotations

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from harness import free_port, otlp_receiver, service, wait_until
from otlp_json import read_json_lines, spans_by_id
from raw_otlp import SPANS_PER_REQUEST, traces_request

REQUESTS = 5


def test_shared_receiver_feeds_every_pipeline_and_each_pipeline_fans_out(collectors):
    grpc_port, health_port, metrics_port = (free_port() for _ in range(3))
    paths = {name: collectors.workdir / f"{name}.json" for name in ("a", "b", "c", "metrics")}
    config = {
        "receivers": {"otlp": otlp_receiver(grpc_port, None)},
        "processors": {"batch": {"timeout": "50ms"}, "batch/other": {"send_batch_size": 2}},
        "exporters": {f"file/{name}": {"path": str(path), "flush_interval": "100ms"}
                      for name, path in paths.items()},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": service({
            "traces": {"receivers": ["otlp"], "processors": ["batch"],
                       "exporters": ["file/a", "file/b"]},
            "traces/second": {"receivers": ["otlp"], "processors": ["batch/other"],
                              "exporters": ["file/c"]},
            "metrics": {"receivers": ["otlp"], "exporters": ["file/metrics"]},
        }, metrics_port),
    }
    collector = collectors.start("graph", config, health_port=health_port,
                                 metrics_port=metrics_port)

    expected = set()
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = TraceServiceStub(channel)
        for number in range(REQUESTS):
            request, span_ids = traces_request(number)
            stub.Export(request, timeout=10)
            expected.update(span_ids)
    assert len(expected) == REQUESTS * SPANS_PER_REQUEST

    def spans_in(name):
        path = paths[name]
        return set(spans_by_id(read_json_lines(path))) if path.exists() else set()

    for name in ("a", "b", "c"):
        wait_until(lambda name=name: spans_in(name) == expected, timeout=10,
                   message=f"every span in file/{name}")
    assert collector.stop() == 0
    for name in ("a", "b", "c"):
        assert spans_in(name) == expected, f"file/{name} after shutdown"
    assert spans_in("metrics") == set(), "traces leaked into the metrics pipeline"
