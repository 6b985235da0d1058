"""Arithmetic and comparison on uncertainty intervals.

A duration between imprecise dates (``months between DateTime(2005) and
DateTime(2006, 7)``) is an Integer known only to lie in a range; CQL returns it
as an interval and defines how such values add, subtract, multiply and
compare: a comparison is true or false only when every value in the range
gives the same answer, and null otherwise. Division of uncertainties is an
error.
"""

from __future__ import annotations

from typing import Any

from ..errors import CqlRuntimeError
from .numbers import make_integer
from .structures import Interval


def _range(value: Any) -> tuple[Any, Any]:
    if type(value) is Interval:
        return value.low, value.high
    return value, value


def _result(low: int, high: int) -> int | Interval:
    low, high = make_integer(low), make_integer(high)
    return low if low == high else Interval(low, high, True, True, "Integer")


def _add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    (al, ah), (bl, bh) = _range(a), _range(b)
    return _result(al + bl, ah + bh)


def _subtract(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    (al, ah), (bl, bh) = _range(a), _range(b)
    return _result(al - bh, ah - bl)


def _multiply(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    (al, ah), (bl, bh) = _range(a), _range(b)
    products = (al * bl, al * bh, ah * bl, ah * bh)
    return _result(min(products), max(products))


def _negate(a: Any) -> Any:
    if a is None:
        return None
    low, high = _range(a)
    return _result(-high, -low)


def _no_division(*_: Any) -> Any:
    raise CqlRuntimeError("an uncertain duration can't be divided: the result would not be an Integer range")


def _less(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    (al, ah), (bl, bh) = _range(a), _range(b)
    if ah < bl:
        return True
    if al >= bh:
        return False
    return None


def _less_or_equal(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    (al, ah), (bl, bh) = _range(a), _range(b)
    if ah <= bl:
        return True
    if al > bh:
        return False
    return None


def _equal(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    (al, ah), (bl, bh) = _range(a), _range(b)
    if al == ah == bl == bh:
        return True
    if ah < bl or al > bh:
        return False
    return None


HANDLERS = {
    "Add": _add,
    "Subtract": _subtract,
    "Multiply": _multiply,
    "Negate": _negate,
    "Divide": _no_division,
    "TruncatedDivide": _no_division,
    "Modulo": _no_division,
    "Less": _less,
    "LessOrEqual": _less_or_equal,
    "Greater": lambda a, b: _less(b, a),
    "GreaterOrEqual": lambda a, b: _less_or_equal(b, a),
    "Equal": _equal,
}
# Operators whose result is again possibly uncertain.
ARITHMETIC = frozenset({"Add", "Subtract", "Multiply", "Negate"})
