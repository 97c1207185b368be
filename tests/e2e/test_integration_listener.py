"""The `integration` listener against what real senders and broken senders post: malformed
remote_write bodies get the protocol's status and the process keeps serving; a request with one
bad series still stores the good ones; APISIX's old-schema OTLP traces are answered exactly 200 and
stored once with a service name; Telegraf's line protocol is stored as gauges. Everything is read
back from a real ClickHouse engine."""

from __future__ import annotations

import gzip
import select
import socket
import time

import pytest

from clickhouse_store import hex_id
from integration_stack import (
    DATABASE, PROMETHEUS_PATH, RW1_CONTENT_TYPE, RW2_CONTENT_TYPE, SERVICE_NAME, SETTLE_S,
    protos, snappy_block, start_stack,
)

T0 = 1_700_000_000_000  # ms
MS = 1_000_000
OVERSIZED_BODY = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return protos(tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack, pool = start_stack(tmp_path_factory.mktemp("integration-listener"))
    try:
        yield stack
    finally:
        pool.close()
        stack.store.stop()


def v1_request(v1, series: list[tuple[list[tuple[str, str]], float]]):
    """One sample at T0 per series; labels are sent in the order given, sorted or not."""
    return v1.WriteRequest(timeseries=[
        v1.TimeSeries(labels=[v1.Label(name=name, value=value) for name, value in labels],
                      samples=[v1.Sample(value=value, timestamp=T0)])
        for labels, value in series])


def remote_write_headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Content-Encoding": "snappy",
            "User-Agent": "Prometheus/3.8.0"}


@pytest.mark.parametrize("content_type", [RW1_CONTENT_TYPE, RW2_CONTENT_TYPE],
                         ids=["v1", "v2"])
def test_truncated_snappy_is_400(stack, generated, content_type):
    v1, v2, _ = generated
    if content_type == RW1_CONTENT_TYPE:
        message = v1_request(v1, [([("__name__", "truncated"), ("job", "a")], 1.0)])
    else:
        message = v2.Request(symbols=["", "__name__", "truncated"],
                             timeseries=[v2.TimeSeries(labels_refs=[1, 2],
                                                       samples=[v2.Sample(value=1, timestamp=T0)])])
    body = snappy_block(message.SerializeToString())
    response = stack.post(PROMETHEUS_PATH, body[: len(body) // 2],
                          remote_write_headers(content_type))
    assert response.status_code == 400, response.text
    assert "snappy" in response.text


@pytest.mark.parametrize("content_type", [
    "application/json",
    "application/x-protobuf;proto=io.prometheus.write.v3.Request",
])
def test_unsupported_content_type_is_415(stack, generated, content_type):
    v1, _, _ = generated
    body = snappy_block(v1_request(v1, [([("__name__", "wrong_type")], 1.0)]).SerializeToString())
    response = stack.post(PROMETHEUS_PATH, body, remote_write_headers(content_type))
    assert response.status_code == 415, response.text


@pytest.mark.parametrize("content_type", [RW1_CONTENT_TYPE, RW2_CONTENT_TYPE],
                         ids=["v1", "v2"])
def test_garbage_protobuf_is_400(stack, content_type):
    # Field 1 with wire type 7, which does not exist, then noise.
    body = snappy_block(b"\x0f\xff\xfe garbage that is not a protobuf message")
    response = stack.post(PROMETHEUS_PATH, body, remote_write_headers(content_type))
    assert response.status_code == 400, response.text


def post_oversized(port: int, headers: dict[str, str], size: int) -> bytes:
    """Streams a `size`-byte body over a raw socket, reading the reply as soon as the server sends
    it (a server that refuses the body answers before taking it all); returns the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall((f"POST {PROMETHEUS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Content-Length: {size}\r\n{head}\r\n").encode())
        sock.setblocking(False)
        chunk = b"\0" * (1 << 20)
        sent = 0
        reply = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            want_write = [sock] if sent < size else []
            readable, writable, _ = select.select([sock], want_write, [], 1.0)
            if readable:
                data = sock.recv(65536)
                reply += data
                if not data or b"\r\n" in reply:
                    break
            elif writable:
                try:
                    sent += sock.send(chunk[: size - sent])
                except (BrokenPipeError, ConnectionResetError):
                    # The server stopped taking the body; its reply is still to be read.
                    sent = size
        return reply.split(b"\r\n", 1)[0]


def test_100_mib_body_is_413_and_the_listener_keeps_serving(stack, generated):
    v1, _, _ = generated
    status_line = post_oversized(stack.port, remote_write_headers(RW1_CONTENT_TYPE),
                                 OVERSIZED_BODY)
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert stack.collector.is_running()

    labels = [("__name__", "after_oversized"), ("job", "probe")]
    response = stack.remote_write_v1(v1_request(v1, [(labels, 42.0)]))
    assert response.status_code == 204, response.text
    stack.wait_for_count("otel_metrics_gauge", "MetricName = 'after_oversized'", 1)


def test_unsorted_labels_reject_one_series_and_store_the_others(stack, generated):
    v1, _, _ = generated
    good_first = [("__name__", "partial_good_a"), ("job", "partial"), ("zone", "eu")]
    unsorted = [("__name__", "partial_unsorted"), ("zone", "eu"), ("job", "partial")]
    good_last = [("__name__", "partial_good_b"), ("job", "partial")]
    request = v1_request(v1, [(good_first, 1.5), (unsorted, 2.5), (good_last, 3.5)])
    response = stack.remote_write_v1(request)
    assert response.status_code == 400, response.text
    assert "sorted" in response.text

    for labels, value in ((good_first, 1.5), (good_last, 3.5)):
        name = labels[0][1]
        stack.wait_for_count("otel_metrics_gauge", f"MetricName = '{name}'", 1, settle=SETTLE_S)
        [row] = stack.rows(f"SELECT Value, Attributes, toUnixTimestamp64Nano(TimeUnix) AS t "
                           f"FROM {DATABASE}.otel_metrics_gauge WHERE MetricName = '{name}'")
        assert row["Value"] == value
        assert row["Attributes"] == dict(labels[1:])
        assert int(row["t"]) == T0 * MS
    assert stack.store.scalar(f"SELECT count() FROM {DATABASE}.otel_metrics_gauge "
                              f"WHERE MetricName = 'partial_unsorted'") == 0


APISIX_CASES = [("/api/v1/otel/trace/v1/traces", False), ("/api/v1/otel/trace/v1/traces", True),
                ("/api/v1/otel/trace", False), ("/api/v1/otel/trace", True)]


def apisix_request(lua, number: int):
    """What APISIX's `opentelemetry` plugin sends without `resource` metadata: a `hostname`
    resource attribute and no `service.name`, scope `opentelemetry-lua`, the old field names."""
    trace_id = bytes.fromhex("a915") + number.to_bytes(14, "big")
    root_id, child_id = (number * 16 + 1).to_bytes(8, "big"), (number * 16 + 2).to_bytes(8, "big")
    start = 1_700_000_000_000_000_000 + number * 1_000_000_000

    def attribute(key, value):
        return lua.KeyValue(key=key, value=lua.AnyValue(string_value=value))

    root = lua.Span(
        trace_id=trace_id, span_id=root_id, name="GET /orders", kind=lua.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start, end_time_unix_nano=start + 25_000_000,
        attributes=[attribute("http.method", "GET"), attribute("http.target", "/orders"),
                    attribute("apisix.route_id", "orders")],
        status=lua.Status(code=lua.Status.STATUS_CODE_ERROR, message="upstream error: 502"))
    child = lua.Span(
        trace_id=trace_id, span_id=child_id, parent_span_id=root_id, name="http_router_match",
        kind=lua.Span.SPAN_KIND_INTERNAL, start_time_unix_nano=start + 1_000,
        end_time_unix_nano=start + 51_000)
    request = lua.TracesData(resource_spans=[lua.ResourceSpans(
        resource=lua.Resource(attributes=[attribute("hostname", "apisix-node-1")]),
        instrumentation_library_spans=[lua.InstrumentationLibrarySpans(
            instrumentation_library=lua.InstrumentationLibrary(name="opentelemetry-lua"),
            spans=[root, child])])])
    return request, [root, child]


def test_apisix_traces_are_answered_200_and_stored_once_with_a_service_name(stack, generated):
    _, _, lua = generated
    sent = []
    for number, (path, compressed) in enumerate(APISIX_CASES, start=1):
        request, spans = apisix_request(lua, number)
        body = request.SerializeToString()
        headers = {"Content-Type": "application/x-protobuf", "User-Agent": "lua-resty-http"}
        if compressed:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        response = stack.post(path, body, headers)
        assert response.status_code == 200, f"{path} gzip={compressed}: {response.text}"
        sent += spans

    trace_ids = ", ".join(sorted({f"'{hex_id(span.trace_id)}'" for span in sent}))
    stack.wait_for_count("otel_traces", f"TraceId IN ({trace_ids})", len(sent), settle=SETTLE_S)
    rows = stack.rows(f"SELECT *, toUnixTimestamp64Nano(Timestamp) AS ts "
                      f"FROM {DATABASE}.otel_traces WHERE TraceId IN ({trace_ids})")
    stored = {row["SpanId"]: row for row in rows}
    assert len(stored) == len(rows) == len(sent), "every span exactly once"
    for span in sent:
        row = stored[hex_id(span.span_id)]
        assert row["TraceId"] == hex_id(span.trace_id)
        assert row["ParentSpanId"] == hex_id(span.parent_span_id)
        assert row["SpanName"] == span.name
        assert row["ServiceName"] == SERVICE_NAME
        assert row["ScopeName"] == "opentelemetry-lua"
        assert row["ResourceAttributes"]["hostname"] == "apisix-node-1"
        assert row["ResourceAttributes"]["service.name"] == SERVICE_NAME
        assert int(row["ts"]) == span.start_time_unix_nano
        assert int(row["Duration"]) == span.end_time_unix_nano - span.start_time_unix_nano
        assert row["SpanAttributes"] == {kv.key: kv.value.string_value for kv in span.attributes}
    root = stored[hex_id(sent[0].span_id)]
    assert (root["SpanKind"], root["StatusCode"], root["StatusMessage"]) == (
        "Server", "Error", "upstream error: 502")


def test_telegraf_line_protocol_is_stored_as_gauges(stack):
    ts_ns = 1_700_000_000_123_456_789
    body = (f'weather,location=us-midwest,station=a1 temperature=82.5,humidity=71i,raining=true,'
            f'summary="cloudy skies" {ts_ns}\n').encode()
    response = stack.post("/api/v1/telegraf", body,
                          {"Content-Type": "text/plain; charset=utf-8", "User-Agent": "Telegraf"})
    assert response.status_code == 204, response.text

    expected = {"weather_temperature": 82.5, "weather_humidity": 71.0, "weather_raining": 1.0}
    names = ", ".join(f"'{name}'" for name in sorted(expected))
    stack.wait_for_count("otel_metrics_gauge", f"MetricName IN ({names})", len(expected))
    rows = stack.rows(f"SELECT *, toUnixTimestamp64Nano(TimeUnix) AS t "
                      f"FROM {DATABASE}.otel_metrics_gauge WHERE MetricName IN ({names})")
    for row in rows:
        field = row["MetricName"].removeprefix("weather_")
        assert row["Value"] == expected[row["MetricName"]]
        assert int(row["t"]) == ts_ns
        assert row["ServiceName"] == SERVICE_NAME
        assert row["ScopeName"] == "cormorant/receiver/integration/influx"
        assert row["Attributes"] == {"location": "us-midwest", "station": "a1",
                                     "measurement": "weather", "field": field}
    assert stack.store.scalar(f"SELECT count() FROM {DATABASE}.otel_metrics_gauge "
                              f"WHERE MetricName = 'weather_summary'") == 0, \
        "string fields carry no number"
