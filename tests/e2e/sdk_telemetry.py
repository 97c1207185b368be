"""Telemetry produced by the real OpenTelemetry Python SDK, captured with its in-memory exporter and
reader, and sent with its own OTLP exporters (gRPC, HTTP/protobuf) or as OTLP JSON.

Every span, metric and log record is tagged with a `test.case` resource attribute so that one
collector can carry several test cases at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetrics,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetrics,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExportResult
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry._logs import SeverityNumber

from otlp_json import to_otlp_json

TRANSPORTS = ("grpc", "http/protobuf", "http/json")

# A fixed base time, so nanosecond precision is visible (no trailing zeros).
T0 = 1_700_000_000_123_456_789
RESOURCE_SCHEMA = "https://opentelemetry.io/schemas/1.24.0"
SCOPE_SCHEMA = "https://opentelemetry.io/schemas/1.25.0"

EVERY_ATTRIBUTE_TYPE = {
    "attr.string": "text with ünïcode and \"quotes\"\nnewline",
    "attr.empty_string": "",
    "attr.bool_true": True,
    "attr.bool_false": False,
    "attr.int": 42,
    "attr.int_negative": -7,
    "attr.int_large": 9_007_199_254_740_993,  # above 2**53: exact only as a string in JSON
    "attr.int_min": -(2**63),
    "attr.double": 3.14159,
    "attr.double_negative": -0.5,
    "attr.double_large": 1.5e300,
    "attr.string_array": ("a", "b", ""),
    "attr.bool_array": (True, False, True),
    "attr.int_array": (1, -2, 2**62),
    "attr.double_array": (0.25, -1.5, 1e-9),
}


def resource(case: str) -> Resource:
    return Resource.create({
        "service.name": f"e2e-{case}",
        "test.case": case,
        "deployment.environment": "test",
        "host.cores": 2,
        "process.debug": False,
        "host.load": 0.75,
        "process.tags": ("alpha", "beta"),
    }, schema_url=RESOURCE_SCHEMA)


@dataclass
class Endpoints:
    """Collector A's OTLP receiver addresses."""
    grpc_port: int
    http_port: int

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


# ---------------------------------------------------------------- traces


def make_traces(case: str) -> tuple:
    """A small trace covering every span field, as the SDK records it."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource(case))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("e2e.tracer", "1.2.3", schema_url=SCOPE_SCHEMA,
                                 attributes={"scope.attr": "scope-value"})

    remote_parent = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
        is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "opaque-value"), ("other", "1")]))
    linked = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0x00F067AA0BA902B7,
        is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("linked", "state")]))

    server = tracer.start_span(
        "GET /orders/{id}", context=set_span_in_context(NonRecordingSpan(remote_parent)),
        kind=SpanKind.SERVER, attributes=EVERY_ATTRIBUTE_TYPE,
        links=[Link(linked, {"link.kind": "follows", "link.count": 2, "link.ok": True})],
        start_time=T0)
    server.add_event("request.received", {"bytes": 512, "compressed": False, "ratio": 0.5,
                                          "tags": ("x", "y")}, timestamp=T0 + 1_001)
    server.add_event("no-attributes", timestamp=T0 + 2_002)
    server_context = set_span_in_context(server)

    client = tracer.start_span("SELECT orders", context=server_context, kind=SpanKind.CLIENT,
                               attributes={"db.system": "postgresql", "db.rows": 3},
                               start_time=T0 + 10_000)
    client.set_status(Status(StatusCode.ERROR, "connection reset by peer"))
    client.add_event("exception", {"exception.type": "ConnectionResetError",
                                   "exception.message": "reset"}, timestamp=T0 + 15_000)
    client.end(end_time=T0 + 20_000)

    producer = tracer.start_span("orders publish", context=server_context,
                                 kind=SpanKind.PRODUCER, start_time=T0 + 21_000)
    producer.set_status(Status(StatusCode.OK))
    producer.end(end_time=T0 + 22_000)

    consumer = tracer.start_span("orders process", context=set_span_in_context(producer),
                                 kind=SpanKind.CONSUMER, start_time=T0 + 23_000,
                                 links=[Link(server.get_span_context())])
    consumer.end(end_time=T0 + 24_000)

    internal = tracer.start_span("render", context=server_context, kind=SpanKind.INTERNAL,
                                 start_time=T0 + 25_000)
    internal.end(end_time=T0 + 26_000)

    server.set_attribute("http.response.status_code", 200)
    server.end(end_time=T0 + 1_000_000_007)
    provider.shutdown()
    return memory.get_finished_spans()


def send_traces(spans, transport: str, endpoints: Endpoints) -> None:
    if transport == "grpc":
        exporter = GrpcSpans(endpoint=f"127.0.0.1:{endpoints.grpc_port}", insecure=True,
                             timeout=10)
    elif transport == "http/protobuf":
        exporter = HttpSpans(endpoint=f"{endpoints.http_base}/v1/traces", timeout=10)
    else:
        post_json(f"{endpoints.http_base}/v1/traces", encode_spans(spans))
        return
    try:
        result = exporter.export(spans)
        assert result == SpanExportResult.SUCCESS, f"the SDK's {transport} span export: {result}"
    finally:
        exporter.shutdown()


# ---------------------------------------------------------------- metrics


def make_metrics(case: str):
    """One collection covering every instrument kind, with exemplars from a sampled span."""
    reader = InMemoryMetricReader()
    views = [
        View(instrument_name="e2e.request.duration",
             aggregation=ExplicitBucketHistogramAggregation(boundaries=(0.0, 5.0, 10.0, 25.0, 100.0))),
        View(instrument_name="e2e.payload.size",
             aggregation=ExponentialBucketHistogramAggregation(max_size=20)),
    ]
    provider = MeterProvider(metric_readers=[reader], resource=resource(case), views=views,
                             exemplar_filter=AlwaysOnExemplarFilter())
    meter = provider.get_meter("e2e.meter", "4.5.6", schema_url=SCOPE_SCHEMA,
                               attributes={"meter.attr": True})

    requests_counter = meter.create_counter("e2e.requests", unit="{request}",
                                            description="Requests handled")
    in_flight = meter.create_up_down_counter("e2e.in_flight", unit="{request}")
    duration = meter.create_histogram("e2e.request.duration", unit="ms",
                                      description="Request latency")
    payload = meter.create_histogram("e2e.payload.size", unit="By")
    ratio = meter.create_counter("e2e.cpu.ratio")  # a float-valued sum

    def temperature(_options: CallbackOptions):
        yield Observation(21.5, {"room": "kitchen"})
        yield Observation(-3.25, {"room": "garage"})

    def queue_depth(_options: CallbackOptions):
        yield Observation(17, {"queue": "orders"})

    meter.create_observable_gauge("e2e.temperature", callbacks=[temperature], unit="Cel")
    meter.create_observable_up_down_counter("e2e.queue.depth", callbacks=[queue_depth])

    tracer_provider = TracerProvider(resource=resource(case))
    tracer = tracer_provider.get_tracer("e2e.exemplars")
    with tracer.start_as_current_span("measured"):
        requests_counter.add(3, {"route": "/orders", "ok": True})
        requests_counter.add(2, {"route": "/health", "ok": True})
        requests_counter.add(1, {"route": "/orders", "ok": False})
        in_flight.add(5, {"pool": "a"})
        in_flight.add(-2, {"pool": "a"})
        in_flight.add(-1, {"pool": "b"})
        for value in (0.0, 1.5, 4.999, 5.0, 7.25, 12.0, 99.5, 250.0):
            duration.record(value, {"route": "/orders"})
        for value in (1, 7, 64, 1000, 65536):
            payload.record(value)
        ratio.add(0.125)
        ratio.add(0.5)
    data = reader.get_metrics_data()
    provider.shutdown()
    tracer_provider.shutdown()
    return data


def send_metrics(data, transport: str, endpoints: Endpoints) -> None:
    if transport == "grpc":
        exporter = GrpcMetrics(endpoint=f"127.0.0.1:{endpoints.grpc_port}", insecure=True,
                               timeout=10)
    elif transport == "http/protobuf":
        exporter = HttpMetrics(endpoint=f"{endpoints.http_base}/v1/metrics", timeout=10)
    else:
        post_json(f"{endpoints.http_base}/v1/metrics", encode_metrics(data))
        return
    try:
        result = exporter.export(data)
        assert result == MetricExportResult.SUCCESS, f"the SDK's {transport} metric export: {result}"
    finally:
        exporter.shutdown()


# ---------------------------------------------------------------- logs


def make_logs(case: str):
    """Log records with every body type, severities, attributes, and trace context."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource(case))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("e2e.logger", "7.8.9", schema_url=SCOPE_SCHEMA,
                                 attributes={"logger.attr": 1})
    tracer_provider = TracerProvider(resource=resource(case))
    tracer = tracer_provider.get_tracer("e2e.logs")

    bodies = [
        ("a plain message", SeverityNumber.INFO, "INFO"),
        ({"event": "login", "user": {"id": 7, "admin": False}, "scores": [1.5, 2]},
         SeverityNumber.WARN2, "WARN2"),
        (["list", 1, True, 2.5], SeverityNumber.ERROR, "ERROR"),
        (b"\x00\x01binary\xff", SeverityNumber.DEBUG, "DEBUG"),
        (12345, SeverityNumber.FATAL4, "FATAL4"),
    ]
    with tracer.start_as_current_span("logging-span"):
        for index, (body, severity, text) in enumerate(bodies):
            logger.emit(timestamp=T0 + index * 1_000, observed_timestamp=T0 + index * 1_000 + 7,
                        severity_number=severity, severity_text=text, body=body,
                        attributes={**EVERY_ATTRIBUTE_TYPE, "log.index": index},
                        event_name="e2e.event" if index == 1 else None)
    # Outside any span: no trace context at all.
    logger.emit(timestamp=T0 + 9_000, severity_number=SeverityNumber.TRACE, body="untraced",
                attributes={"log.index": len(bodies)}, context=Context())
    provider.shutdown()
    tracer_provider.shutdown()
    return memory.get_finished_logs()


def send_logs(records, transport: str, endpoints: Endpoints) -> None:
    if transport == "grpc":
        exporter = GrpcLogs(endpoint=f"127.0.0.1:{endpoints.grpc_port}", insecure=True,
                            timeout=10)
    elif transport == "http/protobuf":
        exporter = HttpLogs(endpoint=f"{endpoints.http_base}/v1/logs", timeout=10)
    else:
        post_json(f"{endpoints.http_base}/v1/logs", encode_logs(records))
        return
    try:
        result = exporter.export(records)
        assert result == LogRecordExportResult.SUCCESS, f"the SDK's {transport} log export: {result}"
    finally:
        exporter.shutdown()


# ---------------------------------------------------------------- OTLP/HTTP JSON


def post_json(url: str, request) -> None:
    """Sends one request as OTLP JSON and checks the collector's JSON answer."""
    response = requests.post(url, json=to_otlp_json(request), timeout=10)
    assert response.status_code == 200, (
        f"POST {url} (OTLP JSON): HTTP {response.status_code} {response.text[:500]}")
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        f"an OTLP JSON request must be answered in JSON, got {response.headers}")
    answer = response.json()
    assert not answer.get("partialSuccess"), f"partial success reported: {answer}"
