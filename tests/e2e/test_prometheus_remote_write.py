"""Real Prometheus (2.42) scraping itself and a real node exporter every second and remote-writing
(1.0) everything to cormorant's `integration` receiver, whose metrics pipeline feeds the
`clickhouse` exporter and a chdb-backed ClickHouse store.

Two promises are checked against what Prometheus itself serves:
- the `prometheus_samples` table holds exactly Prometheus' samples: over a window of several
  scrapes, the same series and, per series, the same timestamps and values bit for bit;
- once Prometheus has sent its metadata, the OpenTelemetry tables hold the OpenTelemetry model:
  counters as monotonic sums, gauges as gauges, classic histograms and summaries reassembled, with
  `job`/`instance` as the resource's `service.name`/`service.instance.id`.
"""

from __future__ import annotations

import math
import struct
import time
from dataclasses import dataclass
from itertools import accumulate

import pytest

from clickhouse_store import Store
from harness import Collector, CollectorPool, free_port, service, wait_until
from prometheus_peer import NodeExporter, Prometheus

DATABASE = "e2e_prometheus"
SAMPLES_TABLE = f"{DATABASE}.prometheus_samples"
REMOTE_WRITE_PATH = "/api/v1/prometheus"
# `cormorant_core::prometheus::SCOPE_NAME`: the scope of every metric converted from Prometheus.
PROMETHEUS_SCOPE = "cormorant/prometheus"
# Prometheus' stale marker. Its query API never returns it, so it is left out of the comparison.
STALE_NAN_BITS = 0x7FF0000000000002

# The compared window (t0, t1] starts this long after the first stored sample and spans this many
# scrapes; it is compared only once cormorant has stored samples this much past its end.
WINDOW_OFFSET_MS = 1_000
WINDOW_MS = 6_000
SETTLE_MS = 3_000
CATCH_UP_S = 15.0
MIN_COMPARED_SAMPLES = 1_000


@dataclass
class PrometheusStack:
    store: Store
    collector: Collector
    node_exporter: NodeExporter
    prometheus: Prometheus

    @property
    def collectors(self) -> list[Collector]:
        """For conftest: a failing test's report carries this collector's log."""
        return [self.collector]

    def peer_logs(self) -> str:
        """The tails of Prometheus' and the node exporter's logs, for failure messages."""
        return "\n".join(f"--- {peer.name} log:\n" + "\n".join(peer.log().splitlines()[-40:])
                         for peer in (self.prometheus, self.node_exporter))

    def wait_until(self, predicate, timeout: float, message: str):
        """`harness.wait_until`, failing with the peers' logs as they are at the time."""
        try:
            return wait_until(predicate, timeout=timeout, interval=0.5, message=message)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.peer_logs()}") from None


def collector_config(store: Store, port: int, health_port: int, metrics_port: int) -> dict:
    pipeline = {"receivers": ["integration"], "processors": [], "exporters": ["clickhouse"]}
    return {
        "receivers": {"integration": {"endpoint": f"127.0.0.1:{port}"}},
        "exporters": {"clickhouse": {
            "endpoint": store.url, "database": DATABASE, "compress": "lz4", "timeout": "10s",
            "sending_queue": {"batch": {"flush_timeout": "200ms"}}}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": service({"metrics": pipeline}, metrics_port),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus")
    store = Store(workdir / "data", workdir / "store.log").start()
    pool = CollectorPool(workdir)
    node_exporter = NodeExporter(workdir)
    prometheus = None
    try:
        port, health_port, metrics_port = free_port(), free_port(), free_port()
        collector = pool.start("prometheus-remote-write",
                               collector_config(store, port, health_port, metrics_port),
                               health_port=health_port, metrics_port=metrics_port)
        node_exporter.start()
        prometheus = Prometheus(workdir, {"node": node_exporter.address},
                                f"http://127.0.0.1:{port}{REMOTE_WRITE_PATH}").start()
        stack = PrometheusStack(store, collector, node_exporter, prometheus)
        stack.wait_until(lambda: prometheus.healthy_targets() == {"node", "prometheus"},
                         timeout=15, message="both scrape targets up")
        yield stack
    finally:
        if prometheus is not None:
            prometheus.stop()
        node_exporter.stop()
        pool.close()
        store.stop()


def float_from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def stored_extreme_ms(store: Store, extreme: str) -> int:
    """The oldest (`min`) or newest (`max`) stored sample's timestamp (0 while there is none)."""
    return store.scalar(
        f"SELECT toUnixTimestamp64Milli({extreme}(Timestamp)) FROM {SAMPLES_TABLE}")


def prometheus_window(prometheus: Prometheus, t0_ms: int, t1_ms: int) -> dict:
    """Every raw sample Prometheus has in (t0, t1], by series: (name, labels without `__name__`)
    -> sorted [(timestamp ms, value text)].

    Range selectors are closed on both ends in Prometheus 2 and left-open from Prometheus 3, so
    the query asks for a second more than the window and the edges are applied here."""
    seconds = (t1_ms - t0_ms) // 1000 + 1
    data = prometheus.query(f'{{__name__=~".+"}}[{seconds}s]',
                            f"{t1_ms // 1000}.{t1_ms % 1000:03d}")
    assert data["resultType"] == "matrix", data["resultType"]
    window: dict = {}
    for series in data["result"]:
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        samples = sorted((round(float(at) * 1000), text) for at, text in series["values"])
        samples = [(ts, text) for ts, text in samples if t0_ms < ts <= t1_ms]
        if samples:
            window[(name, frozenset(labels.items()))] = samples
    return window


def stored_window(store: Store, t0_ms: int, t1_ms: int) -> tuple[dict, int]:
    """Every stored sample in (t0, t1] except stale markers, by series: (name, labels) -> sorted
    [(timestamp ms, value bits)]; and how many stale markers were left out."""
    rows = store.rows(
        f"SELECT MetricName, Labels, toUnixTimestamp64Milli(Timestamp) AS ts, "
        f"reinterpretAsUInt64(Value) AS bits FROM {SAMPLES_TABLE} "
        f"WHERE toUnixTimestamp64Milli(Timestamp) > {t0_ms} "
        f"AND toUnixTimestamp64Milli(Timestamp) <= {t1_ms}")
    window: dict = {}
    stale = 0
    for row in rows:
        bits = int(row["bits"])
        if bits == STALE_NAN_BITS:
            stale += 1
            continue
        key = (row["MetricName"], frozenset(row["Labels"].items()))
        window.setdefault(key, []).append((int(row["ts"]), bits))
    for samples in window.values():
        samples.sort()
    return window, stale


def stored_sample_count(store: Store, t0_ms: int, t1_ms: int) -> int:
    return store.scalar(
        f"SELECT count() FROM {SAMPLES_TABLE} WHERE toUnixTimestamp64Milli(Timestamp) > {t0_ms} "
        f"AND toUnixTimestamp64Milli(Timestamp) <= {t1_ms} "
        f"AND reinterpretAsUInt64(Value) != {STALE_NAN_BITS}")


def describe(key) -> str:
    name, labels = key
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels)) + "}"


def same_value(text: str, bits: int) -> bool:
    """Prometheus' text of a value against the stored bits: exactly, and NaN by its text."""
    value = float_from_bits(bits)
    if text == "NaN":
        return math.isnan(value)
    return not math.isnan(value) and float(text) == value


def test_stored_samples_are_exactly_prometheus_samples(stack):
    store, prometheus = stack.store, stack.prometheus
    first_ms = stack.wait_until(lambda: stored_extreme_ms(store, "min"), timeout=30,
                                message=f"a first sample in {SAMPLES_TABLE}")
    t0_ms = first_ms + WINDOW_OFFSET_MS
    t1_ms = t0_ms + WINDOW_MS
    stack.wait_until(lambda: stored_extreme_ms(store, "max") >= t1_ms + SETTLE_MS, timeout=40,
                     message=f"samples stored past {t1_ms + SETTLE_MS}")

    expected = prometheus_window(prometheus, t0_ms, t1_ms)
    expected_samples = sum(len(samples) for samples in expected.values())
    # Remote-write shards deliver independently: give the slowest one time to catch up before
    # comparing, so a lagging shard is not mistaken for a lost sample. Whatever is still missing
    # then is reported series by series below.
    catch_up_deadline = time.monotonic() + CATCH_UP_S
    while (stored_sample_count(store, t0_ms, t1_ms) < expected_samples
           and time.monotonic() < catch_up_deadline):
        time.sleep(0.5)
    stored, stale_markers = stored_window(store, t0_ms, t1_ms)

    missing = sorted(describe(key) for key in expected.keys() - stored.keys())
    extra = sorted(describe(key) for key in stored.keys() - expected.keys())
    if missing or extra:
        pytest.fail(f"series differ: {len(missing)} only in Prometheus, e.g. {missing[:5]}; "
                    f"{len(extra)} only in ClickHouse, e.g. {extra[:5]}")
    mismatches = []
    for key, samples in expected.items():
        got = stored[key]
        expected_ts, stored_ts = [ts for ts, _ in samples], [ts for ts, _ in got]
        if expected_ts != stored_ts:
            mismatches.append(f"{describe(key)}: {len(expected_ts)} samples in Prometheus, "
                              f"{len(stored_ts)} stored; only in Prometheus at "
                              f"{sorted(set(expected_ts) - set(stored_ts))}, only stored at "
                              f"{sorted(set(stored_ts) - set(expected_ts))}")
            continue
        for (ts, text), (_, bits) in zip(samples, got):
            if not same_value(text, bits):
                mismatches.append(f"{describe(key)} @{ts}: Prometheus {text}, "
                                  f"stored {float_from_bits(bits)!r} (bits {bits:#018x})")
    if mismatches:
        pytest.fail(f"{len(mismatches)} differences, e.g.:\n" + "\n".join(mismatches[:10]))

    jobs = {dict(labels).get("job") for _, labels in expected}
    print(f"compared {len(expected)} series and {expected_samples} samples in "
          f"({t0_ms}, {t1_ms}] ms (jobs {sorted(jobs)}); "
          f"{stale_markers} stored stale markers not served by Prometheus' API")
    assert jobs == {"node", "prometheus"}
    assert expected_samples > MIN_COMPARED_SAMPLES


def newest_row(store: Store, table: str, metric: str, where: str, columns: str) -> dict | None:
    rows = store.rows(f"SELECT *, {columns}, toUnixTimestamp64Milli(TimeUnix) AS ts "
                      f"FROM {DATABASE}.{table} WHERE MetricName = '{metric}' AND {where} "
                      f"ORDER BY TimeUnix DESC LIMIT 1")
    return rows[0] if rows else None


def wait_for_row(stack: PrometheusStack, table: str, metric: str, where: str,
                 columns: str) -> dict:
    """The newest row of `metric` in `table`; Prometheus sends metadata every 2 s, and only
    samples converted after it arrived have their type. `columns` are selected besides `*`
    (floats are read as their bits, so they compare exactly, NaN included)."""
    return stack.wait_until(lambda: newest_row(stack.store, table, metric, where, columns),
                            timeout=30, message=f"{metric} in {table} where {where}")


def assert_metadata(stack: PrometheusStack, row: dict, metric_type: str) -> None:
    """The type and help text Prometheus' metadata API gives for the row's metric."""
    metric = row["MetricName"]
    metadata = stack.prometheus.metadata(metric)
    assert metadata, f"Prometheus has no metadata for {metric}"
    assert {entry["type"] for entry in metadata} == {metric_type}, metadata
    assert row["MetricDescription"] in {entry["help"] for entry in metadata}, (
        f"{metric}: description {row['MetricDescription']!r}, Prometheus metadata {metadata}")
    assert row["MetricUnit"] in {entry["unit"] for entry in metadata}, (
        f"{metric}: unit {row['MetricUnit']!r}, Prometheus metadata {metadata}")


def assert_identity(row: dict, job: str, instance: str, what: str) -> None:
    """`job`/`instance` as the resource's identity, and still data point attributes."""
    resource = row["ResourceAttributes"]
    assert resource.get("service.name") == job, f"{what}: resource {resource}"
    assert resource.get("service.instance.id") == instance, f"{what}: resource {resource}"
    assert row["ServiceName"] == job, what
    assert row["ScopeName"] == PROMETHEUS_SCOPE, what
    attributes = row["Attributes"]
    assert attributes.get("job") == job and attributes.get("instance") == instance, (
        f"{what}: attributes {attributes}")
    assert "__name__" not in attributes, f"{what}: attributes {attributes}"


def stored_samples(store: Store, name: str, labels: dict[str, str], ts_ms: int,
                   extra_label: str | None = None) -> list[tuple[str | None, int]]:
    """The stored samples of `name` at `ts_ms` whose labels are exactly `labels` (plus
    `extra_label`, `le` or `quantile`, when given): [(extra label text, value bits)], ordered by
    the extra label's number."""
    rows = store.rows(f"SELECT Labels, reinterpretAsUInt64(Value) AS bits FROM {SAMPLES_TABLE} "
                      f"WHERE MetricName = '{name}' "
                      f"AND toUnixTimestamp64Milli(Timestamp) = {ts_ms}")
    found = []
    for row in rows:
        row_labels = dict(row["Labels"])
        extra = row_labels.pop(extra_label, None) if extra_label else None
        if row_labels == labels and (extra_label is None or extra is not None):
            found.append((extra, int(row["bits"])))
    return sorted(found, key=lambda sample: float(sample[0]) if sample[0] is not None else 0.0)


def stored_value(store: Store, name: str, labels: dict[str, str], ts_ms: int) -> int:
    """The bits of the one stored sample of series `name{labels}` at `ts_ms`."""
    samples = stored_samples(store, name, labels, ts_ms)
    assert len(samples) == 1, f"{name}{labels} @{ts_ms}: {len(samples)} stored samples"
    return samples[0][1]


def test_counters_and_gauges_follow_the_opentelemetry_model(stack):
    node = stack.node_exporter.address
    counter = wait_for_row(stack, "otel_metrics_sum", "node_cpu_seconds_total",
                           f"Attributes['instance'] = '{node}'",
                           "reinterpretAsUInt64(Value) AS bits")
    assert_identity(counter, "node", node, "node_cpu_seconds_total")
    assert_metadata(stack, counter, "counter")
    assert counter["IsMonotonic"] in (True, 1), counter
    assert counter["AggregationTemporality"] == 2, "Prometheus counters are cumulative"
    assert {"cpu", "mode"} <= counter["Attributes"].keys(), counter["Attributes"]
    assert int(counter["bits"]) == stored_value(stack.store, "node_cpu_seconds_total",
                                                counter["Attributes"], int(counter["ts"]))

    gauge = wait_for_row(stack, "otel_metrics_gauge", "node_memory_MemAvailable_bytes",
                         f"Attributes['instance'] = '{node}'",
                         "reinterpretAsUInt64(Value) AS bits")
    assert_identity(gauge, "node", node, "node_memory_MemAvailable_bytes")
    assert_metadata(stack, gauge, "gauge")
    assert int(gauge["bits"]) == stored_value(stack.store, "node_memory_MemAvailable_bytes",
                                              gauge["Attributes"], int(gauge["ts"]))


def test_histograms_and_summaries_are_reassembled(stack):
    store = stack.store
    server = stack.prometheus.address
    name = "prometheus_http_request_duration_seconds"
    # Prometheus' own scrapes hit `/metrics` every second, so this histogram has observations.
    histogram = wait_for_row(
        stack, "otel_metrics_histogram", name,
        f"Attributes['handler'] = '/metrics' AND Attributes['instance'] = '{server}'",
        "reinterpretAsUInt64(Sum) AS sum_bits")
    assert_identity(histogram, "prometheus", server, name)
    assert_metadata(stack, histogram, "histogram")
    assert "le" not in histogram["Attributes"], histogram["Attributes"]
    counts = [int(count) for count in histogram["BucketCounts"]]
    bounds = histogram["ExplicitBounds"]
    total = int(histogram["Count"])
    assert total > 0 and sum(counts) == total, histogram
    labels, ts = histogram["Attributes"], int(histogram["ts"])
    assert float_from_bits(stored_value(store, f"{name}_count", labels, ts)) == total
    assert stored_value(store, f"{name}_sum", labels, ts) == int(histogram["sum_bits"])
    buckets = stored_samples(store, f"{name}_bucket", labels, ts, "le")
    assert [float(le) for le, _ in buckets] == [*bounds, math.inf], (buckets, bounds)
    assert [float_from_bits(bits) for _, bits in buckets] == list(accumulate(counts)), (
        buckets, counts)

    summary = wait_for_row(stack, "otel_metrics_summary", "go_gc_duration_seconds",
                           f"Attributes['instance'] = '{server}'",
                           "ValueAtQuantiles.Quantile AS quantiles, "
                           "arrayMap(v -> reinterpretAsUInt64(v), ValueAtQuantiles.Value) "
                           "AS quantile_bits, reinterpretAsUInt64(Sum) AS sum_bits")
    assert_identity(summary, "prometheus", server, "go_gc_duration_seconds")
    assert_metadata(stack, summary, "summary")
    assert "quantile" not in summary["Attributes"], summary["Attributes"]
    labels, ts = summary["Attributes"], int(summary["ts"])
    assert float_from_bits(stored_value(store, "go_gc_duration_seconds_count", labels, ts)) == (
        int(summary["Count"]))
    assert stored_value(store, "go_gc_duration_seconds_sum", labels, ts) == (
        int(summary["sum_bits"]))
    quantiles = stored_samples(store, "go_gc_duration_seconds", labels, ts, "quantile")
    assert [text for text, _ in quantiles] == ["0", "0.25", "0.5", "0.75", "1"], quantiles
    assert summary["quantiles"] == [float(text) for text, _ in quantiles], summary["quantiles"]
    assert [int(bits) for bits in summary["quantile_bits"]] == [bits for _, bits in quantiles]
