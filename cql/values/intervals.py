"""Basic interval arithmetic shared by the operators: successor, predecessor,
closed-bound normalization, and the minimum/maximum of each point type."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..errors import CqlRuntimeError
from . import temporal
from .numbers import (
    DECIMAL_MAX,
    DECIMAL_MIN,
    DECIMAL_STEP,
    INTEGER_MAX,
    INTEGER_MIN,
    LONG_MAX,
    LONG_MIN,
    Long,
    make_decimal,
    make_integer,
    make_long,
)
from .quantity import Quantity
from .structures import Interval


def successor(value: Any) -> Any:
    """The next value of a point type (raises at the type's maximum)."""
    t = type(value)
    if t is int:
        return make_integer(value + 1)
    if t is Long:
        return make_long(value + 1)
    if t is Decimal:
        return make_decimal(value + DECIMAL_STEP)
    if t in (temporal.Date, temporal.DateTime, temporal.Time):
        return temporal.successor(value)
    if t is Quantity:
        return Quantity(make_decimal(value.value + DECIMAL_STEP), value.unit)
    raise CqlRuntimeError(f"successor is not defined for {t.__name__}")


def predecessor(value: Any) -> Any:
    """The previous value of a point type (raises at the type's minimum)."""
    t = type(value)
    if t is int:
        return make_integer(value - 1)
    if t is Long:
        return make_long(value - 1)
    if t is Decimal:
        return make_decimal(value - DECIMAL_STEP)
    if t in (temporal.Date, temporal.DateTime, temporal.Time):
        return temporal.predecessor(value)
    if t is Quantity:
        return Quantity(make_decimal(value.value - DECIMAL_STEP), value.unit)
    raise CqlRuntimeError(f"predecessor is not defined for {t.__name__}")


def min_value(type_name: str) -> Any:
    """``minimum T`` for a point type name such as 'Integer' or 'DateTime'."""
    if type_name == "Integer":
        return INTEGER_MIN
    if type_name == "Long":
        return Long(LONG_MIN)
    if type_name == "Decimal":
        return DECIMAL_MIN
    if type_name in ("Date", "DateTime", "Time"):
        return temporal.min_value(type_name)
    raise CqlRuntimeError(f"minimum is not defined for {type_name}")


def max_value(type_name: str) -> Any:
    """``maximum T`` for a point type name such as 'Integer' or 'DateTime'."""
    if type_name == "Integer":
        return INTEGER_MAX
    if type_name == "Long":
        return Long(LONG_MAX)
    if type_name == "Decimal":
        return DECIMAL_MAX
    if type_name in ("Date", "DateTime", "Time"):
        return temporal.max_value(type_name)
    raise CqlRuntimeError(f"maximum is not defined for {type_name}")


_POINT_TYPE_NAMES: dict[type, str] = {
    int: "Integer", Long: "Long", Decimal: "Decimal", temporal.Date: "Date", temporal.DateTime: "DateTime",
    temporal.Time: "Time",
}


def normalized_bounds(interval: Interval) -> tuple[Any, Any]:
    """The interval's bounds as closed bounds (open bounds moved inwards by one step).

    A closed null bound stands for the minimum/maximum of the point type when
    that is known; an open null bound stays null (unknown).
    """
    low, high = interval.low, interval.high
    point_type = interval.point_type
    if point_type in (None, "Any"):
        # The point type of an interval whose static type was not known: that of its other bound.
        bound = low if low is not None else high
        point_type = _POINT_TYPE_NAMES.get(type(bound)) if bound is not None else None
    if low is None:
        if interval.low_closed and point_type:
            try:
                low = min_value(point_type)
            except CqlRuntimeError:
                low = None
    elif not interval.low_closed:
        low = successor(low)
    if high is None:
        if interval.high_closed and point_type:
            try:
                high = max_value(point_type)
            except CqlRuntimeError:
                high = None
    elif not interval.high_closed:
        high = predecessor(high)
    return low, high
