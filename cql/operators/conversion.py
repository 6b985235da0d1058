"""Conversion operators (CQL reference, "Type Operators"): ToBoolean,
ToInteger, ToLong, ToDecimal, ToString, ToDate, ToDateTime, ToTime,
ToQuantity, ToRatio, ToConcept, the ConvertsTo* tests, ConvertQuantity and
CanConvertQuantity. ``is``, ``as`` and ``cast`` are compiled directly
(cql.compiler); ``convert x to T`` calls the ``To*`` function of ``T``.

A value that cannot be converted gives null (``ToInteger('one')``,
``ToInteger(maximum Long)``); ``ConvertsToX(v)`` is true exactly when the
conversion of a non-null ``v`` to ``X`` gives a value. String formats follow
the reference: integers ``(+|-)?#0``, decimals ``(+|-)?#0(.0#)?`` (rounded to
8 places), ISO 8601 dates and times, quantities ``5.5 'cm'``. ``ToString``
writes decimals as they are (``18.55``, ``125``), quantities as
``125 'cm'`` (the unit always quoted), ratios as ``1 'mg':2 'mL'``, and dates
and times in ISO 8601 without the ``@``/``T`` prefix of literals; a DateTime's
offset is written unless it is the evaluation's own (the offset a DateTime
written without one gets), so that ``ToDateTime`` reads the text back.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

from ..errors import CqlRuntimeError
from ..runtime import Context
from ..types import (
    ANY,
    BOOLEAN,
    CODE,
    CONCEPT,
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    LONG,
    QUANTITY,
    RATIO,
    STRING,
    TIME,
    ListType,
)
from ..ucum import UcumError
from ..values import Code, Concept, Date, DateTime, Long, Quantity, Ratio, Time, temporal
from ..values import quantity as q
from ..values.numbers import INTEGER_MAX, INTEGER_MIN, LONG_MAX, LONG_MIN, make_decimal
from ..values.render import decimal_text
from .registry import operator

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_BOOLEAN_TEXT = {"true": True, "t": True, "yes": True, "y": True, "1": True,
                 "false": False, "f": False, "no": False, "n": False, "0": False}


# ---------------------------------------------------------------- conversions of any value


def to_boolean(v: Any) -> bool | None:
    t = type(v)
    if t is bool:
        return v  # type: ignore[no-any-return]
    if t is str:
        return _BOOLEAN_TEXT.get(v.lower())
    if t in (int, Long, Decimal):
        return True if v == 1 else False if v == 0 else None
    return None


def _in_range(n: int, low: int, high: int) -> int | None:
    return n if low <= n <= high else None


def to_integer(v: Any) -> int | None:
    t = type(v)
    if t is int:
        return v  # type: ignore[no-any-return]
    if t is bool:
        return int(v)
    if t is Long:
        return _in_range(int(v), INTEGER_MIN, INTEGER_MAX)
    if t is str and _INTEGER_TEXT.fullmatch(v):
        return _in_range(int(v), INTEGER_MIN, INTEGER_MAX)
    return None


def to_long(v: Any) -> Long | None:
    t = type(v)
    if t is Long:
        return v  # type: ignore[no-any-return]
    if t in (int, bool):
        return Long(int(v))
    if t is str and _INTEGER_TEXT.fullmatch(v):
        n = _in_range(int(v), LONG_MIN, LONG_MAX)
        return None if n is None else Long(n)
    return None


def to_decimal(v: Any) -> Decimal | None:
    t = type(v)
    if t is Decimal:
        return v  # type: ignore[no-any-return]
    if t is bool:
        return Decimal("1.0") if v else Decimal("0.0")
    if t in (int, Long):
        return Decimal(int(v))
    if t is str and _DECIMAL_TEXT.fullmatch(v):
        try:
            return make_decimal(Decimal(v))
        except CqlRuntimeError:
            return None  # outside the range of Decimal
    return None


def to_quantity(v: Any) -> Quantity | None:
    t = type(v)
    if t is Quantity:
        return v  # type: ignore[no-any-return]
    if t in (int, Long):
        return Quantity(Decimal(int(v)), "1")
    if t is Decimal:
        return Quantity(v, "1")
    if t is Ratio:
        return q.ratio_to_quantity(v)
    if t is str:
        return q.parse_quantity_string(v)
    return None


def to_ratio(v: Any) -> Ratio | None:
    t = type(v)
    if t is Ratio:
        return v  # type: ignore[no-any-return]
    if t is str:
        return q.parse_ratio_string(v)
    return None


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quantity_text(v: Quantity) -> str:
    return f"{decimal_text(v.value)} {_quote(v.unit)}"


def to_string(v: Any) -> str | None:
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if t is bool:
        return "true" if v else "false"
    if t in (int, Long):
        return str(int(v))
    if t is Decimal:
        return decimal_text(v)
    if t is Quantity:
        return _quantity_text(v)
    if t is Ratio:
        return f"{_quantity_text(v.numerator)}:{_quantity_text(v.denominator)}"
    if t in (Date, DateTime, Time):
        return temporal.iso_string(v)
    return None


def to_date(v: Any) -> Date | None:
    t = type(v)
    if t is Date:
        return v  # type: ignore[no-any-return]
    if t is DateTime:
        return temporal.to_date(v)
    if t is str:
        found = temporal.parse_iso_date(v)
        if found is None and "T" in v:
            # A DateTime string: its time part is ignored.
            dt = temporal.parse_iso_datetime(v)
            found = None if dt is None else temporal.to_date(dt)
        return found
    return None


def to_datetime(v: Any, offset: Decimal | None) -> DateTime | None:
    t = type(v)
    if t is DateTime:
        return v  # type: ignore[no-any-return]
    if t is Date:
        return temporal.to_datetime(v, offset)
    if t is str:
        return temporal.parse_iso_datetime(v, offset)
    return None


def to_time(v: Any) -> Time | None:
    t = type(v)
    if t is Time:
        return v  # type: ignore[no-any-return]
    if t is str:
        return temporal.parse_iso_time(v)
    return None


def to_concept(v: Any) -> Concept | None:
    t = type(v)
    if t is Concept:
        return v  # type: ignore[no-any-return]
    if t is Code:
        return Concept((v,), v.display)
    if t is list and all(x is None or type(x) is Code for x in v):
        return Concept(tuple(x for x in v if x is not None))
    return None


# ---------------------------------------------------------------- the operators


def _register(name: str, types: tuple[Any, ...], result: Any, fn: Any) -> None:
    for t in types:
        operator(name, [t], result)(fn)


_register("ToBoolean", (BOOLEAN, INTEGER, LONG, DECIMAL, STRING), BOOLEAN, to_boolean)
_register("ToInteger", (INTEGER, BOOLEAN, LONG, STRING), INTEGER, to_integer)
_register("ToLong", (LONG, BOOLEAN, INTEGER, STRING), LONG, to_long)
_register("ToDecimal", (DECIMAL, BOOLEAN, INTEGER, LONG, STRING), DECIMAL, to_decimal)
_register("ToQuantity", (QUANTITY, INTEGER, LONG, DECIMAL, RATIO, STRING), QUANTITY, to_quantity)
_register("ToRatio", (RATIO, STRING), RATIO, to_ratio)
_register("ToString", (STRING, BOOLEAN, INTEGER, LONG, DECIMAL, QUANTITY, RATIO, DATE, TIME), STRING, to_string)


@operator("ToString", [DATETIME], STRING, ctx=True)
def datetime_to_string(ctx: Context, v: DateTime) -> str:
    # The evaluation's own offset is implied, as in a DateTime written
    # without one; ToDateTime of the text gives the value back.
    if v.tz_offset is not None and v.tz_offset == ctx.offset:
        v = dataclasses.replace(v, tz_offset=None)
    return temporal.iso_string(v)
_register("ToDate", (DATE, DATETIME, STRING), DATE, to_date)
_register("ToTime", (TIME, STRING), TIME, to_time)
_register("ToConcept", (CONCEPT, CODE, ListType(CODE)), CONCEPT, to_concept)


def _to_datetime_in(ctx: Context, v: Any) -> DateTime | None:
    return to_datetime(v, ctx.offset)


for _t in (DATETIME, DATE, STRING):
    operator("ToDateTime", [_t], DATETIME, ctx=True)(_to_datetime_in)


def _converts(fn: Any) -> Any:
    def converts(v: Any) -> bool:
        return fn(v) is not None
    return converts


_CONVERTS = {
    "ConvertsToBoolean": to_boolean, "ConvertsToInteger": to_integer, "ConvertsToLong": to_long,
    "ConvertsToDecimal": to_decimal, "ConvertsToQuantity": to_quantity, "ConvertsToRatio": to_ratio,
    "ConvertsToString": to_string, "ConvertsToDate": to_date, "ConvertsToTime": to_time,
    "ConvertsToDateTime": lambda v: to_datetime(v, None),
}
for _name, _fn in _CONVERTS.items():
    operator(_name, [ANY], BOOLEAN)(_converts(_fn))


@operator("ConvertQuantity", [QUANTITY, STRING], QUANTITY)
def convert_quantity(v: Quantity, unit: str) -> Quantity | None:
    return q.convert_quantity(v, unit)


@operator("CanConvertQuantity", [QUANTITY, STRING], BOOLEAN)
def can_convert_quantity(v: Quantity, unit: str) -> bool:
    try:
        return q.can_convert_quantity(v, unit)
    except UcumError:
        return False  # not a valid unit: nothing converts to it
