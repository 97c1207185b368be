"""The `filter` processor with OTTL conditions as otelcol users write them, on telemetry from the
real OpenTelemetry Python SDK exported over OTLP; what the file exporter wrote is read back, and
the processor's self-metrics count what it dropped."""

from __future__ import annotations

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from harness import metric_value, start_file_sink, wait_until
from otlp_json import flat_items, read_json_lines

PROCESSORS = """
processors:
  filter/noise:
    error_mode: ignore
    traces:
      span:
        - 'attributes["http.route"] == "/healthz"'
        - 'kind == SPAN_KIND_INTERNAL and IsMatch(name, "^cache ")'
      spanevent:
        - 'name == "debug.snapshot"'
    metrics:
      datapoint:
        - 'metric.name == "http.server.requests" and attributes["http.route"] == "/metrics"'
    logs:
      log_record:
        - 'severity_number < SEVERITY_NUMBER_INFO'
        - 'IsMatch(body, "password")'
"""

PIPELINES = """
    traces: {receivers: [otlp], processors: [filter/noise], exporters: [file]}
    metrics: {receivers: [otlp], processors: [filter/noise], exporters: [file]}
    logs: {receivers: [otlp], processors: [filter/noise], exporters: [file]}
"""

RESOURCE = Resource.create({"service.name": "checkout"})


def send_spans(grpc_port: int) -> None:
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=10)
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e.filter")
    with tracer.start_as_current_span("GET /healthz", kind=SpanKind.SERVER,
                                      attributes={"http.route": "/healthz"}):
        pass
    with tracer.start_as_current_span("POST /pay", kind=SpanKind.SERVER,
                                      attributes={"http.route": "/pay"}) as pay:
        pay.add_event("debug.snapshot", {"size": 3})
        pay.add_event("payment.authorized")
        with tracer.start_as_current_span("cache lookup", kind=SpanKind.INTERNAL):
            pass
        with tracer.start_as_current_span("cache lookup", kind=SpanKind.CLIENT):
            pass
    provider.shutdown()


def send_metrics(grpc_port: int) -> None:
    exporter = OTLPMetricExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=10)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    requests = provider.get_meter("e2e.filter").create_counter("http.server.requests")
    for route, count in (("/pay", 2), ("/metrics", 7)):
        requests.add(count, {"http.route": route})
    provider.get_meter("e2e.filter").create_counter("scrapes").add(1, {"http.route": "/metrics"})
    provider.shutdown()


def send_logs(http_port: int) -> None:
    provider = LoggerProvider(resource=RESOURCE)
    exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/logs", timeout=10)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("e2e.filter")
    for body, severity in (("cache miss", SeverityNumber.DEBUG),
                           ("payment accepted", SeverityNumber.INFO),
                           ("password reset for user 7", SeverityNumber.WARN),
                           ("payment failed", SeverityNumber.ERROR)):
        logger.emit(body=body, severity_number=severity, severity_text=severity.name)
    provider.shutdown()


def test_ottl_conditions_drop_matching_spans_events_points_and_records(collectors):
    collector, ports = start_file_sink(collectors, "filter", PROCESSORS, PIPELINES)
    send_spans(ports["grpc"])
    send_metrics(ports["grpc"])
    send_logs(ports["http"])

    def received():
        items = flat_items(read_json_lines(ports["path"]))
        spans = [span for _, span in items["spans"]]
        points = [(name, point) for _, name, point in items["points"]]
        records = [record for _, record in items["records"]]
        # What the SDK sends that the filter keeps: 2 spans, 2 points, 2 log records.
        complete = len(spans) >= 2 and len(points) >= 2 and len(records) >= 2
        return (spans, points, records) if complete else None

    spans, points, records = wait_until(received, timeout=15, message="the kept telemetry")

    def incoming_and_outgoing(signal: str) -> tuple[float, float]:
        text = collector.metrics_text()
        labels = {"processor": "filter/noise", "otelcol_signal": signal}
        return (metric_value(text, "otelcol_processor_incoming_items", **labels),
                metric_value(text, "otelcol_processor_outgoing_items", **labels))

    counts = {signal: incoming_and_outgoing(signal) for signal in ("traces", "metrics", "logs")}
    assert collector.stop() == 0

    kept_spans = sorted((span.name, span.kind, [event.name for event in span.events])
                        for span in spans)
    assert kept_spans == [("POST /pay", 2, ["payment.authorized"]), ("cache lookup", 3, [])]

    kept_points = sorted((name, point.attributes[0].value.string_value, point.as_int)
                         for name, point in points)
    assert kept_points == [("http.server.requests", "/pay", 2), ("scrapes", "/metrics", 1)]

    assert sorted(record.body.string_value for record in records) == \
        ["payment accepted", "payment failed"]

    assert counts == {"traces": (4, 2), "metrics": (3, 2), "logs": (4, 2)}
