"""Tokenizer for CQL 1.5.

Hand-written (one compiled regular expression) rather than generated from the
ANTLR grammar: no maintained Python runtime for the reference grammar fits a
pure-Python engine that must run the whole conformance suite in seconds.
Keywords are not distinguished here: many CQL keywords may also be used as
identifiers, so the parser decides from context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import CqlSyntaxError

# Token kinds.
IDENT = "ident"  # plain identifier or keyword
QIDENT = "qident"  # "quoted" or `delimited` identifier
STRING = "string"
NUMBER = "number"
LONG = "long"
DATE = "date"
DATETIME = "datetime"
TIME = "time"
SYMBOL = "symbol"
SPECIAL = "special"  # $this, $index, $total
EOF = "eof"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str  # identifiers/strings: the decoded value; literals: the source text (dates without '@')
    line: int
    col: int
    pos: int  # offset in the source text
    end: int


_DATE = r"\d{4}(?:-\d{2}(?:-\d{2})?)?"
_TIME = r"\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_TZ = r"(?:Z|[+-]\d{2}:\d{2})"

_TOKEN_RE = re.compile(
    rf"""
    (?P<ws>[ \t\r\n\f]+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<time>@T{_TIME}{_TZ}?)
  | (?P<datetime>@{_DATE}T(?:{_TIME})?{_TZ}?)
  | (?P<date>@{_DATE})
  | (?P<long>\d+L)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<special>\$(?:this|index|total))
  | (?P<qident>"(?:[^"\\]|\\.)*")
  | (?P<bident>`(?:[^`\\]|\\.)*`)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<symbol><=|>=|!=|!~|->|[-+*/^&|~=<>(){{}}\[\],.:%])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def decode_escapes(text: str) -> str | None:
    """Decode CQL string escapes (``\\'``, ``\\n``, ``\\u00e9``, ...); None if one is invalid."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6] or ""):
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            return None
    return "".join(out)


def _unescape(body: str, line: int, col: int) -> str:
    decoded = decode_escapes(body)
    if decoded is None:
        raise CqlSyntaxError("invalid escape sequence in a string or identifier", line, col)
    return decoded


def tokenize(text: str) -> list[Token]:
    """Split CQL text into tokens, ending with an EOF token."""
    tokens: list[Token] = []
    pos = 0
    line = 1
    line_start = 0
    length = len(text)
    match = _TOKEN_RE.match
    while pos < length:
        m = match(text, pos)
        col = pos - line_start + 1
        if m is None:
            ch = text[pos]
            if ch in "'\"`":
                raise CqlSyntaxError("unterminated string or identifier", line, col)
            if text.startswith("/*", pos):
                raise CqlSyntaxError("unterminated comment", line, col)
            raise CqlSyntaxError(f"unexpected character {ch!r}", line, col)
        kind = m.lastgroup
        value = m.group()
        end = m.end()
        if kind in ("ws", "line_comment", "block_comment"):
            pass
        elif kind == "ident":
            tokens.append(Token(IDENT, value, line, col, pos, end))
        elif kind in ("qident", "bident"):
            tokens.append(Token(QIDENT, _unescape(value[1:-1], line, col), line, col, pos, end))
        elif kind == "string":
            tokens.append(Token(STRING, _unescape(value[1:-1], line, col), line, col, pos, end))
        elif kind == "number":
            tokens.append(Token(NUMBER, value, line, col, pos, end))
        elif kind == "long":
            tokens.append(Token(LONG, value[:-1], line, col, pos, end))
        elif kind in ("date", "datetime", "time"):
            tokens.append(Token(kind, value[1:], line, col, pos, end))
        elif kind == "special":
            tokens.append(Token(SPECIAL, value, line, col, pos, end))
        else:
            tokens.append(Token(SYMBOL, value, line, col, pos, end))
        newlines = value.count("\n")
        if newlines:
            line += newlines
            line_start = pos + value.rindex("\n") + 1
        pos = end
    tokens.append(Token(EOF, "", line, pos - line_start + 1, pos, pos))
    return tokens
