"""Plain Python views of what the `ebpf` receiver wrote through the file exporter: spans with
their resource, and metric data points, with OTLP attribute values decoded to Python values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otlp_json import read_json_lines

SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_ERROR = 2
SCOPE_NAME = "cormorant/ebpf"


def any_value(value):
    """An OTLP AnyValue as the Python value it holds (arrays as lists)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind)


def attributes(key_values) -> dict:
    return {item.key: any_value(item.value) for item in key_values}


@dataclass
class SystemSpan:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: dict
    resource: dict
    scope: str

    @property
    def pid(self) -> int | None:
        return self.resource.get("process.pid")

    def describe(self) -> str:
        return (f"{self.name!r} kind={self.kind} pid={self.pid} trace={self.trace_id} "
                f"span={self.span_id} parent={self.parent_span_id or '-'} "
                f"status={self.status_code} attributes={self.attributes}")


def read_spans(path: Path) -> list[SystemSpan]:
    spans = []
    for request in read_json_lines(path):
        if not isinstance(request, ExportTraceServiceRequest):
            continue
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(SystemSpan(
                        name=span.name, kind=span.kind, trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(), parent_span_id=span.parent_span_id.hex(),
                        start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
                        status_code=span.status.code, status_message=span.status.message,
                        attributes=attributes(span.attributes), resource=resource,
                        scope=scope_spans.scope.name))
    return spans


def only(spans: list[SystemSpan], what: str, kind: int, pid: int,
         **wanted_attributes) -> SystemSpan | None:
    """The one span of `kind` from process `pid` whose attributes include `wanted_attributes`
    (names with dots passed as `**{"url.path": ...}`); None while there is none. A second match
    fails: each exchange must be reported exactly once."""
    matches = [span for span in spans
               if span.kind == kind and span.pid == pid
               and all(span.attributes.get(key) == value
                       for key, value in wanted_attributes.items())]
    assert len(matches) <= 1, f"{len(matches)} spans for {what}:\n" + "\n".join(
        span.describe() for span in matches)
    return matches[0] if matches else None


@dataclass
class MetricPoint:
    name: str
    kind: str
    resource: dict
    attributes: dict
    time_ns: int
    value: float
    monotonic: bool
    temporality: int
    unit: str
    bounds: list[float]


def read_metric_points(path: Path, name: str) -> list[MetricPoint]:
    points = []
    for request in read_json_lines(path):
        if not isinstance(request, ExportMetricsServiceRequest):
            continue
        for resource_metrics in request.resource_metrics:
            resource = attributes(resource_metrics.resource.attributes)
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(_points(metric, resource))
    return points


def _points(metric, resource: dict) -> list[MetricPoint]:
    kind = metric.WhichOneof("data")
    data = getattr(metric, kind)
    found = []
    for point in data.data_points:
        if kind == "histogram":
            value, bounds = point.count, list(point.explicit_bounds)
        else:
            value = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
            bounds = []
        found.append(MetricPoint(
            name=metric.name, kind=kind, resource=resource,
            attributes=attributes(point.attributes), time_ns=point.time_unix_nano, value=value,
            monotonic=getattr(data, "is_monotonic", False),
            temporality=getattr(data, "aggregation_temporality", 0), unit=metric.unit,
            bounds=bounds))
    return found


def latest_cumulative(points: list[MetricPoint], pid: int, **wanted) -> MetricPoint | None:
    """The newest point of process `pid` whose attributes include `wanted` (names with `.`
    passed through a dict: `**{"span.kind": "server"}`); None before the first export."""
    matching = [point for point in points
                if point.resource.get("process.pid") == pid
                and all(point.attributes.get(key) == value for key, value in wanted.items())]
    return max(matching, key=lambda point: point.time_ns, default=None)
