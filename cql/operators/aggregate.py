"""Aggregate functions (CQL reference, "Aggregate Functions").

Every aggregate ignores null elements. A null list gives null, except for
``Count`` (0), ``AllTrue`` (true) and ``AnyTrue`` (false); a list without
non-null elements gives null, except for those three.

Decimal statistics are computed at 60 digits and rounded once to CQL's 8
decimal places. Quantity statistics run on the values converted to the most
granular of the units present and keep that unit, as the reference's examples
do (``Variance({ 1.0 'mg', ... })`` is in ``'mg'``); units that don't convert
to each other give null, as ``+`` does.

``Min``/``Max`` return null when the extreme value is uncertain (date/time
values of different precisions, quantities that don't compare). ``Mode``
counts by CQL equality; among equally frequent values it returns the
smallest when they are ordered, else the first to appear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from ..types import (
    BOOLEAN,
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    LONG,
    QUANTITY,
    STRING,
    TIME,
    CqlType,
    ListType,
)
from ..values import Long, Quantity
from ..values import quantity as q
from ..values.compare import compare, equal
from ..values.numbers import CONTEXT, make_decimal, make_integer, make_long
from .list import equality_key
from .registry import T, operator

_NUMBERS = (int, Long, Decimal)


def _present(items: list[Any]) -> list[Any]:
    return [x for x in items if x is not None]


def _each(name: str, types: Sequence[CqlType], impl: Callable[[list[Any]], Any],
          result: Callable[[CqlType], CqlType] = lambda t: t) -> None:
    for t in types:
        operator(name, [ListType(t)], result(t))(impl)


# ---------------------------------------------------------------- Boolean aggregates


@operator("AllTrue", [ListType(BOOLEAN)], BOOLEAN, nulls=False)
def all_true(items: list[Any] | None) -> bool:
    return not items or all(x is not False for x in items)


@operator("AnyTrue", [ListType(BOOLEAN)], BOOLEAN, nulls=False)
def any_true(items: list[Any] | None) -> bool:
    return bool(items) and any(x is True for x in items)


@operator("Count", [ListType(T)], INTEGER, nulls=False)
def count(items: list[Any] | None) -> int:
    if not items:
        return 0
    return len(items) - sum(1 for x in items if x is None)


# ---------------------------------------------------------------- Sum, Product


def _sum_integer(items: list[Any]) -> int | None:
    values = _present(items)
    return make_integer(sum(values)) if values else None


def _sum_long(items: list[Any]) -> Long | None:
    values = _present(items)
    return make_long(sum(values)) if values else None


def _sum_decimal(items: list[Any]) -> Decimal | None:
    values = _present(items)
    if not values:
        return None
    total = Decimal(0)
    for v in values:
        total = CONTEXT.add(total, v)
    return make_decimal(total)


def _sum_quantity(items: list[Any]) -> Quantity | None:
    values = _present(items)
    if not values:
        return None
    total = values[0]
    for v in values[1:]:
        total = q.add(total, v)
        if total is None:
            return None
    return total


operator("Sum", [ListType(INTEGER)], INTEGER)(_sum_integer)
operator("Sum", [ListType(LONG)], LONG)(_sum_long)
operator("Sum", [ListType(DECIMAL)], DECIMAL)(_sum_decimal)
operator("Sum", [ListType(QUANTITY)], QUANTITY)(_sum_quantity)


def _product(values: list[Any]) -> Any:
    result = values[0]
    for v in values[1:]:
        result = CONTEXT.multiply(result, v) if type(result) is Decimal else result * v
    return result


def _product_integer(items: list[Any]) -> int | None:
    values = _present(items)
    return make_integer(_product(values)) if values else None


def _product_long(items: list[Any]) -> Long | None:
    values = _present(items)
    return make_long(_product([int(v) for v in values])) if values else None


def _product_decimal(items: list[Any]) -> Decimal | None:
    values = _present(items)
    return make_decimal(_product(values)) if values else None


def _product_quantity(items: list[Any]) -> Quantity | None:
    common = _common_unit(items)
    if common is None:
        return None
    values, unit = common
    return Quantity(make_decimal(_product(values)), unit)


operator("Product", [ListType(INTEGER)], INTEGER)(_product_integer)
operator("Product", [ListType(LONG)], LONG)(_product_long)
operator("Product", [ListType(DECIMAL)], DECIMAL)(_product_decimal)
operator("Product", [ListType(QUANTITY)], QUANTITY)(_product_quantity)


# ---------------------------------------------------------------- Min, Max


def _extreme(items: list[Any], sign: int) -> Any:
    """The maximum (sign 1) or minimum (sign -1) of the non-null elements; None if uncertain."""
    values = _present(items)
    if not values:
        return None
    first_type = type(values[0])
    if first_type is str and all(type(v) is str for v in values):
        return max(values) if sign > 0 else min(values)
    if first_type in _NUMBERS and all(type(v) in _NUMBERS for v in values):
        return max(values) if sign > 0 else min(values)
    best = values[0]
    for v in values[1:]:
        c = compare(v, best)
        if c is not None and c * sign > 0:
            best = v
    for v in values:
        if v is not best and compare(best, v) is None:
            return None
    return best


def _max(items: list[Any]) -> Any:
    return _extreme(items, 1)


def _min(items: list[Any]) -> Any:
    return _extreme(items, -1)


_ORDERED = (INTEGER, LONG, DECIMAL, QUANTITY, DATE, DATETIME, TIME, STRING)
_each("Max", _ORDERED, _max)
_each("Min", _ORDERED, _min)


# ---------------------------------------------------------------- statistics on Decimal and Quantity


def _common_unit(items: list[Any]) -> tuple[list[Decimal], str] | None:
    """The values of non-null quantities in the most granular of their units (None if
    empty or the units don't convert to each other)."""
    quantities = _present(items)
    if not quantities:
        return None
    unit = quantities[0].unit
    if all(x.unit == unit for x in quantities):
        return [x.value for x in quantities], unit
    # The unit of a sum is the most granular one.
    total = _sum_quantity(quantities)
    if total is None:
        return None
    unit = total.unit
    values = []
    for x in quantities:
        if x.unit == unit:
            values.append(x.value)
            continue
        converted = q.convert_quantity(x, unit)
        if converted is None:
            return None
        values.append(converted.value)
    return values, unit


def _on_decimals(stat: Callable[[list[Decimal]], Decimal | None]) -> tuple[
        Callable[[list[Any]], Decimal | None], Callable[[list[Any]], Quantity | None]]:
    """The Decimal and Quantity overloads of a statistic computed on Decimals (60 digits)."""

    def on_decimal(items: list[Any]) -> Decimal | None:
        values = _present(items)
        if not values:
            return None
        result = stat(values)
        return None if result is None else make_decimal(result)

    def on_quantity(items: list[Any]) -> Quantity | None:
        common = _common_unit(items)
        if common is None:
            return None
        values, unit = common
        result = stat(values)
        return None if result is None else Quantity(make_decimal(result), unit)
    return on_decimal, on_quantity


def _mean(values: list[Decimal]) -> Decimal:
    total = Decimal(0)
    for v in values:
        total = CONTEXT.add(total, v)
    return CONTEXT.divide(total, len(values))


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    n = len(ordered)
    middle = n // 2
    if n % 2:
        return ordered[middle]
    return CONTEXT.divide(CONTEXT.add(ordered[middle - 1], ordered[middle]), 2)


def _squared_deviations(values: list[Decimal]) -> Decimal:
    mean = _mean(values)
    total = Decimal(0)
    for v in values:
        d = CONTEXT.subtract(v, mean)
        total = CONTEXT.add(total, CONTEXT.multiply(d, d))
    return total


def _variance(values: list[Decimal]) -> Decimal | None:
    if len(values) < 2:
        return None
    return CONTEXT.divide(_squared_deviations(values), len(values) - 1)


def _population_variance(values: list[Decimal]) -> Decimal:
    return CONTEXT.divide(_squared_deviations(values), len(values))


def _std_dev(values: list[Decimal]) -> Decimal | None:
    variance = _variance(values)
    return None if variance is None else CONTEXT.sqrt(variance)


def _population_std_dev(values: list[Decimal]) -> Decimal:
    return CONTEXT.sqrt(_population_variance(values))


def _geometric_mean(values: list[Decimal]) -> Decimal | None:
    product = Decimal(1)
    for v in values:
        product = CONTEXT.multiply(product, v)
    if product < 0:
        return None
    if not product:
        return Decimal(0)
    return CONTEXT.exp(CONTEXT.divide(CONTEXT.ln(product), len(values)))


for _name, _stat in (("Avg", _mean), ("Median", _median), ("Variance", _variance),
                     ("PopulationVariance", _population_variance), ("StdDev", _std_dev),
                     ("PopulationStdDev", _population_std_dev)):
    _decimal_impl, _quantity_impl = _on_decimals(_stat)
    operator(_name, [ListType(DECIMAL)], DECIMAL)(_decimal_impl)
    operator(_name, [ListType(QUANTITY)], QUANTITY)(_quantity_impl)

operator("GeometricMean", [ListType(DECIMAL)], DECIMAL)(_on_decimals(_geometric_mean)[0])


# ---------------------------------------------------------------- Mode


@operator("Mode", [ListType(T)], T)
def mode(items: list[Any]) -> Any:
    values = _present(items)
    if not values:
        return None
    # Groups of equal values: representative and count, in order of first appearance.
    groups: list[list[Any]] = []
    buckets: dict[Any, list[list[Any]]] = {}
    pairwise = False
    for v in values:
        k = None if pairwise else equality_key(v)
        if k is None:
            pairwise = True
            candidates = groups
        else:
            candidates = buckets.setdefault(k[0], [])
        for group in candidates:
            if (k is not None and k[1]) or equal(v, group[0]) is True:
                group[1] += 1
                break
        else:
            group = [v, 1]
            groups.append(group)
            if k is not None:
                candidates.append(group)
    top = max(g[1] for g in groups)
    tied = [g[0] for g in groups if g[1] == top]
    best = tied[0]
    for v in tied[1:]:
        c = compare(v, best)
        if c is None:
            return tied[0]
        if c < 0:
            best = v
    return best
