"""The ClickHouse engine, in process through chdb-core, with one connection per request.

chdb hosts one engine per process, bound to one data directory, and any number of connections
to it. Each connection keeps its own current database and settings, and connections run their
queries in parallel, so every HTTP request gets a fresh connection: a request's `database` and
settings can never leak into another request, and requests do not wait for each other. One
connection stays open for the life of the server, because the engine shuts down when its last
connection closes.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field

import chdb

from errors import ABORTED, UNKNOWN_SETTING, ClickHouseError, from_engine_message, verify_codes
from sqltext import Statement

_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What the engine adds to errors in rows read `FROM INFILE`; the rows came in the request here.
_FILE_CONTEXT = ": While executing File: data for INSERT was parsed from file"
# Inside the data directory, beside the engine's own directories.
BODIES_DIRECTORY = "http-bodies"
# The result format when neither the statement nor the request names one.
DEFAULT_FORMAT = "TabSeparated"


@dataclass
class QueryRequest:
    """One statement with everything the HTTP request sets around it."""

    statement: Statement
    database: str = ""
    default_format: str = ""
    settings: list[tuple[str, str]] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    # HTTP GET requests may only read, as with ClickHouse (`readonly = 2`).
    readonly: bool = False


@dataclass
class QueryResult:
    body: bytes
    # The result format, for statements that produce a result (None for INSERT, DDL, ...).
    format: str | None
    summary: dict[str, str]


class EngineUnavailable(Exception):
    """The engine could not start on the data directory (in use by another process, unreadable)."""


def _check_not_in_use(path: str) -> None:
    """The engine holds an exclusive `flock` on `<path>/status` while it runs; if another process
    holds it, say so plainly (the engine's own error on this is vague)."""
    status = os.path.join(path, "status")
    if not os.path.exists(status):
        return
    with open(status, "rb") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = ", ".join(file.read().decode(errors="replace").splitlines()) or "status file locked"
            raise EngineUnavailable(
                f"the data directory {path} is in use by another server ({owner}); "
                "stop it or choose another --path"
            ) from None
        fcntl.flock(file, fcntl.LOCK_UN)


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    """Runs statements against the data directory `path`."""

    def __init__(self, path: str) -> None:
        self.path = path
        _check_not_in_use(path)
        try:
            self._anchor = chdb.connect(path)
        except RuntimeError as error:
            raise EngineUnavailable(f"cannot open the data directory {path}: {error}") from None
        codes = "SELECT number, errorCodeToName(number) AS name FROM numbers(5000) WHERE name != ''"
        self.names_by_code = {int(code): name for code, name in self._rows(codes)}
        verify_codes(self.names_by_code)
        [(self.version, self.timezone)] = self._rows("SELECT version(), timezone()")
        self._output_formats = {
            name.lower(): name for (name,) in self._rows("SELECT name FROM system.formats WHERE is_output")
        }
        # INSERT rows wait here for the engine; left-overs of a killed server go at the next start.
        self._bodies = os.path.join(path, BODIES_DIRECTORY)
        shutil.rmtree(self._bodies, ignore_errors=True)
        os.makedirs(self._bodies)
        self._state = threading.Condition()
        self._running = 0
        self._closing = False

    def _rows(self, sql: str) -> list[list[str]]:
        text = self._anchor.query(sql, "TabSeparated").bytes().decode()
        return [line.split("\t") for line in text.splitlines()]

    def execute(self, request: QueryRequest) -> QueryResult:
        with self._state:
            if self._closing:
                raise ClickHouseError.own(ABORTED, "The server is shutting down")
            self._running += 1
        try:
            return self._execute(request)
        finally:
            with self._state:
                self._running -= 1
                self._state.notify_all()

    def _execute(self, request: QueryRequest) -> QueryResult:
        started = time.monotonic()
        connection = chdb.connect(self.path)
        try:
            self._prepare(connection, request)
            statement = request.statement
            if statement.insert is not None:
                result = self._insert(connection, request)
            else:
                default_format = request.default_format or DEFAULT_FORMAT
                result = self._run(connection, statement.text, default_format, request.params)
            body = result.bytes()
            summary = {
                "read_rows": str(result.storage_rows_read()),
                "read_bytes": str(result.storage_bytes_read()),
                "written_rows": str(result.rows_written()),
                "written_bytes": str(result.bytes_written()),
                "total_rows_to_read": str(result.storage_rows_read()),
                "result_rows": str(result.rows_read()),
                "result_bytes": str(len(body)),
                "elapsed_ns": str(int((time.monotonic() - started) * 1e9)),
            }
            result_format = (
                self._output_format(statement, request.default_format) if statement.has_output else None
            )
            return QueryResult(body=body, format=result_format, summary=summary)
        finally:
            connection.close()

    def _prepare(self, connection, request: QueryRequest) -> None:
        """Applies the request's read-only mode, settings and current database to `connection`."""
        if request.readonly:
            self._run(connection, "SET readonly = 2")
        if request.settings:
            for name, _ in request.settings:
                if not _SETTING_NAME.match(name):
                    raise ClickHouseError.own(UNKNOWN_SETTING, f"Unknown setting '{name}'")
            changes = ", ".join(f"{name} = {_quote_string(value)}" for name, value in request.settings)
            self._run(connection, f"SET {changes}")
        if request.database:
            self._run(connection, f"USE {_quote_identifier(request.database)}")

    def _insert(self, connection, request: QueryRequest):
        """Runs an INSERT with its rows in the request: the rows go to a file the engine reads
        with `FROM INFILE`, so any input format, binary ones included, arrives byte for byte."""
        insert = request.statement.insert
        with tempfile.NamedTemporaryFile(
            dir=self._bodies, prefix="insert-", suffix=".data", delete=False
        ) as file:
            file.write(insert.data)
            path = file.name
        try:
            return self._run(connection, insert.from_infile(path), DEFAULT_FORMAT, request.params, path)
        finally:
            os.unlink(path)

    def _run(
        self, connection, sql: str | bytes, result_format: str = DEFAULT_FORMAT, params=None, data_path=None
    ):
        try:
            return connection.query(sql, result_format, params=params or None)
        except RuntimeError as error:
            message = str(error)
            if data_path is not None:
                # The temporary file is this server's business; the client sent a request body.
                message = message.replace(f" (in file/uri {data_path})", "").replace(_FILE_CONTEXT, "")
            raise from_engine_message(message, self.names_by_code) from None

    def _output_format(self, statement: Statement, default_format: str) -> str:
        """The format of the result: the statement's own FORMAT if it names a known format,
        else the request's default."""
        if statement.output_format is not None:
            known = self._output_formats.get(statement.output_format.lower())
            if known is not None:
                return known
        return default_format or DEFAULT_FORMAT

    def close(self, drain_seconds: float) -> None:
        """Refuses new statements, waits up to `drain_seconds` for running ones, then stops the
        engine so that everything written is on disk."""
        deadline = time.monotonic() + drain_seconds
        with self._state:
            self._closing = True
            while self._running and time.monotonic() < deadline:
                self._state.wait(timeout=max(0.0, deadline - time.monotonic()))
        self._anchor.close()
        shutil.rmtree(self._bodies, ignore_errors=True)
