"""Structured CQL values: Interval, Tuple, Code, Concept and terminology references.

Lists are plain Python lists (never mutated once built). Every class here is
immutable and follows the value protocol described in :mod:`cql.values`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Interval:
    """An interval over an ordered point type.

    A null bound means different things depending on closedness, as in the
    spec: a *closed* null bound stands for the minimum (low) or maximum (high)
    value of the point type; an *open* null bound is unknown. ``point_type``
    is the CQL type name of the points (``"Integer"``, ``"DateTime"``, ...)
    when known, so that such bounds can be resolved.
    """

    low: Any
    high: Any
    low_closed: bool = True
    high_closed: bool = True
    point_type: str | None = None


class Tuple:
    """A CQL tuple: named elements in declaration order."""

    __slots__ = ("elements",)

    def __init__(self, elements: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        self.elements: dict[str, Any] = dict(elements)

    def get(self, name: str) -> Any:
        return self.elements.get(name)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {v!r}" for k, v in self.elements.items())
        return f"Tuple {{ {inner} }}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tuple) and self.elements == other.elements

    def __hash__(self) -> int:
        return hash(tuple(self.elements))


@dataclass(frozen=True, slots=True)
class Code:
    """A terminology code (CQL System.Code)."""

    code: str | None
    system: str | None = None
    version: str | None = None
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Concept:
    """A set of codes meaning the same thing (CQL System.Concept)."""

    codes: tuple[Code, ...] = field(default_factory=tuple)
    display: str | None = None


@dataclass(frozen=True, slots=True)
class CodeSystemRef:
    """A reference to a code system declared in a library."""

    id: str
    version: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ValueSetRef:
    """A reference to a value set declared in a library; membership is
    resolved against the value sets given at evaluation time."""

    id: str
    version: str | None = None
    name: str | None = None
    codesystems: tuple[CodeSystemRef, ...] = ()
