"""Hand-built OTLP trace requests whose span IDs tell every request and span apart."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

SPANS_PER_REQUEST = 3


def traces_request(request_number: int) -> tuple[ExportTraceServiceRequest, list[str]]:
    """A request whose span IDs encode the request number, so every span is told apart."""
    spans = []
    for index in range(SPANS_PER_REQUEST):
        span_id = (request_number * 16 + index + 1).to_bytes(8, "big")
        spans.append(Span(
            trace_id=bytes.fromhex("7e57ba5e") + request_number.to_bytes(12, "big"),
            span_id=span_id, name=f"request-{request_number}-span-{index}",
            kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=1_700_000_000_000_000_000,
            end_time_unix_nano=1_700_000_000_500_000_000))
    resource = Resource(attributes=[
        KeyValue(key="service.name", value=AnyValue(string_value="backpressure"))])
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=resource,
        scope_spans=[ScopeSpans(scope=InstrumentationScope(name="e2e"), spans=spans)])])
    return request, [span.span_id.hex() for span in spans]
