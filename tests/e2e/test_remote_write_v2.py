"""Prometheus remote_write 2.0 into the `integration` receiver, stored by the `clickhouse` exporter
in a real ClickHouse engine and read back field by field.

The requests are encoded from our own declaration of `io.prometheus.write.v2` (spec 2.0-rc.4, and
the rc.3 series layout that Prometheus sent before 3.8), so they are byte for byte what a 2.0
sender puts on the wire: interned symbols, label references, metadata per series, start
timestamps, native histograms as spans and deltas, exemplars referring to trace and span ids.

Expected values follow the Prometheus → OTLP convention of `collector/core/src/prometheus.rs`:
scope `cormorant/prometheus`, point attributes = labels without `__name__`, milliseconds as
nanoseconds. The receiver also names the resource after `job` and `instance` (`service.name`,
`service.instance.id`). Counters are monotonic cumulative sums, native histograms exponential
histograms whose bucket index is the Prometheus index − 1, custom-bucket histograms (schema -53)
explicit bucket histograms."""

from __future__ import annotations

import pytest

from integration_stack import DATABASE, protos, start_stack

SCOPE = "cormorant/prometheus"
CUMULATIVE = 2
T0 = 1_700_000_000_000  # ms
MS = 1_000_000  # ns per ms

TARGET = {"job": "checkout", "instance": "10.1.2.3:9100"}

COUNTER = {
    "labels": {"__name__": "http_requests_total", **TARGET, "code": "200", "method": "GET"},
    "help": "HTTP requests served.", "unit": "requests",
    "start": T0 - 60_000, "samples": [(T0, 10.0), (T0 + 15_000, 15.0)],
}
RC3_COUNTER = {
    "labels": {"__name__": "jobs_processed_total", **TARGET, "queue": "emails"},
    "help": "Jobs taken off the queue.", "unit": "",
    "created": T0 - 120_000, "samples": [(T0, 3.0), (T0 + 15_000, 4.0)],
}
GAUGE = {
    "labels": {"__name__": "queue_depth", **TARGET, "queue": "emails"},
    "help": "Jobs waiting.", "unit": "jobs", "samples": [(T0, 7.5)],
}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_IDS = ("00f067aa0ba902b7", "5fb397be34d26b51")
NATIVE = {
    "labels": {"__name__": "request_duration_seconds", **TARGET, "route": "/cart"},
    "help": "Request latency.", "unit": "seconds", "start": T0 - 30_000, "time": T0 + 5_000,
    # Integer histogram, schema 3: Prometheus bucket indices 2, 3, 4 and 6, 7 (a gap at 5) on the
    # positive side, -1 and 0 on the negative side, counts as deltas to the previous bucket.
    "positive_spans": [(2, 3), (1, 2)], "positive_deltas": [1, 2, -1, 0, 3],
    "negative_spans": [(-1, 2)], "negative_deltas": [4, -3],
    "zero_count": 2, "zero_threshold": 0.001, "sum": 123.25,
    "exemplars": [
        ({"span_id": SPAN_IDS[0], "trace_id": TRACE_ID}, 0.042, T0 + 1_000),
        ({"pod": "checkout-7d9", "span_id": SPAN_IDS[1], "trace_id": TRACE_ID}, 3.5, T0 + 2_000),
    ],
}
# The same histogram in OTLP terms: counts 1, 3, 2, _, 2, 5 and 4, 1; dense from index − 1.
NATIVE_POSITIVE = (1, [1, 3, 2, 0, 2, 5])
NATIVE_NEGATIVE = (-2, [4, 1])
NATIVE_COUNT = 2 + sum(NATIVE_POSITIVE[1]) + sum(NATIVE_NEGATIVE[1])
CUSTOM = {
    "labels": {"__name__": "payload_size_bytes", **TARGET},
    "help": "Request payload sizes.", "unit": "bytes", "start": T0 - 30_000, "time": T0 + 5_000,
    # Buckets 0, 1 and 3 of the bounds 100, 1000, 10000, +Inf.
    "custom_values": [100.0, 1000.0, 10000.0],
    "positive_spans": [(0, 2), (1, 1)], "positive_deltas": [3, 1, -2], "sum": 12345.0,
}
CUSTOM_BUCKET_COUNTS = [3, 4, 0, 2]


class Symbols:
    """The interned string table of one request; index 0 is the empty string."""

    def __init__(self):
        self.table = [""]
        self.index = {"": 0}

    def ref(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.table)
            self.table.append(text)
        return self.index[text]

    def labels(self, labels: dict[str, str]) -> list[int]:
        refs = []
        for name in sorted(labels):
            refs += [self.ref(name), self.ref(labels[name])]
        return refs


def metadata(v2, symbols: Symbols, kind: str, series: dict):
    return v2.Metadata(type=getattr(v2.Metadata, f"METRIC_TYPE_{kind}"),
                       help_ref=symbols.ref(series["help"]), unit_ref=symbols.ref(series["unit"]))


def spans(v2, pairs):
    return [v2.BucketSpan(offset=offset, length=length) for offset, length in pairs]


def rc4_request(v2):
    """A counter with start timestamps, a gauge, a native and a custom-bucket histogram."""
    symbols = Symbols()
    counter = v2.TimeSeries(
        labels_refs=symbols.labels(COUNTER["labels"]),
        samples=[v2.Sample(value=value, timestamp=ts, start_timestamp=COUNTER["start"])
                 for ts, value in COUNTER["samples"]],
        metadata=metadata(v2, symbols, "COUNTER", COUNTER))
    gauge = v2.TimeSeries(
        labels_refs=symbols.labels(GAUGE["labels"]),
        samples=[v2.Sample(value=value, timestamp=ts) for ts, value in GAUGE["samples"]],
        metadata=metadata(v2, symbols, "GAUGE", GAUGE))
    native = v2.TimeSeries(
        labels_refs=symbols.labels(NATIVE["labels"]),
        histograms=[v2.Histogram(
            count_int=NATIVE_COUNT, sum=NATIVE["sum"], schema=3,
            zero_threshold=NATIVE["zero_threshold"], zero_count_int=NATIVE["zero_count"],
            positive_spans=spans(v2, NATIVE["positive_spans"]),
            positive_deltas=NATIVE["positive_deltas"],
            negative_spans=spans(v2, NATIVE["negative_spans"]),
            negative_deltas=NATIVE["negative_deltas"],
            reset_hint=v2.Histogram.RESET_HINT_NO,
            timestamp=NATIVE["time"], start_timestamp=NATIVE["start"])],
        exemplars=[v2.Exemplar(labels_refs=symbols.labels(labels), value=value, timestamp=ts)
                   for labels, value, ts in NATIVE["exemplars"]],
        metadata=metadata(v2, symbols, "HISTOGRAM", NATIVE))
    custom = v2.TimeSeries(
        labels_refs=symbols.labels(CUSTOM["labels"]),
        histograms=[v2.Histogram(
            count_int=sum(CUSTOM_BUCKET_COUNTS), sum=CUSTOM["sum"], schema=-53,
            zero_count_int=0, custom_values=CUSTOM["custom_values"],
            positive_spans=spans(v2, CUSTOM["positive_spans"]),
            positive_deltas=CUSTOM["positive_deltas"],
            reset_hint=v2.Histogram.RESET_HINT_NO,
            timestamp=CUSTOM["time"], start_timestamp=CUSTOM["start"])],
        metadata=metadata(v2, symbols, "HISTOGRAM", CUSTOM))
    return v2.Request(symbols=symbols.table, timeseries=[counter, gauge, native, custom])


def rc3_request(v2):
    """A counter in the rc.3 layout: its start time is the series' `created_timestamp`."""
    symbols = Symbols()
    counter = v2.Rc3TimeSeries(
        labels_refs=symbols.labels(RC3_COUNTER["labels"]),
        samples=[v2.Sample(value=value, timestamp=ts) for ts, value in RC3_COUNTER["samples"]],
        metadata=metadata(v2, symbols, "COUNTER", RC3_COUNTER),
        created_timestamp=RC3_COUNTER["created"])
    return v2.Rc3Request(symbols=symbols.table, timeseries=[counter])


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Both requests sent once to one collector; the tests read what they stored."""
    workdir = tmp_path_factory.mktemp("remote-write-v2")
    _, v2, _ = protos(workdir / "generated")
    stack, pool = start_stack(workdir)
    try:
        responses = {"rc4": stack.remote_write_v2(rc4_request(v2)),
                     "rc3": stack.remote_write_v2(rc3_request(v2))}
        yield stack, responses
    finally:
        pool.close()
        stack.store.stop()


def attributes_of(series: dict) -> dict[str, str]:
    return {name: value for name, value in series["labels"].items() if name != "__name__"}


def metric_rows(stack, table: str, series: dict, count: int) -> list[dict]:
    name = series["labels"]["__name__"]
    stack.wait_for_count(table, f"MetricName = '{name}'", count)
    rows = stack.rows(
        f"SELECT *, toUnixTimestamp64Nano(TimeUnix) AS t, "
        f"toUnixTimestamp64Nano(StartTimeUnix) AS st, "
        f"arrayMap(x -> toString(toUnixTimestamp64Nano(x)), `Exemplars.TimeUnix`) AS exemplar_t "
        f"FROM {DATABASE}.{table} WHERE MetricName = '{name}' ORDER BY TimeUnix")
    for row in rows:
        assert row["ScopeName"] == SCOPE, name
        assert row["ServiceName"] == TARGET["job"], name
        assert row["ResourceAttributes"]["service.instance.id"] == TARGET["instance"], name
        assert row["Attributes"] == attributes_of(series), name
        assert row["MetricDescription"] == series["help"], name
        assert row["MetricUnit"] == series["unit"], name
    return rows


@pytest.mark.parametrize("layout, samples, histograms, exemplars",
                         [("rc4", 3, 2, 2), ("rc3", 2, 0, 0)])
def test_reply_is_204_with_written_counts(written, layout, samples, histograms, exemplars):
    _, responses = written
    response = responses[layout]
    assert response.status_code == 204, response.text
    headers = response.headers
    assert int(headers["X-Prometheus-Remote-Write-Samples-Written"]) == samples
    assert int(headers["X-Prometheus-Remote-Write-Histograms-Written"]) == histograms
    assert int(headers["X-Prometheus-Remote-Write-Exemplars-Written"]) == exemplars


@pytest.mark.parametrize("series, start_ms", [(COUNTER, COUNTER["start"]),
                                              (RC3_COUNTER, RC3_COUNTER["created"])],
                         ids=["rc4-sample-start-timestamp", "rc3-created-timestamp"])
def test_counter_is_a_monotonic_cumulative_sum_with_its_start_time(written, series, start_ms):
    stack, _ = written
    rows = metric_rows(stack, "otel_metrics_sum", series, len(series["samples"]))
    for row, (ts, value) in zip(rows, series["samples"]):
        assert row["IsMonotonic"] is True
        assert row["AggregationTemporality"] == CUMULATIVE
        assert int(row["t"]) == ts * MS
        assert int(row["st"]) == start_ms * MS
        assert row["Value"] == value


def test_gauge_keeps_value_and_millisecond_time(written):
    stack, _ = written
    [row] = metric_rows(stack, "otel_metrics_gauge", GAUGE, 1)
    [(ts, value)] = GAUGE["samples"]
    assert int(row["t"]) == ts * MS
    assert int(row["st"]) == 0, "a gauge sample has no start time"
    assert row["Value"] == value


def test_native_histogram_is_an_exponential_histogram_with_exemplars(written):
    stack, _ = written
    [row] = metric_rows(stack, "otel_metrics_exp_histogram", NATIVE, 1)
    assert int(row["t"]) == NATIVE["time"] * MS
    assert int(row["st"]) == NATIVE["start"] * MS
    assert row["AggregationTemporality"] == CUMULATIVE
    assert row["Scale"] == 3
    assert int(row["Count"]) == NATIVE_COUNT
    assert row["Sum"] == NATIVE["sum"]
    assert int(row["ZeroCount"]) == NATIVE["zero_count"]
    assert row["PositiveOffset"] == NATIVE_POSITIVE[0]
    assert [int(c) for c in row["PositiveBucketCounts"]] == NATIVE_POSITIVE[1]
    assert row["NegativeOffset"] == NATIVE_NEGATIVE[0]
    assert [int(c) for c in row["NegativeBucketCounts"]] == NATIVE_NEGATIVE[1]

    exemplars = sorted(zip(row["Exemplars.TraceId"], row["Exemplars.SpanId"],
                           row["Exemplars.Value"], row["exemplar_t"],
                           row["Exemplars.FilteredAttributes"]), key=lambda e: int(e[3]))
    assert len(exemplars) == len(NATIVE["exemplars"])
    for stored, (labels, value, ts) in zip(exemplars, NATIVE["exemplars"]):
        trace_id, span_id, stored_value, stored_ts, filtered = stored
        assert trace_id == labels["trace_id"]
        assert span_id == labels["span_id"]
        assert stored_value == value
        assert int(stored_ts) == ts * MS
        assert filtered == {k: v for k, v in labels.items() if k not in ("trace_id", "span_id")}


def test_custom_bucket_histogram_is_an_explicit_bucket_histogram(written):
    stack, _ = written
    [row] = metric_rows(stack, "otel_metrics_histogram", CUSTOM, 1)
    assert int(row["t"]) == CUSTOM["time"] * MS
    assert int(row["st"]) == CUSTOM["start"] * MS
    assert row["AggregationTemporality"] == CUMULATIVE
    assert int(row["Count"]) == sum(CUSTOM_BUCKET_COUNTS)
    assert row["Sum"] == CUSTOM["sum"]
    assert row["ExplicitBounds"] == CUSTOM["custom_values"]
    assert [int(c) for c in row["BucketCounts"]] == CUSTOM_BUCKET_COUNTS


def test_float_samples_come_back_as_prometheus_samples(written):
    stack, _ = written
    expected = sorted(
        (series["labels"]["__name__"], tuple(sorted(attributes_of(series).items())), ts, value)
        for series in (COUNTER, RC3_COUNTER, GAUGE) for ts, value in series["samples"])
    names = ", ".join(f"'{name}'" for name in sorted({row[0] for row in expected}))
    stack.wait_for_count("prometheus_samples", f"MetricName IN ({names})", len(expected))
    rows = stack.rows(f"SELECT MetricName, Labels, toUnixTimestamp64Milli(Timestamp) AS ms, "
                      f"Value FROM {DATABASE}.prometheus_samples WHERE MetricName IN ({names})")
    stored = sorted((row["MetricName"], tuple(sorted(row["Labels"].items())), int(row["ms"]),
                     row["Value"]) for row in rows)
    assert stored == expected


def test_custom_bucket_histogram_comes_back_as_classic_samples(written):
    """The schema -53 histogram is stored in `prometheus_samples` as `_bucket{le=…}` (cumulative),
    `_sum` and `_count`, the series a classic histogram with these bounds has."""
    stack, _ = written
    name = CUSTOM["labels"]["__name__"]
    labels = attributes_of(CUSTOM)
    cumulative = [sum(CUSTOM_BUCKET_COUNTS[: index + 1])
                  for index in range(len(CUSTOM_BUCKET_COUNTS))]
    expected = sorted(
        [(f"{name}_bucket", tuple(sorted({**labels, "le": le}.items())), float(count))
         for le, count in zip(["100", "1000", "10000", "+Inf"], cumulative)]
        + [(f"{name}_sum", tuple(sorted(labels.items())), CUSTOM["sum"]),
           (f"{name}_count", tuple(sorted(labels.items())), float(sum(CUSTOM_BUCKET_COUNTS)))])
    where = f"MetricName IN ('{name}_bucket', '{name}_sum', '{name}_count')"
    stack.wait_for_count("prometheus_samples", where, len(expected))
    rows = stack.rows(f"SELECT MetricName, Labels, toUnixTimestamp64Milli(Timestamp) AS ms, "
                      f"Value FROM {DATABASE}.prometheus_samples WHERE {where}")
    assert {int(row["ms"]) for row in rows} == {CUSTOM["time"]}
    stored = sorted((row["MetricName"], tuple(sorted(row["Labels"].items())), row["Value"])
                    for row in rows)
    assert stored == expected
