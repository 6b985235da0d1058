"""Interval operators (CQL reference, "Interval Operators").

Boundaries follow the Start and End operators: an open bound is moved inwards
by one step (successor/predecessor at the value's own precision), a closed
null bound is the minimum/maximum of the point type, and an open null bound is
unknown. An unknown bound is handled as an uncertainty, as the language
semantics prescribe: an unknown start lies somewhere between the beginning of
the point type and the interval's end, an unknown end between its start and
the end of the point type. Every comparison is three-valued over such ranges
(true only when true for every possible value, false only when false for
every one), so ``Interval(null, 5] meets after Interval[11, null)`` is false
while ``Interval(null, 5] meets before Interval(null, 25]`` is unknown.

An interval whose bounds are both null and whose point type is unknown (the
untyped ``Interval[null, null]``) carries no information and is treated as a
null interval.

A ``precision`` (``Includes(a, b, precision='day')``, ``included in day of``)
applies to Date, DateTime and Time points; other point types ignore it.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from functools import cmp_to_key
from typing import Any

from ..errors import CqlRuntimeError
from ..types import BOOLEAN, DECIMAL, INTEGER, LONG, QUANTITY, IntervalType, ListType
from ..values import quantity as _quantity
from ..values import temporal
from ..values.compare import compare
from ..values.intervals import max_value, min_value, predecessor, successor
from ..values.numbers import DECIMAL_STEP, Long, decimal_places, make_decimal, make_integer, make_long
from ..values.quantity import Quantity
from ..values.structures import Interval
from ..values.temporal import Date, DateTime, Time
from .registry import T, operator

_TEMPORAL = (Date, DateTime, Time)
_TYPE_NAMES: dict[type, str] = {
    int: "Integer", Long: "Long", Decimal: "Decimal", Quantity: "Quantity", Date: "Date",
    DateTime: "DateTime", Time: "Time", str: "String",
}
_IVL = IntervalType(T)
_PRECISION = ("precision",)

# A comparison precision with the offset DateTimes are normalized to (that of
# the evaluation request), or None to compare at the finest precision.
Prec = tuple[str, Any] | None

# A boundary is a pair (lo, hi): the range of values it may have. A known
# boundary has lo is hi; None on either side means unbounded (unknown).
Bound = tuple[Any, Any]
_UNKNOWN: Bound = (None, None)

# Expansions longer than this are refused rather than built.
_EXPAND_LIMIT = 1_000_000


# ---------------------------------------------------------------- boundaries


def _point_type(iv: Interval) -> str | None:
    """The CQL name of the interval's point type, from the interval or its bounds."""
    pt = iv.point_type
    if pt and pt != "Any":
        return pt
    bound = iv.low if iv.low is not None else iv.high
    return None if bound is None else _TYPE_NAMES.get(type(bound))


def _known(iv: Interval | None) -> Interval | None:
    """None for a null interval and for an untyped interval with two null bounds."""
    if iv is None or (iv.low is None and iv.high is None and _point_type(iv) is None):
        return None
    return iv


_EXTREMES: dict[tuple[str, bool], Any] = {}


def _extreme(point_type: str | None, high: bool) -> Any:
    """minimum/maximum of a point type; None when it has none (or is unknown)."""
    if point_type is None:
        return None
    key = (point_type, high)
    if key not in _EXTREMES:
        try:
            _EXTREMES[key] = max_value(point_type) if high else min_value(point_type)
        except CqlRuntimeError:
            _EXTREMES[key] = None
    return _EXTREMES[key]


def _bounds(iv: Interval) -> tuple[Bound, Bound]:
    """The start and end of an interval as possibly unknown boundaries."""
    low, high = iv.low, iv.high
    start: Bound | None = None
    end: Bound | None = None
    if low is not None:
        value = low if iv.low_closed else successor(low)
        start = (value, value)
    elif iv.low_closed:
        value = _extreme(_point_type(iv), False)
        if value is not None:  # else (Quantity, String, unknown type) handled as unknown below
            start = (value, value)
    if high is not None:
        value = high if iv.high_closed else predecessor(high)
        end = (value, value)
    elif iv.high_closed:
        value = _extreme(_point_type(iv), True)
        if value is not None:
            end = (value, value)
    if start is None:
        start = (None, end[1]) if end is not None else _UNKNOWN
    if end is None:
        end = (start[0], None)
    return start, end


def _exact(b: Bound) -> bool:
    return b[0] is not None and b[0] is b[1]


def _point(value: Any) -> Bound:
    return (value, value)


def _start_value(iv: Interval) -> Any:
    start = _bounds(iv)[0]
    return start[0] if _exact(start) else None


def _end_value(iv: Interval) -> Any:
    end = _bounds(iv)[1]
    return end[0] if _exact(end) else None


# ---------------------------------------------------------------- three-valued comparison


def _prec(ctx: Any, precision: str | None) -> Prec:
    return None if precision is None else (precision, ctx.offset)


def _cmp(x: Any, y: Any, precision: Prec) -> int | None:
    if precision is not None and type(x) in _TEMPORAL:
        return temporal.compare_at(x, y, precision[0], offset=precision[1])
    return compare(x, y)


def _lt(a: Bound, b: Bound, precision: Prec) -> bool | None:
    """a < b: true if true for every possible value, false if false for every one."""
    if a[1] is not None and b[0] is not None:
        c = _cmp(a[1], b[0], precision)
        if c is not None and c < 0:
            return True
    if a[0] is not None and b[1] is not None:
        c = _cmp(a[0], b[1], precision)
        if c is not None and c >= 0:
            return False
    return None


def _le(a: Bound, b: Bound, precision: Prec) -> bool | None:
    """a <= b, three-valued as :func:`_lt`."""
    if a[1] is not None and b[0] is not None:
        c = _cmp(a[1], b[0], precision)
        if c is not None and c <= 0:
            return True
    if a[0] is not None and b[1] is not None:
        c = _cmp(a[0], b[1], precision)
        if c is not None and c > 0:
            return False
    return None


def _eq(a: Bound, b: Bound, precision: Prec) -> bool | None:
    if _exact(a) and _exact(b):
        c = _cmp(a[0], b[0], precision)
        return None if c is None else c == 0
    if _lt(a, b, precision) is True or _lt(b, a, precision) is True:
        return False
    return None


def _and(*values: bool | None) -> bool | None:
    result: bool | None = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _or(*values: bool | None) -> bool | None:
    result: bool | None = False
    for v in values:
        if v is True:
            return True
        if v is None:
            result = None
    return result


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


# ---------------------------------------------------------------- Start, End, Width, Size, PointFrom


@operator("Start", [_IVL], T)
def start_(iv: Interval) -> Any:
    iv = _known(iv)  # type: ignore[assignment]
    return None if iv is None else _start_value(iv)


@operator("End", [_IVL], T)
def end_(iv: Interval) -> Any:
    iv = _known(iv)  # type: ignore[assignment]
    return None if iv is None else _end_value(iv)


def _difference(end: Any, start: Any) -> Any:
    t = type(end)
    if t is int:
        return make_integer(end - start)
    if t is Long:
        return make_long(end - start)
    if t is Decimal:
        return make_decimal(end - start)
    if t is Quantity:
        result = _quantity.subtract(end, start)
        if result is None:
            raise CqlRuntimeError(f"the bounds of the interval have incompatible units '{start.unit}' "
                                  f"and '{end.unit}'")
        return result
    raise CqlRuntimeError(f"width and size are not defined for intervals of {t.__name__}")


@operator("Width", [_IVL], T)
def width(iv: Interval) -> Any:
    iv = _known(iv)  # type: ignore[assignment]
    if iv is None:
        return None
    start, end = _bounds(iv)
    for b in (start, end):
        if _exact(b) and type(b[0]) in _TEMPORAL:
            raise CqlRuntimeError(f"width and size are not defined for intervals of {type(b[0]).__name__}; "
                                  "use duration or difference")
    if not (_exact(start) and _exact(end)):
        return None
    return _difference(end[0], start[0])


@operator("Size", [_IVL], T)
def size(iv: Interval) -> Any:
    iv = _known(iv)  # type: ignore[assignment]
    if iv is None:
        return None
    w = width(iv)
    if w is None:
        return None
    t = type(w)
    if t is int:
        return make_integer(w + 1)
    if t is Long:
        return make_long(w + 1)
    if t is Decimal:
        return make_decimal(w + DECIMAL_STEP)
    return Quantity(make_decimal(w.value + DECIMAL_STEP), w.unit)


@operator("PointFrom", [_IVL], T)
def point_from(iv: Interval) -> Any:
    iv = _known(iv)  # type: ignore[assignment]
    if iv is None:
        return None
    start, end = _bounds(iv)
    same = _eq(start, end, None)
    if same is True:
        return start[0]
    if same is False:
        raise CqlRuntimeError("point from: the interval is not a unit interval")
    raise CqlRuntimeError("point from: cannot determine whether the interval is a unit interval")


# ---------------------------------------------------------------- membership


def _in(point: Any, iv: Interval, precision: Prec) -> bool | None:
    """The point is on or after the start and on or before the end of the
    interval. An open bound is compared through its successor/predecessor at
    its own precision (an open ``@2012-02`` high bound excludes all of
    February), and exclusively against the bound itself when that is
    uncertain (``@2012-01-15`` is before ``@2012-02`` but not known to be on or
    before ``@2012-01``). A closed null bound always holds; an open null bound
    is an uncertainty."""
    start, end = _bounds(iv)
    p = _point(point)
    low, high = iv.low, iv.high
    if low is None and iv.low_closed:
        low_ok: bool | None = True
    else:
        low_ok = _le(start, p, precision)
        if low_ok is None and low is not None and not iv.low_closed:
            c = _cmp(point, low, precision)
            low_ok = None if c is None else c > 0
    if low_ok is False:
        return False
    if high is None and iv.high_closed:
        high_ok: bool | None = True
    else:
        high_ok = _le(p, end, precision)
        if high_ok is None and high is not None and not iv.high_closed:
            c = _cmp(point, high, precision)
            high_ok = None if c is None else c < 0
    return _and(low_ok, high_ok)


def contains(ctx: Any, iv: Interval | None, point: Any, precision: str | None = None) -> bool | None:
    iv = _known(iv)
    if iv is None:
        return False
    if point is None:
        return None
    return _in(point, iv, _prec(ctx, precision))


def in_(ctx: Any, point: Any, iv: Interval | None, precision: str | None = None) -> bool | None:
    if point is None:
        return None
    iv = _known(iv)
    if iv is None:
        return False
    return _in(point, iv, _prec(ctx, precision))


def _proper_contains(ctx: Any, iv: Interval, point: Any, precision: str | None = None) -> bool | None:
    iv = _known(iv)  # type: ignore[assignment]
    if iv is None:
        return None
    start, end = _bounds(iv)
    p, prec = _point(point), _prec(ctx, precision)
    return _and(_lt(start, p, prec), _lt(p, end, prec))


operator("Contains", [_IVL, T], BOOLEAN, nulls=False, ctx=True, options=_PRECISION)(contains)
operator("In", [T, _IVL], BOOLEAN, nulls=False, ctx=True, options=_PRECISION)(in_)
operator("Includes", [_IVL, T], BOOLEAN, nulls=False, ctx=True, options=_PRECISION)(contains)
operator("IncludedIn", [T, _IVL], BOOLEAN, nulls=False, ctx=True, options=_PRECISION)(in_)
operator("ProperContains", [_IVL, T], BOOLEAN, ctx=True, options=_PRECISION)(_proper_contains)
operator("ProperIncludes", [_IVL, T], BOOLEAN, ctx=True, options=_PRECISION)(_proper_contains)
operator("ProperIn", [T, _IVL], BOOLEAN, ctx=True, options=_PRECISION)(
    lambda ctx, point, iv, precision=None: _proper_contains(ctx, iv, point, precision))
operator("ProperIncludedIn", [T, _IVL], BOOLEAN, ctx=True, options=_PRECISION)(
    lambda ctx, point, iv, precision=None: _proper_contains(ctx, iv, point, precision))


# ---------------------------------------------------------------- interval relations


def _relation(name: str, test: Any) -> None:
    """Register an interval-interval comparison written over the two intervals' bounds."""

    def impl(ctx: Any, a: Interval, b: Interval, precision: str | None = None) -> bool | None:
        a, b = _known(a), _known(b)  # type: ignore[assignment]
        if a is None or b is None:
            return None
        s1, e1 = _bounds(a)
        s2, e2 = _bounds(b)
        return test(s1, e1, s2, e2, _prec(ctx, precision))
    operator(name, [_IVL, _IVL], BOOLEAN, ctx=True, options=_PRECISION)(impl)


def _includes(s1: Bound, e1: Bound, s2: Bound, e2: Bound, p: Prec) -> bool | None:
    return _and(_le(s1, s2, p), _le(e2, e1, p))


def _same(s1: Bound, e1: Bound, s2: Bound, e2: Bound, p: Prec) -> bool | None:
    return _and(_eq(s1, s2, p), _eq(e1, e2, p))


def _step(value: Any, precision: Prec) -> Any:
    """The next value: one unit of ``precision`` later for a date/time value, the successor otherwise."""
    if precision is not None and type(value) in _TEMPORAL:
        return temporal.add(value, 1, precision[0])
    return successor(value)


_NO_SUCCESSOR = object()


def _next(b: Bound, precision: Prec) -> Any:
    """The successor of a boundary; _NO_SUCCESSOR for a known maximum value."""
    if _exact(b):
        try:
            value = _step(b[0], precision)
        except CqlRuntimeError:
            return _NO_SUCCESSOR
        return (value, value)
    out = []
    for v in b:
        try:
            out.append(None if v is None else _step(v, precision))
        except CqlRuntimeError:
            out.append(None)
    return (out[0], out[1])


def _meets_before(s1: Bound, e1: Bound, s2: Bound, e2: Bound, p: Prec) -> bool | None:
    after_end = _next(e1, p)
    if after_end is _NO_SUCCESSOR:
        return False
    return _eq(after_end, s2, p)


def _meets_after(s1: Bound, e1: Bound, s2: Bound, e2: Bound, p: Prec) -> bool | None:
    return _meets_before(s2, e2, s1, e1, p)


def _overlaps(s1: Bound, e1: Bound, s2: Bound, e2: Bound, p: Prec) -> bool | None:
    return _and(_le(s1, e2, p), _le(s2, e1, p))


_relation("Includes", _includes)
_relation("IncludedIn", lambda s1, e1, s2, e2, p: _includes(s2, e2, s1, e1, p))
_relation("ProperIncludes", lambda s1, e1, s2, e2, p: _and(
    _includes(s1, e1, s2, e2, p), _not(_same(s1, e1, s2, e2, p))))
_relation("ProperIncludedIn", lambda s1, e1, s2, e2, p: _and(
    _includes(s2, e2, s1, e1, p), _not(_same(s1, e1, s2, e2, p))))
_relation("Before", lambda s1, e1, s2, e2, p: _lt(e1, s2, p))
_relation("After", lambda s1, e1, s2, e2, p: _lt(e2, s1, p))
_relation("SameOrBefore", lambda s1, e1, s2, e2, p: _le(e1, s2, p))
_relation("SameOrAfter", lambda s1, e1, s2, e2, p: _le(e2, s1, p))
_relation("SameAs", _same)
_relation("Starts", lambda s1, e1, s2, e2, p: _and(_eq(s1, s2, p), _le(e1, e2, p)))
_relation("Ends", lambda s1, e1, s2, e2, p: _and(_le(s2, s1, p), _eq(e1, e2, p)))
_relation("Meets", lambda s1, e1, s2, e2, p: _or(
    _meets_before(s1, e1, s2, e2, p), _meets_after(s1, e1, s2, e2, p)))
_relation("MeetsBefore", _meets_before)
_relation("MeetsAfter", _meets_after)
_relation("Overlaps", _overlaps)
_relation("OverlapsBefore", lambda s1, e1, s2, e2, p: _and(_lt(s1, s2, p), _le(s2, e1, p)))
_relation("OverlapsAfter", lambda s1, e1, s2, e2, p: _and(_lt(e2, e1, p), _le(s1, e2, p)))


def _point_relation(name: str, interval_point: Any, point_interval: Any) -> None:
    """Register the interval-point and point-interval overloads of a comparison."""

    def with_point(ctx: Any, iv: Interval, point: Any, precision: str | None = None) -> bool | None:
        iv = _known(iv)  # type: ignore[assignment]
        if iv is None:
            return None
        start, end = _bounds(iv)
        return interval_point(start, end, _point(point), _prec(ctx, precision))

    def point_with(ctx: Any, point: Any, iv: Interval, precision: str | None = None) -> bool | None:
        iv = _known(iv)  # type: ignore[assignment]
        if iv is None:
            return None
        start, end = _bounds(iv)
        return point_interval(_point(point), start, end, _prec(ctx, precision))
    operator(name, [_IVL, T], BOOLEAN, ctx=True, options=_PRECISION)(with_point)
    operator(name, [T, _IVL], BOOLEAN, ctx=True, options=_PRECISION)(point_with)


_point_relation("Before", lambda s, e, x, p: _lt(e, x, p), lambda x, s, e, p: _lt(x, s, p))
_point_relation("After", lambda s, e, x, p: _lt(x, s, p), lambda x, s, e, p: _lt(e, x, p))
_point_relation("SameOrBefore", lambda s, e, x, p: _le(e, x, p), lambda x, s, e, p: _le(x, s, p))
_point_relation("SameOrAfter", lambda s, e, x, p: _le(x, s, p), lambda x, s, e, p: _le(e, x, p))


# Point-point ordering for numeric and quantity points (date/time points are
# the date/time operators'); a precision does not apply to these types.
def _ordered_points(name: str, test: Any) -> None:
    def impl(a: Any, b: Any, precision: str | None = None) -> bool | None:
        c = compare(a, b)
        return None if c is None else test(c)
    for t in (INTEGER, LONG, DECIMAL, QUANTITY):
        operator(name, [t, t], BOOLEAN, options=_PRECISION)(impl)


_ordered_points("Before", lambda c: c < 0)
_ordered_points("After", lambda c: c > 0)
_ordered_points("SameOrBefore", lambda c: c <= 0)
_ordered_points("SameOrAfter", lambda c: c >= 0)


# ---------------------------------------------------------------- Union, Intersect, Except


def _pick(a: Interval, b: Interval, first_wins: bool | None, low: bool) -> tuple[Any, bool]:
    """A bound (value, closed) taken from ``a`` (True), ``b`` (False) or unknown (None)."""
    if first_wins is None:
        return None, False
    src = a if first_wins else b
    return (src.low, src.low_closed) if low else (src.high, src.high_closed)


def _result_type(a: Interval, b: Interval) -> str | None:
    return _point_type(a) or _point_type(b)


@operator("Union", [_IVL, _IVL], _IVL)
def union(a: Interval, b: Interval) -> Interval | None:
    a, b = _known(a), _known(b)  # type: ignore[assignment]
    if a is None or b is None:
        return None
    s1, e1 = _bounds(a)
    s2, e2 = _bounds(b)
    joined = _or(_overlaps(s1, e1, s2, e2, None), _meets_before(s1, e1, s2, e2, None),
                 _meets_after(s1, e1, s2, e2, None))
    if joined is not True:
        return None
    low, low_closed = _pick(a, b, _le(s1, s2, None), True)
    high, high_closed = _pick(a, b, _le(e2, e1, None), False)
    return Interval(low, high, low_closed, high_closed, _result_type(a, b))


@operator("Intersect", [_IVL, _IVL], _IVL)
def intersect(a: Interval, b: Interval) -> Interval | None:
    a, b = _known(a), _known(b)  # type: ignore[assignment]
    if a is None or b is None:
        return None
    s1, e1 = _bounds(a)
    s2, e2 = _bounds(b)
    if _overlaps(s1, e1, s2, e2, None) is not True:
        return None
    # The later start and the earlier end; unknown when the order is unknown.
    later = _le(s2, s1, None)
    low, low_closed = _pick(a, b, later, True)
    earlier = _le(e1, e2, None)
    high, high_closed = _pick(a, b, earlier, False)
    return Interval(low, high, low_closed, high_closed, _result_type(a, b))


@operator("Except", [_IVL, _IVL], _IVL)
def except_(a: Interval, b: Interval) -> Interval | None:
    a, b = _known(a), _known(b)  # type: ignore[assignment]
    if a is None or b is None:
        return None
    s1, e1 = _bounds(a)
    s2, e2 = _bounds(b)
    overlapping = _overlaps(s1, e1, s2, e2, None)
    if overlapping is False:
        return a
    if overlapping is None:
        return None
    starts_before = _lt(s1, s2, None)
    ends_after = _lt(e2, e1, None)
    if starts_before is True and ends_after is False and _exact(s2):
        return Interval(a.low, predecessor(s2[0]), a.low_closed, True, _result_type(a, b))
    if starts_before is False and ends_after is True and _exact(e2):
        return Interval(successor(e2[0]), a.high, True, a.high_closed, _result_type(a, b))
    # The second interval covers the first, lies properly inside it, or the
    # order of the boundaries is unknown: no single interval is the answer.
    return None


# ---------------------------------------------------------------- per quantities


_TEMPORAL_UNITS: dict[str, tuple[str, int]] = {}
for _name in ("year", "month", "week", "day", "hour", "minute", "second", "millisecond"):
    _TEMPORAL_UNITS[_name] = _TEMPORAL_UNITS[_name + "s"] = (_name, 1)
_TEMPORAL_UNITS.update({"wk": ("week", 1), "d": ("day", 1), "h": ("hour", 1), "min": ("minute", 1),
                        "s": ("second", 1), "ms": ("millisecond", 1)})
for _key, (_unit, _n) in list(_TEMPORAL_UNITS.items()):
    if _unit == "week":
        _TEMPORAL_UNITS[_key] = ("day", 7)


def _temporal_per(per: Quantity | None, kind: type) -> tuple[str, int] | None:
    """(precision name, count of that unit) for a date/time per quantity."""
    if per is None:
        return None
    found = _TEMPORAL_UNITS.get(per.unit)
    if found is None:
        raise CqlRuntimeError(f"per {per.to_cql()} is not a time unit usable with intervals of {kind.__name__}")
    if per.value <= 0 or per.value != per.value.to_integral_value():
        raise CqlRuntimeError(f"per {per.to_cql()}: the quantity must be a positive whole number of units")
    precision, factor = found
    if kind is Time and precision in ("year", "month", "day"):
        raise CqlRuntimeError(f"per {per.to_cql()} is not usable with intervals of Time")
    if kind is Date and precision in ("hour", "minute", "second", "millisecond"):
        raise CqlRuntimeError(f"per {per.to_cql()} is not usable with intervals of Date")
    return precision, int(per.value) * factor


def _numeric_per(per: Quantity | None, sample: Any, whole: bool = True) -> Decimal | None:
    """The per value for numeric or quantity points, in the points' unit."""
    if per is None:
        return None
    if type(sample) is Quantity:
        if per.unit == sample.unit:
            value = per.value
        else:
            converted = _quantity.convert_quantity(per, sample.unit)
            if converted is None:
                raise CqlRuntimeError(f"per {per.to_cql()} is not compatible with quantities in "
                                      f"'{sample.unit}'")
            value = converted.value
    else:
        if per.unit != "1":
            raise CqlRuntimeError(f"per {per.to_cql()}: numeric intervals need a quantity without a unit")
        value = per.value
    if value <= 0:
        raise CqlRuntimeError(f"per {per.to_cql()}: the quantity must be positive")
    if whole and type(sample) in (int, Long) and value != value.to_integral_value():
        raise CqlRuntimeError(f"per {per.to_cql()} is finer than the Integer points of the interval; "
                              "convert the interval to Decimal")
    return value


def _places(value: Any) -> int:
    """Decimal places of a numeric or quantity point (0 for Integer and Long)."""
    if type(value) is Quantity:
        return decimal_places(value.value)
    if type(value) is Decimal:
        return decimal_places(value)
    return 0


def _coarsest_precision(values: list[Any]) -> Any:
    return min((v.precision for v in values), default=None)


def _bound_values(starts_ends: list[tuple[Bound, Bound]]) -> list[Any]:
    return [b[0] for pair in starts_ends for b in pair if _exact(b)]


def _compare_starts(x: tuple[Any, Bound, Bound], y: tuple[Any, Bound, Bound]) -> int:
    a, b = x[1][0], y[1][0]
    if a is None or b is None:
        return (b is None) - (a is None)
    c = compare(a, b)
    if c is None and type(a) in _TEMPORAL:
        ka, kb = temporal.sort_key(a), temporal.sort_key(b)
        return (ka > kb) - (ka < kb)
    return c or 0


# ---------------------------------------------------------------- Collapse


def _advance(value: Any, per: Any, mode: str) -> Any:
    """value + per (per is a (precision, count) pair for date/time points)."""
    if mode == "temporal":
        precision, count = per
        return temporal.add(value, count, precision)
    if mode == "successor":
        return successor(value)
    t = type(value)
    if t is Quantity:
        return Quantity(make_decimal(value.value + per), value.unit)
    if t is int or t is Long:
        if per == per.to_integral_value():
            return make_integer(value + int(per)) if t is int else make_long(value + int(per))
        return make_decimal(Decimal(int(value)) + per)
    return make_decimal(value + per)


@operator("Collapse", [ListType(_IVL), QUANTITY], ListType(_IVL), nulls=False)
def collapse(items: list[Interval | None] | None, per: Quantity | None) -> list[Interval] | None:
    if items is None:
        return None
    intervals = [iv for iv in (_known(x) for x in items) if iv is not None]
    if len(intervals) <= 1:
        return intervals
    entries = [(iv, *_bounds(iv)) for iv in intervals]
    values = _bound_values([(s, e) for _, s, e in entries])
    if not values:
        raise CqlRuntimeError("collapse: the boundaries of the intervals are unknown")
    sample = values[0]
    precision: Prec = None
    step: Any
    if type(sample) in _TEMPORAL:
        mode = "temporal"
        step = _temporal_per(per, type(sample))
        if step is None:
            step = (_coarsest_precision(values).name.lower(), 1)
        precision = (step[0], None)
    elif per is None and type(sample) in (int, Long):
        mode, step = "successor", None
    else:
        mode = "number"
        step = _numeric_per(per, sample, whole=False)
        if step is None:
            step = Decimal(1).scaleb(-min(_places(v) for v in values))
    entries.sort(key=cmp_to_key(_compare_starts))
    result: list[Interval] = []
    current, _, cur_end = entries[0]
    for iv, start, end in entries[1:]:
        if not _reaches(cur_end, start, step, mode, precision):
            result.append(current)
            current, cur_end = iv, end
            continue
        later = _lt(cur_end, end, None)
        if later is None:
            later = _lt(cur_end, end, precision)
        if later is True:
            current = Interval(current.low, iv.high, current.low_closed, iv.high_closed,
                               current.point_type or iv.point_type)
            cur_end = end
        elif later is None:
            # Which one ends later is unknown: so is the end of the merged interval.
            current = Interval(current.low, None, current.low_closed, False, current.point_type or iv.point_type)
            cur_end = (cur_end[0], None)
    result.append(current)
    return result


def _reaches(end: Bound, start: Bound, step: Any, mode: str, precision: Prec) -> bool:
    """The next interval starts on or before (end of the current one + per)."""
    reach: list[Any] = []
    for v in (end[0], end[1]):
        if v is None:
            reach.append(None)
            continue
        try:
            reach.append(_advance(v, step, mode))
        except CqlRuntimeError:  # past the largest value: everything is within reach
            return True
    answer = _le(start, (reach[0], reach[1]), precision)
    if answer is None:
        raise CqlRuntimeError("collapse: cannot determine whether two intervals overlap or meet "
                              "(unknown or imprecise boundaries)")
    return answer


# ---------------------------------------------------------------- Expand


def _check_size(count: int) -> None:
    if count > _EXPAND_LIMIT:
        raise CqlRuntimeError(f"expand: the result would have more than {_EXPAND_LIMIT} elements")


def _expand_temporal(start: Any, end: Any, step: tuple[str, int], points: bool) -> list[Any]:
    precision, count = step
    p = temporal.precision_from_name(precision)
    if start.precision < p or end.precision < p:
        return []  # less precise than the per: the boundaries are uncertain at that precision
    x = temporal.truncate(start, precision)
    last = temporal.truncate(end, precision)
    out: list[Any] = []
    kind = type(start).__name__
    while True:
        try:
            following = temporal.add(x, count, precision)
            unit_end = temporal.subtract(following, 1, precision) if count > 1 else x
        except CqlRuntimeError:
            break
        c = temporal.compare_at(unit_end, last, precision)
        if c is None or c > 0:
            break
        out.append(x if points else Interval(x, unit_end, True, True, kind))
        _check_size(len(out))
        x = following
    return out


def _floor(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR)


def _expand_numeric(start: Any, end: Any, per: Decimal, points: bool, point_type: str | None) -> list[Any]:
    unit = start.unit if type(start) is Quantity else None
    if unit is not None and end.unit != unit:
        converted = _quantity.convert_quantity(end, unit)
        if converted is None:
            raise CqlRuntimeError("expand: the bounds of the interval have incompatible units")
        end = converted
    kind = type(start)
    s = start.value if unit is not None else start
    e = end.value if unit is not None else end
    per_places = decimal_places(per.normalize()) if type(per) is Decimal else 0
    s_places, e_places = _places(start), _places(end)
    if kind in (int, Long):
        lo, hi, hi_places, unit_step = s, e, 0, 1
    else:
        lo = _floor(s, per_places) if s_places > per_places else s.quantize(Decimal(1).scaleb(-per_places))
        hi = _floor(e, per_places) if e_places > per_places else e
        hi_places = min(e_places, per_places)
        unit_step = Decimal(1).scaleb(-per_places)
    out: list[Any] = []
    x = lo
    while True:
        if kind in (int, Long):
            unit_end = x + int(per) - 1
            if unit_end > hi:
                break
            values = (make_integer(x), make_integer(unit_end)) if kind is int \
                else (make_long(x), make_long(unit_end))
            following = x + int(per)
        else:
            unit_end = x + per - unit_step
            if _floor(unit_end, hi_places) > hi:
                break
            values = (make_decimal(x), make_decimal(unit_end))
            following = x + per
        if unit is not None:
            values = (Quantity(values[0], unit), Quantity(values[1], unit))
        out.append(values[0] if points else Interval(values[0], values[1], True, True, point_type))
        _check_size(len(out))
        x = following
    return out


def _expand_all(intervals: list[Interval], per: Quantity | None, points: bool) -> list[Any]:
    entries = []
    for iv in intervals:
        if (iv.low is None and iv.low_closed) or (iv.high is None and iv.high_closed):
            raise CqlRuntimeError("expand: an interval with a closed null bound extends to the end of the "
                                  "point type and cannot be expanded")
        start, end = _bounds(iv)
        if _exact(start) and _exact(end):
            entries.append((iv, start, end))
        # an interval with an unknown (open null) bound contributes nothing
    if not entries:
        return []
    values = _bound_values([(s, e) for _, s, e in entries])
    sample = values[0]
    entries.sort(key=cmp_to_key(_compare_starts))
    out: list[Any] = []
    if type(sample) in _TEMPORAL:
        step = _temporal_per(per, type(sample))
        if step is None:
            step = (_coarsest_precision(values).name.lower(), 1)
        for _, start, end in entries:
            out.extend(_expand_temporal(start[0], end[0], step, points))
            _check_size(len(out))
    else:
        numeric = _numeric_per(per, sample)
        if numeric is None:
            numeric = Decimal(1).scaleb(-min(_places(v) for v in values))
        for iv, start, end in entries:
            out.extend(_expand_numeric(start[0], end[0], numeric, points, _point_type(iv)))
            _check_size(len(out))
    if len(entries) > 1:
        out = _unique_sorted(out, points)
    return out


def _unique_sorted(items: list[Any], points: bool) -> list[Any]:
    """Duplicates removed, ordered by (start) point."""
    unique: dict[Any, Any] = {}
    for item in items:
        unique.setdefault(item if points else (item.low, item.high), item)

    def by_start(x: Any, y: Any) -> int:
        return compare(x, y) or 0 if points else compare(x.low, y.low) or 0
    return sorted(unique.values(), key=cmp_to_key(by_start))


@operator("Expand", [ListType(_IVL), QUANTITY], ListType(_IVL), nulls=False)
def expand_list(items: list[Interval | None] | None, per: Quantity | None) -> list[Interval] | None:
    if items is None:
        return None
    intervals = [iv for iv in (_known(x) for x in items) if iv is not None]
    return _expand_all(intervals, per, points=False)


@operator("Expand", [_IVL, QUANTITY], ListType(T), nulls=False)
def expand_interval(iv: Interval | None, per: Quantity | None) -> list[Any] | None:
    iv = _known(iv)
    if iv is None:
        return None
    return _expand_all([iv], per, points=True)


# A numeric per written as an Integer or a Decimal (``per 2``, ``per 0.1``)
# gives points of its own type, as the reference's examples show: Integer
# points expanded per 0.1 become Decimals (``{ 10.0, 10.1, ..., 10.9 }``, by the
# implicit conversion of the interval to Decimal), Decimal points expanded
# per 1 are truncated to Integers (``{ 10, 11, 12 }``). A per given as a
# Quantity keeps the interval's point type.


def _per_quantity(per: Any) -> Quantity | None:
    if per is None:
        return None
    return Quantity(per if type(per) is Decimal else Decimal(int(per)), "1")


def _typed_expand(point: Any, per_type: Any, result_point: Any) -> None:
    to_integer = point == DECIMAL and result_point == INTEGER

    def list_impl(items: list[Interval | None] | None, per: Any) -> list[Interval] | None:
        out = expand_list(items, _per_quantity(per))
        if out is None or not to_integer:
            return out
        return [Interval(make_integer(int(iv.low)), make_integer(int(iv.high)), True, True, "Integer")
                for iv in out]

    def interval_impl(iv: Interval | None, per: Any) -> list[Any] | None:
        out = expand_interval(iv, _per_quantity(per))
        if out is None or not to_integer:
            return out
        return [make_integer(int(x)) for x in out]

    element = IntervalType(point)
    operator("Expand", [ListType(element), per_type], ListType(IntervalType(result_point)), nulls=False)(list_impl)
    operator("Expand", [element, per_type], ListType(result_point), nulls=False)(interval_impl)


_typed_expand(INTEGER, INTEGER, INTEGER)
_typed_expand(LONG, INTEGER, LONG)
_typed_expand(DECIMAL, INTEGER, INTEGER)
_typed_expand(DECIMAL, DECIMAL, DECIMAL)
