"""CQL Date, DateTime and Time values and the date/time arithmetic on them.

Representation
--------------
:class:`Date`, :class:`DateTime` and :class:`Time` are immutable dataclasses
holding their components; every component after the value's precision is
``None``. ``DateTime.tz_offset`` is the timezone offset in hours as a
``Decimal`` (``Decimal('-5.5')`` is ``-05:30``); ``None`` means "unspecified",
and the compiler fills in the evaluation's offset with
:meth:`DateTime.with_default_offset` before values reach the operators.

Semantics settled here (CQL 1.5 and the conformance tests):

- Comparison is component by component from the most significant one. A
  component missing on one side makes the result uncertain (``None``) when all
  earlier ones are equal. Seconds and milliseconds are separate levels for
  comparison, as the conformance tests require (``@T10:00:00 = @T10:00:00.000``
  is ``null``).
- DateTimes with different offsets are normalized before comparing, but only
  when the comparison precision is hour or finer; at day precision and coarser
  the calendar components are compared as they are. Normalization goes to the
  offset given by the caller, else to the first operand's offset. An offset
  of ``None`` on one side counts as equal to the other side's.
- Adding a quantity uses calendar arithmetic (month-end clamping); a quantity
  finer than the value's precision is first converted to that precision and
  truncated (1 year = 12 months = 365 days, 1 month = 30 days); above seconds
  the decimal part of the quantity is dropped. UCUM ``a`` and ``mo`` are
  definite durations and are rejected. Results outside years 1..9999, or
  outside the day for Time, are run-time errors.
- Duration counts whole periods (``a + n periods <= b``) on the real time line
  (offsets normalized); difference counts boundaries crossed (offsets
  normalized only for hours and finer; weeks start on Sunday). Inputs lacking
  precision give an uncertainty ``Interval[low, high]`` computed from the
  earliest and latest instants each input may stand for; for these two
  operations a value known to the second counts as exact (milliseconds 0).
"""

from __future__ import annotations

import datetime as _pydt
import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import IntEnum
from typing import Any

from ..errors import CqlRuntimeError, CqlSemanticError, CqlUnsupportedError
from .numbers import make_decimal, make_integer
from .structures import Interval

__all__ = [
    "Date", "DateTime", "Precision", "Time",
    "add", "compare_at", "component", "date_of", "difference_between", "duration_between",
    "equality_key", "from_python", "high_boundary", "iso_string", "low_boundary", "max_value",
    "min_value", "parse_date_literal", "parse_datetime_literal", "parse_iso_date",
    "parse_iso_datetime", "parse_iso_time", "parse_time_literal", "precision_digits",
    "precision_from_name", "predecessor", "same_as", "sort_key", "subtract", "successor",
    "time_of", "time_of_day", "timezone_offset", "to_date", "to_datetime", "today", "truncate",
]


class Precision(IntEnum):
    """Date/time precisions, coarsest first. ``WEEK`` is only a unit for
    arithmetic, durations and differences, never the precision of a value."""

    YEAR = 0
    MONTH = 1
    WEEK = 2
    DAY = 3
    HOUR = 4
    MINUTE = 5
    SECOND = 6
    MILLISECOND = 7


YEAR, MONTH, WEEK, DAY = Precision.YEAR, Precision.MONTH, Precision.WEEK, Precision.DAY
HOUR, MINUTE, SECOND, MILLISECOND = Precision.HOUR, Precision.MINUTE, Precision.SECOND, Precision.MILLISECOND

_PRECISION_NAMES: dict[str, Precision] = {}
for _p in Precision:
    _PRECISION_NAMES[_p.name.lower()] = _p
    _PRECISION_NAMES[_p.name.lower() + "s"] = _p


def precision_from_name(name: str) -> Precision:
    """``'year'``/``'years'`` ... ``'millisecond(s)'`` and ``'week(s)'``, in any
    case (ELM spells them ``'Year'``, ...)."""
    p = _PRECISION_NAMES.get(name.lower()) if isinstance(name, str) else None
    if p is None:
        raise CqlSemanticError(f"Unknown date/time precision '{name}'")
    return p


def _as_precision(precision: Precision | str) -> Precision:
    if isinstance(precision, Precision):
        return precision
    if isinstance(precision, str):
        return precision_from_name(precision)
    raise CqlSemanticError(f"Invalid date/time precision {precision!r}")


# ---------------------------------------------------------------------------
# Calendar helpers

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
DAY_MS = 86_400_000
_UNIT_MS = {
    WEEK: 7 * DAY_MS, DAY: DAY_MS, HOUR: 3_600_000, MINUTE: 60_000, SECOND: 1000, MILLISECOND: 1,
}
_MS_PER_MONTH_CONVERSION = 30 * DAY_MS   # a quantity finer than months, converted to months
_MS_PER_YEAR_CONVERSION = 365 * DAY_MS   # ... converted to years
_ORDINAL_1970 = 719_163                  # date(1970, 1, 1).toordinal()


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _days_in_month(y: int, m: int) -> int:
    return 29 if m == 2 and _is_leap(y) else _DAYS_IN_MONTH[m - 1]


def _ordinal(y: int, m: int, d: int) -> int:
    """Proleptic Gregorian day number, 0001-01-01 = 1 (as ``date.toordinal``)."""
    if 1 <= y <= 9999:
        return _pydt.date(y, m, d).toordinal()
    y2 = y - (m <= 2)                          # days-from-civil for any year
    era = y2 // 400
    yoe = y2 - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468 + _ORDINAL_1970


def _civil(ordinal: int) -> tuple[int, int, int]:
    """Inverse of :func:`_ordinal`, for any day number."""
    if 1 <= ordinal <= 3_652_059:
        d = _pydt.date.fromordinal(ordinal)
        return d.year, d.month, d.day
    z = ordinal - _ORDINAL_1970 + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero (b > 0)."""
    q = abs(a) // b
    return q if a >= 0 else -q


_OFFSET_MS: dict[Decimal, int] = {}


def _offset_ms(offset: Decimal) -> int:
    ms = _OFFSET_MS.get(offset)
    if ms is None:
        ms = int((offset * 3_600_000).to_integral_value(ROUND_HALF_UP))
        if len(_OFFSET_MS) < 1024:
            _OFFSET_MS[offset] = ms
    return ms


def _offset_minutes(offset: Decimal) -> int:
    return int((offset * 60).to_integral_value(ROUND_HALF_UP))


def _offset_from_minutes(minutes: int) -> Decimal:
    if minutes % 60 == 0:
        return Decimal(minutes // 60)
    return make_decimal(Decimal(minutes) / Decimal(60))


def _format_offset(offset: Decimal, zulu: bool) -> str:
    minutes = _offset_minutes(offset)
    if minutes == 0 and zulu:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}"


# ---------------------------------------------------------------------------
# Value classes

def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _validate_components(kind: str, names: tuple[str, ...], values: tuple[Any, ...],
                         bounds: tuple[tuple[int, int], ...]) -> int:
    """Check ranges and that no component follows a missing one; return the
    number of components specified."""
    count = 0
    for i, v in enumerate(values):
        if v is None:
            for later, name in zip(values[i + 1:], names[i + 1:]):
                if later is not None:
                    raise CqlRuntimeError(f"{kind}: {name} is given although {names[i]} is not")
            break
        if not _is_int(v):
            raise CqlRuntimeError(f"{kind}: {names[i]} must be an integer, got {v!r}")
        lo, hi = bounds[i]
        if v < lo or v > hi:
            raise CqlRuntimeError(f"{kind}: {names[i]} {v} is out of range [{lo}, {hi}]")
        count += 1
    if count == 0:
        raise CqlRuntimeError(f"{kind}: at least one component is required")
    return count


_DATE_NAMES = ("year", "month", "day")
_DATE_BOUNDS = ((1, 9999), (1, 12), (1, 31))
_TIME_NAMES = ("hour", "minute", "second", "millisecond")
_TIME_BOUNDS = ((0, 23), (0, 59), (0, 59), (0, 999))
_DATE_PRECISIONS = (YEAR, MONTH, DAY)
_DATETIME_PRECISIONS = (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND, MILLISECOND)
_TIME_PRECISIONS = (HOUR, MINUTE, SECOND, MILLISECOND)
# position of each precision in a value's component tuple
_DT_INDEX = {YEAR: 0, MONTH: 1, DAY: 2, HOUR: 3, MINUTE: 4, SECOND: 5, MILLISECOND: 6}
_TIME_INDEX = {HOUR: 0, MINUTE: 1, SECOND: 2, MILLISECOND: 3}
_MAX_OFFSET = Decimal(14)


def _check_day(kind: str, year: int, month: int | None, day: int | None) -> None:
    if day is not None and day > _days_in_month(year, month):  # type: ignore[arg-type]
        raise CqlRuntimeError(f"{kind}: day {day} is not valid in {year:04d}-{month:02d}")


@dataclass(frozen=True, slots=True)
class Date:
    """A CQL Date, specified to year, month or day."""

    year: int
    month: int | None = None
    day: int | None = None
    _p: Precision = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = _validate_components("Date", _DATE_NAMES, (self.year, self.month, self.day), _DATE_BOUNDS)
        _check_day("Date", self.year, self.month, self.day)
        object.__setattr__(self, "_p", _DATE_PRECISIONS[n - 1])

    @property
    def precision(self) -> Precision:
        return self._p

    def _parts(self) -> tuple[int | None, ...]:
        return (self.year, self.month, self.day)

    def cql_equal(self, other: object) -> bool | None:
        if type(other) is not Date:
            return False
        c = compare_at(self, other, None)
        return None if c is None else c == 0

    def cql_equivalent(self, other: object) -> bool:
        return type(other) is Date and compare_at(self, other, None) == 0

    def cql_compare(self, other: Date) -> int | None:
        return compare_at(self, other, None)

    def to_cql(self) -> str:
        return "@" + _date_text(self.year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class DateTime:
    """A CQL DateTime, specified to any precision from year to millisecond,
    with a timezone offset in hours (``None`` while unspecified)."""

    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None
    tz_offset: Decimal | None = None
    _p: Precision = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values = (self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond)
        n = _validate_components("DateTime", _DATE_NAMES + _TIME_NAMES, values, _DATE_BOUNDS + _TIME_BOUNDS)
        _check_day("DateTime", self.year, self.month, self.day)
        tz = self.tz_offset
        if tz is not None:
            if not isinstance(tz, Decimal):
                if isinstance(tz, bool) or not isinstance(tz, int | float):
                    raise CqlRuntimeError(f"DateTime: invalid timezone offset {tz!r}")
                tz = Decimal(tz) if isinstance(tz, int) else Decimal(repr(tz))
                object.__setattr__(self, "tz_offset", tz)
            if not tz.is_finite() or abs(tz) > _MAX_OFFSET:
                raise CqlRuntimeError(f"DateTime: timezone offset {tz} is out of range [-14, 14]")
        object.__setattr__(self, "_p", _DATETIME_PRECISIONS[n - 1])

    @property
    def precision(self) -> Precision:
        return self._p

    def _parts(self) -> tuple[int | None, ...]:
        return (self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond)

    def with_default_offset(self, offset: Decimal | None) -> DateTime:
        """This value with ``offset`` filled in if it has none."""
        if self.tz_offset is not None or offset is None:
            return self
        return DateTime(self.year, self.month, self.day, self.hour, self.minute, self.second,
                        self.millisecond, offset)

    def cql_equal(self, other: object) -> bool | None:
        if type(other) is not DateTime:
            return False
        c = compare_at(self, other, None)
        return None if c is None else c == 0

    def cql_equivalent(self, other: object) -> bool:
        return type(other) is DateTime and compare_at(self, other, None) == 0

    def cql_compare(self, other: DateTime) -> int | None:
        return compare_at(self, other, None)

    def to_cql(self) -> str:
        text = "@" + _date_text(self.year, self.month, self.day) + "T"
        if self.hour is not None:
            text += _time_text(self.hour, self.minute, self.second, self.millisecond)
        if self.tz_offset is not None:
            text += _format_offset(self.tz_offset, zulu=True)
        return text


@dataclass(frozen=True, slots=True)
class Time:
    """A CQL Time of day, specified to hour, minute, second or millisecond."""

    hour: int
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None
    _p: Precision = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = _validate_components("Time", _TIME_NAMES, (self.hour, self.minute, self.second, self.millisecond),
                                 _TIME_BOUNDS)
        object.__setattr__(self, "_p", _TIME_PRECISIONS[n - 1])

    @property
    def precision(self) -> Precision:
        return self._p

    def _parts(self) -> tuple[int | None, ...]:
        return (self.hour, self.minute, self.second, self.millisecond)

    def cql_equal(self, other: object) -> bool | None:
        if type(other) is not Time:
            return False
        c = compare_at(self, other, None)
        return None if c is None else c == 0

    def cql_equivalent(self, other: object) -> bool:
        return type(other) is Time and compare_at(self, other, None) == 0

    def cql_compare(self, other: Time) -> int | None:
        return compare_at(self, other, None)

    def to_cql(self) -> str:
        return "@T" + _time_text(self.hour, self.minute, self.second, self.millisecond)


Temporal = Date | DateTime | Time


def _date_text(y: int, m: int | None, d: int | None) -> str:
    text = f"{y:04d}"
    if m is not None:
        text += f"-{m:02d}"
        if d is not None:
            text += f"-{d:02d}"
    return text


def _time_text(h: int, mi: int | None, s: int | None, ms: int | None) -> str:
    text = f"{h:02d}"
    if mi is not None:
        text += f":{mi:02d}"
        if s is not None:
            text += f":{s:02d}"
            if ms is not None:
                text += f".{ms:03d}"
    return text


def iso_string(value: Temporal) -> str:
    """ISO 8601 text of the value, as CQL ``ToString`` gives it: ``2014-01-05``,
    ``2014-01-05T10:30:00.000+01:00``, ``10:30:00.000``. The offset of a
    DateTime is shown only when the value has a time part."""
    if type(value) is Date:
        return _date_text(value.year, value.month, value.day)
    if type(value) is Time:
        return _time_text(value.hour, value.minute, value.second, value.millisecond)
    if type(value) is DateTime:
        text = _date_text(value.year, value.month, value.day)
        if value.hour is not None:
            text += "T" + _time_text(value.hour, value.minute, value.second, value.millisecond)
            if value.tz_offset is not None:
                text += _format_offset(value.tz_offset, zulu=False)
        return text
    raise CqlRuntimeError(f"Not a date/time value: {value!r}")


# ---------------------------------------------------------------------------
# Instants: a value seen as the earliest/latest millisecond it may stand for

def _dt_bounds(v: DateTime, exact_seconds: bool) -> tuple[int, int]:
    """Local milliseconds (day number * DAY_MS + ms of day) of the earliest and
    latest instants the value may stand for. With ``exact_seconds`` a value
    known to the second stands for that second's first millisecond only."""
    y, m, d, h, mi, s, ms = v.year, v.month, v.day, v.hour, v.minute, v.second, v.millisecond
    if d is not None:
        lo_day = hi_day = _ordinal(y, m, d)  # type: ignore[arg-type]
    elif m is not None:
        lo_day = _ordinal(y, m, 1)
        hi_day = lo_day + _days_in_month(y, m) - 1
    else:
        lo_day = _ordinal(y, 1, 1)
        hi_day = _ordinal(y, 12, 31)
    lo = hi = 0
    if h is not None:
        lo = hi = h * 3_600_000
        if mi is not None:
            lo = hi = lo + mi * 60_000
            if s is not None:
                lo = hi = lo + s * 1000
                if ms is not None:
                    lo = hi = lo + ms
                elif not exact_seconds:
                    hi += 999
            else:
                hi += 59_999
        else:
            hi += 3_599_999
    else:
        hi = DAY_MS - 1
    return lo_day * DAY_MS + lo, hi_day * DAY_MS + hi


def _date_bounds(v: Date) -> tuple[int, int]:
    y, m, d = v.year, v.month, v.day
    if d is not None:
        lo = hi = _ordinal(y, m, d)  # type: ignore[arg-type]
    elif m is not None:
        lo = _ordinal(y, m, 1)
        hi = lo + _days_in_month(y, m) - 1
    else:
        lo, hi = _ordinal(y, 1, 1), _ordinal(y, 12, 31)
    return lo * DAY_MS, hi * DAY_MS


def _time_bounds(v: Time, exact_seconds: bool) -> tuple[int, int]:
    h, mi, s, ms = v.hour, v.minute, v.second, v.millisecond
    lo = h * 3_600_000
    if mi is None:
        return lo, lo + 3_599_999
    lo += mi * 60_000
    if s is None:
        return lo, lo + 59_999
    lo += s * 1000
    if ms is None:
        return lo, (lo if exact_seconds else lo + 999)
    lo += ms
    return lo, lo


def _bounds(v: Temporal, exact_seconds: bool) -> tuple[int, int]:
    t = type(v)
    if t is DateTime:
        return _dt_bounds(v, exact_seconds)  # type: ignore[arg-type]
    if t is Date:
        return _date_bounds(v)  # type: ignore[arg-type]
    return _time_bounds(v, exact_seconds)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Comparison

def _kind_check(a: object, b: object, what: str) -> type:
    t = type(a)
    if t is not type(b) or t not in (Date, DateTime, Time):
        raise CqlRuntimeError(f"{what}: cannot compare {type(a).__name__} with {type(b).__name__}")
    return t


def _check_precision(t: type, p: Precision, what: str) -> None:
    allowed = _DATETIME_PRECISIONS if t is DateTime else _DATE_PRECISIONS if t is Date else _TIME_PRECISIONS
    if p not in allowed:
        raise CqlSemanticError(f"{what}: precision {p.name.lower()} is not valid for {t.__name__} values")


def compare_at(a: Temporal, b: Temporal, precision: Precision | str | None = None, *,
               offset: Decimal | None = None) -> int | None:
    """Compare two values of the same type up to ``precision`` (``None``: to
    the finest precision either value has). Returns -1, 0 or 1, or ``None``
    when the answer is uncertain because a component up to that precision is
    missing. For DateTimes with different offsets compared at hour precision
    or finer, both are normalized to ``offset`` (default: ``a``'s offset)."""
    t = _kind_check(a, b, "Comparison")
    if precision is None:
        p = a._p if a._p >= b._p else b._p
    else:
        p = _as_precision(precision)
        _check_precision(t, p, "Comparison")
    if t is DateTime and p >= HOUR:
        ta, tb = a.tz_offset, b.tz_offset  # type: ignore[union-attr]
        if ta is not None and tb is not None and ta != tb:
            return _compare_normalized(a, b, p, offset if offset is not None else ta)  # type: ignore[arg-type]
    idx = (_TIME_INDEX if t is Time else _DT_INDEX)[p]
    pa, pb = a._parts(), b._parts()
    for i in range(idx + 1):
        x = pa[i]
        y = pb[i]
        if x is None or y is None:
            return None
        if x != y:
            return -1 if x < y else 1
    return 0


def _compare_normalized(a: DateTime, b: DateTime, p: Precision, target: Decimal) -> int | None:
    """Compare DateTimes seen in the frame of offset ``target``, as the ranges
    of instants they stand for, truncated to ``p`` (hour or finer)."""
    t_ms = _offset_ms(target)
    a_lo, a_hi = _dt_bounds(a, exact_seconds=False)
    b_lo, b_hi = _dt_bounds(b, exact_seconds=False)
    da = t_ms - _offset_ms(a.tz_offset)  # type: ignore[arg-type]
    db = t_ms - _offset_ms(b.tz_offset)  # type: ignore[arg-type]
    unit = _UNIT_MS[p]
    a_lo, a_hi = (a_lo + da) // unit, (a_hi + da) // unit
    b_lo, b_hi = (b_lo + db) // unit, (b_hi + db) // unit
    if a_hi < b_lo:
        return -1
    if a_lo > b_hi:
        return 1
    if a_lo == a_hi == b_lo == b_hi:
        return 0
    return None


def same_as(a: Temporal, b: Temporal, precision: Precision | str | None = None, *,
            offset: Decimal | None = None) -> bool | None:
    """CQL ``same [precision] as``."""
    c = compare_at(a, b, precision, offset=offset)
    return None if c is None else c == 0


def sort_key(value: Temporal) -> tuple[int, int]:
    """A key ordering values of one type for sorting: by their earliest
    instant (in UTC for DateTimes with an offset), less precise first on ties.
    Not a CQL comparison; use :func:`compare_at` for that."""
    lo, _ = _bounds(value, exact_seconds=False)
    if type(value) is DateTime and value.tz_offset is not None:
        lo -= _offset_ms(value.tz_offset)
    return lo, int(value._p)


def equality_key(value: Temporal) -> tuple[Any, ...]:
    """A hashable key such that values for which CQL ``=`` is true have equal
    keys (for DateTimes: provided both have an offset, or neither has)."""
    t = type(value)
    if t is DateTime and value._p >= HOUR and value.tz_offset is not None:
        lo, _ = _dt_bounds(value, exact_seconds=False)
        return ("DateTime", int(value._p), lo - _offset_ms(value.tz_offset))
    return (t.__name__, *value._parts())


# ---------------------------------------------------------------------------
# Arithmetic

_UNITS: dict[str, Precision] = {
    "year": YEAR, "years": YEAR, "month": MONTH, "months": MONTH, "week": WEEK, "weeks": WEEK,
    "day": DAY, "days": DAY, "hour": HOUR, "hours": HOUR, "minute": MINUTE, "minutes": MINUTE,
    "second": SECOND, "seconds": SECOND, "millisecond": MILLISECOND, "milliseconds": MILLISECOND,
    # UCUM definite-duration units accepted for calendar arithmetic
    "wk": WEEK, "d": DAY, "h": HOUR, "min": MINUTE, "s": SECOND, "ms": MILLISECOND,
}
_UCUM_DEFINITE_ABOVE_DAYS = ("a", "mo")


def _unit_precision(unit: str) -> Precision:
    p = _UNITS.get(unit) if isinstance(unit, str) else None
    if p is not None:
        return p
    if unit in _UCUM_DEFINITE_ABOVE_DAYS:
        raise CqlRuntimeError(
            f"Date/time arithmetic with the definite-duration unit '{unit}' is not allowed; "
            f"use a calendar duration ({'years' if unit == 'a' else 'months'})")
    raise CqlRuntimeError(f"'{unit}' is not a time unit usable in date/time arithmetic")


def _whole_amount(amount: Decimal | int, p: Precision) -> tuple[int, Precision]:
    """The quantity as an integer number of units: above seconds the decimal
    part is dropped; fractional seconds become milliseconds."""
    if _is_int(amount):
        return int(amount), p
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise CqlRuntimeError(f"Invalid quantity value {amount!r} in date/time arithmetic")
    if p == SECOND and amount != amount.to_integral_value(ROUND_DOWN):
        return int((amount * 1000).to_integral_value(ROUND_DOWN)), MILLISECOND
    return int(amount.to_integral_value(ROUND_DOWN)), p


def _convert_down(n: int, unit: Precision, target: Precision) -> int:
    """``n`` units (finer than ``target``) expressed in whole ``target`` units,
    truncated toward zero."""
    if target == YEAR:
        if unit == MONTH:
            return _trunc_div(n, 12)
        return _trunc_div(n * _UNIT_MS[unit], _MS_PER_YEAR_CONVERSION)
    if target == MONTH:
        return _trunc_div(n * _UNIT_MS[unit], _MS_PER_MONTH_CONVERSION)
    return _trunc_div(n * _UNIT_MS[unit], _UNIT_MS[target])


def _check_year(y: int) -> None:
    if y < 1 or y > 9999:
        raise CqlRuntimeError(f"Date/time arithmetic result is out of range (year {y})")


def _shift_date_parts(y: int, m: int | None, d: int | None, n: int, unit: Precision,
                      msod: int | None) -> tuple[int, int | None, int | None, int | None]:
    """Move a (partial) date and ms-of-day by ``n`` units, ``unit`` no finer
    than the value's precision. Returns the new year, month, day and ms of day."""
    if unit in (YEAR, MONTH):
        if unit == YEAR:
            y += n
            if m is None:
                _check_year(y)
                return y, m, d, msod
        else:
            total = y * 12 + (m - 1) + n  # type: ignore[operator]
            y, m0 = divmod(total, 12)
            m = m0 + 1
        _check_year(y)
        if d is not None:
            d = min(d, _days_in_month(y, m))  # type: ignore[arg-type]
        return y, m, d, msod
    # day or finer: the value has a day
    days = n * 7 if unit == WEEK else n if unit == DAY else 0
    ordinal = _ordinal(y, m, d) + days  # type: ignore[arg-type]
    if unit > DAY:
        total = ordinal * DAY_MS + msod + n * _UNIT_MS[unit]  # type: ignore[operator]
        ordinal, msod = divmod(total, DAY_MS)
    if ordinal < 1 or ordinal > 3_652_059:
        raise CqlRuntimeError("Date/time arithmetic result is out of range (year outside 1..9999)")
    y, m, d = _civil(ordinal)
    return y, m, d, msod


def _msod_parts(msod: int) -> tuple[int, int, int, int]:
    s, ms = divmod(msod, 1000)
    mi, s = divmod(s, 60)
    h, mi = divmod(mi, 60)
    return h, mi, s, ms


def _add_units(value: Temporal, n: int, unit: Precision) -> Temporal:
    t = type(value)
    vp = value._p
    if t is Time:
        if unit < HOUR:
            raise CqlRuntimeError(f"Cannot add {unit.name.lower()}s to a Time value")
        if unit > vp:
            n, unit = _convert_down(n, unit, vp), vp
        lo, _ = _time_bounds(value, exact_seconds=True)  # type: ignore[arg-type]
        msod = lo + n * _UNIT_MS[unit]
        if msod < 0 or msod >= DAY_MS:
            raise CqlRuntimeError(f"Time arithmetic result is out of range ({value.to_cql()} + {n} "
                                  f"{unit.name.lower()}s is not within a day)")
        h, mi, s, ms = _msod_parts(msod)
        return _time_at_precision(h, mi, s, ms, vp)
    if unit > vp:
        n, unit = _convert_down(n, unit, vp), vp
    if n == 0:
        return value
    if t is Date:
        y, m, d, _ = _shift_date_parts(value.year, value.month, value.day, n, unit, None)
        return Date(y, m, d)
    v: DateTime = value  # type: ignore[assignment]
    msod = None
    if vp >= HOUR:
        msod = (((v.hour * 60 + (v.minute or 0)) * 60 + (v.second or 0)) * 1000  # type: ignore[operator]
                + (v.millisecond or 0))
    y, m, d, msod = _shift_date_parts(v.year, v.month, v.day, n, unit, msod)
    if msod is None:
        return DateTime(y, m, d, tz_offset=v.tz_offset)
    h, mi, s, ms = _msod_parts(msod)
    return DateTime(y, m, d, h, mi if vp >= MINUTE else None, s if vp >= SECOND else None,
                    ms if vp >= MILLISECOND else None, v.tz_offset)


def _time_at_precision(h: int, mi: int, s: int, ms: int, p: Precision) -> Time:
    return Time(h, mi if p >= MINUTE else None, s if p >= SECOND else None, ms if p >= MILLISECOND else None)


def add(value: Temporal, amount: Decimal | int, unit: str) -> Temporal:
    """``value + amount unit`` with CQL calendar semantics. ``unit`` is a
    calendar keyword (``year(s)`` ... ``millisecond(s)``, ``week(s)``) or a
    UCUM time unit (``wk``, ``d``, ``h``, ``min``, ``s``, ``ms``)."""
    if type(value) not in (Date, DateTime, Time):
        raise CqlRuntimeError(f"Not a date/time value: {value!r}")
    n, p = _whole_amount(amount, _unit_precision(unit))
    return _add_units(value, n, p)


def subtract(value: Temporal, amount: Decimal | int, unit: str) -> Temporal:
    """``value - amount unit``; see :func:`add`."""
    if type(value) not in (Date, DateTime, Time):
        raise CqlRuntimeError(f"Not a date/time value: {value!r}")
    n, p = _whole_amount(amount, _unit_precision(unit))
    return _add_units(value, -n, p)


def successor(value: Temporal) -> Temporal:
    """The next value at the value's own precision; error past the maximum."""
    if type(value) not in (Date, DateTime, Time):
        raise CqlRuntimeError(f"Not a date/time value: {value!r}")
    return _add_units(value, 1, value._p)


def predecessor(value: Temporal) -> Temporal:
    """The previous value at the value's own precision; error before the minimum."""
    if type(value) not in (Date, DateTime, Time):
        raise CqlRuntimeError(f"Not a date/time value: {value!r}")
    return _add_units(value, -1, value._p)


# ---------------------------------------------------------------------------
# Duration and difference

def _uncertain(low: int, high: int) -> int | Interval:
    low, high = make_integer(low), make_integer(high)
    if low == high:
        return low
    return Interval(low, high, True, True, "Integer")


def _months_between(x: int, y: int, step: int) -> int:
    """Whole periods of ``step`` months from instant ``x`` to instant ``y``
    (local ms in one frame): the largest n with x + n periods <= y (or, going
    backwards, the smallest n with x + n periods >= y)."""
    xy, xm, xd = _civil(x // DAY_MS)
    yy, ym, yd = _civil(y // DAY_MS)
    xr, yr = x % DAY_MS, y % DAY_MS
    n = (yy - xy) if step == 12 else (yy - xy) * 12 + (ym - xm)
    if n == 0:
        return 0
    total = xy * 12 + xm - 1 + n * step
    sy, sm0 = divmod(total, 12)
    sm = sm0 + 1
    shifted = (sy, sm, min(xd, _days_in_month(sy, sm)), xr)
    target = (yy, ym, yd, yr)
    if n > 0 and shifted > target:
        n -= 1
    elif n < 0 and shifted < target:
        n += 1
    return n


def _duration(x: int, y: int, p: Precision) -> int:
    if p == YEAR:
        return _months_between(x, y, 12)
    if p == MONTH:
        return _months_between(x, y, 1)
    return _trunc_div(y - x, _UNIT_MS[p])


def _difference(x: int, y: int, p: Precision) -> int:
    if p in (YEAR, MONTH):
        xy, xm, _ = _civil(x // DAY_MS)
        yy, ym, _ = _civil(y // DAY_MS)
        return yy - xy if p == YEAR else (yy - xy) * 12 + (ym - xm)
    if p == WEEK:
        # day number // 7 numbers the weeks starting on Sunday (day 7 is a Sunday)
        return (y // DAY_MS) // 7 - (x // DAY_MS) // 7
    unit = _UNIT_MS[p]
    return y // unit - x // unit


_BETWEEN_PRECISIONS = {
    Date: (YEAR, MONTH, WEEK, DAY),
    DateTime: tuple(Precision),
    Time: (HOUR, MINUTE, SECOND, MILLISECOND),
}


def _between_setup(a: Temporal, b: Temporal, precision: Precision | str, what: str,
                   normalize: bool, offset: Decimal | None) -> tuple[Precision, int, int, int, int]:
    t = _kind_check(a, b, what)
    p = _as_precision(precision)
    if p not in _BETWEEN_PRECISIONS[t]:
        raise CqlSemanticError(f"{what}: precision {p.name.lower()} is not valid for {t.__name__} values")
    a_lo, a_hi = _bounds(a, exact_seconds=True)
    b_lo, b_hi = _bounds(b, exact_seconds=True)
    if normalize and t is DateTime:
        ta, tb = a.tz_offset, b.tz_offset  # type: ignore[union-attr]
        if ta is not None and tb is not None and ta != tb:
            target = _offset_ms(offset if offset is not None else ta)
            shift_a = target - _offset_ms(ta)
            shift_b = target - _offset_ms(tb)
            a_lo, a_hi, b_lo, b_hi = a_lo + shift_a, a_hi + shift_a, b_lo + shift_b, b_hi + shift_b
    return p, a_lo, a_hi, b_lo, b_hi


def duration_between(a: Temporal, b: Temporal, precision: Precision | str, *,
                     offset: Decimal | None = None) -> int | Interval:
    """CQL ``<precision>s between a and b``: whole periods from a to b
    (negative when a is after b). Uncertain inputs give an Integer interval
    ``[shortest, longest]``; a degenerate one is returned as an int.
    DateTimes with different offsets are compared on the real time line, and
    months and years are counted in the calendar of ``offset`` (default:
    ``a``'s offset)."""
    p, a_lo, a_hi, b_lo, b_hi = _between_setup(a, b, precision, "Duration", True, offset)
    return _uncertain(_duration(a_hi, b_lo, p), _duration(a_lo, b_hi, p))


def difference_between(a: Temporal, b: Temporal, precision: Precision | str, *,
                       offset: Decimal | None = None) -> int | Interval:
    """CQL ``difference in <precision>s between a and b``: the number of
    boundaries crossed. DateTimes with different offsets are normalized to
    ``offset`` (default: ``a``'s offset) only for hour and finer precisions;
    week boundaries fall on Sundays."""
    p = _as_precision(precision)
    p, a_lo, a_hi, b_lo, b_hi = _between_setup(a, b, p, "Difference", p >= HOUR, offset)
    return _uncertain(_difference(a_hi, b_lo, p), _difference(a_lo, b_hi, p))


# ---------------------------------------------------------------------------
# Components and conversions

def component(value: Temporal, precision: Precision | str) -> int | None:
    """CQL ``<component> from value`` (``None`` if the value lacks it)."""
    t = type(value)
    p = _as_precision(precision)
    if t not in (Date, DateTime, Time):
        raise CqlRuntimeError(f"Not a date/time value: {value!r}")
    _check_precision(t, p, "Component extraction")
    return value._parts()[(_TIME_INDEX if t is Time else _DT_INDEX)[p]]


def truncate(value: Temporal, precision: Precision | str) -> Temporal:
    """The value with the components finer than ``precision`` dropped (as is
    when it is not that precise), e.g. for ``expand ... per hour``."""
    t = type(value)
    p = _as_precision(precision)
    if t not in (Date, DateTime, Time):
        raise CqlRuntimeError(f"Not a date/time value: {value!r}")
    _check_precision(t, p, "Truncation")
    if value._p <= p:
        return value
    keep = (_TIME_INDEX if t is Time else _DT_INDEX)[p] + 1
    parts = value._parts()
    parts = parts[:keep] + (None,) * (len(parts) - keep)
    if t is DateTime:
        return DateTime(*parts, tz_offset=value.tz_offset)  # type: ignore[arg-type, union-attr]
    return t(*parts)  # type: ignore[no-any-return]


def timezone_offset(dt: DateTime) -> Decimal | None:
    """CQL ``timezoneoffset from dt``."""
    return dt.tz_offset


def date_of(dt: DateTime) -> Date:
    """CQL ``date from dt``: the calendar date as written (no normalization)."""
    return Date(dt.year, dt.month, dt.day)


def to_date(dt: DateTime) -> Date:
    """CQL ``ToDate(DateTime)``."""
    return Date(dt.year, dt.month, dt.day)


def time_of(dt: DateTime, offset: Decimal | None = None) -> Time | None:
    """CQL ``time from dt``, ``None`` when dt has no hour. With ``offset``
    (the evaluation's), a dt with a different offset is first normalized to it."""
    if dt.hour is None:
        return None
    lo, _ = _dt_bounds(dt, exact_seconds=True)
    msod = lo % DAY_MS
    if offset is not None and dt.tz_offset is not None and offset != dt.tz_offset:
        shift = _offset_ms(offset) - _offset_ms(dt.tz_offset)
        if shift % _UNIT_MS[dt._p]:
            raise CqlUnsupportedError(
                f"Cannot normalize {dt.to_cql()} to offset {offset}: the shift is finer than its precision")
        msod = (msod + shift) % DAY_MS
    h, mi, s, ms = _msod_parts(msod)
    return _time_at_precision(h, mi, s, ms, dt._p)


def to_datetime(date: Date, offset: Decimal | None) -> DateTime:
    """CQL ``ToDateTime(Date)``: same date, time unspecified, the given offset."""
    return DateTime(date.year, date.month, date.day, tz_offset=offset)


def from_python(value: _pydt.datetime) -> DateTime:
    """A DateTime to the millisecond from a Python datetime (for ``Now()``);
    a naive datetime gives an unspecified offset."""
    off = value.utcoffset()
    tz = None
    if off is not None:
        tz = _offset_from_minutes((off.days * 86_400 + off.seconds) // 60)
    return DateTime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                    value.microsecond // 1000, tz)


def today(now: DateTime) -> Date:
    """CQL ``Today()`` from the evaluation's ``Now()``."""
    return Date(now.year, now.month, now.day)


def time_of_day(now: DateTime) -> Time:
    """CQL ``TimeOfDay()`` from the evaluation's ``Now()``."""
    if now.hour is None:
        raise CqlRuntimeError("TimeOfDay: the evaluation timestamp has no time part")
    return Time(now.hour, now.minute, now.second, now.millisecond)


# ---------------------------------------------------------------------------
# Minimum/maximum, precision, boundaries

_UTC = Decimal(0)


def min_value(kind: str) -> Temporal:
    """CQL ``minimum Date|DateTime|Time`` (DateTime in UTC)."""
    if kind == "Date":
        return Date(1, 1, 1)
    if kind == "DateTime":
        return DateTime(1, 1, 1, 0, 0, 0, 0, _UTC)
    if kind == "Time":
        return Time(0, 0, 0, 0)
    raise CqlRuntimeError(f"minimum is not defined for {kind}")


def max_value(kind: str) -> Temporal:
    """CQL ``maximum Date|DateTime|Time`` (DateTime in UTC)."""
    if kind == "Date":
        return Date(9999, 12, 31)
    if kind == "DateTime":
        return DateTime(9999, 12, 31, 23, 59, 59, 999, _UTC)
    if kind == "Time":
        return Time(23, 59, 59, 999)
    raise CqlRuntimeError(f"maximum is not defined for {kind}")


_DIGITS = {
    Date: {4: YEAR, 6: MONTH, 8: DAY},
    DateTime: {4: YEAR, 6: MONTH, 8: DAY, 10: HOUR, 12: MINUTE, 14: SECOND, 17: MILLISECOND},
    Time: {2: HOUR, 4: MINUTE, 6: SECOND, 9: MILLISECOND},
}
_PRECISION_DIGITS = {t: {p: d for d, p in m.items()} for t, m in _DIGITS.items()}


def precision_digits(value: Temporal) -> int:
    """CQL ``Precision()``: digits of precision (``@2014`` 4,
    ``@2014-01-05T10:30:00.000`` 17, ``@T10:30`` 4, ``@T10:30:00.000`` 9)."""
    return _PRECISION_DIGITS[type(value)][value._p]


def _boundary(value: Temporal, digits: int | None, high: bool) -> Temporal | None:
    t = type(value)
    table = _DIGITS[t]
    if digits is None:
        target = max(table.values())
    else:
        if not _is_int(digits):
            raise CqlRuntimeError(f"Boundary precision must be an integer, got {digits!r}")
        if digits > max(table):
            return None
        target = table.get(digits)  # type: ignore[assignment]
        if target is None:
            raise CqlUnsupportedError(f"Boundary precision {digits} is not supported for {t.__name__} values")
    parts = list(value._parts())
    precisions = _TIME_PRECISIONS if t is Time else _DATETIME_PRECISIONS
    for i, p in enumerate(precisions[:len(parts)]):
        if p > target:
            parts[i] = None
        elif parts[i] is None:
            if not high:
                parts[i] = 0 if p >= HOUR else 1
            elif p == MONTH:
                parts[i] = 12
            elif p == DAY:
                parts[i] = _days_in_month(parts[0], parts[1])  # type: ignore[arg-type]
            else:
                parts[i] = {HOUR: 23, MINUTE: 59, SECOND: 59, MILLISECOND: 999}[p]
    if t is DateTime:
        return DateTime(*parts, tz_offset=value.tz_offset)  # type: ignore[arg-type, union-attr]
    return t(*parts)  # type: ignore[no-any-return]


def low_boundary(value: Temporal, digits: int | None = None) -> Temporal | None:
    """CQL ``LowBoundary``: the earliest value at ``digits`` of precision
    (``None``: the type's finest); ``None`` beyond the finest precision."""
    return _boundary(value, digits, high=False)


def high_boundary(value: Temporal, digits: int | None = None) -> Temporal | None:
    """CQL ``HighBoundary``: the latest value at ``digits`` of precision."""
    return _boundary(value, digits, high=True)


# ---------------------------------------------------------------------------
# Parsing

_DATE_RE = r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
_TIME_RE = r"(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
_OFFSET_RE = r"(Z|[+-]\d{2}:\d{2})"
_DATE_LITERAL = re.compile(_DATE_RE)
_DATETIME_LITERAL = re.compile(_DATE_RE + "T" + f"(?:{_TIME_RE})?" + f"{_OFFSET_RE}?")
_TIME_LITERAL = re.compile("T" + _TIME_RE)
_ISO_DATE = re.compile(_DATE_RE)
_ISO_DATETIME = re.compile(_DATE_RE + f"(?:T(?:{_TIME_RE})?{_OFFSET_RE}?)?")
_ISO_TIME = re.compile(f"T?{_TIME_RE}{_OFFSET_RE}?")


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def _millis(text: str | None) -> int | None:
    return None if text is None else int((text + "00")[:3])


def _parse_offset(text: str | None) -> Decimal | None:
    if text is None:
        return None
    if text == "Z":
        return _UTC
    hh, mm = int(text[1:3]), int(text[4:6])
    if mm > 59:
        raise CqlRuntimeError(f"Invalid timezone offset {text}")
    minutes = hh * 60 + mm
    return _offset_from_minutes(-minutes if text[0] == "-" else minutes)


def _build_datetime(g: tuple[str | None, ...], default_offset: Decimal | None) -> DateTime:
    offset = _parse_offset(g[7])
    return DateTime(int(g[0]), _int(g[1]), _int(g[2]), _int(g[3]), _int(g[4]), _int(g[5]),  # type: ignore[arg-type]
                    _millis(g[6]), offset if offset is not None else default_offset)


def parse_date_literal(text: str) -> Date:
    """A Date literal's text after the ``@`` (``2014``, ``2014-01``,
    ``2014-01-05``); :class:`CqlSemanticError` if invalid."""
    m = _DATE_LITERAL.fullmatch(text)
    if m is None:
        raise CqlSemanticError(f"Invalid Date literal @{text}")
    try:
        return Date(int(m[1]), _int(m[2]), _int(m[3]))
    except CqlRuntimeError as e:
        raise CqlSemanticError(f"Invalid Date literal @{text}: {e.message}") from None


def parse_datetime_literal(text: str) -> DateTime:
    """A DateTime literal's text after the ``@`` (``2014T``, ``2014-01-05T10``,
    ``2014-01-05T10:30:00.000+01:00``, ``2014-01-05TZ``); the offset stays
    ``None`` when not written. :class:`CqlSemanticError` if invalid."""
    m = _DATETIME_LITERAL.fullmatch(text)
    if m is None:
        raise CqlSemanticError(f"Invalid DateTime literal @{text}")
    try:
        return _build_datetime(m.groups(), None)
    except CqlRuntimeError as e:
        raise CqlSemanticError(f"Invalid DateTime literal @{text}: {e.message}") from None


def parse_time_literal(text: str) -> Time:
    """A Time literal's text after the ``@`` (``T12``, ``T12:00:00.000``);
    :class:`CqlSemanticError` if invalid."""
    m = _TIME_LITERAL.fullmatch(text)
    if m is None:
        raise CqlSemanticError(f"Invalid Time literal @{text}")
    try:
        return Time(int(m[1]), _int(m[2]), _int(m[3]), _millis(m[4]))
    except CqlRuntimeError as e:
        raise CqlSemanticError(f"Invalid Time literal @{text}: {e.message}") from None


def parse_iso_date(text: str, default_offset: Decimal | None = None) -> Date | None:
    """CQL ``ToDate(String)`` and FHIR ``date``: ``YYYY[-MM[-DD]]``. ``None``
    if the text is malformed or not a valid date (``default_offset`` is
    accepted for symmetry and ignored)."""
    if not isinstance(text, str):
        return None
    m = _ISO_DATE.fullmatch(text.strip())
    if m is None:
        return None
    try:
        return Date(int(m[1]), _int(m[2]), _int(m[3]))
    except CqlRuntimeError:
        return None


def parse_iso_datetime(text: str, default_offset: Decimal | None = None) -> DateTime | None:
    """CQL ``ToDateTime(String)`` and FHIR ``dateTime``/``instant``:
    ``YYYY[-MM[-DD[Thh[:mm[:ss[.f+]]][Z|(+|-)hh:mm]]]]``. Fractional seconds
    keep their first three digits. Without an offset in the text,
    ``default_offset`` is used. ``None`` if malformed or not a valid value."""
    if not isinstance(text, str):
        return None
    m = _ISO_DATETIME.fullmatch(text.strip())
    if m is None:
        return None
    try:
        return _build_datetime(m.groups(), default_offset)
    except (CqlRuntimeError, InvalidOperation):
        return None


def parse_iso_time(text: str, default_offset: Decimal | None = None) -> Time | None:
    """CQL ``ToTime(String)`` and FHIR ``time``: ``[T]hh[:mm[:ss[.f+]]]``. A
    trailing timezone offset is accepted and ignored, as the conformance tests
    expect. ``None`` if malformed or not a valid time."""
    if not isinstance(text, str):
        return None
    m = _ISO_TIME.fullmatch(text.strip())
    if m is None:
        return None
    try:
        if m[5] is not None:
            _parse_offset(m[5])
        return Time(int(m[1]), _int(m[2]), _int(m[3]), _millis(m[4]))
    except CqlRuntimeError:
        return None
