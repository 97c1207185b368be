"""Splitting request text into statement and rows: the cases the HTTP tests cannot reach cheaply."""

from __future__ import annotations

import pytest

from errors import ClickHouseError
from sqltext import parse

PATH = "/tmp/x'y"


@pytest.mark.parametrize(
    ("text", "statement", "rows"),
    [
        (
            b"INSERT INTO t FORMAT RowBinary\n\n rows",
            "INSERT INTO t FROM INFILE '/tmp/x\\'y' FORMAT RowBinary",
            b"\n rows",
        ),
        (
            b"INSERT INTO t FORMAT TSV \t\r\n\tfirst\n",
            "INSERT INTO t FROM INFILE '/tmp/x\\'y' FORMAT TSV",
            b"\tfirst\n",
        ),
        (
            b"INSERT INTO t FORMAT TSV   a\tb\n",
            "INSERT INTO t FROM INFILE '/tmp/x\\'y' FORMAT TSV",
            b"a\tb\n",
        ),
        (
            b"/* a /* nested */ comment */ -- line\n"
            b'insert into table `d b`."t" (a, `b c`, n.x) FORMAT Native\n\x00\xff',
            "INSERT INTO `d b`.\"t\" (a, `b c`, n.x) FROM INFILE '/tmp/x\\'y' FORMAT Native",
            b"\x00\xff",
        ),
        (
            b"INSERT INTO t SETTINGS async_insert = 1, format_csv_delimiter = ';' FORMAT CSV\n1;2\n",
            "INSERT INTO t FROM INFILE '/tmp/x\\'y' "
            "SETTINGS async_insert = 1, format_csv_delimiter = ';' FORMAT CSV",
            b"1;2\n",
        ),
        (
            b'INSERT INTO {db:Identifier}.{t:Identifier} FORMAT JSONEachRow {"a": 1}',
            "INSERT INTO {db:Identifier}.{t:Identifier} FROM INFILE '/tmp/x\\'y' FORMAT JSONEachRow",
            b'{"a": 1}',
        ),
        (
            b"INSERT INTO t VALUES (1, 'a;b')",
            "INSERT INTO t FROM INFILE '/tmp/x\\'y' FORMAT Values",
            b"(1, 'a;b')",
        ),
        (
            b"INSERT INTO FUNCTION null('x UInt8') FORMAT TSV\n1\n",
            "INSERT INTO FUNCTION null('x UInt8') FROM INFILE '/tmp/x\\'y' FORMAT TSV",
            b"1\n",
        ),
    ],
    ids=[
        "one-line-break",
        "spaces-then-crlf",
        "spaces-only",
        "comments-quoted-names",
        "settings",
        "parameters",
        "values",
        "table-function",
    ],
)
def test_insert_rows_are_split_off(text, statement, rows):
    insert = parse(text).insert
    assert insert is not None
    assert insert.from_infile(PATH).decode() == statement
    assert bytes(insert.data) == rows


@pytest.mark.parametrize(
    "text",
    [
        b"INSERT INTO t SELECT 1",
        b"INSERT INTO t (a) WITH 1 AS x SELECT x",
        b"INSERT INTO t FROM INFILE 'f' FORMAT CSV",
    ],
    ids=["select", "with", "infile"],
)
def test_inserts_without_inline_rows_go_to_the_engine_unchanged(text):
    statement = parse(text)
    assert statement.insert is None
    assert statement.text == text


@pytest.mark.parametrize(
    ("text", "output_format", "has_output"),
    [
        (b"SELECT 1", None, True),
        (b"SELECT 1 FORMAT JSONEachRow", "JSONEachRow", True),
        (b"SELECT (SELECT 1 FORMAT TSV) FORMAT `JSON`;", "JSON", True),
        (b"select 'FORMAT CSV' format Vertical", "Vertical", True),
        (b"CREATE TABLE t (format String) ENGINE = Memory", None, False),
        (b"SELECT $$it's$$", None, True),
    ],
    ids=["none", "json-each-row", "nested-and-quoted", "keyword-in-string", "ddl", "unlexed-heredoc"],
)
def test_output_format(text, output_format, has_output):
    statement = parse(text)
    assert (statement.output_format, statement.has_output) == (output_format, has_output)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "Empty query"),
        (b"  -- only a comment\n", "Empty query"),
        (b"SELECT 1; SELECT 2", "Multi-statements are not allowed"),
        (b"INSERT INTO t FORMAT TSV;1\n", "excessive ';'"),
        (b"INSERT INTO t FORMAT", "expected a format name"),
    ],
    ids=["empty", "comment-only", "two-statements", "semicolon-before-rows", "no-format-name"],
)
def test_refused(text, message):
    with pytest.raises(ClickHouseError) as raised:
        parse(text)
    assert raised.value.code == 62
    assert message in raised.value.message
