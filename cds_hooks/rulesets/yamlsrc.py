"""YAML with source positions, so that every problem can name its line.

PyYAML's safe loader builds the data; the composed node tree it came from gives
the line of every value, keyed by its path (mapping keys and list indexes, as in
pydantic's error locations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class YamlDocument:
    """Loaded YAML data and the position of each value in the text."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    # For string values: (line of the first text line, True if a block scalar whose
    # text lines map one-to-one onto file lines).
    text_starts: dict[Path_, tuple[int, bool]] = field(default_factory=dict)
    ends: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int]] = field(default_factory=list)
    source_lines: list[str] = field(default_factory=list)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the value at ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def text_line(self, path: Sequence[str | int], offset: int, needle: str | None = None) -> int | None:
        """File line of the ``offset``-th (0-based) line of the string at ``path``.

        Literal block scalars (``|``) map line for line. In other styles YAML
        folds lines, so the line is found by searching the value's source lines
        for ``needle`` (the text being reported), else the value's first line.
        """
        key = tuple(path)
        start = self.text_starts.get(key)
        if start is None:
            return self.line_of(path)
        line, exact = start
        if exact:
            return line + offset
        if needle:
            end = self.ends.get(key, line)
            for number in range(line, min(end, len(self.source_lines)) + 1):
                if needle in self.source_lines[number - 1]:
                    return number
        return line


def load_yaml(text: str) -> YamlDocument:
    """Parse one YAML document with the safe loader and record positions."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise YamlSyntaxError(message, mark.line + 1 if mark else None,
                              mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc), None, None) from None
    finally:
        loader.dispose()
    doc = YamlDocument(data, source_lines=text.splitlines())
    if node is not None:
        _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, path: Path_, doc: YamlDocument) -> None:
    doc.lines[path] = node.start_mark.line + 1
    doc.ends[path] = node.end_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("|", ">"):
            # A block scalar's text starts on the line after the indicator.
            doc.text_starts[path] = (node.start_mark.line + 2, node.style == "|")
        else:
            doc.text_starts[path] = (node.start_mark.line + 1, False)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _walk(child, (*path, index), doc)
    elif isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            if key in seen:
                doc.duplicates.append(((*path, key), key_node.start_mark.line + 1))
            seen.add(key)
            _walk(value_node, (*path, key), doc)
