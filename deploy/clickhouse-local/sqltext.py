"""Just enough of ClickHouse's SQL grammar to split an HTTP request into statement and data.

ClickHouse reads one text: the `query` URL parameter, a line break, then the request body. An
INSERT with `FORMAT <name>` (or `VALUES`) carries its rows in that text right after the format
name, so the statement head has to be found without reading the rows, which may be binary. The
engine is then given the head as `INSERT ... FROM INFILE '<file>' ... FORMAT <name>` and the rows
in that file. Every other statement goes to the engine unchanged; this module only finds its
explicit output format (for the `X-ClickHouse-Format` header) and refuses a second statement, as
ClickHouse's HTTP interface does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from errors import SYNTAX_ERROR, ClickHouseError

_SPACE = b" \t\n\r\f\v"
_WORD_START = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_") | frozenset(
    range(0x80, 0x100)
)
_WORD_PART = _WORD_START | frozenset(b"0123456789$")
_NUMBER_PART = frozenset(b"0123456789abcdefABCDEFxXpP._")

WORD = "word"
QUOTED = "quoted"
STRING = "string"
NUMBER = "number"
SUBSTITUTION = "substitution"
PUNCT = "punct"


class LexError(ClickHouseError):
    """Text the lexer cannot follow; the engine, which knows the whole grammar, gets to judge it."""

    def __init__(self, message: str) -> None:
        super().__init__(SYNTAX_ERROR, "SYNTAX_ERROR", message)


@dataclass(frozen=True)
class Token:
    kind: str
    start: int
    end: int
    raw: bytes

    def is_word(self, *keywords: str) -> bool:
        return self.kind == WORD and self.raw.decode("utf-8", "replace").upper() in keywords

    def is_punct(self, char: str) -> bool:
        return self.kind == PUNCT and self.raw == char.encode()

    @property
    def is_name(self) -> bool:
        return self.kind in (WORD, QUOTED, SUBSTITUTION)


def tokens(src: bytes, pos: int = 0) -> Iterator[Token]:
    """The tokens of `src` from `pos`, comments and whitespace skipped, produced lazily so that a
    caller can stop before the data of an INSERT."""
    end = len(src)
    while True:
        pos = _skip_space_and_comments(src, pos)
        if pos >= end:
            return
        start = pos
        byte = src[pos]
        if byte in b"'`\"":
            pos = _skip_quoted(src, pos)
            kind = STRING if byte == ord("'") else QUOTED
        elif byte == ord("{"):
            pos = _skip_substitution(src, pos)
            kind = SUBSTITUTION
        elif byte in _WORD_START:
            pos += 1
            while pos < end and src[pos] in _WORD_PART:
                pos += 1
            kind = WORD
        elif byte in b"0123456789":
            pos = _skip_number(src, pos)
            kind = NUMBER
        else:
            pos += 1
            kind = PUNCT
        yield Token(kind, start, pos, src[start:pos])


def _skip_space_and_comments(src: bytes, pos: int) -> int:
    end = len(src)
    while pos < end:
        byte = src[pos]
        if byte in _SPACE:
            pos += 1
        elif src.startswith(b"--", pos) or src.startswith(b"#!", pos) or src.startswith(b"# ", pos):
            newline = src.find(b"\n", pos)
            pos = end if newline < 0 else newline + 1
        elif src.startswith(b"/*", pos):
            pos = _skip_block_comment(src, pos)
        else:
            break
    return pos


def _skip_block_comment(src: bytes, pos: int) -> int:
    """Block comments nest in ClickHouse: `/* a /* b */ c */` is one comment."""
    depth = 0
    end = len(src)
    while pos < end:
        if src.startswith(b"/*", pos):
            depth += 1
            pos += 2
        elif src.startswith(b"*/", pos):
            depth -= 1
            pos += 2
            if depth == 0:
                return pos
        else:
            pos += 1
    raise LexError("Syntax error: unterminated multiline comment")


def _skip_quoted(src: bytes, pos: int) -> int:
    """A string literal or quoted identifier: backslash escapes, a doubled quote is one quote."""
    quote = src[pos]
    pos += 1
    end = len(src)
    while pos < end:
        byte = src[pos]
        if byte == ord("\\"):
            pos += 2
        elif byte == quote:
            if pos + 1 < end and src[pos + 1] == quote:
                pos += 2
            else:
                return pos + 1
        else:
            pos += 1
    what = "string literal" if quote == ord("'") else "quoted identifier"
    raise LexError(f"Syntax error: unterminated {what}")


def _skip_substitution(src: bytes, pos: int) -> int:
    """A query parameter `{name:Type}`; its type may hold quoted strings (`Enum('a' = 1)`)."""
    pos += 1
    end = len(src)
    while pos < end:
        byte = src[pos]
        if byte == ord("}"):
            return pos + 1
        if byte in b"'`\"":
            pos = _skip_quoted(src, pos)
        else:
            pos += 1
    raise LexError("Syntax error: unterminated query parameter '{'")


def _skip_number(src: bytes, pos: int) -> int:
    """Digits, hex digits, a point, and a sign right after an exponent letter (`1e-5`)."""
    end = len(src)
    while pos < end:
        byte = src[pos]
        exponent_sign = byte in b"+-" and src[pos - 1] in b"eEpP"
        if not (byte in _NUMBER_PART or exponent_sign):
            break
        pos += 1
    return pos


@dataclass(frozen=True)
class InsertWithData:
    """An INSERT whose rows follow the statement: the parts needed to rebuild it over a file."""

    target: bytes
    columns: bytes
    settings: bytes
    format: bytes
    # A view into the request text, so that large bodies are not copied once more.
    data: memoryview

    def from_infile(self, path: str) -> bytes:
        """The same INSERT, reading its rows from the file at `path`."""
        literal = "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts = [b"INSERT INTO", self.target]
        if self.columns:
            parts.append(self.columns)
        parts += [b"FROM INFILE", literal.encode()]
        if self.settings:
            parts += [b"SETTINGS", self.settings]
        parts += [b"FORMAT", self.format]
        return b" ".join(parts)


@dataclass(frozen=True)
class Statement:
    """One statement of a request.

    `insert` is set for an INSERT carrying its rows; otherwise `text` is the whole statement (bytes,
    as the engine takes them: string literals may hold any bytes),
    `output_format` its explicit `FORMAT` (None without one) and `has_output` tells whether the
    statement kind produces a result (SELECT, SHOW, ...).
    """

    text: bytes
    insert: InsertWithData | None = None
    output_format: str | None = None
    has_output: bool = False


_OUTPUT_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESC", "DESCRIBE", "EXPLAIN", "EXISTS", "CHECK")


def parse(src: bytes) -> Statement:
    """Splits the text of a request (URL query, line break, body) into its statement and rows."""
    stream = tokens(src)
    try:
        first = next(stream, None)
    except LexError:
        return Statement(text=src)
    if first is None:
        raise ClickHouseError.own(SYNTAX_ERROR, "Empty query")
    if first.is_word("INSERT"):
        try:
            insert = _parse_insert(src, stream)
        except LexError:
            insert = None
        if insert is not None:
            return Statement(text=b"", insert=insert)
        stream = tokens(src, first.end)
    output_format = _output_format(first, stream)
    has_output = first.is_word(*_OUTPUT_STATEMENTS) or first.is_punct("(")
    return Statement(text=src, output_format=output_format, has_output=has_output)


def _text(src: bytes, start: int, end: int) -> bytes:
    return src[start:end].strip()


def _balanced_group(opening: Token, stream: Iterator[Token]) -> int:
    """Consumes tokens up to the `)` closing `opening`; returns the end offset of that `)`."""
    depth = 1
    for token in stream:
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
            if depth == 0:
                return token.end
    raise LexError(f"Syntax error: unbalanced '(' at position {opening.start}")


def _parse_insert(src: bytes, stream: Iterator[Token]) -> InsertWithData | None:
    """The parts of `INSERT INTO [TABLE] <target> [(<columns>)] [SETTINGS ...] FORMAT <name>` (or
    `VALUES`) and the rows after it; None for an INSERT without inline rows (`SELECT`,
    `FROM INFILE`) or one this reader does not follow, which the engine then gets unchanged."""
    into = next(stream, None)
    if into is None or not into.is_word("INTO"):
        return None
    token = next(stream, None)
    if token is not None and token.is_word("TABLE"):
        token = next(stream, None)
    if token is None:
        return None
    target_start = token.start
    if token.is_word("FUNCTION"):
        name = next(stream, None)
        opening = next(stream, None)
        if name is None or name.kind != WORD or opening is None or not opening.is_punct("("):
            return None
        target_end = _balanced_group(opening, stream)
        token = next(stream, None)
    elif token.is_name:
        # `table`, `db.table`, each part bare, quoted or a `{name:Identifier}` parameter.
        target_end = token.end
        token = next(stream, None)
        while token is not None and token.is_punct("."):
            part = next(stream, None)
            if part is None or not part.is_name:
                return None
            target_end = part.end
            token = next(stream, None)
    else:
        return None
    return _after_target(src, stream, _text(src, target_start, target_end), token)


def _after_target(
    src: bytes, stream: Iterator[Token], target: str, token: Token | None
) -> InsertWithData | None:
    columns = ""
    if token is not None and token.is_punct("("):
        columns = _text(src, token.start, _balanced_group(token, stream))
        token = next(stream, None)
    settings = ""
    if token is not None and token.is_word("SETTINGS"):
        settings_start = token.end
        token = next(stream, None)
        while token is not None and not token.is_word("FORMAT", "VALUES", "SELECT", "WITH"):
            if token.is_punct("("):
                _balanced_group(token, stream)
            token = next(stream, None)
        settings = _text(src, settings_start, len(src) if token is None else token.start)
    if token is None:
        return None
    if token.is_word("VALUES"):
        following = next(stream, None)
        data_start = len(src) if following is None or following.is_punct(";") else following.start
        return InsertWithData(target, columns, settings, b"Values", memoryview(src)[data_start:])
    if not token.is_word("FORMAT"):
        return None
    name = next(stream, None)
    if name is None or name.kind not in (WORD, QUOTED):
        raise ClickHouseError.own(SYNTAX_ERROR, "Syntax error: expected a format name after FORMAT")
    rows = memoryview(src)[_data_start(src, name.end) :]
    return InsertWithData(target, columns, settings, _text(src, name.start, name.end), rows)


def _data_start(src: bytes, pos: int) -> int:
    """Where the rows begin after the format name: past spaces and tabs, then past one line break
    if there is one, so that the rows may themselves begin with whitespace."""
    if src.startswith(b";", pos):
        raise ClickHouseError.own(
            SYNTAX_ERROR,
            "You have excessive ';' symbol before data for INSERT: put the rows after the format "
            "name and a line break, without ';'",
        )
    end = len(src)
    while pos < end and src[pos] in b" \t\f":
        pos += 1
    if src.startswith(b"\r", pos):
        pos += 1
    if src.startswith(b"\n", pos):
        pos += 1
    return pos


def _output_format(first: Token, stream: Iterator[Token]) -> str | None:
    """The name after the last top-level FORMAT keyword, refusing a second statement after `;`.
    Text the lexer cannot follow is left to the engine."""
    try:
        return _scan_output_format(first, stream)
    except LexError:
        return None


def _scan_output_format(first: Token, stream: Iterator[Token]) -> str | None:
    found = None
    depth = 0
    previous = first
    ended = first.is_punct(";")
    for token in stream:
        if ended:
            raise ClickHouseError.own(SYNTAX_ERROR, "Syntax error: Multi-statements are not allowed")
        if token.is_punct("(") or token.is_punct("["):
            depth += 1
        elif token.is_punct(")") or token.is_punct("]"):
            depth -= 1
        elif token.is_punct(";") and depth == 0:
            ended = True
        elif depth == 0 and previous.is_word("FORMAT") and token.kind in (WORD, QUOTED):
            found = token.raw.decode("utf-8", "replace").strip('`"')
        previous = token
    return found
