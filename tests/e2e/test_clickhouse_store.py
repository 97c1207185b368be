"""OpenTelemetry Python SDK -> cormorant -> the `clickhouse` exporter -> a real ClickHouse engine
(chdb-core behind ClickHouse's HTTP interface), read back with SQL: every field, the queries
Grafana's ClickHouse data source issues in OTel mode, and an outage of the store under load."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from clickhouse_store import (
    SPAN_KINDS, STATUS_CODES, Store, as_string, assert_attributes, assert_value, hex_id,
)
from harness import CollectorPool, free_port, otlp_receiver, service, wait_until
from raw_otlp import SPANS_PER_REQUEST, traces_request
from sdk_telemetry import (
    Endpoints, make_logs, make_metrics, make_traces, send_logs, send_metrics, send_traces,
)

DATABASE = "e2e"


def clickhouse_collector(store: Store, grpc_port: int, http_port: int, health_port: int,
                         metrics_port: int, **exporter) -> dict:
    settings = {"endpoint": store.url, "database": DATABASE, "compress": "lz4",
                "timeout": "10s", **exporter}
    settings.setdefault("sending_queue", {})
    settings["sending_queue"].setdefault("batch", {"flush_timeout": "200ms"})
    pipeline = {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["clickhouse"]}
    return {
        "receivers": {"otlp": otlp_receiver(grpc_port, http_port)},
        "processors": {"batch": {"timeout": "100ms"}},
        "exporters": {"clickhouse": settings},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": service({s: pipeline for s in ("traces", "metrics", "logs")}, metrics_port),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("clickhouse")
    store = Store(workdir / "data", workdir / "store.log").start()
    pool = CollectorPool(workdir)
    grpc_port, http_port, health_port, metrics_port = (free_port() for _ in range(4))
    pool.start("to-clickhouse", clickhouse_collector(store, grpc_port, http_port, health_port,
                                                     metrics_port),
               health_port=health_port, metrics_port=metrics_port)
    yield store, Endpoints(grpc_port, http_port)
    pool.close()
    store.stop()


def wait_for_rows(store: Store, table: str, case: str, count: int) -> None:
    where = f"ResourceAttributes['test.case'] = '{case}'"
    wait_until(lambda: store.scalar(f"SELECT count() FROM {DATABASE}.{table} WHERE {where}")
               >= count, timeout=30, message=f"{count} rows of {case} in {table}")
    assert store.scalar(f"SELECT count() FROM {DATABASE}.{table} WHERE {where}") == count


def test_every_span_field_is_stored(stack):
    store, endpoints = stack
    spans = make_traces("ch-traces")
    send_traces(spans, "grpc", endpoints)
    wait_for_rows(store, "otel_traces", "ch-traces", len(spans))

    rows = store.rows(
        f"SELECT *, toUnixTimestamp64Nano(Timestamp) AS ts, "
        f"arrayMap(t -> toString(toUnixTimestamp64Nano(t)), `Events.Timestamp`) AS event_ts "
        f"FROM {DATABASE}.otel_traces WHERE ResourceAttributes['test.case'] = 'ch-traces'")
    stored = {row["SpanId"]: row for row in rows}
    request = encode_spans(spans)
    checked = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                row = stored[hex_id(span.span_id)]
                what = f"span {span.name}"
                assert row["TraceId"] == hex_id(span.trace_id), what
                assert row["ParentSpanId"] == hex_id(span.parent_span_id), what
                assert row["TraceState"] == span.trace_state, what
                assert row["SpanName"] == span.name, what
                assert row["SpanKind"] == SPAN_KINDS[span.kind], what
                assert row["ServiceName"] == "e2e-ch-traces", what
                assert int(row["ts"]) == span.start_time_unix_nano, what
                assert int(row["Duration"]) == span.end_time_unix_nano - span.start_time_unix_nano
                assert row["StatusCode"] == STATUS_CODES[span.status.code], what
                assert row["StatusMessage"] == span.status.message, what
                assert row["ScopeName"] == scope_spans.scope.name, what
                assert row["ScopeVersion"] == scope_spans.scope.version, what
                assert_attributes(row["ResourceAttributes"], resource_spans.resource.attributes,
                                  f"{what} resource")
                assert_attributes(row["SpanAttributes"], span.attributes, f"{what} attributes")
                assert row["Events.Name"] == [event.name for event in span.events], what
                assert [int(t) for t in row["event_ts"]] == [
                    event.time_unix_nano for event in span.events], what
                for stored_event, event in zip(row["Events.Attributes"], span.events):
                    assert_attributes(stored_event, event.attributes, f"{what} event")
                assert row["Links.TraceId"] == [hex_id(link.trace_id) for link in span.links]
                assert row["Links.SpanId"] == [hex_id(link.span_id) for link in span.links]
                assert row["Links.TraceState"] == [link.trace_state for link in span.links]
                for stored_link, link in zip(row["Links.Attributes"], span.links):
                    assert_attributes(stored_link, link.attributes, f"{what} link")
                assert row["SpanSource"] == "app", "SDK spans are application spans"
                checked += 1
    assert checked == len(spans) == len(stored)


def test_every_log_field_is_stored(stack):
    store, endpoints = stack
    records = make_logs("ch-logs")
    send_logs(records, "http/protobuf", endpoints)
    wait_for_rows(store, "otel_logs", "ch-logs", len(records))
    rows = store.rows(f"SELECT *, toUnixTimestamp64Nano(Timestamp) AS ts FROM {DATABASE}.otel_logs "
                      f"WHERE ResourceAttributes['test.case'] = 'ch-logs' ORDER BY ts")
    request = encode_logs(records)
    expected = sorted(
        ((resource_logs, scope_logs, record)
         for resource_logs in request.resource_logs
         for scope_logs in resource_logs.scope_logs
         for record in scope_logs.log_records),
        key=lambda item: item[2].time_unix_nano or item[2].observed_time_unix_nano)
    assert len(rows) == len(expected)
    for row, (resource_logs, scope_logs, record) in zip(rows, expected):
        what = f"log {record.severity_text}"
        assert int(row["ts"]) == (record.time_unix_nano or record.observed_time_unix_nano), what
        assert_value(row["Body"], record.body, f"{what} body")
        assert row["SeverityText"] == record.severity_text, what
        assert int(row["SeverityNumber"]) == record.severity_number, what
        assert row["TraceId"] == hex_id(record.trace_id), what
        assert row["SpanId"] == hex_id(record.span_id), what
        assert int(row["TraceFlags"]) == record.flags & 0xFF, what
        assert row["EventName"] == record.event_name, what
        assert row["ScopeName"] == scope_logs.scope.name, what
        assert_attributes(row["LogAttributes"], record.attributes, f"{what} attributes")
        assert_attributes(row["ScopeAttributes"], scope_logs.scope.attributes, f"{what} scope")


def test_every_metric_type_is_stored_with_buckets_and_exemplars(stack):
    store, endpoints = stack
    data = make_metrics("ch-metrics")
    send_metrics(data, "http/json", endpoints)
    request = encode_metrics(data)
    metrics = {m.name: m for rm in request.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics}
    tables = {"sum": "otel_metrics_sum", "gauge": "otel_metrics_gauge",
              "histogram": "otel_metrics_histogram",
              "exponential_histogram": "otel_metrics_exp_histogram"}
    for name, metric in metrics.items():
        kind = metric.WhichOneof("data")
        points = getattr(metric, kind).data_points
        table = tables[kind]
        where = f"ResourceAttributes['test.case'] = 'ch-metrics' AND MetricName = '{name}'"
        wait_until(lambda: store.scalar(f"SELECT count() FROM {DATABASE}.{table} WHERE {where}")
                   >= len(points), timeout=30, message=f"{name} in {table}")
        rows = store.rows(f"SELECT *, toUnixTimestamp64Nano(TimeUnix) AS t, "
                          f"toUnixTimestamp64Nano(StartTimeUnix) AS st "
                          f"FROM {DATABASE}.{table} WHERE {where}")
        assert len(rows) == len(points), name
        by_attributes = {tuple(sorted(row["Attributes"].items())): row for row in rows}
        for point in points:
            key = tuple(sorted((kv.key, as_string(kv.value)) for kv in point.attributes))
            row = by_attributes[key]
            what = f"{name} {dict(key)}"
            assert row["MetricDescription"] == metric.description, what
            assert row["MetricUnit"] == metric.unit, what
            assert int(row["t"]) == point.time_unix_nano, what
            assert int(row["st"]) == point.start_time_unix_nano, what
            if kind in ("sum", "gauge"):
                value = point.as_double if point.HasField("as_double") else point.as_int
                assert row["Value"] == pytest.approx(value, rel=0, abs=0), what
            if kind == "sum":
                assert bool(row["IsMonotonic"]) == metric.sum.is_monotonic, what
                assert int(row["AggregationTemporality"]) == metric.sum.aggregation_temporality
            if kind == "histogram":
                assert int(row["Count"]) == point.count, what
                assert row["Sum"] == point.sum and row["Min"] == point.min, what
                assert row["Max"] == point.max, what
                assert [int(c) for c in row["BucketCounts"]] == list(point.bucket_counts), what
                assert row["ExplicitBounds"] == list(point.explicit_bounds), what
            if kind == "exponential_histogram":
                assert int(row["Count"]) == point.count and row["Scale"] == point.scale, what
                assert int(row["ZeroCount"]) == point.zero_count, what
                assert row["PositiveOffset"] == point.positive.offset, what
                assert [int(c) for c in row["PositiveBucketCounts"]] == list(
                    point.positive.bucket_counts), what
            exemplar_spans = [hex_id(e.span_id) for e in point.exemplars]
            assert row["Exemplars.SpanId"] == exemplar_spans, what
            assert row["Exemplars.TraceId"] == [hex_id(e.trace_id) for e in point.exemplars]


def test_grafana_otel_mode_queries_return_the_stored_data(stack):
    """The SQL shapes Grafana's ClickHouse data source generates in OTel mode."""
    store, endpoints = stack
    spans = make_traces("ch-grafana")
    send_traces(spans, "http/protobuf", endpoints)
    records = make_logs("ch-grafana")
    send_logs(records, "grpc", endpoints)
    wait_for_rows(store, "otel_traces", "ch-grafana", len(spans))
    wait_for_rows(store, "otel_logs", "ch-grafana", len(records))
    trace_id = format(spans[0].context.trace_id, "032x")
    db = f'"{DATABASE}"'

    lookup = store.rows(
        f"WITH '{trace_id}' as trace_id, "
        f"(SELECT min(Start) FROM {db}.\"otel_traces_trace_id_ts\" WHERE TraceId = trace_id) as trace_start, "
        f"(SELECT max(End) + 1 FROM {db}.\"otel_traces_trace_id_ts\" WHERE TraceId = trace_id) as trace_end "
        "SELECT \"TraceId\" as traceID, \"SpanId\" as spanID, \"ParentSpanId\" as parentSpanID, "
        "\"ServiceName\" as serviceName, \"SpanName\" as operationName, "
        "multiply(toUnixTimestamp64Nano(\"Timestamp\"), 0.000001) as startTime, "
        "multiply(\"Duration\", 0.000001) as duration, "
        "arrayMap(key -> map('key', key, 'value',\"SpanAttributes\"[key]), mapKeys(\"SpanAttributes\")) as tags, "
        "arrayMap(key -> map('key', key, 'value',\"ResourceAttributes\"[key]), mapKeys(\"ResourceAttributes\")) as serviceTags, "
        "if(\"StatusCode\" IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) as statusCode, "
        "arrayMap((name, timestamp, attributes) -> tuple(name, toString(toUnixTimestamp64Milli(timestamp)), "
        "arrayMap( key -> map('key', key, 'value', attributes[key]), mapKeys(attributes)))"
        "::Tuple(name String, timestamp String, fields Array(Map(String, String))), "
        "\"Events\".Name, \"Events\".Timestamp, \"Events\".Attributes) AS logs, "
        "arrayMap((traceID, spanID, attributes) -> tuple(traceID, spanID, arrayMap(key -> map('key', key, "
        "'value', attributes[key]), mapKeys(attributes)))::Tuple(traceID String, spanID String, "
        "tags Array(Map(String, String))), \"Links\".TraceId, \"Links\".SpanId, \"Links\".Attributes) AS references, "
        "\"SpanKind\" as kind, \"StatusMessage\" as statusMessage, \"TraceState\" as traceState "
        f"FROM {db}.\"otel_traces\" WHERE traceID = trace_id AND \"Timestamp\" >= trace_start "
        "AND \"Timestamp\" <= trace_end LIMIT 1000")
    # Other test cases send the same remote parent, so the trace holds their spans too: the lookup
    # through the trace-id table must return exactly what a full scan finds for that trace.
    in_trace = store.query(
        f"SELECT SpanId FROM {DATABASE}.otel_traces WHERE TraceId = '{trace_id}' FORMAT TSV").split()
    assert sorted(row["spanID"] for row in lookup) == sorted(in_trace)
    assert {format(s.context.span_id, "016x") for s in spans
            if s.context.trace_id == spans[0].context.trace_id} <= set(in_trace)
    errors = [row for row in lookup if row["statusCode"] == 2]
    assert errors and all(row["operationName"] == "SELECT orders" for row in errors)

    window_ms = (1_700_000_000_000 - 60_000, 1_700_000_000_000 + 3_600_000)
    time_filter = (f"Timestamp >= fromUnixTimestamp64Milli({window_ms[0]}) AND "
                   f"Timestamp <= fromUnixTimestamp64Milli({window_ms[1]})")
    search = store.rows(
        "SELECT \"TraceId\" as traceID, \"ServiceName\" as serviceName, \"SpanName\" as operationName, "
        "\"Timestamp\" as startTime, multiply(\"Duration\", 0.000001) as duration "
        f"FROM {db}.\"otel_traces\" WHERE ( {time_filter} ) AND ( ParentSpanId = '' ) "
        "AND ( Duration > 0 ) AND ( ServiceName IN ('e2e-ch-grafana') ) "
        "ORDER BY Timestamp DESC, Duration DESC LIMIT 1000")
    roots = [s for s in spans if s.parent is None]
    assert [row["traceID"] for row in search] == [format(s.context.trace_id, "032x") for s in roots]

    logs = store.rows(
        "SELECT Timestamp as \"timestamp\", Body as \"body\", SeverityText as \"level\", "
        "LogAttributes as \"labels\", TraceId as \"traceID\" "
        f"FROM {db}.\"otel_logs\" WHERE ( timestamp >= fromUnixTimestamp64Milli({window_ms[0]}) "
        f"AND timestamp <= fromUnixTimestamp64Milli({window_ms[1]}) ) "
        "AND ( ServiceName = 'e2e-ch-grafana' ) AND ( level = 'ERROR' ) ORDER BY timestamp DESC LIMIT 1000")
    assert [row["level"] for row in logs] == ["ERROR"]


def test_store_outage_under_load_loses_and_duplicates_nothing(tmp_path):
    """The store goes away for 30 s while spans keep arriving, then comes back: every span the
    collector acknowledged is stored exactly once; anything else was refused, never lost silently."""
    store = Store(tmp_path / "data", tmp_path / "store.log").start()
    pool = CollectorPool(tmp_path)
    grpc_port, http_port, health_port, metrics_port = (free_port() for _ in range(4))
    exporter = {"retry_on_failure": {"initial_interval": "500ms", "max_interval": "2s",
                                     "max_elapsed_time": "300s"},
                "sending_queue": {"queue_size": 20}}
    try:
        pool.start("outage", clickhouse_collector(store, grpc_port, http_port, health_port,
                                                  metrics_port, **exporter),
                   health_port=health_port, metrics_port=metrics_port)
        acknowledged: list[str] = []
        refused = 0
        stop = threading.Event()

        def send_continuously():
            nonlocal refused
            number = 0
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                stub = TraceServiceStub(channel)
                while not stop.is_set():
                    request, span_ids = traces_request(number)
                    number += 1
                    try:
                        stub.Export(request, timeout=10)
                        acknowledged.extend(span_ids)
                    except grpc.RpcError as error:
                        assert error.code() == grpc.StatusCode.UNAVAILABLE, error
                        refused += 1
                    time.sleep(0.02)

        sender = threading.Thread(target=send_continuously)
        sender.start()
        time.sleep(3)
        store.stop()
        time.sleep(30)
        store.start()
        time.sleep(3)
        stop.set()
        sender.join(timeout=30)

        expected = len(acknowledged)
        # Whether the pipeline had to refuse depends on how much the bounded buffers held; either
        # way nothing acknowledged may be lost or stored twice.
        assert expected > 0, (expected, refused)
        table = f"{DATABASE}.otel_traces"
        wait_until(lambda: store.scalar(f"SELECT count() FROM {table}") >= expected,
                   timeout=120, message=f"{expected} acknowledged spans stored")
        time.sleep(2)
        assert store.scalar(f"SELECT count() FROM {table}") == expected, "duplicates stored"
        assert store.scalar(f"SELECT uniqExact(SpanId) FROM {table}") == expected
        stored = set(store.query(f"SELECT SpanId FROM {table} FORMAT TSV").split())
        assert stored == set(acknowledged), "the stored spans are exactly the acknowledged ones"
        assert expected % SPANS_PER_REQUEST == 0
    finally:
        pool.close()
        store.stop()
