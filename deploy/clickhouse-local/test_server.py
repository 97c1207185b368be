"""The chdb-backed server, over plain HTTP, as the exporter and the end-to-end tests use it."""

from __future__ import annotations

import base64
import gzip
import json
import os
import struct
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import zstandard

from testsupport import (
    LZ4,
    NONE,
    ZSTD,
    StoreProcess,
    array,
    block_checksum,
    datetime64_ns,
    float64,
    frame,
    string,
    string_map,
    uint32,
    uint64,
    unframe,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("store")
    server = StoreProcess(workdir, data_path=workdir / "data").start()
    yield server
    assert server.stop() == 0, server.log()


@pytest.fixture
def table(store, request):
    """A fresh database per test, so tests never see each other's rows."""
    database = "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    store.ok(f"DROP DATABASE IF EXISTS {database}")
    store.ok(f"CREATE DATABASE {database}")
    return database


def count(store, sql: str) -> int:
    return int(store.ok(sql))


def test_ping_and_root(store):
    for path in ("/ping", "/"):
        response = requests.get(store.url + path, timeout=10)
        assert response.status_code == 200
        assert response.text == "Ok.\n"
    missing = requests.get(store.url + "/nowhere", timeout=10)
    assert missing.status_code == 404


def test_tab_separated_round_trip(store, table):
    store.ok(f"CREATE TABLE {table}.kv (k String, v UInt64) ENGINE = MergeTree ORDER BY k")
    rows = b"a\t1\nescaped\\ttab\\nnewline\t2\nz\t18446744073709551615\n"
    store.ok(f"INSERT INTO {table}.kv FORMAT TabSeparated", rows)
    response = store.get(f"SELECT k, v FROM {table}.kv ORDER BY k")
    assert response.status_code == 200
    assert response.content == rows
    assert response.headers["X-ClickHouse-Format"] == "TabSeparated"
    summary = json.loads(response.headers["X-ClickHouse-Summary"])
    assert summary["result_bytes"] == str(len(rows))


def test_json_each_row_round_trip(store, table):
    columns = "id UInt32, name String, tags Array(String), attrs Map(String, String)"
    store.ok(f"CREATE TABLE {table}.j ({columns}) ENGINE = MergeTree ORDER BY id")
    rows = [
        {"id": 1, "name": "first", "tags": ["a", "b"], "attrs": {"k": "v"}},
        {"id": 2, "name": 'zweite \u00fc "quoted"', "tags": [], "attrs": {}},
    ]
    body = "".join(json.dumps(row) + "\n" for row in rows).encode()
    store.ok(f"INSERT INTO {table}.j FORMAT JSONEachRow", body)
    response = store.get(f"SELECT * FROM {table}.j ORDER BY id FORMAT JSONEachRow")
    assert response.headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert response.headers["Content-Type"].startswith("application/json")
    assert [json.loads(line) for line in response.text.splitlines()] == rows


ROWBINARY_DDL = """CREATE TABLE {table}.rb (
    Name String,
    Count UInt64,
    Timestamp DateTime64(9),
    Attributes Map(LowCardinality(String), String),
    Values Array(Float64),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    )
) ENGINE = MergeTree ORDER BY Count"""
ROWBINARY_COLUMNS = (
    "Name, Count, Timestamp, Attributes, Values, Events.Timestamp, Events.Name, Events.Attributes"
)

# Edge values: empty everything, the largest UInt64, nanosecond timestamps, escapes and emoji,
# keys with dots and an empty key, negative zero and a subnormal double.
ROWBINARY_ROWS = [
    {"Name": "", "Count": 0, "Timestamp": 0, "Attributes": {}, "Values": [], "Events": []},
    {
        "Name": "na\u00efve \t tab\nnewline \\ back 'q' \"dq\" \U0001f680",
        "Count": 2**64 - 1,
        "Timestamp": 1_767_225_600_123_456_789,
        "Attributes": {"http.route": "/api/{id}", "k.with.dots": "v=2", "": "empty key"},
        "Values": [1.5, -0.0, 5e-324, 3.141592653589793],
        "Events": [
            (1_767_225_600_123_456_790, "exception", {"exception.type": "ValueError"}),
            (1_767_225_600_999_999_999, "retry", {}),
        ],
    },
    {
        "Name": "third",
        "Count": 42,
        "Timestamp": 1,
        "Attributes": {"a": ""},
        "Values": [-1e308],
        "Events": [(2, "", {"": ""})],
    },
]


def encode_rowbinary_row(row: dict) -> bytes:
    events = row["Events"]
    return (
        string(row["Name"])
        + uint64(row["Count"])
        + datetime64_ns(row["Timestamp"])
        + string_map(row["Attributes"])
        + array(row["Values"], float64)
        + array([event[0] for event in events], datetime64_ns)
        + array([event[1] for event in events], string)
        + array([event[2] for event in events], string_map)
    )


def datetime64_text(nanos: int) -> str:
    seconds, fraction = divmod(nanos, 10**9)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + f".{fraction:09d}"


def test_rowbinary_round_trip_is_exact(store, table):
    store.ok(ROWBINARY_DDL.format(table=table))
    body = b"".join(encode_rowbinary_row(row) for row in ROWBINARY_ROWS)
    response = store.post(f"INSERT INTO {table}.rb ({ROWBINARY_COLUMNS}) FORMAT RowBinary", body)
    assert response.status_code == 200, response.text
    assert json.loads(response.headers["X-ClickHouse-Summary"])["written_rows"] == "3"

    # The same bytes come back, value for value.
    again = store.ok(f"SELECT {ROWBINARY_COLUMNS} FROM {table}.rb ORDER BY Count FORMAT RowBinary")
    assert again == b"".join(
        encode_rowbinary_row(row) for row in sorted(ROWBINARY_ROWS, key=lambda row: row["Count"])
    )

    as_json = store.ok(
        f"SELECT * FROM {table}.rb ORDER BY Count FORMAT JSONEachRow",
        output_format_json_quote_64bit_integers=0,
        session_timezone="UTC",
    )
    got = [json.loads(line) for line in as_json.decode().splitlines()]
    expected = [
        {
            "Name": row["Name"],
            "Count": row["Count"],
            "Timestamp": datetime64_text(row["Timestamp"]),
            "Attributes": row["Attributes"],
            "Values": row["Values"],
            "Events.Timestamp": [datetime64_text(event[0]) for event in row["Events"]],
            "Events.Name": [event[1] for event in row["Events"]],
            "Events.Attributes": [event[2] for event in row["Events"]],
        }
        for row in sorted(ROWBINARY_ROWS, key=lambda row: row["Count"])
    ]
    assert got == expected


def test_rowbinary_rows_cut_short_insert_nothing(store, table):
    store.ok(ROWBINARY_DDL.format(table=table))
    body = b"".join(encode_rowbinary_row(row) for row in ROWBINARY_ROWS)
    response = store.post(f"INSERT INTO {table}.rb FORMAT RowBinary", body[:-3])
    assert response.status_code == 500
    assert response.headers["X-ClickHouse-Exception-Code"] == "32"
    assert response.text.startswith("Code: 32. DB::Exception: Attempt to read after eof")
    assert "/tmp" not in response.text
    assert count(store, f"SELECT count() FROM {table}.rb") == 0


def test_rows_may_begin_with_whitespace_bytes(store, table):
    """The line break after the URL's statement is the only byte taken off the body, so binary
    rows starting with 0x0a or 0x20 arrive whole."""
    store.ok(f"CREATE TABLE {table}.s (n UInt8, s String) ENGINE = MergeTree ORDER BY n")
    for n, value in ((10, "0123456789"), (32, " " * 32), (13, "\r")):
        body = bytes([n]) + string(value)
        response = store.post(f"INSERT INTO {table}.s FORMAT RowBinary", body)
        assert response.status_code == 200, response.text
    assert store.ok(f"SELECT n, length(s) FROM {table}.s ORDER BY n") == b"10\t10\n13\t1\n32\t32\n"


def small_rows(first: int, number: int, thread: int = 0) -> bytes:
    return b"".join(uint32(thread) + uint64(n) + string(f"row {n}") for n in range(first, first + number))


@pytest.mark.parametrize("method", [LZ4, ZSTD, NONE], ids=["lz4", "zstd", "none"])
def test_compressed_blocks(store, table, method):
    store.ok(f"CREATE TABLE {table}.c (thread UInt32, n UInt64, s String) ENGINE = MergeTree ORDER BY n")
    rows = small_rows(0, 20_000)
    body = frame(rows, method, block_size=64 * 1024)
    assert len(body) > 2 * 64 * 1024 or method != NONE
    response = store.post(f"INSERT INTO {table}.c FORMAT RowBinary", body, decompress=1)
    assert response.status_code == 200, response.text
    assert store.ok(f"SELECT count(), sum(n), uniqExact(s) FROM {table}.c") == b"20000\t199990000\t20000\n"


def test_blocks_written_by_the_engine_are_accepted(store, table):
    """Column files of a MergeTree part are sequences of compressed blocks as the engine frames
    them; a UInt64 column's blocks decompress to RowBinary of that column. Feeding them back
    checks checksum byte order, LZ4 and ZSTD against ClickHouse's own writer."""
    store.ok(
        f"CREATE TABLE {table}.src (a UInt64 CODEC(LZ4), b UInt64 CODEC(ZSTD(1))) "
        "ENGINE = MergeTree ORDER BY tuple() SETTINGS min_bytes_for_wide_part = 0, min_rows_for_wide_part = 0"
    )
    store.ok(f"INSERT INTO {table}.src SELECT number, number * 3 FROM numbers(100000)")
    store.ok(f"CREATE TABLE {table}.dst (v UInt64) ENGINE = MergeTree ORDER BY v")
    part = (
        store.ok(f"SELECT path FROM system.parts WHERE database = '{table}' AND table = 'src' AND active")
        .decode()
        .strip()
    )
    part_dir = Path(part) if os.path.isabs(part) else store.data_path / part
    for column, method, multiplier in (("a", LZ4, 1), ("b", ZSTD, 3)):
        blocks = (part_dir / f"{column}.bin").read_bytes()
        assert blocks[16] == method
        store.ok(f"TRUNCATE TABLE {table}.dst")
        response = store.post(f"INSERT INTO {table}.dst FORMAT RowBinary", blocks, decompress=1)
        assert response.status_code == 200, response.text
        assert (
            store.ok(f"SELECT count(), sum(v) FROM {table}.dst")
            == f"100000\t{multiplier * 4999950000}\n".encode()
        )


def corrupt(body: bytes, at: int) -> bytes:
    return body[:at] + bytes([body[at] ^ 0x55]) + body[at + 1 :]


def test_corrupted_blocks_are_refused_and_nothing_is_inserted(store, table):
    store.ok(f"CREATE TABLE {table}.c (thread UInt32, n UInt64, s String) ENGINE = MergeTree ORDER BY n")
    body = frame(small_rows(0, 5000), LZ4, block_size=16 * 1024)
    unknown_method = struct.pack("<BII", 0x07, 9 + 3, 3) + b"abc"
    cases = {
        "checksum": (corrupt(body, 40), "40", "Checksum doesn't match"),
        "second block": (corrupt(body, len(body) - 10), "40", "Checksum doesn't match"),
        "truncated": (body[:-7], "33", "Cannot read all data"),
        "truncated header": (body + body[:20], "33", "Cannot read all data"),
        "unknown method": (
            block_checksum(unknown_method) + unknown_method,
            "89",
            "Unknown compression method 0x07",
        ),
    }
    for name, (bad, code, text) in cases.items():
        response = store.post(f"INSERT INTO {table}.c FORMAT RowBinary", bad, decompress=1)
        assert response.status_code == 500, name
        assert response.headers["X-ClickHouse-Exception-Code"] == code, name
        assert response.text.startswith(f"Code: {code}. DB::Exception: {text}"), (name, response.text)
    assert count(store, f"SELECT count() FROM {table}.c") == 0


def test_content_encoding(store, table):
    store.ok(f"CREATE TABLE {table}.kv (k String, v UInt64) ENGINE = MergeTree ORDER BY k")
    encoders = {"gzip": gzip.compress, "zstd": zstandard.ZstdCompressor().compress}
    for number, (encoding, encode) in enumerate(encoders.items()):
        rows = f"{encoding}\t{number}\n".encode()
        response = store.post(
            f"INSERT INTO {table}.kv FORMAT TSV", encode(rows), headers={"Content-Encoding": encoding}
        )
        assert response.status_code == 200, response.text
    assert store.ok(f"SELECT * FROM {table}.kv ORDER BY v") == b"gzip\t0\nzstd\t1\n"
    refused = store.post("SELECT 1", b"x", headers={"Content-Encoding": "br"})
    assert refused.status_code == 501
    assert refused.headers["X-ClickHouse-Exception-Code"] == "48"


def test_compressed_response(store):
    plain = store.ok("SELECT number, toString(number) FROM numbers(300000)")
    compressed = store.post("SELECT number, toString(number) FROM numbers(300000)", compress=1)
    assert compressed.status_code == 200
    assert len(compressed.content) < len(plain)
    assert unframe(compressed.content) == plain


def test_query_in_url_and_body_and_chunked(store, table):
    store.post(body=f"CREATE TABLE {table}.kv (k String, v UInt64) ENGINE = MergeTree ORDER BY k".encode())
    # The whole INSERT, rows included, in the body.
    store.ok(body=f"INSERT INTO {table}.kv FORMAT TSV\nbody\t1\n".encode())
    store.ok(body=f"INSERT INTO {table}.kv VALUES ('values', 2)".encode())
    # Chunked transfer encoding: requests sends a generator body in chunks.
    chunks = iter([b"chunk", b"ed\t", b"3\n"])
    response = requests.post(
        store.url + "/", params={"query": f"INSERT INTO {table}.kv FORMAT TSV"}, data=chunks, timeout=30
    )
    assert response.status_code == 200, response.text
    assert store.ok(f"SELECT * FROM {table}.kv ORDER BY v") == b"body\t1\nvalues\t2\nchunked\t3\n"


def test_statement_bytes_reach_the_engine_unchanged(store):
    """String literals may hold any bytes, valid UTF-8 or not."""
    assert store.ok(body=b"SELECT hex('\xff\x00\xc3\xa9')") == b"FF00C3A9\n"


def test_insert_head_with_quoted_names_columns_and_settings(store, table):
    name = f"`{table}`.`odd ``name`` table`"
    columns = "`a b` UInt64, `c` String DEFAULT 'dflt', d UInt8"
    store.ok(f"CREATE TABLE {name} ({columns}) ENGINE = MergeTree ORDER BY `a b`")
    settings = "async_insert = 1, wait_for_async_insert = 1"
    head = f"INSERT INTO {name} (`a b`, d) SETTINGS {settings} FORMAT RowBinary"
    response = store.post(head, uint64(7) + b"\x09" + uint64(8) + b"\x0a")
    assert response.status_code == 200, response.text
    assert store.ok(f"SELECT * FROM {name} ORDER BY `a b`") == b"7\tdflt\t9\n8\tdflt\t10\n"


def test_database_parameter_and_header(store, table):
    store.ok("CREATE TABLE kv (k String) ENGINE = MergeTree ORDER BY k", database=table)
    store.ok("INSERT INTO kv FORMAT TSV", b"in-param\n", database=table)
    response = requests.get(
        store.url + "/",
        params={"query": "SELECT currentDatabase(), count() FROM kv"},
        headers={"X-ClickHouse-Database": table},
        timeout=10,
    )
    assert response.text == f"{table}\t1\n"
    missing = store.get("SELECT 1", database="no_such_database")
    assert missing.status_code == 404
    assert missing.headers["X-ClickHouse-Exception-Code"] == "81"


def test_query_parameters(store):
    response = store.get("SELECT {a:UInt32} + 1, {s:String}", param_a="41", param_s="x y")
    assert response.text == "42\tx y\n"


def test_error_codes_and_statuses(store, table):
    cases = [
        (store.get("SELEC 1"), 400, "62"),
        (store.get(f"SELECT * FROM {table}.no_such_table"), 404, "60"),
        (store.get("SELECT 1; SELECT 2"), 400, "62"),
        (store.get(f"CREATE TABLE {table}.from_get (a UInt8) ENGINE = Memory"), 500, "164"),
        (store.get("SELECT 1", no_such_setting="1"), 404, "115"),
        (store.post(body=b""), 400, "62"),
        (store.get("SELECT 1", session_id="s1"), 501, "48"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.headers.get("X-ClickHouse-Exception-Code")) == (
            status,
            code,
        ), response.text
        assert response.text.startswith(f"Code: {code}. DB::Exception: "), response.text
        assert response.text.endswith(")\n")
    # GET is read-only; the same statement by POST works.
    store.ok(f"CREATE TABLE {table}.from_post (a UInt8) ENGINE = Memory")


def test_concurrent_inserts_all_land(store, table):
    store.ok(
        f"CREATE TABLE {table}.c (thread UInt32, n UInt64, s String) ENGINE = MergeTree ORDER BY (thread, n)"
    )
    threads, inserts, rows = 8, 20, 500
    failures = []

    def insert(thread: int) -> None:
        with requests.Session() as session:
            for batch in range(inserts):
                body = frame(small_rows(batch * rows, rows, thread), LZ4)
                response = session.post(
                    store.url + "/",
                    params={"query": f"INSERT INTO {table}.c FORMAT RowBinary", "decompress": "1"},
                    data=body,
                    timeout=120,
                )
                if response.status_code != 200:
                    failures.append(response.text)

    workers = [threading.Thread(target=insert, args=(thread,)) for thread in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    total = threads * inserts * rows
    assert store.ok(f"SELECT count(), uniqExact(thread, n) FROM {table}.c") == f"{total}\t{total}\n".encode()


def test_credentials(tmp_path):
    server = StoreProcess(tmp_path, extra_args=("--user", "writer", "--password", "s3cret")).start()
    try:
        basic = "Basic " + base64.b64encode(b"writer:s3cret").decode()
        accepted = [
            requests.get(
                server.url + "/",
                params={"query": "SELECT 1", "user": "writer", "password": "s3cret"},
                timeout=10,
            ),
            requests.get(
                server.url + "/",
                params={"query": "SELECT 1"},
                headers={"X-ClickHouse-User": "writer", "X-ClickHouse-Key": "s3cret"},
                timeout=10,
            ),
            requests.get(
                server.url + "/", params={"query": "SELECT 1"}, headers={"Authorization": basic}, timeout=10
            ),
        ]
        assert [(response.status_code, response.text) for response in accepted] == [(200, "1\n")] * 3
        refused = [
            requests.get(
                server.url + "/",
                params={"query": "SELECT 1", "user": "writer", "password": "wrong"},
                timeout=10,
            ),
            requests.get(server.url + "/", params={"query": "SELECT 1"}, timeout=10),
            requests.get(
                server.url + "/",
                params={"query": "SELECT 1", "user": "writer"},
                headers={"Authorization": basic},
                timeout=10,
            ),
        ]
        for response in refused:
            assert response.status_code == 403
            assert response.headers["X-ClickHouse-Exception-Code"] == "516"
            assert response.text.startswith("Code: 516. DB::Exception: ")
        assert requests.get(server.url + "/ping", timeout=10).text == "Ok.\n"
    finally:
        assert server.stop() == 0


def test_sigterm_lets_requests_being_answered_finish(tmp_path):
    """A shutdown must not swallow the answer to a statement the engine has run; a client would
    otherwise send a stored INSERT again."""
    server = StoreProcess(tmp_path).start()
    answers = []
    slow = threading.Thread(target=lambda: answers.append(server.post("SELECT sleep(2)")))
    slow.start()
    running = "SELECT count() FROM system.processes WHERE query LIKE 'SELECT sleep(2)%'"
    deadline = time.monotonic() + 10
    while server.ok(running) != b"1\n":
        assert time.monotonic() < deadline, "the slow statement never started"
        time.sleep(0.05)
    status = server.stop()
    slow.join()
    assert status == 0, server.log()
    assert [(answer.status_code, answer.text) for answer in answers] == [(200, "0\n")]
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/ping", timeout=5)


def test_data_persists_across_restart(tmp_path):
    data = tmp_path / "data"
    first = StoreProcess(tmp_path, data_path=data).start()
    try:
        first.ok("CREATE TABLE kept (n UInt64, s String) ENGINE = MergeTree ORDER BY n")
        first.ok(
            "INSERT INTO kept FORMAT RowBinary", b"".join(uint64(n) + string(f"v{n}") for n in range(1000))
        )
        # A second server cannot share the directory, and says why.
        rival_dir = tmp_path / "rival"
        rival_dir.mkdir()
        rival = StoreProcess(rival_dir, data_path=data)
        with pytest.raises(RuntimeError, match="in use by another server"):
            rival.start(timeout=30)
    finally:
        assert first.stop() == 0, first.log()
    assert "stopped" in first.log()
    second = StoreProcess(tmp_path, data_path=data).start()
    try:
        assert second.ok("SELECT count(), sum(n), max(s) FROM kept") == b"1000\t499500\tv999\n"
    finally:
        assert second.stop() == 0
