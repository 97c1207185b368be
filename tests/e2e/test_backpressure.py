"""Back-pressure end to end: a full sending queue makes the receiver refuse with a retryable
status instead of dropping data, and everything it acknowledged is delivered once the
destination comes up.

Collector A: OTLP receiver → `otlp` exporter towards a port where nothing listens yet, with a
queue of 2 requests and 1 consumer, retrying every few hundred milliseconds for minutes. Raw OTLP
requests (HTTP/protobuf via requests, gRPC via the generated stub) each carry spans with distinct
IDs. Then collector B starts on that port and writes what it receives to a file.
"""

from __future__ import annotations

import email.utils
import time

import grpc
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from harness import (
    all_signals,
    file_sink_config,
    free_port,
    metric_value,
    otlp_receiver,
    service,
    wait_until,
)
from otlp_json import read_json_lines, spans_by_id
from raw_otlp import traces_request

QUEUE_SIZE = 2
CONSUMERS = 1
REQUESTS_PER_TRANSPORT = 12


def assert_retry_after_is_valid(value: str | None) -> None:
    if value is None:
        return
    if value.strip().isdigit():
        return
    assert email.utils.parsedate_to_datetime(value), f"Retry-After {value!r} is neither seconds nor a date"


def test_full_queue_refuses_with_retryable_status_and_loses_nothing_acknowledged(collectors):
    b_grpc, b_http, b_health, b_metrics = (free_port() for _ in range(4))
    a_grpc, a_http, a_health, a_metrics = (free_port() for _ in range(4))
    a = collectors.start("A", {
        "receivers": {"otlp": otlp_receiver(a_grpc, a_http)},
        "exporters": {"otlp": {
            "endpoint": f"127.0.0.1:{b_grpc}",
            "tls": {"insecure": True},
            "timeout": "1s",
            "sending_queue": {"queue_size": QUEUE_SIZE, "num_consumers": CONSUMERS},
            "retry_on_failure": {"initial_interval": "100ms", "max_interval": "300ms",
                                 "max_elapsed_time": "10m"},
        }},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{a_health}"}},
        "service": service(all_signals(["otlp"], [], ["otlp"]), a_metrics),
    }, health_port=a_health, metrics_port=a_metrics)
    metrics_before = a.metrics_text()

    acknowledged: list[str] = []
    refused = {"http": [], "grpc": []}
    accepted_requests = 0
    channel = grpc.insecure_channel(f"127.0.0.1:{a_grpc}")
    stub = TraceServiceStub(channel)
    try:
        for number in range(REQUESTS_PER_TRANSPORT):
            # Alternate transports so both see the queue before and after it fills.
            request, span_ids = traces_request(2 * number)
            response = requests.post(
                f"http://127.0.0.1:{a_http}/v1/traces", data=request.SerializeToString(),
                headers={"Content-Type": "application/x-protobuf"}, timeout=10)
            if response.status_code == 200:
                acknowledged.extend(span_ids)
                accepted_requests += 1
            else:
                assert response.status_code == 503, (
                    f"HTTP request {number}: a full queue must answer 503, got "
                    f"{response.status_code} {response.text[:300]}")
                assert_retry_after_is_valid(response.headers.get("Retry-After"))
                refused["http"].extend(span_ids)

            request, span_ids = traces_request(2 * number + 1)
            try:
                stub.Export(request, timeout=10)
                acknowledged.extend(span_ids)
                accepted_requests += 1
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE, (
                    f"gRPC request {number}: a full queue must answer UNAVAILABLE, got "
                    f"{error.code()} {error.details()}")
                refused["grpc"].extend(span_ids)
    finally:
        channel.close()

    assert acknowledged, "the first requests fit the queue and must be accepted"
    assert refused["http"], "once the queue is full, OTLP/HTTP requests must get 503"
    assert refused["grpc"], "once the queue is full, OTLP/gRPC requests must get UNAVAILABLE"
    assert accepted_requests <= QUEUE_SIZE + CONSUMERS, (
        f"{accepted_requests} requests accepted with room for {QUEUE_SIZE} queued and "
        f"{CONSUMERS} in flight: the queue is not bounded")

    metrics_after = a.metrics_text()
    for transport, span_ids in refused.items():
        labels = {"receiver": "otlp", "transport": transport}
        increase = (metric_value(metrics_after, "otelcol_receiver_refused_spans", **labels)
                    - metric_value(metrics_before, "otelcol_receiver_refused_spans", **labels))
        assert increase == len(span_ids), (
            f"otelcol_receiver_refused_spans{labels} rose by {increase}, "
            f"{len(span_ids)} spans were refused")

    output = collectors.workdir / "b-output.json"
    b = collectors.start("B", file_sink_config(b_grpc, b_http, b_health, b_metrics, output),
                         health_port=b_health, metrics_port=b_metrics)

    def all_acknowledged_arrived():
        found = spans_by_id(read_json_lines(output))
        return found if set(acknowledged) <= set(found) else None

    try:
        wait_until(all_acknowledged_arrived, 30,
                               message=f"{len(acknowledged)} acknowledged spans in B's file")
    except AssertionError:
        found = spans_by_id(read_json_lines(output))
        lost = sorted(set(acknowledged) - set(found))
        raise AssertionError(f"{len(lost)} acknowledged spans were lost: {lost}") from None

    # Refused data belongs to the client, which may resend it: delivering it too would duplicate.
    time.sleep(1)
    delivered = spans_by_id(read_json_lines(output))
    refused_ids = set(refused["http"]) | set(refused["grpc"])
    assert not refused_ids & set(delivered), "refused spans must not be delivered"
    assert len(delivered) == len(acknowledged)

    assert a.stop() == 0
    assert b.stop() == 0
