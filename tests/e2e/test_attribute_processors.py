"""The `resource` and `attributes` processors as otelcol users configure them: the same YAML, with
telemetry from the real OpenTelemetry Python SDK exported over OTLP, and what the file exporter
wrote read back.

Expected values are worked out here independently: hashes with Python's hashlib, the extracted
route and converted types from the inputs the test chose.
"""

from __future__ import annotations

import hashlib
import subprocess

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from harness import cormorant_binary, file_sink_yaml, free_port, start_file_sink, wait_until
from otlp_json import flat_items, read_json_lines

PROCESSORS = """
processors:
  resource:
    attributes:
      - {key: deployment.environment, value: production, action: upsert}
      - {key: host.name, action: delete}
  attributes/redact:
    include:
      match_type: strict
      services: [checkout]
    exclude:
      match_type: regexp
      span_names: ["^GET /health"]
    actions:
      - {key: user.email, action: hash}
      - {pattern: "^http\\\\.request\\\\.header\\\\.", action: delete}
      - {key: url.full, pattern: "^https?://[^/]+(?P<route>/[^?]*)", action: extract}
      - {key: team, value: payments, action: insert}
  attributes/warnings:
    include:
      match_type: strict
      log_severity_number: {min: WARN}
    actions:
      - {key: alert, value: true, action: insert}
  attributes/status:
    include:
      match_type: regexp
      metric_names: ["^http\\\\."]
    actions:
      - {key: http.response.status_code, converted_type: int, action: convert}
"""

PIPELINES = """
    traces:
      receivers: [otlp]
      processors: [resource, attributes/redact]
      exporters: [file]
    logs:
      receivers: [otlp]
      processors: [resource, attributes/warnings]
      exporters: [file]
    metrics:
      receivers: [otlp]
      processors: [resource, attributes/status]
      exporters: [file]
"""

EMAIL = "ada@example.com"


def sdk_resource(service_name: str) -> Resource:
    return Resource.create({"service.name": service_name, "host.name": "build-7",
                            "deployment.environment": "dev"})


def attributes_of(item) -> dict:
    """A span's, record's, point's or resource's attributes as Python values."""
    values = {}
    for attribute in item.attributes:
        kind = attribute.value.WhichOneof("value")
        values[attribute.key] = getattr(attribute.value, kind) if kind else None
    return values


def send_spans(grpc_port: int) -> None:
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=10)
    for service_name in ("checkout", "search"):
        provider = TracerProvider(resource=sdk_resource(service_name))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("e2e.attributes")
        with tracer.start_as_current_span("POST /pay", kind=SpanKind.SERVER, attributes={
                "user.email": EMAIL,
                "http.request.header.authorization": "Bearer secret",
                "http.request.header.cookie": "session=1",
                "url.full": "https://shop.example/api/pay?card=4111"}):
            pass
        with tracer.start_as_current_span("GET /healthz", attributes={"user.email": EMAIL}):
            pass
        provider.force_flush()
    exporter.shutdown()


def send_logs(http_port: int) -> None:
    provider = LoggerProvider(resource=sdk_resource("checkout"))
    exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/logs", timeout=10)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("e2e.attributes")
    for body, severity in (("cache warm", SeverityNumber.INFO),
                           ("payment slow", SeverityNumber.WARN),
                           ("payment failed", SeverityNumber.ERROR)):
        logger.emit(body=body, severity_number=severity, severity_text=severity.name)
    provider.shutdown()


def send_metrics(grpc_port: int) -> None:
    exporter = OTLPMetricExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=10)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(resource=sdk_resource("checkout"), metric_readers=[reader])
    meter = provider.get_meter("e2e.attributes")
    meter.create_counter("http.server.requests").add(3, {"http.response.status_code": "503"})
    meter.create_counter("queue.items").add(5, {"http.response.status_code": "200"})
    provider.shutdown()


def test_resource_and_attribute_actions_reach_the_exporter_as_otelcol_applies_them(collectors):
    collector, ports = start_file_sink(collectors, "attributes", PROCESSORS, PIPELINES)
    send_spans(ports["grpc"])
    send_logs(ports["http"])
    send_metrics(ports["grpc"])

    def received():
        items = flat_items(read_json_lines(ports["path"]))
        spans, records, points = items["spans"], items["records"], items["points"]
        complete = len(spans) == 4 and len(records) == 3 and len(points) == 2
        return (spans, records, points) if complete else None

    spans, records, points = wait_until(received, timeout=15,
                                        message="4 spans, 3 log records and 2 points")
    assert collector.stop() == 0

    for resource, *_ in spans + records + points:
        resource_attributes = attributes_of(resource)
        assert resource_attributes["deployment.environment"] == "production"
        assert "host.name" not in resource_attributes

    by_service_and_name = {(attributes_of(resource)["service.name"], span.name):
                           attributes_of(span) for resource, span in spans}
    redacted = by_service_and_name[("checkout", "POST /pay")]
    assert redacted == {
        "user.email": hashlib.sha256(EMAIL.encode()).hexdigest(),
        "url.full": "https://shop.example/api/pay?card=4111",
        "route": "/api/pay",
        "team": "payments",
    }
    assert by_service_and_name[("checkout", "GET /healthz")] == {"user.email": EMAIL}, \
        "excluded by span name"
    other_service = by_service_and_name[("search", "POST /pay")]
    assert other_service["user.email"] == EMAIL and "team" not in other_service, \
        "only service checkout is included"
    assert other_service["http.request.header.authorization"] == "Bearer secret"

    alerts = {record.body.string_value: attributes_of(record).get("alert")
              for _, record in records}
    assert alerts == {"cache warm": None, "payment slow": True, "payment failed": True}

    statuses = {name: attributes_of(point)["http.response.status_code"]
                for _, name, point in points}
    assert statuses == {"http.server.requests": 503, "queue.items": "200"}


def test_a_bad_action_stops_the_collector_with_the_reason(tmp_path):
    config = tmp_path / "bad.yaml"
    ports = {key: free_port() for key in ("grpc", "http", "health", "metrics")}
    bad = PROCESSORS.replace("action: hash", "action: rename")
    config.write_text(file_sink_yaml(bad, PIPELINES, {**ports, "path": tmp_path / "out.json"}))
    result = subprocess.run([str(cormorant_binary()), "validate", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert 'unsupported action "rename"' in result.stderr, result.stderr
    assert "attributes/redact" in result.stderr, result.stderr


def test_from_context_reads_the_client_address_and_request_headers(collectors):
    """`from_context` takes the sender's address and, with `include_metadata: true`, its headers
    (gRPC metadata or HTTP headers), as otelcol does for processors before `batch`."""
    grpc, http, health, metrics = (free_port() for _ in range(4))
    path = collectors.workdir / "context.json"
    config = {
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{grpc}", "include_metadata": True},
            "http": {"endpoint": f"127.0.0.1:{http}", "include_metadata": True}}}},
        "processors": {"attributes/client": {"actions": [
            {"key": "tenant", "from_context": "metadata.x-tenant", "action": "insert"},
            {"key": "sender", "from_context": "client.address", "action": "insert"}]}},
        "exporters": {"file": {"path": str(path), "flush_interval": "100ms"}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health}"}},
        "service": {"extensions": ["health_check"],
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{metrics}"}},
                    "pipelines": {"traces": {"receivers": ["otlp"],
                                             "processors": ["attributes/client"],
                                             "exporters": ["file"]}}},
    }
    collector = collectors.start("from-context", config, health_port=health,
                                 metrics_port=metrics)
    exporters = {
        "grpc": OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc}", insecure=True, timeout=10,
                                 headers=(("x-tenant", "acme-grpc"),)),
        "http": HttpSpanExporter(endpoint=f"http://127.0.0.1:{http}/v1/traces", timeout=10,
                                 headers={"X-Tenant": "acme-http"}),
    }
    for transport, exporter in exporters.items():
        provider = TracerProvider(resource=sdk_resource("checkout"))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("e2e.context").start_as_current_span(f"via {transport}"):
            pass
        provider.shutdown()

    def spans():
        found = {span.name: attributes_of(span)
                 for _, span in flat_items(read_json_lines(path))["spans"]}
        return found if len(found) == 2 else None

    found = wait_until(spans, timeout=15, message="one span per transport")
    assert collector.stop() == 0
    assert found == {
        "via grpc": {"tenant": "acme-grpc", "sender": "127.0.0.1"},
        "via http": {"tenant": "acme-http", "sender": "127.0.0.1"},
    }


def test_batch_metadata_keys_carry_the_tenant_past_the_batch(collectors):
    """`batch` with `metadata_keys` batches per tenant and sends each batch on as that tenant,
    so an `attributes` processor after it still reads `metadata.x-tenant`."""
    http, health, metrics = free_port(), free_port(), free_port()
    path = collectors.workdir / "tenants.json"
    config = {
        "receivers": {"otlp": {"protocols": {
            "http": {"endpoint": f"127.0.0.1:{http}", "include_metadata": True}}}},
        "processors": {
            "batch": {"timeout": "200ms", "metadata_keys": ["x-tenant"]},
            "attributes/tenant": {"actions": [
                {"key": "tenant", "from_context": "metadata.x-tenant", "action": "insert"}]}},
        "exporters": {"file": {"path": str(path), "flush_interval": "100ms"}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health}"}},
        "service": {"extensions": ["health_check"],
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{metrics}"}},
                    "pipelines": {"traces": {"receivers": ["otlp"],
                                             "processors": ["batch", "attributes/tenant"],
                                             "exporters": ["file"]}}},
    }
    collector = collectors.start("tenants", config, health_port=health, metrics_port=metrics)
    for tenant in ("acme", "globex", "acme"):
        exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{http}/v1/traces", timeout=10,
                                    headers={"X-Tenant": tenant})
        provider = TracerProvider(resource=sdk_resource("checkout"))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("e2e.tenants").start_as_current_span(f"for {tenant}"):
            pass
        provider.shutdown()

    def spans():
        found = [(span.name, attributes_of(span).get("tenant"))
                 for _, span in flat_items(read_json_lines(path))["spans"]]
        return found if len(found) == 3 else None

    found = wait_until(spans, timeout=15, message="three spans")
    assert collector.stop() == 0
    assert sorted(found) == [("for acme", "acme"), ("for acme", "acme"),
                             ("for globex", "globex")]
