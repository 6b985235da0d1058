"""Tests for cql.values.quantity: Quantity and Ratio values and operations.

Tests named after a conformance test (CqlArithmeticFunctionsTest.xml,
CqlComparisonOperatorsTest.xml, ...) encode the value-level behaviour that
test needs; the others come from the examples of the CQL 1.5 specification.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cql.errors import CqlRuntimeError, CqlUnsupportedError
from cql.ucum import UcumError
from cql.values.numbers import DECIMAL_MAX, DECIMAL_MIN
from cql.values.quantity import (
    Quantity,
    Ratio,
    abs_,
    add,
    can_convert_quantity,
    convert_quantity,
    divide,
    modulo,
    multiply,
    negate,
    parse_quantity_string,
    parse_ratio_string,
    predecessor,
    ratio_to_quantity,
    subtract,
    successor,
    truncated_divide,
)


def Q(text: str) -> Quantity:
    """A quantity from CQL literal text: ``Q("1.0 'cm'")``, ``Q("3 days")``, ``Q("5")``."""
    q = parse_quantity_string(text)
    assert q is not None, text
    return q


def R(text: str) -> Ratio:
    r = parse_ratio_string(text)
    assert r is not None, text
    return r


def same(actual: Quantity | None, expected: str) -> bool:
    """Equal value (trailing zeros ignored) and the same unit spelling."""
    e = Q(expected)
    return actual is not None and actual.value == e.value and actual.unit == e.unit


def eq(a: str, b: str) -> bool | None:
    return Q(a).cql_equal(Q(b))


def equiv(a: str, b: str) -> bool:
    return Q(a).cql_equivalent(Q(b))


def cmp(a: str, b: str) -> int | None:
    return Q(a).cql_compare(Q(b))


# ---------------------------------------------------------------------------
# Construction and rendering
# ---------------------------------------------------------------------------

def test_construction() -> None:
    q = Quantity(Decimal("5"), "mg")
    assert q.value == Decimal(5) and q.unit == "mg"
    assert Quantity(Decimal("1")).unit == "1"
    assert Quantity(5, "mg").value == Decimal(5)  # an int is accepted
    assert type(Quantity(5, "mg").value) is Decimal
    assert Quantity(Decimal(2), "").unit == "1"
    with pytest.raises(TypeError):
        Quantity(1.5, "mg")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Quantity(True, "mg")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Ratio(Q("1"), None)  # type: ignore[arg-type]


def test_values_are_immutable_and_hashable() -> None:
    q = Q("1.0 'cm'")
    with pytest.raises(AttributeError):
        q.value = Decimal(2)  # type: ignore[misc]
    assert q == Q("1.00 'cm'") and hash(q) == hash(Q("1.00 'cm'"))
    assert hash(R("1 'mg':2 'mL'")) == hash(R("1 'mg':2 'mL'"))


@pytest.mark.parametrize(("quantity", "text"), [
    (Quantity(Decimal("5"), "mg"), "5 'mg'"),
    (Quantity(Decimal("1.5"), "cm"), "1.5 'cm'"),
    (Quantity(Decimal("125"), "cm"), "125 'cm'"),  # QuantityToString
    (Quantity(Decimal("5.5"), "cm"), "5.5 'cm'"),  # Quantity5D5CMToString
    (Quantity(Decimal("-0.1"), "mg"), "-0.1 'mg'"),
    (Quantity(Decimal("1.50"), "cm"), "1.50 'cm'"),
    (Quantity(Decimal("2"), "1"), "2 '1'"),
    (Quantity(Decimal("3"), "days"), "3 days"),
    (Quantity(Decimal("4"), "day"), "4 days"),  # ToString(4 days) is '4 days'
    (Quantity(Decimal("1"), "days"), "1 day"),
    (Quantity(Decimal("1.5"), "year"), "1.5 years"),
    (Quantity(Decimal("150.2"), "[lb_av]"), "150.2 '[lb_av]'"),
    (Quantity(Decimal("2.5589"), "{eskimo_kisses}"), "2.5589 '{eskimo_kisses}'"),
    (Quantity(Decimal("1"), "[arb'U]"), "1 '[arb\\'U]'"),
    (Quantity(Decimal("1E+2"), "mg"), "100 'mg'"),
    (Quantity(Decimal("-0.0"), "mg"), "0.0 'mg'"),
])
def test_to_cql(quantity: Quantity, text: str) -> None:
    assert quantity.to_cql() == text
    assert str(quantity) == text
    assert quantity.cql_equal(Q(text)) is True  # round trip


def test_ratio_to_cql() -> None:
    assert R("1 'mg':2 'mL'").to_cql() == "1 'mg':2 'mL'"
    assert R("-0.1 'mg':0.1 'mg'").to_cql() == "-0.1 'mg':0.1 'mg'"
    assert R("1:128").to_cql() == "1 '1':128 '1'"
    assert parse_ratio_string(R("1:128").to_cql()) == R("1:128")


# ---------------------------------------------------------------------------
# ToQuantity / ToRatio string formats
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value", "unit"), [
    ("5.5 'cm'", "5.5", "cm"),  # String5D5CMToQuantity
    ("5.5", "5.5", "1"),
    ("-0.1 'mg'", "-0.1", "mg"),
    ("+2 'g'", "2", "g"),
    ("5.5'cm'", "5.5", "cm"),
    ("5.5   'cm'", "5.5", "cm"),
    ("3 'days'", "3", "days"),
    ("4 days", "4", "days"),
    ("1 year", "1", "year"),
    ("2.5589 '{eskimo_kisses}'", "2.5589", "{eskimo_kisses}"),
    ("1 '[arb\\'U]'", "1", "[arb'U]"),
    ("1 'mL/min/{1.73_m2}'", "1", "mL/min/{1.73_m2}"),
    ("5.999999999 'g'", "6.00000000", "g"),  # QuantityFractionalTooBig: rounded to scale 8
    ("007", "7", "1"),
])
def test_parse_quantity_string(text: str, value: str, unit: str) -> None:
    q = parse_quantity_string(text)
    assert q is not None
    assert q.value == Decimal(value) and q.unit == unit


@pytest.mark.parametrize("text", [
    "444 'cm", ".5", "5.", "5 'foo'", "5 'mmHg'", "5 foo", "5days", "5 Days", "abc", "", " 5", "5 ",
    "5 'cm' x", "1e3", "--5", "5.5.5", "5 'cm'extra", "5 '\\q'", "999999999999999999999 'g'", "5 \"cm\"",
])
def test_parse_quantity_string_malformed(text: str) -> None:
    assert parse_quantity_string(text) is None


def test_parse_quantity_string_escapes() -> None:
    assert parse_quantity_string("1 '\\u0067'") == Quantity(Decimal(1), "g")


def test_parse_ratio_string() -> None:
    assert parse_ratio_string("1.0 'mg':2.0 'mg'") == Ratio(Q("1.0 'mg'"), Q("2.0 'mg'"))
    assert parse_ratio_string("1:128") == Ratio(Q("1"), Q("128"))
    assert parse_ratio_string("5 'mg' : 10 'mL'") == Ratio(Q("5 'mg'"), Q("10 'mL'"))
    assert parse_ratio_string("1.0 'mg';2.0 'mg'") is None
    assert parse_ratio_string("1.0 'mg':") is None
    assert parse_ratio_string("1.0 'mg':2 'foo'") is None
    assert parse_ratio_string("1:2:3") is None


# ---------------------------------------------------------------------------
# Equality, equivalence, ordering (CqlComparisonOperatorsTest)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1 'cm'", "1 'cm'", True),  # QuantityEqCM1CM1
    ("1 'cm'", "0.01 'm'", True),  # QuantityEqCM1M01
    ("2.0 'cm'", "2.00 'cm'", True),  # QuantityEqDiffPrecision
    ("1 'cm'", "2 'cm'", False),
    ("1 'm'", "100 'cm'", True),
    ("3.5 'cm2'", "3.5 'cm'", None),  # QuantityEqualIsNull (spec)
    ("1 'mg'", "1 'mL'", None),
    ("5", "5 '1'", True),
    ("50 '%'", "0.5", True),
    ("2.5589 '{eskimo_kisses}'", "2.5589", True),  # annotations are unity
    ("100 'mg/dL'", "1 'g/L'", True),
    ("1 '[lb_av]'", "453.59237 'g'", True),
    ("10 'm[IU]/mL'", "10 '[IU]/L'", True),
    ("1 '[IU]'", "1 '[arb\\'U]'", None),
    ("37 'Cel'", "98.6 '[degF]'", True),
    ("0 'Cel'", "273.15 'K'", True),
    ("60 'mL/min/{1.73_m2}'", "60 'mL/min'", True),
])
def test_equal(a: str, b: str, expected: bool | None) -> None:
    assert eq(a, b) is expected
    assert eq(b, a) is expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    # CqlComparisonOperatorsTest, group "Unit Comparison"
    ("1 millisecond", "1 'ms'", True),
    ("1 millisecond", "1 milliseconds", True),
    ("1 milliseconds", "1 'ms'", True),
    ("1 second", "1 's'", True),
    ("1 second", "1 seconds", True),
    ("1 seconds", "1 's'", True),
    ("1 minute", "1 'min'", True),
    ("1 minute", "1 minutes", True),
    ("1 minutes", "1 'min'", True),
    ("1 hour", "1 'h'", True),
    ("1 hour", "1 hours", True),
    ("1 hours", "1 'h'", True),
    ("1 day", "1 'd'", True),
    ("1 day", "1 days", True),
    ("1 days", "1 'd'", True),
    ("1 week", "1 'wk'", True),
    ("1 week", "1 weeks", True),
    ("1 weeks", "1 'wk'", True),
    ("1 month", "1 'mo'", None),  # TestQuantityMonthEqualMo
    ("1 month", "1 months", True),
    ("1 months", "1 'mo'", None),
    ("1 year", "1 'a'", None),  # TestQuantityYearEqualA
    ("1 years", "1 year", True),
    ("1 years", "1 'a'", None),
    ("1 week", "7 days", True),  # TestWeekEqualDays
    ("1 day", "24 hours", True),  # TestDayEqualHours
    ("1 hour", "60 minutes", True),  # TestHourEqualMinutes
    ("1 minute", "60 seconds", True),  # TestMinuteEqualSeconds
    ("1 second", "1000 milliseconds", True),  # TestSecondEqualMilliseconds
    # the spec's calendar duration rules
    ("1 year", "12 months", True),
    ("1 year", "13 months", False),
    ("1 year", "365 days", None),
    ("1 month", "30 days", None),
    ("1 year", "52 weeks", None),
    ("1 'a'", "12 'mo'", True),  # UCUM definite durations convert among themselves
    ("1 'a'", "365.25 days", True),
    ("1 'a'", "365 days", False),
    ("1 'wk'", "7 'd'", True),
    ("1 day", "1 'mg'", None),
])
def test_equal_time_valued_quantities(a: str, b: str, expected: bool | None) -> None:
    assert eq(a, b) is expected
    assert eq(b, a) is expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1 'cm'", "1 'cm'", True),  # EquivEqCM1CM1
    ("1 'cm'", "0.01 'm'", True),  # EquivEqCM1M01
    ("100 'cm'", "1 'm'", True),  # spec example
    ("3.5 'cm2'", "3.5 'cm'", False),  # QuantityEquivalentIsFalse (spec)
    ("1 'mg'", "1 'mL'", False),
    ("1.0 'cm'", "1.00 'cm'", True),
    ("1.5 'cm'", "1.55 'cm'", False),  # decimal equivalence, as for Decimal 1.5 ~ 1.55
    ("1.001 'cm'", "1.000 'cm'", True),  # trailing zeros are ignored for precision
    ("1 'm'", "101 'cm'", False),  # compared in the more granular unit
    ("1.5 'm'", "151 'cm'", False),
    ("1 '[IU]'", "1 '[arb\\'U]'", False),
    ("37 'Cel'", "98.6 '[degF]'", True),
    # CqlComparisonOperatorsTest, group "Unit Comparison"
    ("1 month", "1 'mo'", True),  # TestQuantityMonthEquivalentMo
    ("1 months", "1 'mo'", True),
    ("1 year", "1 'a'", True),  # TestQuantityYearEquivalentA
    ("1 years", "1 'a'", True),
    ("1 year", "12 months", True),  # TestYearEquivalentMonths
    ("1 year", "365 days", True),  # TestYearEquivalentDays
    ("1 month", "30 days", True),  # TestMonthEquivalentDays
    ("1 week", "1 'wk'", True),
    ("1 day", "1 'd'", True),
    ("1 millisecond", "1 'ms'", True),
    # consequences of the same rules
    ("2 years", "730 days", True),
    ("6 months", "180 days", True),
    ("1 year", "24 'mo'", False),
    ("2 years", "24 'mo'", True),
    ("1 year", "366 days", False),
    ("1 month", "5 weeks", False),
    ("1 month", "4 weeks", True),  # 30 days is 4.29 weeks: 4 at the precision of '4 weeks'
    ("1 month", "4.0 weeks", True),  # trailing zeros do not add precision
    ("1 month", "4.3 weeks", True),
    ("1 month", "4.2 weeks", False),
    ("1 year", "1 'mg'", False),
    ("1 'a'", "365.25 'd'", True),
])
def test_equivalent(a: str, b: str, expected: bool) -> None:
    assert equiv(a, b) is expected
    assert equiv(b, a) is expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("0 'cm'", "0 'cm'", 0),  # GreaterCM0CM0 and the other CM0CM0 tests
    ("0 'cm'", "1 'cm'", -1),  # GreaterCM0CM1, LessCM0CM1, ...
    ("0 'cm'", "-1 'cm'", 1),  # GreaterCM0NegCM1, ...
    ("1 'm'", "1 'cm'", 1),  # GreaterM1CM1, LessM1CM1, ...
    ("1 'm'", "10 'cm'", 1),  # GreaterM1CM10, ...
    ("5 'cm'", "1 'm'", -1),
    ("3.6 'cm2'", "3.5 'cm'", None),  # QuantityGreaterIsNull (spec)
    ("1 '[lb_av]'", "1 'kg'", -1),
    ("19.99 '[lb_av]'", "17.33 '[lb_av]'", 1),  # quantityList (Sort)
    ("2.5 'mg'", "2.50000000 'mg'", 0),  # TestOnOrAfterQuantityTrue
    ("1.666 'mg'", "1.666 'mg'", 0),
    ("12.0 'g'", "10.0 'g'", 1),
    ("37.5 'Cel'", "99 '[degF]'", 1),
    ("1 year", "11 months", 1),
    ("1 year", "400 days", None),
    ("1 month", "1 'mo'", None),
    ("1 day", "23 'h'", 1),
    ("100 'mg/dL'", "1.1 'g/L'", -1),
])
def test_compare(a: str, b: str, expected: int | None) -> None:
    assert cmp(a, b) == expected
    assert cmp(b, a) == (None if expected is None else -expected)


def test_invalid_units_raise_in_comparisons() -> None:
    for op in (Quantity.cql_equal, Quantity.cql_equivalent, Quantity.cql_compare):
        with pytest.raises(UcumError):
            op(Quantity(Decimal(1), "mmHg"), Quantity(Decimal(1), "kPa"))
        with pytest.raises(UcumError):
            op(Quantity(Decimal(1), "foo"), Quantity(Decimal(1), "foo"))


def test_nonlinear_units_raise_unsupported_in_comparisons() -> None:
    assert eq("7.4 '[pH]'", "7.4 '[pH]'") is True
    with pytest.raises(CqlUnsupportedError):
        eq("1 'B[V]'", "1 'V'")
    with pytest.raises(CqlUnsupportedError):
        equiv("3 'dB'", "0.3 'B'")
    assert eq("1 'B'", "1 'm'") is None  # not the same dimension anyway


# ---------------------------------------------------------------------------
# Ratio equality and equivalence
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1 'cm':2 'cm'", "1 'cm':2 'cm'", True),  # RatioEqual
    ("1 'cm':2 'cm'", "1.1 'cm':2 'cm'", False),  # RatioNotEqualDiffNumerator
    ("1 'cm':2 'cm'", "1 'cm':2.1 'cm'", False),  # RatioNotEqualDiffDenominator
    ("1:8", "1:8", True),  # RatioEqualIsTrue (spec)
    ("1:8", "2:16", False),  # RatioEqualIsFalse (spec)
    ("1:100", "10:1000", False),
    ("1 'mg':2 'mL'", "1000 'ug':2 'mL'", True),  # quantity equality for each part
    ("1 'mg':2 'mL'", "1 'mg':2 'g'", None),
    ("1 'mg':2 'mL'", "2 'mg':2 'g'", False),
])
def test_ratio_equal(a: str, b: str, expected: bool | None) -> None:
    assert R(a).cql_equal(R(b)) is expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1 'cm':2 'cm'", "1 'cm':2 'cm'", True),  # RatioEquivalent
    ("1 'cm':2 'cm'", "3 'cm':2 'cm'", False),  # RatioNotEquivalentDiffNumerator
    ("1 'cm':2 'cm'", "1 'cm':3 'cm'", False),  # RatioNotEquivalentDiffDenominator
    ("1:8", "2:16", True),  # RatioEquivalentIsTrue (spec)
    ("1:100", "10:1000", True),  # spec
    ("1:3", "2:6", True),
    ("1:3", "1:3.0001", False),
    ("1 'mg':2 'mL'", "500 'ug':1 'mL'", True),
    ("1 'mg':1 'mL'", "1 'mg':1 'g'", False),
    ("1:0", "1:0", True),
    ("1:0", "2:0", False),
    ("0:1", "0:2", True),
])
def test_ratio_equivalent(a: str, b: str, expected: bool) -> None:
    assert R(a).cql_equivalent(R(b)) is expected
    assert R(b).cql_equivalent(R(a)) is expected


# ---------------------------------------------------------------------------
# Arithmetic (CqlArithmeticFunctionsTest and spec examples)
# ---------------------------------------------------------------------------

def test_abs_and_negate() -> None:
    assert same(abs_(Q("-1.0 'cm'")), "1.0 'cm'")  # Abs1cm
    assert same(abs_(Q("-5.5 'mg'")), "5.5 'mg'")  # QuantityAbs (spec)
    assert same(negate(Q("1 'cm'")), "-1.0 'cm'")  # Negate1CM
    assert same(negate(Q("-3.3 'mg'")), "3.3 'mg'")
    assert negate(Q("2 days")).unit == "days"


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1 'g/cm3'", "1 'g/cm3'", "2.0 'g/cm3'"),  # Add1Q1Q
    ("-5.5 'mg'", "2 'mg'", "-3.5 'mg'"),  # QuantityAdd (spec)
    ("1 'm'", "1 'cm'", "101 'cm'"),  # the most granular unit of either input
    ("1 'cm'", "1 'm'", "101 'cm'"),
    ("1 'kg'", "1 'g'", "1001 'g'"),
    ("1 'h'", "1 'min'", "61 'min'"),
    ("1 'mg/dL'", "1 'g/L'", "101 'mg/dL'"),
    ("1 'L'", "1 'dm3'", "2 'L'"),  # same size: the left unit
    ("1 year", "1 month", "13 month"),
    ("1 day", "2 hours", "26 hours"),
    ("1 'd'", "2 hours", "26 hours"),
    ("1 day", "1 days", "2 day"),
    ("1 'ml'", "2 'ml'", "3 'ml'"),
    ("1", "2", "3"),
    ("1 '[lb_av]'", "1 'kg'", "3.20462262 '[lb_av]'"),
    ("20 'Cel'", "5 'Cel'", "25 'Cel'"),
])
def test_add(a: str, b: str, expected: str) -> None:
    assert same(add(Q(a), Q(b)), expected)


@pytest.mark.parametrize(("a", "b"), [
    ("-5.5 'cm'", "2 'cm2'"),  # QuantityAddIsNull (spec)
    ("1 'mg'", "1 'mL'"),
    ("1 year", "1 day"),  # years do not convert to days
    ("1 year", "1 'a'"),
    ("1 month", "1 'wk'"),
    ("1 '[IU]'", "1"),
])
def test_add_not_commensurable(a: str, b: str) -> None:
    assert add(Q(a), Q(b)) is None
    assert subtract(Q(a), Q(b)) is None


def test_add_sum_of_list() -> None:
    # SumTestQuantity: Sum({1 'ml',2 'ml',3 'ml',4 'ml',5 'ml'}) = 15 'ml'
    total = Q("1 'ml'")
    for text in ("2 'ml'", "3 'ml'", "4 'ml'", "5 'ml'"):
        result = add(total, Q(text))
        assert result is not None
        total = result
    assert same(total, "15 'ml'")


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.0 'cm'", "2.0 'cm'", "-1.0 'cm'"),  # Subtract1CMAnd2CM
    ("3.14 'mg'", "3.12 'mg'", "0.02 'mg'"),  # QuantitySubtract (spec)
    ("10.0 'g'", "5.0 'g'", "5.0 'g'"),  # QuantityIntervalTestWidth5 (width = end - start)
    ("1 'm'", "1 'cm'", "99 'cm'"),
    ("1 'cm'", "1 'm'", "-99 'cm'"),
    ("1 year", "1 month", "11 month"),
])
def test_subtract(a: str, b: str, expected: str) -> None:
    assert same(subtract(Q(a), Q(b)), expected)


def test_mixed_temperature_scales_in_arithmetic_are_unsupported() -> None:
    with pytest.raises(CqlUnsupportedError):
        add(Q("20 'Cel'"), Q("50 '[degF]'"))
    with pytest.raises(CqlUnsupportedError):
        subtract(Q("300 'K'"), Q("20 'Cel'"))
    with pytest.raises(CqlUnsupportedError):
        modulo(Q("300 'K'"), Q("20 'Cel'"))
    assert add(Q("20 'Cel'"), Q("1 'mg'")) is None  # not commensurable at all


def test_arithmetic_with_invalid_unit_raises() -> None:
    with pytest.raises(UcumError):
        add(Q("1"), Quantity(Decimal(1), "foo"))
    with pytest.raises(UcumError):
        add(Quantity(Decimal(1), "foo"), Quantity(Decimal(1), "foo"))
    with pytest.raises(UcumError):
        multiply(Quantity(Decimal(1), "foo"), Q("2"))
    with pytest.raises(UcumError):
        divide(Quantity(Decimal(1), "foo"), Q("2 'mg'"))


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.0 'cm'", "2.0 'cm'", "2.0 'cm2'"),  # Multiply1CMBy2CM
    ("12 'cm'", "3 'cm'", "36 'cm2'"),  # spec
    ("3 'cm'", "12 'cm2'", "36 'cm3'"),  # spec
    ("2 'mg'", "3", "6 'mg'"),  # a Decimal converted to a Quantity '1'
    ("3", "2 'mg'", "6 'mg'"),
    ("2 days", "3", "6 days"),
    ("2 years", "3", "6 years"),
    ("5 'mg/kg'", "70 'kg'", "350 'mg'"),
    ("2 'mL/min'", "10 'min'", "20 'mL'"),
    ("1 'm'", "1 'cm'", "1 'm.cm'"),
    ("1.5 'mg'", "2 '/d'", "3 'mg/d'"),
    ("2 '1'", "3 '1'", "6 '1'"),
])
def test_multiply(a: str, b: str, expected: str) -> None:
    assert same(multiply(Q(a), Q(b)), expected)


def test_multiply_calendar_years_by_units_is_unsupported() -> None:
    with pytest.raises(CqlUnsupportedError):
        multiply(Q("1 year"), Q("2 'mg'"))


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1 'g/cm3'", "1.0", "1.0 'g/cm3'"),  # Divide1Q1
    ("1 'g/cm3'", "1 'g/cm3'", "1.0 '1'"),  # Divide1Q1Q
    ("10.0 'g'", "5", "2.0 'g'"),  # Divide10Q5I
    ("12 'cm2'", "3 'cm'", "4 'cm'"),  # spec
    ("-5.5 'mg'", "2.0 'mg'", "-2.75 '1'"),  # QuantityDivide (spec)
    ("100 'mg'", "1 'dL'", "100 'mg/dL'"),
    ("10 'mg'", "3 'mL'", "3.33333333 'mg/mL'"),
    ("350 'mg'", "70 'kg'", "5 'mg/kg'"),
    ("1", "4 'min'", "0.25 '/min'"),
    ("1 year", "1 month", "12 '1'"),
    ("3 days", "1 day", "3 '1'"),
    ("1 'm'", "1 'cm'", "1 'm/cm'"),
])
def test_divide(a: str, b: str, expected: str) -> None:
    assert same(divide(Q(a), Q(b)), expected)


def test_divide_by_zero_is_null() -> None:
    assert divide(Q("1 'mg'"), Q("0 'mL'")) is None
    assert divide(Q("1 'mg'"), Q("0.0")) is None
    assert divide(Q("0 'mg'"), Q("0 'mg'")) is None


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("10.1 'cm'", "-3.1 'cm'", "-3.0 'cm'"),  # TruncatedDivide10d1ByNeg3D1Quantity
    ("10.0 'g'", "5.0 'g'", "2.0 'g'"),  # TruncatedDivide10By5DQuantity
    ("4.14 'm'", "2.06 'm'", "2.0 'm'"),  # TruncatedDivide414By206DQuantity
    ("-10 'g'", "3 'g'", "-3 'g'"),
    ("10 'g'", "3", "3 'g'"),
    ("1 'm'", "30 'cm'", "3 'cm'"),
])
def test_truncated_divide(a: str, b: str, expected: str) -> None:
    assert same(truncated_divide(Q(a), Q(b)), expected)


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("3.5 'cm'", "3 'cm'", "0.5 'cm'"),  # ModuloQuantity
    ("10.0 'g'", "3.0 'g'", "1.0 'g'"),  # Modulo10By3Quantity
    ("-10 'g'", "3 'g'", "-1 'g'"),
    ("10 'g'", "3", "1 'g'"),
    ("1 'm'", "30 'cm'", "10 'cm'"),
    ("30 'cm'", "1 'm'", "30 'cm'"),
    ("25 hours", "1 day", "1 hours"),
])
def test_modulo(a: str, b: str, expected: str) -> None:
    assert same(modulo(Q(a), Q(b)), expected)


@pytest.mark.parametrize("op", [truncated_divide, modulo])
def test_div_mod_null_cases(op) -> None:  # type: ignore[no-untyped-def]
    assert op(Q("10.0 'g'"), Q("0.0 'g'")) is None  # TruncatedDivide10By0DQuantity, Modulo10By0Quantity
    assert op(Q("10 'g'"), Q("0")) is None
    assert op(Q("10 'g'"), Q("3 'mL'")) is None
    assert op(Q("10"), Q("3 'g'")) is None


def test_decimal_results_are_rounded_and_range_checked() -> None:
    assert same(divide(Q("1 'g'"), Q("3 'g'")), "0.33333333 '1'")
    assert same(multiply(Q("0.00001 'm'"), Q("0.00001 'm'")), "0 'm2'")
    with pytest.raises(CqlRuntimeError):
        multiply(Quantity(Decimal(10) ** 15, "g"), Quantity(Decimal(10) ** 15, "g"))


@pytest.mark.parametrize(("a", "expected"), [
    ("1.0 'cm'", "0.99999999 'cm'"),  # PredecessorOf1QCM
    ("5.0 'g'", "4.99999999 'g'"),  # QuantityIntervalExcept1to4
    ("5.00000002 'g'", "5.00000001 'g'"),
])
def test_predecessor(a: str, expected: str) -> None:
    assert same(predecessor(Q(a)), expected)


@pytest.mark.parametrize(("a", "expected"), [
    ("1.0 'cm'", "1.00000001 'cm'"),
    ("5.00000001 'g'", "5.00000002 'g'"),  # QuantityIntervalMeetsTrue
    ("55.00000122 'g'", "55.00000123 'g'"),  # QuantityIntervalMeetsAfterTrue
])
def test_successor(a: str, expected: str) -> None:
    assert same(successor(Q(a)), expected)


def test_predecessor_successor_limits() -> None:
    with pytest.raises(CqlRuntimeError):
        predecessor(Quantity(DECIMAL_MIN, "g"))
    with pytest.raises(CqlRuntimeError):
        successor(Quantity(DECIMAL_MAX, "g"))


# ---------------------------------------------------------------------------
# Conversion operators (CqlTypeOperatorsTest and spec examples)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("q", "unit", "expected"), [
    ("5 'mg'", "g", "0.005 'g'"),  # ConvertQuantity (spec)
    ("1 'm'", "cm", "100 'cm'"),
    ("100 'mg/dL'", "g/L", "1 'g/L'"),
    ("1 '[lb_av]'", "kg", "0.45359237 'kg'"),
    ("37 'Cel'", "[degF]", "98.6 '[degF]'"),
    ("1 year", "months", "12 months"),
    ("2 days", "h", "48 'h'"),
    ("48 'h'", "days", "2 days"),
])
def test_convert_quantity(q: str, unit: str, expected: str) -> None:
    assert same(convert_quantity(Q(q), unit), expected)


def test_convert_quantity_not_commensurable() -> None:
    assert convert_quantity(Q("5 'mg'"), "mL") is None
    assert convert_quantity(Q("1 year"), "d") is None
    with pytest.raises(UcumError):
        convert_quantity(Q("5 'mg'"), "mcg")


def test_can_convert_quantity() -> None:
    assert can_convert_quantity(Q("5 'mg'"), "g")
    assert can_convert_quantity(Q("1 year"), "months")
    assert not can_convert_quantity(Q("5 'mg'"), "mL")
    assert not can_convert_quantity(Q("1 year"), "a")
    assert not can_convert_quantity(Q("3 'dB'"), "B")  # not supported
    with pytest.raises(UcumError):
        can_convert_quantity(Q("5 'mg'"), "mcg")


def test_ratio_to_quantity() -> None:
    assert same(ratio_to_quantity(R("1 'mg':2 'mL'")), "0.5 'mg/mL'")
    assert same(ratio_to_quantity(R("1:128")), "0.0078125 '1'")
    assert ratio_to_quantity(R("1 'mg':0 'mL'")) is None


# ---------------------------------------------------------------------------
# Units carried through (CqlTypesTest, CqlAggregateTest)
# ---------------------------------------------------------------------------

def test_units_are_kept_as_written() -> None:
    q = Q("150.2 '[lb_av]'")  # QuantityTest
    assert q.unit == "[lb_av]" and q.to_cql() == "150.2 '[lb_av]'"
    assert same(add(q, Q("0 '[lb_av]'")), "150.2 '[lb_av]'")


def test_calendar_unit_given_as_string() -> None:
    # CqlAggregateTest builds Quantity { value: ..., unit: 'days' }.
    q = Quantity(Decimal(58), "days")
    assert q.cql_equal(Q("58 days")) is True
    assert q.cql_equal(Q("58 'd'")) is True
    assert q.to_cql() == "58 days"


# ---------------------------------------------------------------------------
# Performance: the same-unit case avoids conversion
# ---------------------------------------------------------------------------

def test_same_unit_fast_path() -> None:
    import time

    a, b = Q("1.5 'mg/dL'"), Q("2.5 'mg/dL'")
    start = time.perf_counter()
    for _ in range(20000):
        a.cql_compare(b)
        add(a, b)
    assert time.perf_counter() - start < 2.0
