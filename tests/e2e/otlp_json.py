"""OTLP JSON as the specification defines it, built from and read back into the protobuf classes
the OpenTelemetry Python SDK ships, plus the views the end-to-end tests compare on.

protobuf's own JSON mapping differs from OTLP JSON in one way: trace and span IDs are hex
strings in OTLP, base64 in protobuf. Everything else (lowerCamelCase keys, 64-bit integers as
decimal strings, other bytes as base64) is the same, and enums are written as integers as OTLP
requires.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# The bytes fields that OTLP JSON writes as hex: on Span, Span.Link, LogRecord and Exemplar.
HEX_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})

REQUEST_TYPES = {
    "resourceSpans": ExportTraceServiceRequest,
    "resourceMetrics": ExportMetricsServiceRequest,
    "resourceLogs": ExportLogsServiceRequest,
}


def _convert_ids(value, convert):
    if isinstance(value, dict):
        return {key: (convert(item) if key in HEX_ID_KEYS and isinstance(item, str)
                      else _convert_ids(item, convert))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_convert_ids(item, convert) for item in value]
    return value


def _base64_to_hex(text: str) -> str:
    return base64.b64decode(text).hex()


def _hex_to_base64(text: str) -> str:
    return base64.b64encode(bytes.fromhex(text)).decode()


def to_otlp_json(message: Message) -> dict:
    """The OTLP JSON object of a protobuf request."""
    as_protobuf_json = json_format.MessageToDict(message, use_integers_for_enums=True)
    return _convert_ids(as_protobuf_json, _base64_to_hex)


def from_otlp_json(document: dict) -> Message:
    """Parses one OTLP JSON request strictly: an unknown field or a malformed value raises."""
    kinds = [key for key in document if key in REQUEST_TYPES]
    if len(kinds) != 1:
        raise ValueError(f"not an OTLP export request: keys {sorted(document)}")
    message = REQUEST_TYPES[kinds[0]]()
    json_format.ParseDict(_convert_ids(document, _hex_to_base64), message)
    return message


def read_json_lines(path: Path) -> list[Message]:
    """Every complete line the file exporter wrote, parsed as an OTLP request."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [from_otlp_json(json.loads(line)) for line in complete.splitlines() if line.strip()]


def as_dict(message: Message) -> dict:
    """A comparable view of a protobuf message (field names as in the .proto)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     use_integers_for_enums=True)


def resource_attribute(resource, key: str):
    for attribute in resource.attributes:
        if attribute.key == key:
            return attribute.value.string_value
    return None


def spans_by_id(requests) -> dict[str, dict]:
    """Each span with its resource and scope, keyed by hex span ID."""
    found = {}
    for request in requests:
        if not isinstance(request, ExportTraceServiceRequest):
            continue
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found[span.span_id.hex()] = {
                        "resource": as_dict(resource_spans.resource),
                        "resource_schema_url": resource_spans.schema_url,
                        "scope": as_dict(scope_spans.scope),
                        "scope_schema_url": scope_spans.schema_url,
                        "span": as_dict(span),
                    }
    return found


def _points_key(metric) -> str:
    return metric.WhichOneof("data")


def metrics_by_name(requests, case: str) -> dict[str, dict]:
    """Each metric of the resource tagged `test.case = case`, with its resource and scope, keyed by
    metric name. A metric split across requests is joined back by concatenating its points."""
    found: dict[str, dict] = {}
    for request in requests:
        if not isinstance(request, ExportMetricsServiceRequest):
            continue
        for resource_metrics in request.resource_metrics:
            if resource_attribute(resource_metrics.resource, "test.case") != case:
                continue
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    view = {
                        "resource": as_dict(resource_metrics.resource),
                        "resource_schema_url": resource_metrics.schema_url,
                        "scope": as_dict(scope_metrics.scope),
                        "scope_schema_url": scope_metrics.schema_url,
                        "metric": as_dict(metric),
                    }
                    earlier = found.get(metric.name)
                    if earlier is None:
                        found[metric.name] = view
                    else:
                        kind = _points_key(metric)
                        earlier["metric"][kind]["data_points"].extend(
                            view["metric"][kind]["data_points"])
    return found


def logs_by_index(requests, case: str) -> dict[str, dict]:
    """Each log record of the resource tagged `test.case = case`, keyed by its `log.index`
    attribute, with its resource and scope."""
    found = {}
    for request in requests:
        if not isinstance(request, ExportLogsServiceRequest):
            continue
        for resource_logs in request.resource_logs:
            if resource_attribute(resource_logs.resource, "test.case") != case:
                continue
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    index = next(a.value.int_value for a in record.attributes
                                 if a.key == "log.index")
                    found[str(index)] = {
                        "resource": as_dict(resource_logs.resource),
                        "resource_schema_url": resource_logs.schema_url,
                        "scope": as_dict(scope_logs.scope),
                        "scope_schema_url": scope_logs.schema_url,
                        "record": as_dict(record),
                    }
    return found


def flat_items(requests) -> dict[str, list]:
    """Every span, log record and number data point of `requests` with its resource:
    `spans` as (resource, span), `records` as (resource, record), `points` as
    (resource, metric name, point) for gauges and sums."""
    items: dict[str, list] = {"spans": [], "records": [], "points": []}
    for request in requests:
        if isinstance(request, ExportTraceServiceRequest):
            items["spans"] += [(rs.resource, span) for rs in request.resource_spans
                               for ss in rs.scope_spans for span in ss.spans]
        elif isinstance(request, ExportLogsServiceRequest):
            items["records"] += [(rl.resource, record) for rl in request.resource_logs
                                 for sl in rl.scope_logs for record in sl.log_records]
        elif isinstance(request, ExportMetricsServiceRequest):
            items["points"] += [
                (rm.resource, metric.name, point)
                for rm in request.resource_metrics for sm in rm.scope_metrics
                for metric in sm.metrics
                for point in getattr(metric, metric.WhichOneof("data") or "gauge").data_points
                if metric.WhichOneof("data") in ("gauge", "sum")]
    return items
