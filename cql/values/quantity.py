"""CQL Quantity and Ratio values and their operations.

A :class:`Quantity` is a Decimal value with a unit: a UCUM unit (``'mg'``,
``'mL/min/{1.73_m2}'``), the unity ``'1'`` (a quantity without unit) or a CQL
calendar duration keyword (``'days'``, ``'year'``). A :class:`Ratio` is a pair
of quantities. Units are kept as written: nothing is converted except to
compute a result (the spec forbids implicit unit conversion).

Semantics (CQL 1.5, Appendix B):

* ``=``, ``<``, ...: values compare after converting to a common unit; null
  when the units are not commensurable (``3 'cm2' = 3 'cm'``), and for
  calendar years/months against definite durations (``1 year = 1 'a'``).
* ``~``: conversion, then decimal equivalence (values rounded to the
  precision of the less precise operand, trailing zeros ignored); false when
  not commensurable; ``1 year ~ 1 'a'``, ``1 year ~ 365 days``.
* ``+``/``-``: the result is in the more granular unit of the two
  (``1 'm' + 1 'cm'`` is ``101 'cm'``); null when not commensurable.
* ``*``/``/``: the unit of the result is the product or quotient unit
  (``'cm' * 'cm'`` is ``'cm2'``, equal units divide to ``'1'``); division by
  zero is null.
* ``div``/``mod``: both operands in the more granular unit, the result keeps
  it (``10.0 'g' div 5.0 'g'`` is ``2.0 'g'``, as the conformance tests
  require); zero divisor or units that are not commensurable give null.

Module functions take non-null arguments (callers handle null). Every
Decimal result goes through :func:`~cql.values.numbers.make_decimal`. An
invalid unit raises :class:`~cql.ucum.UcumError`; a conversion the engine
does not support (non-linear units) raises
:class:`~cql.errors.CqlUnsupportedError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction

from .. import ucum as _ucum
from ..errors import CqlRuntimeError, CqlUnsupportedError
from ..lexer import decode_escapes
from .numbers import CONTEXT, DECIMAL_MAX, DECIMAL_MIN, DECIMAL_STEP, make_decimal

__all__ = [
    "Quantity", "Ratio", "abs_", "add", "can_convert_quantity", "convert_quantity", "divide", "modulo",
    "multiply", "negate", "parse_quantity_string", "parse_ratio_string", "predecessor", "ratio_to_quantity",
    "subtract", "successor", "truncated_divide",
]


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text[1:] if text.startswith("-") and not value else text


def _string_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A CQL Quantity. ``value`` is a Decimal (an int is accepted and
    converted); a missing or empty unit is the unity ``'1'``."""

    value: Decimal
    unit: str = "1"

    def __post_init__(self) -> None:
        if type(self.value) is not Decimal:
            if isinstance(self.value, int) and not isinstance(self.value, bool):
                object.__setattr__(self, "value", Decimal(self.value))
            elif not isinstance(self.value, Decimal):
                raise TypeError(f"Quantity value must be a Decimal, not {type(self.value).__name__}")
        if not self.unit:
            object.__setattr__(self, "unit", "1")

    def cql_equal(self, other: Quantity) -> bool | None:
        """CQL ``=``: None when the units are not commensurable."""
        if self.unit == other.unit:
            _ucum.parse_unit(self.unit)
            return self.value == other.value
        conv = _ucum.conversion(other.unit, self.unit)
        if conv is None:
            return None
        scale, offset = conv
        return Fraction(self.value) == Fraction(other.value) * scale + offset

    def cql_equivalent(self, other: Quantity) -> bool:
        """CQL ``~``: decimal equivalence after conversion; False when the
        units are not commensurable."""
        if self.unit == other.unit:
            _ucum.parse_unit(self.unit)
            return _decimal_equivalent(self.value, other.value)
        pair = _in_common_unit(self, other, equivalence=True)
        if pair is None:
            return False
        return _decimal_equivalent(pair[0], pair[1])

    def cql_compare(self, other: Quantity) -> int | None:
        """Ordering: -1, 0 or 1; None when the units are not commensurable."""
        if self.unit == other.unit:
            _ucum.parse_unit(self.unit)
            a, b = self.value, other.value
            return (a > b) - (a < b)
        conv = _ucum.conversion(other.unit, self.unit)
        if conv is None:
            return None
        scale, offset = conv
        a_exact, b_exact = Fraction(self.value), Fraction(other.value) * scale + offset
        return (a_exact > b_exact) - (a_exact < b_exact)

    def to_cql(self) -> str:
        """``5 'mg'``, ``1.5 'cm'``, ``3 days``, ``1 day``, ``2 '1'``."""
        text = _decimal_text(self.value)
        keyword = _ucum.calendar_keyword(self.unit)
        if keyword is not None:
            return f"{text} {keyword if abs(self.value) == 1 else _ucum.CALENDAR_PLURALS[keyword]}"
        return f"{text} {_string_literal(self.unit)}"

    def __str__(self) -> str:
        return self.to_cql()


@dataclass(frozen=True, slots=True)
class Ratio:
    """A CQL Ratio of two (non-null) quantities."""

    numerator: Quantity
    denominator: Quantity

    def __post_init__(self) -> None:
        if type(self.numerator) is not Quantity or type(self.denominator) is not Quantity:
            raise TypeError("Ratio numerator and denominator must be Quantity values")

    def cql_equal(self, other: Ratio) -> bool | None:
        """CQL ``=``: numerators and denominators equal (so ``1:8 = 2:16`` is false)."""
        numerators = self.numerator.cql_equal(other.numerator)
        if numerators is False:
            return False
        denominators = self.denominator.cql_equal(other.denominator)
        if denominators is False:
            return False
        return None if numerators is None or denominators is None else True

    def cql_equivalent(self, other: Ratio) -> bool:
        """CQL ``~``: the ratios represent the same value (``1:100 ~ 10:1000``)."""
        if not self.denominator.value or not other.denominator.value:
            return self.numerator.cql_equivalent(other.numerator) \
                and self.denominator.cql_equivalent(other.denominator)
        mine, theirs = _ratio_value(self), _ratio_value(other)
        return mine.cql_equivalent(theirs)

    def to_cql(self) -> str:
        """``1 'mg':2 'mL'``."""
        return f"{self.numerator.to_cql()}:{self.denominator.to_cql()}"

    def __str__(self) -> str:
        return self.to_cql()


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _places(value: Decimal) -> int:
    """Digits after the decimal point, trailing zeros ignored."""
    exponent = value.normalize(CONTEXT).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _decimal_equivalent(a: Decimal, b: Decimal) -> bool:
    """Decimal equivalence: equal when rounded (half up) to the precision of
    the less precise operand, trailing zeros ignored."""
    step = Decimal(1).scaleb(-min(_places(a), _places(b)))
    return a.quantize(step, ROUND_HALF_UP, CONTEXT) == b.quantize(step, ROUND_HALF_UP, CONTEXT)


def _in_common_unit(a: Quantity, b: Quantity, equivalence: bool = False) -> tuple[Decimal, Decimal, str] | None:
    """Both values in the more granular of the two units (60 digits, not yet
    rounded) and that unit; None when the units are not commensurable."""
    conv = _ucum.conversion(b.unit, a.unit, equivalence)
    if conv is None:
        return None
    scale, offset = conv
    if offset or scale >= 1:  # a's unit is the finer one (or equal in size)
        return a.value, _ucum.apply_conversion(b.value, conv), a.unit
    back = _ucum.conversion(a.unit, b.unit, equivalence)
    assert back is not None
    return _ucum.apply_conversion(a.value, back), b.value, b.unit


def _arithmetic_operands(a: Quantity, b: Quantity) -> tuple[Decimal, Decimal, str] | None:
    """Operands of +, -, div and mod with different units: both in the more
    granular unit; None when not commensurable. Temperatures on different
    scales (Cel and K...) are not added or divided: that would need to know
    whether each is a temperature or a difference of temperatures."""
    common = _in_common_unit(a, b)
    if common is not None and (_ucum.parse_unit(a.unit).affine or _ucum.parse_unit(b.unit).affine):
        raise CqlUnsupportedError(
            f"Arithmetic on temperatures in different scales ('{a.unit}' and '{b.unit}') is not supported")
    return common


def _ratio_value(r: Ratio) -> Quantity:
    result = divide(r.numerator, r.denominator)
    assert result is not None  # the denominator is not zero
    return result


# ---------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------

def add(a: Quantity, b: Quantity) -> Quantity | None:
    """``a + b`` in the more granular unit; None when not commensurable."""
    if a.unit == b.unit:
        _ucum.parse_unit(a.unit)
        return Quantity(make_decimal(CONTEXT.add(a.value, b.value)), a.unit)
    common = _arithmetic_operands(a, b)
    if common is None:
        return None
    return Quantity(make_decimal(CONTEXT.add(common[0], common[1])), common[2])


def subtract(a: Quantity, b: Quantity) -> Quantity | None:
    """``a - b`` in the more granular unit; None when not commensurable."""
    if a.unit == b.unit:
        _ucum.parse_unit(a.unit)
        return Quantity(make_decimal(CONTEXT.subtract(a.value, b.value)), a.unit)
    common = _arithmetic_operands(a, b)
    if common is None:
        return None
    return Quantity(make_decimal(CONTEXT.subtract(common[0], common[1])), common[2])


def multiply(a: Quantity, b: Quantity) -> Quantity:
    """``a * b`` with the product unit (``'cm' * 'cm'`` is ``'cm2'``).
    Multiplying by a Decimal: pass ``Quantity(d, '1')``."""
    if b.unit == "1":
        _ucum.parse_unit(a.unit)
        unit, factor = a.unit, Fraction(1)
    elif a.unit == "1":
        _ucum.parse_unit(b.unit)
        unit, factor = b.unit, Fraction(1)
    else:
        factor, unit = _ucum.product(a.unit, b.unit)
    value = CONTEXT.multiply(a.value, b.value)
    if factor != 1:  # pragma: no cover - products never need a factor
        value = _ucum.apply_conversion(value, (factor, Fraction(0)))
    return Quantity(make_decimal(value), unit)


def divide(a: Quantity, b: Quantity) -> Quantity | None:
    """``a / b`` with the quotient unit (equal units give ``'1'``); None when
    ``b`` is zero."""
    if not b.value:
        return None
    if b.unit == "1":
        _ucum.parse_unit(a.unit)
        unit, factor = a.unit, Fraction(1)
    elif a.unit == b.unit:
        _ucum.parse_unit(a.unit)
        unit, factor = "1", Fraction(1)
    else:
        factor, unit = _ucum.quotient(a.unit, b.unit)
    value = CONTEXT.divide(a.value, b.value)
    if factor != 1:
        value = _ucum.apply_conversion(value, (factor, Fraction(0)))
    return Quantity(make_decimal(value), unit)


def _div_operands(a: Quantity, b: Quantity) -> tuple[Decimal, Decimal, str] | None:
    if b.unit == "1" or a.unit == b.unit:
        _ucum.parse_unit(a.unit)
        return a.value, b.value, a.unit
    return _arithmetic_operands(a, b)


def truncated_divide(a: Quantity, b: Quantity) -> Quantity | None:
    """``a div b``: the truncated quotient, in the unit of the operands (the
    more granular one if they differ; ``a``'s when ``b`` is unitless). None
    for a zero divisor or units that are not commensurable."""
    operands = _div_operands(a, b)
    if operands is None or not operands[1]:
        return None
    x, y, unit = operands
    quotient = CONTEXT.divide(x, y).quantize(Decimal(1), ROUND_DOWN, CONTEXT)
    return Quantity(make_decimal(quotient), unit)


def modulo(a: Quantity, b: Quantity) -> Quantity | None:
    """``a mod b``: the remainder of truncated division (sign of ``a``), in the
    unit of the operands. None for a zero divisor or units that are not
    commensurable."""
    operands = _div_operands(a, b)
    if operands is None or not operands[1]:
        return None
    x, y, unit = operands
    return Quantity(make_decimal(CONTEXT.remainder(x, y)), unit)


def negate(a: Quantity) -> Quantity:
    """``-a``; the unit is unchanged."""
    return Quantity(make_decimal(CONTEXT.minus(a.value)), a.unit)


def abs_(a: Quantity) -> Quantity:
    """``Abs(a)``; the unit is unchanged."""
    return Quantity(make_decimal(CONTEXT.abs(a.value)), a.unit)


def predecessor(a: Quantity) -> Quantity:
    """``predecessor of a``: the value minus the Decimal step (10^-8), as the
    conformance tests require; the unit is unchanged. Raises
    :class:`~cql.errors.CqlRuntimeError` below the minimum Decimal."""
    value = make_decimal(CONTEXT.subtract(a.value, DECIMAL_STEP))
    if value < DECIMAL_MIN:
        raise CqlRuntimeError("The predecessor of the minimum Quantity value cannot be represented")
    return Quantity(value, a.unit)


def successor(a: Quantity) -> Quantity:
    """``successor of a``: the value plus the Decimal step (10^-8); the unit is
    unchanged. Raises :class:`~cql.errors.CqlRuntimeError` above the maximum Decimal."""
    value = make_decimal(CONTEXT.add(a.value, DECIMAL_STEP))
    if value > DECIMAL_MAX:
        raise CqlRuntimeError("The successor of the maximum Quantity value cannot be represented")
    return Quantity(value, a.unit)


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

def convert_quantity(q: Quantity, unit: str) -> Quantity | None:
    """``convert q to unit`` / ConvertQuantity: None when the units are not
    commensurable. Raises :class:`~cql.ucum.UcumError` for an invalid unit."""
    value = _ucum.convert(q.value, q.unit, unit)
    return None if value is None else Quantity(value, unit)


def can_convert_quantity(q: Quantity, unit: str) -> bool:
    """CanConvertQuantity. Raises :class:`~cql.ucum.UcumError` for an invalid unit."""
    return _ucum.commensurable(q.unit, unit)


def ratio_to_quantity(r: Ratio) -> Quantity | None:
    """ToQuantity(Ratio): the numerator divided by the denominator."""
    return divide(r.numerator, r.denominator)


_QUANTITY = re.compile(
    r"([+-]?[0-9]+(?:\.[0-9]+)?)"                   # value
    r"(?:\s*'((?:[^'\\]|\\.)*)'|\s+([a-z]+))?"      # 'unit' or calendar keyword
)
_RATIO_SEPARATOR = re.compile(r"\s*:\s*")


def _quantity_from_match(match: re.Match[str]) -> Quantity | None:
    number, quoted, keyword = match.groups()
    if keyword is not None:
        if keyword not in _ucum.CALENDAR_UNITS:
            return None
        unit = keyword
    elif quoted is not None:
        unit = decode_escapes(quoted)
        if unit is None or not _ucum.is_valid_unit(unit):
            return None
    else:
        unit = "1"
    try:
        value = make_decimal(Decimal(number))
    except CqlRuntimeError:
        return None
    if value > DECIMAL_MAX or value < DECIMAL_MIN:
        return None
    return Quantity(value, unit or "1")


def parse_quantity_string(s: str) -> Quantity | None:
    """ToQuantity(String): ``(+|-)?#0(.0#)?`` optionally followed (after
    optional spaces) by a quoted UCUM unit or calendar keyword (``'5.5 \\'cm\\''``,
    ``'-0.1'``, ``'3 \\'days\\''``), or by an unquoted calendar keyword so that
    ToString output such as ``'4 days'`` converts back. None when malformed or
    when the unit is not valid."""
    match = _QUANTITY.fullmatch(s)
    return None if match is None else _quantity_from_match(match)


def parse_ratio_string(s: str) -> Ratio | None:
    """ToRatio(String): ``<quantity>:<quantity>`` (``'1.0 \\'mg\\':2.0 \\'mg\\''``);
    None when malformed."""
    first = _QUANTITY.match(s)
    if first is None:
        return None
    separator = _RATIO_SEPARATOR.match(s, first.end())
    if separator is None:
        return None
    second = _QUANTITY.fullmatch(s, separator.end())
    if second is None:
        return None
    numerator, denominator = _quantity_from_match(first), _quantity_from_match(second)
    if numerator is None or denominator is None:
        return None
    return Ratio(numerator, denominator)
