#!/usr/bin/env python3
"""Insert throughput of the store: traces-shaped RowBinary bodies over HTTP, as the exporter sends.

    python3 bench_insert.py                      # starts its own server on a temporary directory
    python3 bench_insert.py --url http://127.0.0.1:8123 --rows 100000 --repeat 5 --compress lz4

Each round POSTs one body of `--rows` spans (`INSERT ... FORMAT RowBinary`, `decompress=1` unless
`--compress none`) and times it from the first byte sent to the response. Reports rows/s per
round, the server's CPU time when it started the server, and the stored bytes per span.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from testsupport import LZ4, TRACES_COLUMNS, TRACES_DDL, ZSTD, StoreProcess, frame, traces_rows

METHODS = {"lz4": LZ4, "zstd": ZSTD, "none": None}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(url: str, rows: int, repeat: int, compress: str, server_pid: int | None) -> None:
    database = f"bench_{os.getpid()}"
    session = requests.Session()

    def query(sql: str, body: bytes = b"", **params) -> bytes:
        response = session.post(url + "/", params={"query": sql, **params}, data=body, timeout=600)
        if response.status_code != 200:
            raise SystemExit(f"{sql[:80]}: {response.status_code} {response.text}")
        return response.content

    query(f"CREATE DATABASE {database}")
    try:
        query(TRACES_DDL.format(table=f"{database}.otel_traces"))
        started = time.monotonic()
        raw = traces_rows(rows)
        encoding = time.monotonic() - started
        size = len(raw)
        print(
            f"encoded {rows} spans: {size / 1e6:.1f} MB RowBinary, {size / rows:.0f} B/span, {encoding:.1f} s"
        )
        method = METHODS[compress]
        body = frame(raw, method) if method is not None else raw
        params = {"decompress": "1"} if method is not None else {}
        print(f"body: {len(body) / 1e6:.1f} MB ({compress})")
        insert = f"INSERT INTO {database}.otel_traces ({TRACES_COLUMNS}) FORMAT RowBinary"
        rates = []
        cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
        for round_number in range(1, repeat + 1):
            started = time.monotonic()
            query(insert, body, **params)
            elapsed = time.monotonic() - started
            rates.append(rows / elapsed)
            megabytes = len(raw) / elapsed / 1e6
            rate = rows / elapsed
            print(f"round {round_number}: {elapsed * 1000:.0f} ms, {rate:,.0f} rows/s, {megabytes:.0f} MB/s")
        median, best, worst = statistics.median(rates), max(rates), min(rates)
        print(f"rows/s: median {median:,.0f}, best {best:,.0f}, worst {worst:,.0f}")
        if server_pid:
            cpu = cpu_seconds(server_pid) - cpu_before
            total = rows * repeat
            print(f"server CPU: {cpu:.2f} s for {total} rows = {total / cpu:,.0f} rows per CPU-second")
        query(f"OPTIMIZE TABLE {database}.otel_traces FINAL")
        stored, count = query(
            "SELECT sum(data_compressed_bytes), sum(rows) FROM system.parts "
            f"WHERE database = '{database}' AND table = 'otel_traces' AND active"
        ).split()
        per_span = int(stored) / int(count)
        print(f"stored: {per_span:.1f} compressed bytes per span ({int(count)} spans, after OPTIMIZE FINAL)")
    finally:
        query(f"DROP DATABASE {database}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; without it one is started on a temporary directory")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compress", choices=sorted(METHODS), default="lz4")
    args = parser.parse_args(argv)
    if args.url:
        run(args.url.rstrip("/"), args.rows, args.repeat, args.compress, None)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-clickhouse-local-") as workdir:
        server = StoreProcess(Path(workdir), extra_args=("--log-level", "info")).start()
        try:
            run(server.url, args.rows, args.repeat, args.compress, server.process.pid)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
