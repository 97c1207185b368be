"""The `transform` processor with OTTL statements as otelcol users write them, on spans and log
records from the real OpenTelemetry Python SDK exported over OTLP; what the file exporter wrote
is read back."""

from __future__ import annotations

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from harness import start_file_sink, wait_until
from otlp_json import flat_items, read_json_lines

PROCESSORS = """
processors:
  transform:
    error_mode: ignore
    trace_statements:
      - 'set(resource.attributes["deployment.environment"], "production")'
      - context: span
        conditions: ['kind == SPAN_KIND_SERVER']
        statements:
          - 'replace_pattern(name, "/users/\\\\d+", "/users/{id}")'
          - 'set(attributes["http.route"], "/users/{id}") where IsMatch(name, "^GET /users/")'
          - 'delete_matching_keys(attributes, "^http\\\\.request\\\\.header\\\\.")'
    log_statements:
      - 'set(log.severity_text, "WARN") where log.severity_number == SEVERITY_NUMBER_WARN'
      - 'replace_all_patterns(log.attributes, "value", "\\\\d{4}-\\\\d{4}-\\\\d{4}-\\\\d{4}", "****")'
"""

PIPELINES = """
    traces: {receivers: [otlp], processors: [transform], exporters: [file]}
    logs: {receivers: [otlp], processors: [transform], exporters: [file]}
"""

RESOURCE = Resource.create({"service.name": "users"})


def attributes_of(item) -> dict:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in item.attributes}


def test_ottl_statements_edit_spans_resources_and_log_records(collectors):
    collector, ports = start_file_sink(collectors, "transform", PROCESSORS, PIPELINES)

    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{ports['grpc']}", insecure=True, timeout=10)
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tracer_provider.get_tracer("e2e.transform")
    with tracer.start_as_current_span("GET /users/17", kind=SpanKind.SERVER, attributes={
            "http.request.header.authorization": "Bearer t", "user.id": 17}):
        with tracer.start_as_current_span("GET /users/17/avatar", kind=SpanKind.CLIENT):
            pass
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"http://127.0.0.1:{ports['http']}/v1/logs", timeout=10)))
    logger_provider.get_logger("e2e.transform").emit(
        body="card declined", severity_number=SeverityNumber.WARN, severity_text="warning",
        attributes={"card": "4111-1111-1111-1111", "attempt": 2})
    logger_provider.shutdown()

    def received():
        items = flat_items(read_json_lines(ports["path"]))
        return items if len(items["spans"]) == 2 and len(items["records"]) == 1 else None

    items = wait_until(received, timeout=15, message="2 spans and 1 log record")
    assert collector.stop() == 0

    spans = {span.kind: (resource, span) for resource, span in items["spans"]}
    server_resource, server = spans[2]
    _, client = spans[3]
    assert attributes_of(server_resource)["deployment.environment"] == "production"
    assert server.name == "GET /users/{id}"
    assert attributes_of(server) == {"http.route": "/users/{id}", "user.id": 17}
    assert client.name == "GET /users/17/avatar", "the group is for server spans only"

    [(_, record)] = items["records"]
    assert record.severity_text == "WARN"
    assert attributes_of(record) == {"card": "****", "attempt": 2}
