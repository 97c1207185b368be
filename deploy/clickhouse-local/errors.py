"""ClickHouse exceptions as the HTTP interface reports them.

A client tells errors apart by the numeric code in the `X-ClickHouse-Exception-Code` header and
by the HTTP status, so both must be what a real `clickhouse-server` would send: the codes this
server raises itself are ClickHouse's own (checked against the engine at start-up, see
`verify_codes`), and the status follows the mapping of ClickHouse's HTTP handler.
"""

from __future__ import annotations

import re

# Error codes raised by this server itself, before a statement reaches the engine.
CANNOT_READ_ALL_DATA = 33
BAD_ARGUMENTS = 36
TOO_LARGE_SIZE_COMPRESSED = 39
CHECKSUM_DOESNT_MATCH = 40
NOT_IMPLEMENTED = 48
SYNTAX_ERROR = 62
UNKNOWN_COMPRESSION_METHOD = 89
UNKNOWN_SETTING = 115
QUERY_IS_TOO_LARGE = 229
ABORTED = 236
CANNOT_DECOMPRESS = 271
HTTP_LENGTH_REQUIRED = 381
AUTHENTICATION_FAILED = 516
UNKNOWN_EXCEPTION = 1002

OWN_CODES = {
    CANNOT_READ_ALL_DATA: "CANNOT_READ_ALL_DATA",
    BAD_ARGUMENTS: "BAD_ARGUMENTS",
    TOO_LARGE_SIZE_COMPRESSED: "TOO_LARGE_SIZE_COMPRESSED",
    CHECKSUM_DOESNT_MATCH: "CHECKSUM_DOESNT_MATCH",
    NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
    SYNTAX_ERROR: "SYNTAX_ERROR",
    UNKNOWN_COMPRESSION_METHOD: "UNKNOWN_COMPRESSION_METHOD",
    UNKNOWN_SETTING: "UNKNOWN_SETTING",
    QUERY_IS_TOO_LARGE: "QUERY_IS_TOO_LARGE",
    ABORTED: "ABORTED",
    CANNOT_DECOMPRESS: "CANNOT_DECOMPRESS",
    HTTP_LENGTH_REQUIRED: "HTTP_LENGTH_REQUIRED",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    UNKNOWN_EXCEPTION: "UNKNOWN_EXCEPTION",
}

# ClickHouse's HTTP handler answers these error names with a status other than 500
# (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp); every other error is a 500.
_STATUS_BY_NAME = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        (
            "UNKNOWN_USER",
            "WRONG_PASSWORD",
            "AUTHENTICATION_FAILED",
            "SET_NON_GRANTED_ROLE",
            "ACCESS_DENIED",
        ),
        403,
    ),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS",
            "CANNOT_COMPILE_REGEXP",
            "CANNOT_PARSE_TEXT",
            "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE",
            "CANNOT_PARSE_DATETIME",
            "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
            "CANNOT_PARSE_IPV4",
            "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID",
            "DUPLICATE_COLUMN",
            "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST",
            "UNKNOWN_TYPE_OF_AST_NODE",
            "THERE_IS_NO_COLUMN",
            "TOO_DEEP_AST",
            "TOO_BIG_AST",
            "UNEXPECTED_AST_STRUCTURE",
            "SYNTAX_ERROR",
            "INCORRECT_DATA",
            "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE",
            "UNKNOWN_FUNCTION",
            "UNKNOWN_IDENTIFIER",
            "UNKNOWN_TYPE",
            "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE",
            "UNKNOWN_SETTING",
            "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT",
            "UNKNOWN_DATABASE_ENGINE",
            "UNKNOWN_TYPE_OF_QUERY",
            "UNKNOWN_ROLE",
        ),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

# "Code: 60. DB::Exception: <text>": how the engine starts every exception message, sometimes
# after a prefix of chdb's own ("Failed to create connection: Code: ...").
_CODE_PREFIX = re.compile(r"^Code: (\d+)\. (?:DB::Exception: )?")
_CODE_ANYWHERE = re.compile(r"Code: (\d+)\. (?:DB::Exception: )?")
# The engine names the error at the end of its message: "... (UNKNOWN_TABLE)".
_TRAILING_NAME = re.compile(r" \(([A-Z][A-Z0-9_]+)\)\.?$")
# Parse errors of INSERT data carry the engine's own version, then the name once more.
_TRAILING_VERSION = re.compile(r" \(version [0-9.]+(?: \([^)]*\))?\)\.?$")


class ClickHouseError(Exception):
    """An error to answer with ClickHouse's code, name and message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message

    @classmethod
    def own(cls, code: int, message: str) -> ClickHouseError:
        """An error raised by this server with one of the `OWN_CODES`."""
        return cls(code, OWN_CODES[code], message)

    @property
    def http_status(self) -> int:
        return _STATUS_BY_NAME.get(self.name, 500)

    def body(self, engine_version: str) -> bytes:
        """The response body: ClickHouse's `Code: N. DB::Exception: ... (NAME) (version V)`."""
        text = f"Code: {self.code}. DB::Exception: {self.message}. ({self.name}) (version {engine_version})\n"
        return text.encode("utf-8", "replace")


def from_engine_message(raw: str, names_by_code: dict[int, str]) -> ClickHouseError:
    """Turns the text of an exception raised by the engine into a `ClickHouseError`.

    INSERT data errors arrive wrapped twice ("Code: 33. DB::Exception: Code: 33. DB::Exception:
    ... (version 26.9.2.1). (CANNOT_READ_ALL_DATA)"); the wrapping is removed so the client sees
    the message once, as a server would send it.
    """
    text = raw.strip()
    match = _CODE_ANYWHERE.search(text)
    if match is None:
        return ClickHouseError.own(UNKNOWN_EXCEPTION, text or "the engine failed without a message")
    code = int(match.group(1))
    text = text[match.end() :]
    while True:
        inner = _CODE_PREFIX.match(text)
        if inner is None or int(inner.group(1)) != code:
            break
        text = text[inner.end() :]
    name = names_by_code.get(code, "UNKNOWN_EXCEPTION")
    changed = True
    while changed:
        changed = False
        named = _TRAILING_NAME.search(text)
        if named is not None and named.group(1) == name:
            text = text[: named.start()]
            changed = True
        versioned = _TRAILING_VERSION.search(text)
        if versioned is not None:
            text = text[: versioned.start()]
            changed = True
    return ClickHouseError(code, name, text.rstrip(". "))


def verify_codes(names_by_code: dict[int, str]) -> None:
    """Fails start-up if a code this server raises means something else to the engine."""
    wrong = {code: name for code, name in OWN_CODES.items() if names_by_code.get(code) != name}
    if wrong:
        raise RuntimeError(f"the engine names these error codes differently: {wrong}")
