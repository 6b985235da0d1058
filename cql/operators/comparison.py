"""Comparison operators: =, ~, <, <=, >, >= (CQL reference, "Comparison Operators")."""

from __future__ import annotations

from typing import Any

from ..types import BOOLEAN, DATE, DATETIME, DECIMAL, INTEGER, LONG, QUANTITY, STRING, TIME
from ..values.compare import compare, equal, equivalent
from .registry import T, operator

_ORDERED = (INTEGER, LONG, DECIMAL, STRING, DATE, DATETIME, TIME, QUANTITY)


@operator("Equal", [T, T], BOOLEAN, nulls=False)
def equal_(a: Any, b: Any) -> bool | None:
    return equal(a, b)


@operator("Equivalent", [T, T], BOOLEAN, nulls=False)
def equivalent_(a: Any, b: Any) -> bool:
    return equivalent(a, b)


def _ordered(name: str, test: Any) -> None:
    for t in _ORDERED:
        def impl(a: Any, b: Any, _test=test) -> bool | None:
            result = compare(a, b)
            return None if result is None else _test(result)
        operator(name, [t, t], BOOLEAN)(impl)


_ordered("Less", lambda r: r < 0)
_ordered("LessOrEqual", lambda r: r <= 0)
_ordered("Greater", lambda r: r > 0)
_ordered("GreaterOrEqual", lambda r: r >= 0)
