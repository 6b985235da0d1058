"""The card text template language: logic-less, Mustache-style, sandboxed.

Syntax:

- ``{{Define Name}}``: the define's value, rendered for people;
- ``{{#Define Name}}...{{/Define Name}}``: shown when the define is true or a non-empty list;
- ``{{^Define Name}}...{{/Define Name}}``: shown when it is false, null or empty;
- ``{{! comment}}``: ignored.

A section or comment tag alone on its line takes the whole line with it, as in
Mustache, so Markdown bullet lists can be made conditional line by line.

Why a small hand-written renderer and not a Mustache library: the libraries
(chevron, pystache) resolve dotted names through ``getattr`` into Python
objects, call lambdas found in the data, load partials from disk and change
delimiters, and they split names on dots and treat a missing name as empty
text. Here a name is exactly one CQL define name (spaces and dots included),
the only values reachable are the define results handed in, nothing is ever
called, and a missing name is an error, found at validation with its line.
The grammar is small enough that a parser of a hundred lines is easier to
trust than a library with those features switched off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class TemplateError(ValueError):
    """A malformed template. ``line`` (0-based, within the template) and ``column`` (1-based);
    ``text`` is the offending source text when known."""

    def __init__(self, message: str, line: int, column: int, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.text = text


class TemplateRenderError(RuntimeError):
    """A template named a value that was not supplied at render time."""


@dataclass(frozen=True)
class Tag:
    """A reference to a define: ``kind`` is ``value``, ``section`` or ``inverted``."""

    name: str
    kind: str
    line: int  # 0-based within the template
    column: int  # 1-based
    text: str = ""  # the tag as written, e.g. "{{#Show Card}}"


@dataclass(frozen=True)
class _Section:
    tag: Tag
    children: tuple[Any, ...]


_FORBIDDEN_SIGILS = {"{": "triple mustache", "&": "unescaped output", ">": "partials", "=": "delimiter changes"}


class Template:
    """A parsed template; parse once, render many times (thread-safe)."""

    __slots__ = ("source", "_nodes", "tags")

    def __init__(self, source: str) -> None:
        self.source = source
        self.tags: tuple[Tag, ...]
        self._nodes, self.tags = _parse(source)

    @property
    def names(self) -> frozenset[str]:
        """Every define name the template refers to."""
        return frozenset(tag.name for tag in self.tags)

    @property
    def static_text(self) -> str:
        """The literal text with every section included and no values: the
        shortest text the template can produce when all sections show."""
        return _static(self._nodes)

    def render(self, values: Mapping[str, Any], format_value: Callable[[Any], str]) -> str:
        """Render with ``values`` (define name → CQL value); ``format_value``
        turns a value into text (human rendering and any escaping)."""
        out: list[str] = []
        _render(self._nodes, values, format_value, out)
        return "".join(out)


def is_shown(value: Any) -> bool:
    """Section truth: true, or a non-empty list. Everything else hides the section."""
    if value is True:
        return True
    return isinstance(value, list | tuple) and len(value) > 0


def _static(nodes: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, _Section) and node.tag.kind == "section":
            parts.append(_static(node.children))
    return "".join(parts)


def _render(nodes: tuple[Any, ...], values: Mapping[str, Any], fmt: Callable[[Any], str],
            out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        tag = node.tag if isinstance(node, _Section) else node
        if tag.name not in values:
            raise TemplateRenderError(f"template refers to {tag.name!r}, which was not evaluated")
        value = values[tag.name]
        if isinstance(node, _Section):
            if is_shown(value) == (tag.kind == "section"):
                _render(node.children, values, fmt, out)
        else:
            out.append(fmt(value))


def _position(source: str, index: int) -> tuple[int, int]:
    line = source.count("\n", 0, index)
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    return line, column


def _parse(source: str) -> tuple[tuple[Any, ...], tuple[Tag, ...]]:
    # Stack of (open tag or None for the root, children list).
    stack: list[tuple[Tag | None, list[Any]]] = [(None, [])]
    tags: list[Tag] = []
    index = 0
    while True:
        start = source.find("{{", index)
        if start < 0:
            stack[-1][1].append(source[index:])
            break
        end = source.find("}}", start + 2)
        line, column = _position(source, start)
        if end < 0:
            raise TemplateError("'{{' without a closing '}}'", line, column, source[start:start + 20])
        inner = source[start + 2:end]
        sigil = inner[:1]
        if sigil in _FORBIDDEN_SIGILS:
            raise TemplateError(f"{_FORBIDDEN_SIGILS[sigil]} ({{{{{sigil}...}}}}) is not supported", line, column,
                                source[start:end + 2])
        if "{{" in inner or "\n" in inner:
            raise TemplateError("unclosed tag: '{{' without '}}' on the same line", line, column,
                                source[start:start + 20].split("\n")[0])
        kind = {"#": "section", "^": "inverted", "/": "close", "!": "comment"}.get(sigil, "value")
        name = (inner[1:] if kind != "value" else inner).strip()
        if kind != "comment" and not name:
            raise TemplateError("empty tag", line, column, source[start:end + 2])
        literal_end, after = start, end + 2
        if kind != "value":
            # A standalone section/comment tag removes its whole line.
            line_start = source.rfind("\n", 0, start) + 1
            line_end = source.find("\n", after)
            line_end = len(source) if line_end < 0 else line_end
            if not source[line_start:start].strip() and not source[after:line_end].strip():
                literal_end = line_start
                after = line_end + 1 if line_end < len(source) else line_end
        stack[-1][1].append(source[index:literal_end])
        index = after
        if kind == "comment":
            continue
        tag = Tag(name, kind, line, column, source[start:end + 2])
        if kind == "value":
            tags.append(tag)
            stack[-1][1].append(tag)
        elif kind in ("section", "inverted"):
            tags.append(tag)
            stack.append((tag, []))
        else:  # close
            opened = stack[-1][0]
            if opened is None:
                raise TemplateError(f"closing tag {{{{/{name}}}}} without an opening tag", line, column,
                                    source[start:end + 2])
            if opened.name != name:
                raise TemplateError(
                    f"closing tag {{{{/{name}}}}} does not match {{{{{'#' if opened.kind == 'section' else '^'}"
                    f"{opened.name}}}}} opened on line {opened.line + 1}", line, column, source[start:end + 2])
            _, children = stack.pop()
            stack[-1][1].append(_Section(opened, _compact(children)))
    if len(stack) > 1:
        opened = stack[-1][0]
        assert opened is not None
        raise TemplateError(f"section {opened.name!r} is never closed", opened.line, opened.column, opened.text)
    return _compact(stack[0][1]), tuple(tags)


def _compact(nodes: list[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, str):
            if not node:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += node
                continue
        out.append(node)
    return tuple(out)
