"""ClickHouse's HTTP query protocol, independent of the HTTP transport.

Turns one request (method, URL parameters, headers, body) into a statement for the engine and
the engine's answer (or error) into the response ClickHouse would send: status, the
`X-ClickHouse-*` headers and the body.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import framing
import sqltext
from engine import Engine, QueryRequest
from errors import AUTHENTICATION_FAILED, BAD_ARGUMENTS, NOT_IMPLEMENTED, ClickHouseError

# URL parameters that are neither settings nor query parameters (ClickHouse's HTTP handler).
_RESERVED_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "compress",
        "decompress",
        "user",
        "password",
        "quota_key",
        "stacktrace",
        "buffer_size",
        "wait_end_of_query",
        "session_id",
        "session_timeout",
        "session_check",
        "client_protocol_version",
        "close_session",
    }
)
_QUERY_PARAMETER_PREFIX = "param_"

_TEXT = "text/plain; charset=UTF-8"
_BINARY_FORMATS = (
    "RowBinary",
    "Native",
    "Parquet",
    "Arrow",
    "ORC",
    "Avro",
    "Protobuf",
    "MsgPack",
    "CapnProto",
    "BSONEachRow",
    "Npy",
)


def content_type(result_format: str | None) -> str:
    """The Content-Type ClickHouse gives a result in `result_format`."""
    if result_format is None:
        return _TEXT
    if result_format.startswith(("TabSeparated", "TSV")):
        return "text/tab-separated-values; charset=UTF-8"
    if result_format.startswith("CSV"):
        return "text/csv; charset=UTF-8"
    if result_format.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if result_format.startswith(_BINARY_FORMATS):
        return "application/octet-stream"
    return _TEXT


@dataclass(frozen=True)
class Credentials:
    """The only user the server lets in, when it was started with `--user`."""

    user: str
    password: str


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    # For the request log: the error code, 0 on success.
    exception_code: int = 0


def _flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "").strip().lower()
    if value in ("", "0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise ClickHouseError.own(
        BAD_ARGUMENTS, f"Cannot parse the value '{value}' of parameter '{name}' as a boolean"
    )


class QueryHandler:
    """Answers the requests to `/` of the HTTP interface."""

    def __init__(self, engine: Engine, credentials: Credentials | None) -> None:
        self._engine = engine
        self._credentials = credentials
        self._display_name = socket.gethostname()

    @property
    def engine_version(self) -> str:
        return self._engine.version

    def handle(
        self, method: str, params: list[tuple[str, str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        """`params` are the decoded URL parameters in order, `body` the raw request body."""
        first = {}
        for name, value in params:
            first.setdefault(name, value)
        query_id = first.get("query_id") or headers.get("X-ClickHouse-Query-Id") or str(uuid.uuid4())
        common = [
            ("X-ClickHouse-Server-Display-Name", self._display_name),
            ("X-ClickHouse-Query-Id", query_id),
            ("X-ClickHouse-Timezone", self._engine.timezone),
        ]
        compress = False
        try:
            self._authenticate(first, headers)
            compress = _flag(first, "compress")
            request = self._query_request(method, params, first, headers, body)
            result = self._engine.execute(request)
        except ClickHouseError as error:
            payload = error.body(self._engine.version)
            response_headers = [
                *common,
                ("X-ClickHouse-Exception-Code", str(error.code)),
                ("Content-Type", _TEXT),
            ]
            return Response(
                status=error.http_status,
                body=framing.encode_blocks(payload) if compress else payload,
                headers=response_headers,
                exception_code=error.code,
            )
        response_headers = [*common, ("Content-Type", content_type(result.format))]
        if result.format is not None:
            response_headers.append(("X-ClickHouse-Format", result.format))
        summary = json.dumps(result.summary, separators=(",", ":"))
        response_headers.append(("X-ClickHouse-Summary", summary))
        return Response(
            status=200,
            body=framing.encode_blocks(result.body) if compress else result.body,
            headers=response_headers,
        )

    def _authenticate(self, params: Mapping[str, str], headers: Mapping[str, str]) -> None:
        """Finds the user and password the way ClickHouse does (headers, HTTP Basic or URL
        parameters, never mixed) and checks them when the server was given credentials."""
        header_user = headers.get("X-ClickHouse-User", "")
        header_key = headers.get("X-ClickHouse-Key", "")
        authorization = headers.get("Authorization", "")
        in_params = "user" in params or "password" in params or "quota_key" in params
        headers_scheme = "X-ClickHouse-User/X-ClickHouse-Key headers"
        if header_user or header_key:
            if authorization:
                raise self._mixed(headers_scheme, "the Authorization HTTP header")
            if in_params:
                raise self._mixed(headers_scheme, "authentication via parameters")
            user, password = header_user or "default", header_key
        elif authorization:
            if in_params:
                raise self._mixed("the Authorization HTTP header", "authentication via parameters")
            user, password = self._basic(authorization)
        else:
            user, password = params.get("user", "default"), params.get("password", "")
        expected = self._credentials
        if expected is None:
            return
        user_ok = hmac.compare_digest(user.encode(), expected.user.encode())
        password_ok = hmac.compare_digest(password.encode(), expected.password.encode())
        if not (user_ok and password_ok):
            raise ClickHouseError.own(
                AUTHENTICATION_FAILED,
                f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
            )

    @staticmethod
    def _invalid(reason: str) -> ClickHouseError:
        return ClickHouseError.own(AUTHENTICATION_FAILED, f"Invalid authentication: {reason}")

    @classmethod
    def _mixed(cls, one: str, other: str) -> ClickHouseError:
        return cls._invalid(f"it is not allowed to use {one} and {other} simultaneously")

    def _basic(self, authorization: str) -> tuple[str, str]:
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise self._invalid(f"'{scheme}' HTTP Authorization scheme is not supported")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise self._invalid("the Basic credentials are not valid base64 of 'user:password'") from None
        user, _, password = decoded.partition(":")
        return user, password

    def _query_request(
        self,
        method: str,
        params: list[tuple[str, str]],
        first: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> QueryRequest:
        if first.get("session_id"):
            raise ClickHouseError.own(
                NOT_IMPLEMENTED, "HTTP sessions (session_id) are not supported by this server"
            )
        if headers.get("Content-Type", "").startswith("multipart/form-data"):
            raise ClickHouseError.own(
                NOT_IMPLEMENTED, "External data (multipart/form-data) is not supported by this server"
            )
        body = framing.decode_content(body, headers.get("Content-Encoding", ""))
        if _flag(first, "decompress"):
            body = framing.decode_blocks(body)
        query = first.get("query", "")
        text = (query.encode("utf-8") + b"\n" if query else b"") + body
        settings = []
        query_params = {}
        for name, value in params:
            if name.startswith(_QUERY_PARAMETER_PREFIX):
                query_params.setdefault(name[len(_QUERY_PARAMETER_PREFIX) :], value)
            elif name and name not in _RESERVED_PARAMS:
                settings.append((name, value))
        return QueryRequest(
            statement=sqltext.parse(text),
            database=headers.get("X-ClickHouse-Database") or first.get("database", ""),
            default_format=headers.get("X-ClickHouse-Format") or first.get("default_format", ""),
            settings=settings,
            params=query_params,
            readonly=method == "GET",
        )
