"""CQL numeric values: Integer, Long and Decimal.

Integer is a plain Python ``int`` (never a ``bool``), Long is :class:`Long`, an
``int`` subclass so that the two stay distinguishable at run time, and Decimal
is :class:`decimal.Decimal` kept to CQL's scale of 8 decimal places and range
of ``|x| < 10**28``.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from ..errors import CqlRuntimeError

INTEGER_MIN = -(2**31)
INTEGER_MAX = 2**31 - 1
LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1

DECIMAL_SCALE = 8
DECIMAL_STEP = Decimal("0.00000001")
DECIMAL_LIMIT = Decimal(10) ** 28
# The spec's minimum/maximum Decimal (28 digits, 8 of them after the point).
DECIMAL_MAX = Decimal("99999999999999999999.99999999")
DECIMAL_MIN = -DECIMAL_MAX

# Intermediate arithmetic runs at ample precision; results are then rounded to
# CQL's scale by :func:`make_decimal`.
CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP, Emin=-999999, Emax=999999,
                          traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


class Long(int):
    """A CQL Long (64-bit integer). Arithmetic on it returns plain ints, so
    operator implementations wrap their results with :func:`make_long`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}L"


def is_integer(value: object) -> bool:
    """True for a CQL Integer: an int that is neither a bool nor a Long."""
    return type(value) is int


def make_integer(value: int) -> int:
    """Check the Integer range; raise a run-time error on overflow."""
    if value < INTEGER_MIN or value > INTEGER_MAX:
        raise CqlRuntimeError(f"Integer overflow: {value} is outside the range of Integer")
    return int(value)


def make_long(value: int) -> Long:
    """Check the Long range; raise a run-time error on overflow."""
    if value < LONG_MIN or value > LONG_MAX:
        raise CqlRuntimeError(f"Long overflow: {value} is outside the range of Long")
    return Long(value)


def make_decimal(value: Decimal | int | str) -> Decimal:
    """Round to 8 decimal places (half up) and check CQL's Decimal range.

    A value with fewer decimal places keeps them (``1.5`` stays ``1.5``), so
    CQL's notion of a decimal's precision survives arithmetic.
    """
    if not isinstance(value, Decimal):
        value = Decimal(value)
    if not value.is_finite():
        raise CqlRuntimeError("Decimal result is not a finite number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -DECIMAL_SCALE:
        value = value.quantize(DECIMAL_STEP, context=CONTEXT)
    if abs(value) >= DECIMAL_LIMIT:
        raise CqlRuntimeError(f"Decimal overflow: {value} is outside the range of Decimal")
    return value


def decimal_places(value: Decimal) -> int:
    """Number of digits after the decimal point as written (``1.50`` → 2)."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
