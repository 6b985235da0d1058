"""Arithmetic operators (CQL reference, "Arithmetic Operators").

Integer, Long, Decimal and Quantity overloads; Successor, Predecessor,
Precision, LowBoundary and HighBoundary also for Date, DateTime and Time
(delegated to :mod:`cql.values.temporal`). Date/time arithmetic (``DateTime +
Quantity``) lives with the date/time operators.

Semantics settled here:

- Integer and Long results outside their range raise a run-time error (the
  engine never wraps around); so do Decimal results outside the Decimal
  range, and results that are infinite (``Ln(0)``, ``Exp(1000)``).
- Division, ``div`` and ``mod`` by zero give null; so do results that are
  undefined (``Ln(-1)``, ``Log(x, 1)``, a negative number to a fractional
  power).
- Decimal results are rounded half up to 8 decimal places (``make_decimal``);
  a negative zero is returned as zero.
- ``Power`` of an Integer (Long) to a negative exponent is a Decimal
  (``Power(2, -2)`` is ``0.25``), so its static type is
  ``Choice<Integer, Decimal>`` (``Choice<Long, Decimal>``).
- ``Round`` rounds half away from zero (``Round(-0.5)`` is ``-1``); a
  negative precision rounds to tens, hundreds, ...
- ``LowBoundary``/``HighBoundary`` of a Decimal treat the digits after the
  written ones as unknown: ``1.587`` stands for ``[1.587, 1.588)`` and
  ``-1.587`` for ``(-1.588, -1.587]``; a precision below the written one
  truncates.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from ..errors import CqlRuntimeError
from ..types import (
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    LONG,
    QUANTITY,
    TIME,
    ChoiceType,
)
from ..values import quantity as q
from ..values import temporal
from ..values.numbers import (
    CONTEXT,
    DECIMAL_LIMIT,
    DECIMAL_MAX,
    DECIMAL_MIN,
    DECIMAL_SCALE,
    DECIMAL_STEP,
    INTEGER_MAX,
    INTEGER_MIN,
    LONG_MAX,
    LONG_MIN,
    decimal_places,
    make_decimal,
    make_integer,
    make_long,
)
from ..values.quantity import Quantity
from .registry import operator

_ONE = Decimal(1)


def _decimal(value: Decimal) -> Decimal:
    """A Decimal result: 8 places, in range, never a negative zero."""
    if value.is_finite() and abs(value) >= DECIMAL_LIMIT:
        raise CqlRuntimeError(f"Decimal overflow: the result ({value:.8E}) is outside the range of Decimal")
    result = make_decimal(value)
    if result.is_zero() and result.is_signed():
        result = result.copy_abs()
    return result


def _checked(fn: Any, *args: Decimal) -> Decimal:
    """Run a decimal context operation; overflow becomes a run-time error."""
    try:
        return fn(*args)  # type: ignore[no-any-return]
    except decimal.Overflow:
        raise CqlRuntimeError("Decimal overflow: the result is outside the range of Decimal") from None


# ---------------------------------------------------------------- Add, Subtract, Multiply


@operator("Add", [INTEGER, INTEGER], INTEGER)
def add_integer(a: int, b: int) -> int:
    return make_integer(a + b)


@operator("Add", [LONG, LONG], LONG)
def add_long(a: int, b: int) -> int:
    return make_long(a + b)


@operator("Add", [DECIMAL, DECIMAL], DECIMAL)
def add_decimal(a: Decimal, b: Decimal) -> Decimal:
    return _decimal(CONTEXT.add(a, b))


@operator("Add", [QUANTITY, QUANTITY], QUANTITY)
def add_quantity(a: Quantity, b: Quantity) -> Quantity | None:
    return q.add(a, b)


@operator("Subtract", [INTEGER, INTEGER], INTEGER)
def subtract_integer(a: int, b: int) -> int:
    return make_integer(a - b)


@operator("Subtract", [LONG, LONG], LONG)
def subtract_long(a: int, b: int) -> int:
    return make_long(a - b)


@operator("Subtract", [DECIMAL, DECIMAL], DECIMAL)
def subtract_decimal(a: Decimal, b: Decimal) -> Decimal:
    return _decimal(CONTEXT.subtract(a, b))


@operator("Subtract", [QUANTITY, QUANTITY], QUANTITY)
def subtract_quantity(a: Quantity, b: Quantity) -> Quantity | None:
    return q.subtract(a, b)


@operator("Multiply", [INTEGER, INTEGER], INTEGER)
def multiply_integer(a: int, b: int) -> int:
    return make_integer(a * b)


@operator("Multiply", [LONG, LONG], LONG)
def multiply_long(a: int, b: int) -> int:
    return make_long(a * b)


@operator("Multiply", [DECIMAL, DECIMAL], DECIMAL)
def multiply_decimal(a: Decimal, b: Decimal) -> Decimal:
    return _decimal(CONTEXT.multiply(a, b))


@operator("Multiply", [QUANTITY, QUANTITY], QUANTITY)
def multiply_quantity(a: Quantity, b: Quantity) -> Quantity:
    return q.multiply(a, b)


# ---------------------------------------------------------------- Divide, div, mod


@operator("Divide", [DECIMAL, DECIMAL], DECIMAL)
def divide_decimal(a: Decimal, b: Decimal) -> Decimal | None:
    if b.is_zero():
        return None
    return _decimal(_checked(CONTEXT.divide, a, b))


@operator("Divide", [QUANTITY, QUANTITY], QUANTITY)
def divide_quantity(a: Quantity, b: Quantity) -> Quantity | None:
    return q.divide(a, b)


def _truncated_quotient(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return -quotient if (a < 0) != (b < 0) else quotient


def _truncated_remainder(a: int, b: int) -> int:
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


@operator("TruncatedDivide", [INTEGER, INTEGER], INTEGER)
def truncated_divide_integer(a: int, b: int) -> int | None:
    return None if b == 0 else make_integer(_truncated_quotient(a, b))


@operator("TruncatedDivide", [LONG, LONG], LONG)
def truncated_divide_long(a: int, b: int) -> int | None:
    return None if b == 0 else make_long(_truncated_quotient(a, b))


@operator("TruncatedDivide", [DECIMAL, DECIMAL], DECIMAL)
def truncated_divide_decimal(a: Decimal, b: Decimal) -> Decimal | None:
    if b.is_zero():
        return None
    return _decimal(CONTEXT.divide_int(a, b))  # exact: truncated toward zero


@operator("TruncatedDivide", [QUANTITY, QUANTITY], QUANTITY)
def truncated_divide_quantity(a: Quantity, b: Quantity) -> Quantity | None:
    return q.truncated_divide(a, b)


@operator("Modulo", [INTEGER, INTEGER], INTEGER)
def modulo_integer(a: int, b: int) -> int | None:
    return None if b == 0 else make_integer(_truncated_remainder(a, b))


@operator("Modulo", [LONG, LONG], LONG)
def modulo_long(a: int, b: int) -> int | None:
    return None if b == 0 else make_long(_truncated_remainder(a, b))


@operator("Modulo", [DECIMAL, DECIMAL], DECIMAL)
def modulo_decimal(a: Decimal, b: Decimal) -> Decimal | None:
    if b.is_zero():
        return None
    return _decimal(CONTEXT.remainder(a, b))


@operator("Modulo", [QUANTITY, QUANTITY], QUANTITY)
def modulo_quantity(a: Quantity, b: Quantity) -> Quantity | None:
    return q.modulo(a, b)


# ---------------------------------------------------------------- Negate, Abs


@operator("Negate", [INTEGER], INTEGER)
def negate_integer(a: int) -> int:
    return make_integer(-a)


@operator("Negate", [LONG], LONG)
def negate_long(a: int) -> int:
    return make_long(-a)


@operator("Negate", [DECIMAL], DECIMAL)
def negate_decimal(a: Decimal) -> Decimal:
    return _decimal(CONTEXT.minus(a))


@operator("Negate", [QUANTITY], QUANTITY)
def negate_quantity(a: Quantity) -> Quantity:
    result = q.negate(a)
    if result.value.is_zero() and result.value.is_signed():
        return Quantity(result.value.copy_abs(), result.unit)
    return result


@operator("Abs", [INTEGER], INTEGER)
def abs_integer(a: int) -> int:
    return make_integer(abs(a))


@operator("Abs", [LONG], LONG)
def abs_long(a: int) -> int:
    return make_long(abs(a))


@operator("Abs", [DECIMAL], DECIMAL)
def abs_decimal(a: Decimal) -> Decimal:
    return _decimal(CONTEXT.abs(a))


@operator("Abs", [QUANTITY], QUANTITY)
def abs_quantity(a: Quantity) -> Quantity:
    return q.abs_(a)


# ---------------------------------------------------------------- Power, Exp, Ln, Log


def _power_of_integers(a: int, b: int, make: Any, kind: str) -> int | Decimal | None:
    if b < 0:
        if a == 0:
            return None  # 1 / 0
        return _decimal(_checked(CONTEXT.power, Decimal(a), b))
    if abs(a) >= 2 and b >= 64:  # |a ** b| >= 2 ** 64: beyond Long, no need to compute it
        raise CqlRuntimeError(f"{kind} overflow: {a} ^ {b} is outside the range of {kind}")
    return make(a ** b)  # type: ignore[no-any-return]


@operator("Power", [INTEGER, INTEGER], ChoiceType((INTEGER, DECIMAL)))
def power_integer(a: int, b: int) -> int | Decimal | None:
    return _power_of_integers(a, b, make_integer, "Integer")


@operator("Power", [LONG, LONG], ChoiceType((LONG, DECIMAL)))
def power_long(a: int, b: int) -> int | Decimal | None:
    return _power_of_integers(a, b, make_long, "Long")


@operator("Power", [DECIMAL, DECIMAL], DECIMAL)
def power_decimal(a: Decimal, b: Decimal) -> Decimal | None:
    integral = b == b.to_integral_value()
    if a.is_zero():
        if b < 0:
            return None  # 1 / 0
        if b.is_zero():
            return _ONE
        return Decimal(0)
    if a < 0 and not integral:
        return None  # not a real number
    try:
        return _decimal(CONTEXT.power(a, b))
    except decimal.Overflow:
        raise CqlRuntimeError(f"Decimal overflow: {a} ^ {b} is outside the range of Decimal") from None


@operator("Exp", [DECIMAL], DECIMAL)
def exp(a: Decimal) -> Decimal:
    return _decimal(_checked(CONTEXT.exp, a))


def _ln(a: Decimal, what: str) -> Decimal | None:
    if a.is_zero():
        raise CqlRuntimeError(f"{what} of 0 is negative infinity, which cannot be represented")
    if a < 0:
        return None
    return CONTEXT.ln(a)


@operator("Ln", [DECIMAL], DECIMAL)
def ln(a: Decimal) -> Decimal | None:
    result = _ln(a, "Ln")
    return None if result is None else _decimal(result)


@operator("Log", [DECIMAL, DECIMAL], DECIMAL)
def log(a: Decimal, base: Decimal) -> Decimal | None:
    if base <= 0 or base == _ONE:
        return None
    numerator = _ln(a, "Log")
    if numerator is None:
        return None
    return _decimal(CONTEXT.divide(numerator, CONTEXT.ln(base)))


# ---------------------------------------------------------------- Ceiling, Floor, Truncate, Round


def _integer_part(a: Decimal, rounding: str) -> int | None:
    # A result outside the Integer range is null (unknown), as the reference defines
    # Ceiling, Floor and Truncate; never a wrapped or clipped value.
    value = int(a.to_integral_value(rounding, CONTEXT))
    return value if INTEGER_MIN <= value <= INTEGER_MAX else None


@operator("Ceiling", [DECIMAL], INTEGER)
def ceiling(a: Decimal) -> int | None:
    return _integer_part(a, ROUND_CEILING)


@operator("Floor", [DECIMAL], INTEGER)
def floor(a: Decimal) -> int | None:
    return _integer_part(a, ROUND_FLOOR)


@operator("Truncate", [DECIMAL], INTEGER)
def truncate(a: Decimal) -> int | None:
    return _integer_part(a, ROUND_DOWN)


@operator("Round", [DECIMAL], DECIMAL)
def round_(a: Decimal) -> Decimal:
    return _round(a, 0)


@operator("Round", [DECIMAL, INTEGER], DECIMAL, nulls=False)
def round_to(a: Decimal | None, precision: int | None) -> Decimal | None:
    if a is None:
        return None
    return _round(a, 0 if precision is None else precision)


def _round(a: Decimal, precision: int) -> Decimal:
    if precision >= DECIMAL_SCALE:
        return _decimal(a)
    step = _ONE.scaleb(-precision)
    try:
        return _decimal(a.quantize(step, ROUND_HALF_UP, CONTEXT))
    except decimal.InvalidOperation:  # the precision is far beyond the value's digits
        return Decimal(0)


# ---------------------------------------------------------------- Successor, Predecessor


@operator("Successor", [INTEGER], INTEGER)
def successor_integer(a: int) -> int:
    if a >= INTEGER_MAX:
        raise CqlRuntimeError("The successor of the maximum Integer value cannot be represented")
    return a + 1


@operator("Successor", [LONG], LONG)
def successor_long(a: int) -> int:
    if a >= LONG_MAX:
        raise CqlRuntimeError("The successor of the maximum Long value cannot be represented")
    return make_long(a + 1)


@operator("Successor", [DECIMAL], DECIMAL)
def successor_decimal(a: Decimal) -> Decimal:
    result = _decimal(CONTEXT.add(a, DECIMAL_STEP))
    if result > DECIMAL_MAX:
        raise CqlRuntimeError("The successor of the maximum Decimal value cannot be represented")
    return result


@operator("Successor", [QUANTITY], QUANTITY)
def successor_quantity(a: Quantity) -> Quantity:
    return q.successor(a)


@operator("Predecessor", [INTEGER], INTEGER)
def predecessor_integer(a: int) -> int:
    if a <= INTEGER_MIN:
        raise CqlRuntimeError("The predecessor of the minimum Integer value cannot be represented")
    return a - 1


@operator("Predecessor", [LONG], LONG)
def predecessor_long(a: int) -> int:
    if a <= LONG_MIN:
        raise CqlRuntimeError("The predecessor of the minimum Long value cannot be represented")
    return make_long(a - 1)


@operator("Predecessor", [DECIMAL], DECIMAL)
def predecessor_decimal(a: Decimal) -> Decimal:
    result = _decimal(CONTEXT.subtract(a, DECIMAL_STEP))
    if result < DECIMAL_MIN:
        raise CqlRuntimeError("The predecessor of the minimum Decimal value cannot be represented")
    return result


@operator("Predecessor", [QUANTITY], QUANTITY)
def predecessor_quantity(a: Quantity) -> Quantity:
    return q.predecessor(a)


for _t in (DATE, DATETIME, TIME):
    operator("Successor", [_t], _t)(temporal.successor)
    operator("Predecessor", [_t], _t)(temporal.predecessor)


# ---------------------------------------------------------------- Precision, LowBoundary, HighBoundary


@operator("Precision", [DECIMAL], INTEGER)
def precision_decimal(a: Decimal) -> int:
    return decimal_places(a)


def _decimal_boundary(value: Decimal | None, precision: int | None, high: bool) -> Decimal | None:
    if value is None:
        return None
    digits = DECIMAL_SCALE if precision is None else precision
    if digits > DECIMAL_SCALE:
        return None
    if digits < 0:
        raise CqlRuntimeError(f"Boundary precision must not be negative, got {digits}")
    step = _ONE.scaleb(-digits)
    places = decimal_places(value)
    if digits <= places:
        return _decimal(value.quantize(step, ROUND_DOWN, CONTEXT))
    padded = value.quantize(step, context=CONTEXT)
    # The unwritten digits are unknown: all 0s at one end, all 9s at the other.
    spread = CONTEXT.subtract(_ONE.scaleb(-places), step)
    if value.is_signed():
        return _decimal(padded if high else CONTEXT.subtract(padded, spread))
    return _decimal(CONTEXT.add(padded, spread) if high else padded)


@operator("LowBoundary", [DECIMAL, INTEGER], DECIMAL, nulls=False)
def low_boundary_decimal(value: Decimal | None, precision: int | None) -> Decimal | None:
    return _decimal_boundary(value, precision, high=False)


@operator("HighBoundary", [DECIMAL, INTEGER], DECIMAL, nulls=False)
def high_boundary_decimal(value: Decimal | None, precision: int | None) -> Decimal | None:
    return _decimal_boundary(value, precision, high=True)


@operator("LowBoundary", [DECIMAL], DECIMAL)
def low_boundary_decimal_default(value: Decimal) -> Decimal | None:
    return _decimal_boundary(value, None, high=False)


@operator("HighBoundary", [DECIMAL], DECIMAL)
def high_boundary_decimal_default(value: Decimal) -> Decimal | None:
    return _decimal_boundary(value, None, high=True)


def _temporal_boundary(fn: Any) -> Any:
    def boundary(value: Any, precision: int | None = None) -> Any:
        return None if value is None else fn(value, precision)
    return boundary


_low_temporal = _temporal_boundary(temporal.low_boundary)
_high_temporal = _temporal_boundary(temporal.high_boundary)

for _t in (DATE, DATETIME, TIME):
    operator("Precision", [_t], INTEGER)(temporal.precision_digits)
    operator("LowBoundary", [_t, INTEGER], _t, nulls=False)(_low_temporal)
    operator("HighBoundary", [_t, INTEGER], _t, nulls=False)(_high_temporal)
    operator("LowBoundary", [_t], _t)(_low_temporal)
    operator("HighBoundary", [_t], _t)(_high_temporal)
