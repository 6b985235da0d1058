"""Date and time operators (CQL reference, "Date and Time Operators").

The calendar arithmetic, comparison at a precision, durations and
differences live in :mod:`cql.values.temporal`; this module registers them
as operators and adds the evaluation clock (Now, Today, TimeOfDay) and the
timezone offset of the evaluation for DateTime values that don't carry one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..errors import CqlRuntimeError
from ..runtime import Context
from ..types import BOOLEAN, DATE, DATETIME, DECIMAL, INTEGER, QUANTITY, TIME
from ..values import Date, DateTime, Quantity, Time, temporal
from ..values.temporal import Precision
from .registry import operator

_TEMPORAL = (DATE, DATETIME, TIME)
_CALENDAR_OR_TIME_UNITS = {"year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours",
                           "minute", "minutes", "second", "seconds", "millisecond", "milliseconds",
                           "wk", "d", "h", "min", "s", "ms", "a", "mo"}


def _components(values: tuple[Any, ...], names: tuple[str, ...]) -> list[Any]:
    """Constructor arguments: trailing nulls mean 'not given'; a gap is an error."""
    parts = list(values)
    while parts and parts[-1] is None:
        parts.pop()
    if any(p is None for p in parts):
        missing = names[parts.index(None)]
        raise CqlRuntimeError(f"the {missing} is null but a later component is given")
    return parts


# ---------------------------------------------------------------- constructors and clock


def _register_constructors() -> None:
    date_names = ("year", "month", "day")
    for n in range(1, 4):
        def make_date(*values: Any, _n: int = n) -> Date | None:
            if values[0] is None:
                return None
            return Date(*_components(values, date_names))
        operator("Date", [INTEGER] * n, DATE, nulls=False)(make_date)

    dt_names = ("year", "month", "day", "hour", "minute", "second", "millisecond")
    for n in range(1, 8):
        def make_datetime(ctx: Context, *values: Any) -> DateTime | None:
            if values[0] is None:
                return None
            return DateTime(*_components(values, dt_names), tz_offset=ctx.offset)
        operator("DateTime", [INTEGER] * n, DATETIME, nulls=False, ctx=True)(make_datetime)

    def make_datetime_with_offset(ctx: Context, *values: Any) -> DateTime | None:
        if values[0] is None:
            return None
        offset = values[7]
        parts = _components(values[:7], dt_names)
        return DateTime(*parts, tz_offset=offset if offset is not None else ctx.offset)
    operator("DateTime", [INTEGER] * 7 + [DECIMAL], DATETIME, nulls=False, ctx=True)(make_datetime_with_offset)

    time_names = ("hour", "minute", "second", "millisecond")
    for n in range(1, 5):
        def make_time(*values: Any) -> Time | None:
            if values[0] is None:
                return None
            return Time(*_components(values, time_names))
        operator("Time", [INTEGER] * n, TIME, nulls=False)(make_time)


_register_constructors()


@operator("Now", [], DATETIME, ctx=True)
def now(ctx: Context) -> DateTime:
    return ctx.now


@operator("Today", [], DATE, ctx=True)
def today(ctx: Context) -> Date:
    return temporal.today(ctx.now)


@operator("TimeOfDay", [], TIME, ctx=True)
def time_of_day(ctx: Context) -> Time:
    return temporal.time_of_day(ctx.now)


# ---------------------------------------------------------------- components


for _t in _TEMPORAL:
    @operator("DateTimeComponentFrom", [_t], INTEGER, options=("precision",))
    def component_from(value: Any, precision: str) -> int | None:
        return temporal.component(value, precision)


@operator("DateFrom", [DATETIME], DATE)
def date_from(value: DateTime) -> Date:
    return temporal.date_of(value)


@operator("DateFrom", [DATE], DATE)
def date_from_date(value: Date) -> Date:
    return value


@operator("TimeFrom", [DATETIME], TIME)
def time_from(value: DateTime) -> Time | None:
    return temporal.time_of(value)


@operator("TimezoneOffsetFrom", [DATETIME], DECIMAL)
def timezone_offset_from(value: DateTime) -> Decimal | None:
    return temporal.timezone_offset(value)


# ---------------------------------------------------------------- comparison at a precision


def _register_comparisons() -> None:
    tests = {
        "SameAs": lambda r: r == 0,
        "SameOrBefore": lambda r: r <= 0,
        "SameOrAfter": lambda r: r >= 0,
        "Before": lambda r: r < 0,
        "After": lambda r: r > 0,
    }
    for name, test in tests.items():
        for t in _TEMPORAL:
            def compare(ctx: Context, a: Any, b: Any, precision: str | None, _test=test) -> bool | None:
                result = temporal.compare_at(a, b, precision, offset=ctx.offset)
                return None if result is None else _test(result)
            operator(name, [t, t], BOOLEAN, ctx=True, options=("precision",))(compare)


_register_comparisons()


# ---------------------------------------------------------------- durations and differences


def _register_between() -> None:
    for t in _TEMPORAL:
        @operator("DurationBetween", [t, t], INTEGER, ctx=True, options=("precision",))
        def duration(ctx: Context, a: Any, b: Any, precision: str) -> Any:
            return temporal.duration_between(a, b, precision, offset=ctx.offset)

        @operator("DifferenceBetween", [t, t], INTEGER, ctx=True, options=("precision",))
        def difference(ctx: Context, a: Any, b: Any, precision: str) -> Any:
            return temporal.difference_between(a, b, precision, offset=ctx.offset)


_register_between()


# ---------------------------------------------------------------- arithmetic with time quantities


def _time_quantity(q: Quantity) -> tuple[Decimal, str]:
    if q.unit not in _CALENDAR_OR_TIME_UNITS:
        raise CqlRuntimeError(f"'{q.unit}' is not a unit of time: it can't be added to a date or time")
    return q.value, q.unit


for _t in _TEMPORAL:
    @operator("Add", [_t, QUANTITY], _t)
    def add_quantity(value: Any, q: Quantity) -> Any:
        amount, unit = _time_quantity(q)
        return temporal.add(value, amount, unit)

    @operator("Subtract", [_t, QUANTITY], _t)
    def subtract_quantity(value: Any, q: Quantity) -> Any:
        amount, unit = _time_quantity(q)
        return temporal.subtract(value, amount, unit)


__all__ = ["Precision"]
