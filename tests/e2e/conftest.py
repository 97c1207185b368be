"""pytest fixtures: collectors started for a test or a module are always stopped, and a failing
test's report carries the logs of the collectors it used."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import Collector, CollectorPool


@pytest.fixture
def collectors(tmp_path: Path):
    pool = CollectorPool(tmp_path)
    yield pool
    pool.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, appends the log of every collector the test used to the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    seen = set()
    for value in getattr(item, "funcargs", {}).values():
        for collector in collectors_in(value):
            if id(collector) in seen:
                continue
            seen.add(id(collector))
            log = collector.log()
            tail = "\n".join(log.splitlines()[-300:])
            report.sections.append((f"cormorant {collector.name} log ({collector.log_path})", tail))


def collectors_in(value) -> list[Collector]:
    if isinstance(value, Collector):
        return [value]
    if isinstance(value, CollectorPool):
        return list(value.collectors)
    found = getattr(value, "collectors", None)
    if isinstance(found, (list, tuple)):
        return [c for c in found if isinstance(c, Collector)]
    return []


