"""The chdb-backed ClickHouse server (`deploy/clickhouse-local/server.py`) as the store under test,
and the conversions the `clickhouse` exporter documents (otelcol's `AsString()`, hex ids, kind and
status names), written here independently so the tests check the exporter against them."""

from __future__ import annotations

import base64
import decimal
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from harness import REPO_ROOT, free_port

SERVER = REPO_ROOT / "deploy" / "clickhouse-local" / "server.py"

SPAN_KINDS = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
STATUS_CODES = ["Unset", "Ok", "Error"]


class Store:
    """One store server process on a free port, with its data in `path` (kept across restarts)."""

    def __init__(self, path: Path, log_path: Path):
        self.path = path
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "Store":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER), "--listen", f"127.0.0.1:{self.port}",
                 "--path", str(self.path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"store exited: {self.log_path.read_text(errors='replace')}")
            try:
                if requests.get(f"{self.url}/ping", timeout=1).text.strip() == "Ok.":
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("store did not answer /ping in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def query(self, sql: str) -> str:
        response = requests.post(self.url, data=sql.encode(), timeout=30)
        assert response.status_code == 200, f"{sql}\n-> HTTP {response.status_code}: {response.text}"
        return response.text

    def rows(self, sql: str) -> list[dict]:
        text = self.query(f"{sql} FORMAT JSONEachRow")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def scalar(self, sql: str) -> int:
        return int(self.query(sql).strip() or 0)


def hex_id(raw: bytes) -> str:
    """Lowercase hex, and '' for an absent or all-zero id."""
    return raw.hex() if raw and any(raw) else ""


def go_float(value: float) -> str:
    """otelcol's double `AsString()`: ES6 number-to-string, as Go's encoding/json writes floats —
    the shortest round-trip digits, plain below 1e21 and from 1e-6, exponent form outside."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, exponent = repr(value).split("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        if sign == "+" and len(digits) < 2:
            digits = digits.rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return format(decimal.Decimal(repr(value)).normalize(), "f")


def any_value_raw(value):
    """An AnyValue as the plain Python value its JSON form carries."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value_raw(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value_raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def as_string(value) -> str:
    """otelcol's `Value.AsString()`: scalars as text, arrays and maps as JSON."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return go_float(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind is None:
        return ""
    return json.dumps(any_value_raw(value), separators=(",", ":"))


def assert_attributes(stored: dict, attributes, what: str) -> None:
    """Stored `Map(String, String)` against OTLP key-values: scalars exactly, JSON values parsed."""
    expected = {kv.key: kv.value for kv in attributes}
    assert set(stored) == set(expected), f"{what}: keys {sorted(stored)} != {sorted(expected)}"
    for key, value in expected.items():
        assert_value(stored[key], value, f"{what}[{key}]")


def assert_value(stored: str, value, what: str) -> None:
    """One stored `AsString()` text against its AnyValue: scalars exactly, arrays and maps as JSON
    (compared parsed, so key order and number spelling inside the JSON do not matter)."""
    if value.WhichOneof("value") in ("array_value", "kvlist_value"):
        assert json.loads(stored) == any_value_raw(value), what
    else:
        assert stored == as_string(value), f"{what}: {stored!r}"
