"""String operators (CQL reference, "String Operators"), and the regular
expressions behind Matches, ReplaceMatches and SplitOnMatches.

Indexes are 0-based. ``+`` on strings is Concatenate (null if either side is
null); ``&`` is compiled directly (nulls count as empty strings).

Regular expressions: the spec recommends the PCRE dialect and the reference
engines use Java's; patterns are read as Java patterns and translated to
Python's ``re``. They are case-sensitive, use partial matching (``^``/``$``
anchor to the whole string), single line mode (``.`` matches a newline) and
ASCII meanings of ``\\d``, ``\\w``, ``\\s`` and ``\\b``, as in Java. Java
constructs with a Python equivalent are rewritten (``(?<name>...)``,
``\\k<name>``, ``\\Q...\\E``, ``\\z``, ``\\Z``, ``\\h``, ``\\v``, ``\\e``,
``\\cX``, ``\\x{...}``, POSIX classes ``\\p{Alpha}``..., nested character
classes, inline flags in mid-pattern); the rest (Unicode properties, class
intersection ``&&``, ``\\G``, ``\\R``, ...) raise
:class:`~cql.errors.CqlUnsupportedError`, and an invalid pattern raises
:class:`~cql.errors.CqlRuntimeError`. In a substitution, ``$n`` and
``${name}`` refer to groups and a backslash makes the next character literal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ..errors import CqlRuntimeError, CqlUnsupportedError
from ..types import BOOLEAN, INTEGER, STRING, ListType
from .registry import operator

# ---------------------------------------------------------------- simple operators


@operator("Add", [STRING, STRING], STRING)
def add_strings(a: str, b: str) -> str:
    return a + b


for _arity in range(2, 9):
    operator("Concatenate", [STRING] * _arity, STRING)(lambda *parts: "".join(parts))


def _combine(source: list[str | None], separator: str | None) -> str | None:
    parts = [s for s in source if s is not None]
    if not parts:
        return None
    return (separator or "").join(parts)


@operator("Combine", [ListType(STRING)], STRING)
def combine(source: list[str | None]) -> str | None:
    return _combine(source, None)


@operator("Combine", [ListType(STRING), STRING], STRING, nulls=False)
def combine_with(source: list[str | None] | None, separator: str | None) -> str | None:
    return None if source is None else _combine(source, separator)


@operator("StartsWith", [STRING, STRING], BOOLEAN)
def starts_with(s: str, prefix: str) -> bool:
    return s.startswith(prefix)


@operator("EndsWith", [STRING, STRING], BOOLEAN)
def ends_with(s: str, suffix: str) -> bool:
    return s.endswith(suffix)


@operator("Indexer", [STRING, INTEGER], STRING)
def indexer(s: str, index: int) -> str | None:
    return s[index] if 0 <= index < len(s) else None


@operator("Length", [STRING], INTEGER)
def length(s: str) -> int:
    return len(s)


@operator("Lower", [STRING], STRING)
def lower(s: str) -> str:
    return s.lower()


@operator("Upper", [STRING], STRING)
def upper(s: str) -> str:
    return s.upper()


@operator("PositionOf", [STRING, STRING], INTEGER)
def position_of(pattern: str, s: str) -> int:
    return s.find(pattern)


@operator("LastPositionOf", [STRING, STRING], INTEGER)
def last_position_of(pattern: str, s: str) -> int:
    return s.rfind(pattern)


def _start_in_range(s: str, start: int) -> bool:
    # Position 0 is the start of every string, the empty one included.
    return start == 0 or 0 < start < len(s)


@operator("Substring", [STRING, INTEGER], STRING)
def substring(s: str, start: int) -> str | None:
    return s[start:] if _start_in_range(s, start) else None


@operator("Substring", [STRING, INTEGER, INTEGER], STRING, nulls=False)
def substring_length(s: str | None, start: int | None, count: int | None) -> str | None:
    if s is None or start is None or not _start_in_range(s, start):
        return None
    if count is None:
        return s[start:]
    if count < 0:
        return None
    return s[start:start + count]


@operator("Split", [STRING, STRING], ListType(STRING), nulls=False)
def split(s: str | None, separator: str | None) -> list[str] | None:
    if s is None:
        return None
    if not separator:
        return [s] if separator is None or not s else list(s)
    return s.split(separator)


# ---------------------------------------------------------------- regular expressions


@operator("Matches", [STRING, STRING], BOOLEAN)
def matches(s: str, pattern: str) -> bool:
    return compile_pattern(pattern).search(s) is not None


@operator("ReplaceMatches", [STRING, STRING, STRING], STRING)
def replace_matches(s: str, pattern: str, substitution: str) -> str:
    regex = compile_pattern(pattern)
    return regex.sub(_substitution(regex, substitution), s)


@operator("SplitOnMatches", [STRING, STRING], ListType(STRING), nulls=False)
def split_on_matches(s: str | None, pattern: str | None) -> list[str] | None:
    if s is None:
        return None
    if pattern is None:
        return [s]
    pieces: list[str] = []
    last = 0
    for match in compile_pattern(pattern).finditer(s):
        start, end = match.span()
        if start == end and (start == 0 or start == len(s)):
            continue  # an empty match at either end separates nothing
        pieces.append(s[last:start])
        last = end
    pieces.append(s[last:])
    return pieces


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a CQL (Java-dialect) regular expression."""
    translated = _Translator(pattern).translate()
    try:
        return re.compile(translated, re.ASCII | re.DOTALL)
    except (re.error, OverflowError, RecursionError) as err:
        raise CqlRuntimeError(f"Invalid regular expression '{pattern}': {err}") from None


def _unsupported(pattern: str, what: str) -> CqlUnsupportedError:
    return CqlUnsupportedError(f"Regular expression '{pattern}': {what} is not supported")


def _invalid(pattern: str, what: str) -> CqlRuntimeError:
    return CqlRuntimeError(f"Invalid regular expression '{pattern}': {what}")


# POSIX character classes of Java (US-ASCII), as the inside of a Python class.
_POSIX = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7f", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~", "Print": " -~", "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f", "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0b\\f\\r",
}
_HORIZONTAL = " \\t\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000"
_VERTICAL = "\\n\\x0b\\f\\r\\x85\\u2028\\u2029"
# Escapes both dialects read alike (outside and inside classes).
_SAME = set("dDwWsStnrfa0123456789") | set("\\^$.|?*+()[]{}-&~#/ !\"%',:;<=>@_`")
_SAME_OUTSIDE = {"b", "B", "A"}
_JAVA_FLAGS = {"i": "i", "m": "m", "s": "s", "x": "x"}
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")


class _Translator:
    """Rewrite a Java regular expression as a Python one."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def translate(self) -> str:
        p = self.p
        out: list[str] = []
        # Per open group: how many scoped-flag groups to close with it, and
        # whether an alternation was seen since such a scope started.
        closes: list[int] = [0]
        while self.i < len(p):
            c = p[self.i]
            if c == "\\":
                out.append(self.escape(in_class=False))
            elif c == "[":
                out.append("[" + self.char_class() + "]")
            elif c == "(":
                out.append(self.group_open(out, closes))
            elif c == ")":
                if len(closes) > 1:
                    out.append(")" * closes.pop())
                out.append(")")
                self.i += 1
            else:
                if c == "|" and closes[-1]:
                    raise _unsupported(p, "an alternation after inline flags")
                out.append(c)
                self.i += 1
        out.append(")" * closes[0])
        return "".join(out)

    def group_open(self, out: list[str], closes: list[int]) -> str:
        p, i = self.p, self.i
        if p.startswith("(?<", i) and p[i + 3:i + 4] not in ("=", "!"):
            end = p.find(">", i)
            name = p[i + 3:end] if end >= 0 else ""
            if not name.isidentifier():
                raise _invalid(p, "bad group name")
            self.i = end + 1
            closes.append(0)
            return f"(?P<{name}>"
        m = _INLINE_FLAGS.match(p, i)
        if m is not None:
            on, off = self.flags(m.group(1)), self.flags(m.group(2) or "")
            self.i = m.end()
            if m.group(3) == ":":
                closes.append(0)
                return f"(?{on}-{off}:" if off else f"(?{on}:"
            if not on and not off:
                return ""
            if not out and not off:
                return f"(?{on})"  # leading flags apply to the whole pattern
            closes[-1] += 1
            return f"(?{on}-{off}:" if off else f"(?{on}:"
        if p.startswith("(?", i) and not p.startswith(("(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>"), i):
            raise _invalid(p, f"unknown group construct at position {i}")
        closes.append(0)
        self.i += 1
        return "("

    def flags(self, letters: str) -> str:
        out = ""
        for letter in letters:
            if letter not in _JAVA_FLAGS:
                if letter in "duU":
                    raise _unsupported(self.p, f"the inline flag '{letter}'")
                raise _invalid(self.p, f"unknown inline flag '{letter}'")
            out += _JAVA_FLAGS[letter]
        return out

    def escape(self, in_class: bool) -> str:
        """Translate the escape at self.i (a backslash); advance past it."""
        p, i = self.p, self.i
        if i + 1 >= len(p):
            raise _invalid(p, "it ends with a backslash")
        c = p[i + 1]
        self.i = i + 2
        if c in _SAME or (not in_class and c in _SAME_OUTSIDE):
            if c == "0":
                return self.octal()
            return "\\" + c
        if c == "u":
            digits = p[i + 2:i + 6]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise _invalid(p, "bad \\u escape")
            self.i = i + 6
            return "\\u" + digits
        if c == "x":
            if p.startswith("{", i + 2):
                end = p.find("}", i + 3)
                digits = p[i + 3:end] if end >= 0 else ""
                if not re.fullmatch(r"[0-9a-fA-F]{1,6}", digits) or int(digits, 16) > 0x10FFFF:
                    raise _invalid(p, "bad \\x{...} escape")
                self.i = end + 1
                return _literal(chr(int(digits, 16)))
            digits = p[i + 2:i + 4]
            if not re.fullmatch(r"[0-9a-fA-F]{2}", digits):
                raise _invalid(p, "bad \\x escape")
            self.i = i + 4
            return "\\x" + digits
        if c == "e":
            return "\\x1b"
        if c == "c":
            if i + 2 >= len(p):
                raise _invalid(p, "bad \\c escape")
            self.i = i + 3
            return _literal(chr(ord(p[i + 2]) ^ 64))
        if c == "Q":
            end = p.find("\\E", i + 2)
            text = p[i + 2:] if end < 0 else p[i + 2:end]
            self.i = len(p) if end < 0 else end + 2
            return "".join(_literal(ch) for ch in text)
        if c == "E":
            return ""  # a \E without \Q is ignored
        if c in "hv":
            inner = _HORIZONTAL if c == "h" else _VERTICAL
            return inner if in_class else f"[{inner}]"
        if c in "HV" and not in_class:
            return f"[^{_HORIZONTAL if c == 'H' else _VERTICAL}]"
        if c in "pP":
            return self.property(c == "P", in_class)
        if not in_class:
            if c == "z":
                return "\\Z"
            if c == "Z":
                return "(?=\\n?\\Z)"
            if c == "k":
                m = re.compile(r"<([A-Za-z][A-Za-z0-9]*)>").match(p, i + 2)
                if m is None:
                    raise _invalid(p, "bad \\k escape")
                self.i = m.end()
                return f"(?P={m.group(1)})"
        if c.isascii() and c.isalnum():
            raise _unsupported(p, f"the escape \\{c}" + (" in a character class" if in_class else ""))
        return _literal(c)

    def octal(self) -> str:
        """Java's \\0n, \\0nn, \\0mnn (m <= 3); self.i is just past the 0."""
        p, i = self.p, self.i
        m = re.compile(r"[0-3][0-7]{2}|[0-7]{1,2}").match(p, i)
        if m is None:
            raise _invalid(p, "bad octal escape")
        self.i = m.end()
        return _literal(chr(int(m.group(0), 8)))

    def property(self, negated: bool, in_class: bool) -> str:
        p, i = self.p, self.i
        if p.startswith("{", i):
            end = p.find("}", i)
            name = p[i + 1:end] if end >= 0 else ""
            self.i = end + 1
        else:
            name = p[i:i + 1]
            self.i = i + 1
        name = name[2:] if name.startswith("Is") and name[2:] in _POSIX else name
        inner = _POSIX.get(name)
        if inner is None:
            raise _unsupported(p, f"the character property \\p{{{name}}}")
        if in_class:
            if negated:
                raise _unsupported(p, "a negated property in a character class")
            return inner
        return f"[^{inner}]" if negated else f"[{inner}]"

    def char_class(self) -> str:
        """The inside of the character class starting at self.i (a '['),
        nested classes merged into it; self.i ends past its ']'."""
        p = self.p
        self.i += 1
        out: list[str] = []
        if p.startswith("^", self.i):
            out.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(p):
                raise _invalid(p, "unclosed character class")
            c = p[self.i]
            if c == "]" and not first:
                self.i += 1
                return "".join(out)
            if c == "\\":
                out.append(self.escape(in_class=True))
            elif c == "[":
                if p.startswith("[^", self.i):
                    raise _unsupported(p, "a negated class inside a character class")
                out.append(self.char_class())
            elif c == "&" and p.startswith("&&", self.i):
                raise _unsupported(p, "character class intersection (&&)")
            elif c in "]|~&":
                out.append("\\" + c)
                self.i += 1
            else:
                out.append(c)
                self.i += 1
            first = False


def _literal(ch: str) -> str:
    return re.escape(ch)


_GROUP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _substitution(regex: re.Pattern[str], template: str) -> Callable[[re.Match[str]], str]:
    """A replacement function for a Java-style substitution string."""
    parts: list[tuple[bool, str | int]] = []  # (is_group, literal text or group)
    literal: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c == "\\":
            if i + 1 >= n:
                raise CqlRuntimeError("The substitution string ends with a backslash")
            literal.append(template[i + 1])
            i += 2
            continue
        if c != "$":
            literal.append(c)
            i += 1
            continue
        group: str | int
        if template.startswith("{", i + 1):
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end >= 0 else ""
            if not _GROUP_NAME.fullmatch(name) or name not in regex.groupindex:
                raise CqlRuntimeError(f"The substitution string refers to an unknown group '{name}'")
            group, i = name, end + 1
        elif i + 1 < n and template[i + 1] in "0123456789":
            number, i = int(template[i + 1]), i + 2
            while i < n and template[i] in "0123456789" and number * 10 + int(template[i]) <= regex.groups:
                number, i = number * 10 + int(template[i]), i + 1
            if number > regex.groups:
                raise CqlRuntimeError(f"The substitution string refers to group {number}, which does not exist")
            group = number
        else:
            raise CqlRuntimeError("The substitution string has a '$' that is not a group reference")
        if literal:
            parts.append((False, "".join(literal)))
            literal = []
        parts.append((True, group))
    if literal:
        parts.append((False, "".join(literal)))
    if all(not is_group for is_group, _ in parts):
        text = "".join(str(value) for _, value in parts)
        return lambda m: text

    def replace(m: re.Match[str]) -> str:
        return "".join((m.group(value) or "") if is_group else value  # type: ignore[misc]
                       for is_group, value in parts)
    return replace
