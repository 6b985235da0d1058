"""Arithmetic operators (cql/operators/arithmetic.py): precision and rounding
edge cases, overflow, division by zero, undefined results, boundaries.

The conformance suite (CqlArithmeticFunctionsTest.xml) covers the common
cases; these tests pin down what it leaves open.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cql.errors import CqlRuntimeError, CqlSemanticError
from cql.library import compile_expression, evaluate_expression
from cql.types import DECIMAL, INTEGER, LONG, ChoiceType
from cql.values import Long, Quantity

NOW = "2024-01-15T10:00:00.000+00:00"


def ev(text: str):
    return evaluate_expression(text, now=NOW)


def same(actual, expected) -> bool:
    """Equal and of the same Python type (an Integer is not a Decimal)."""
    return type(actual) is type(expected) and actual == expected


@pytest.mark.parametrize("text, expected", [
    ("2147483646 + 1", 2147483647),
    ("-2147483647 - 1", -2147483648),
    ("46340 * 46340", 2147395600),
    ("9223372036854775806L + 1L", Long(9223372036854775807)),
    ("1 + 2L", Long(3)),
    ("1 + 0.5", Decimal("1.5")),
    ("0.1 + 0.2", Decimal("0.3")),
    ("99999999999999999999.99999998 + 0.00000001", Decimal("99999999999999999999.99999999")),
    ("0.00000001 * 0.5", Decimal("0.00000001")),   # half up at the 8th place
    ("-0.00000001 * 0.5", Decimal("-0.00000001")),
    ("0.00000001 * 0.4", Decimal("0")),
    ("1.5 * 2", Decimal("3.0")),
])
def test_add_subtract_multiply(text, expected):
    assert same(ev(text), expected)


@pytest.mark.parametrize("text", [
    "2147483647 + 1",
    "-2147483648 - 1",
    "65536 * 32768",
    "9223372036854775807L + 1L",
    "-9223372036854775807L - 2L",
    "-(minimum Integer)",
    "-(minimum Long)",
    "Abs(minimum Integer)",
    "Abs(minimum Long)",
    "-2147483648 div -1",
    "9999999999999999999999999999.0 + 1.0",
    "10 * 1000000000000000000000000000.00000000",
])
def test_overflow_is_an_error(text):
    with pytest.raises(CqlRuntimeError, match="overflow"):
        ev(text)


def test_negative_zero_is_zero():
    for text in ("-(0.0)", "-0.0 * 1.0", "Round(-0.4)", "0.0 * -1.0", "-0.5 mod 0.5"):
        value = ev(text)
        assert value == 0 and not value.is_signed(), text
    assert ev("ToString(Round(-0.4))") == "0"
    assert ev("ToString(-(0.0))") == "0.0"
    assert not ev("-(0 'cm')").value.is_signed()


@pytest.mark.parametrize("text, expected", [
    ("1 / 3", Decimal("0.33333333")),
    ("2 / 3", Decimal("0.66666667")),
    ("-2 / 3", Decimal("-0.66666667")),
    ("10 / 4", Decimal("2.5")),
    ("1L / 4L", Decimal("0.25")),
    ("0.00000001 / 2", Decimal("0.00000001")),
    ("1 / 0", None),
    ("1.0 / 0.0", None),
    ("1 'mg' / 0 'mg'", None),
    ("7 div 2", 7 // 2),
    ("-7 div 2", -3),
    ("7 div -2", -3),
    ("-7 div -2", 3),
    ("7 mod 0", None),
    ("7 div 0", None),
    ("-7 mod 2", -1),
    ("7 mod -2", 1),
    ("-7L mod 2L", Long(-1)),
    ("-7.5 mod 2", Decimal("-1.5")),
    ("7.5 div -2", Decimal("-3")),
    ("7.5 mod 0.0", None),
])
def test_division(text, expected):
    assert same(ev(text), expected)


@pytest.mark.parametrize("text, expected", [
    ("Power(2, 10)", 1024),
    ("Power(-2, 31)", -2147483648),
    ("Power(2L, 62L)", Long(2**62)),
    ("Power(2, -1)", Decimal("0.5")),
    ("Power(3, -1)", Decimal("0.33333333")),
    ("Power(2L, -2L)", Decimal("0.25")),
    ("Power(0, 0)", 1),
    ("Power(0, -1)", None),
    ("Power(1, 2147483647)", 1),
    ("Power(-1, 2147483647)", -1),
    ("Power(2.0, 0.5)", Decimal("1.41421356")),
    ("Power(-8.0, 3.0)", Decimal("-512")),
    ("Power(-8.0, 0.5)", None),
    ("Power(0.0, -1.0)", None),
    ("Power(0.0, 0.0)", Decimal(1)),
    ("Power(10.0, -9.0)", Decimal("0")),
])
def test_power(text, expected):
    assert same(ev(text), expected)


@pytest.mark.parametrize("text", ["Power(2, 31)", "Power(2, 2147483647)", "Power(2L, 63L)",
                                  "Power(10.0, 1000.0)", "Power(1.1, 100000000000.0)"])
def test_power_overflow(text):
    with pytest.raises(CqlRuntimeError, match="overflow"):
        ev(text)


def test_integer_power_has_a_choice_type():
    compiled, _ = compile_expression("Power(2, 3)")
    assert compiled.type == ChoiceType((INTEGER, DECIMAL))
    compiled, _ = compile_expression("2L ^ 3L")
    assert compiled.type == ChoiceType((LONG, DECIMAL))
    # Later operators dispatch on the value: Integer stays Integer.
    assert same(ev("Power(2, 3) + 1"), 9)
    assert same(ev("Power(2, -1) + 1"), Decimal("1.5"))
    assert same(ev("+Power(2, 3)"), 8)


@pytest.mark.parametrize("text, expected", [
    ("Exp(0)", Decimal(1)),
    ("Exp(1)", Decimal("2.71828183")),
    ("Exp(-1000)", Decimal(0)),
    ("Ln(1)", Decimal(0)),
    ("Ln(-1)", None),
    ("Ln(Exp(2))", Decimal(2)),
    ("Log(8, 2)", Decimal(3)),
    ("Log(100.0, 10.0)", Decimal(2)),
    ("Log(0.001, 10)", Decimal(-3)),
    ("Log(-8, 2)", None),
    ("Log(8, 1)", None),
    ("Log(8, 0)", None),
    ("Log(8, -2)", None),
])
def test_exp_ln_log(text, expected):
    assert same(ev(text), expected)


@pytest.mark.parametrize("text, message", [
    ("Exp(1000)", "overflow"),
    ("Exp(100000000000.0)", "overflow"),
    ("Ln(0)", "infinity"),
    ("Log(0, 10)", "infinity"),
])
def test_unrepresentable_results_are_errors(text, message):
    with pytest.raises(CqlRuntimeError, match=message):
        ev(text)


@pytest.mark.parametrize("text, expected", [
    ("Round(0.5)", Decimal(1)),
    ("Round(1.5)", Decimal(2)),
    ("Round(2.5)", Decimal(3)),
    ("Round(-0.5)", Decimal(-1)),
    ("Round(-2.5)", Decimal(-3)),
    ("Round(-0.49999999)", Decimal(0)),
    ("Round(1.005, 2)", Decimal("1.01")),
    ("Round(-1.005, 2)", Decimal("-1.01")),
    ("Round(3.14159, 3)", Decimal("3.142")),
    ("Round(3.14159, 8)", Decimal("3.14159")),
    ("Round(3.14159, 20)", Decimal("3.14159")),
    ("Round(1.5, null)", Decimal(2)),
    ("Round(1250, -2)", Decimal(1300)),
    ("Round(-1250, -2)", Decimal(-1300)),
    ("Round(1249.9, -2)", Decimal(1200)),
    ("Round(5.0, -100)", Decimal(0)),
    ("Round(null as Decimal, 2)", None),
])
def test_round(text, expected):
    assert same(ev(text), expected)


@pytest.mark.parametrize("text, expected", [
    ("Ceiling(0.00000001)", 1),
    ("Ceiling(-0.99999999)", 0),
    ("Floor(-0.00000001)", -1),
    ("Floor(0.99999999)", 0),
    ("Truncate(-1.99999999)", -1),
    ("Truncate(1.99999999)", 1),
    ("Ceiling(-2147483648.5)", -2147483648),
    ("Floor(2147483647.5)", 2147483647),
])
def test_ceiling_floor_truncate(text, expected):
    assert same(ev(text), expected)


@pytest.mark.parametrize("text", ["Ceiling(2147483647.1)", "Floor(-2147483648.1)", "Truncate(2147483648.0)"])
def test_ceiling_floor_truncate_out_of_integer_range_is_null(text):
    # The reference defines the result as null when it can't be an Integer.
    assert ev(text) is None


@pytest.mark.parametrize("text, expected", [
    ("successor of 0.99999999", Decimal(1)),
    ("predecessor of -0.99999999", Decimal(-1)),
    ("successor of 99999999999999999999.99999998", Decimal("99999999999999999999.99999999")),
    ("successor of -1", 0),
    ("predecessor of 0L", Long(-1)),
    ("successor of 1 'cm'", Quantity(Decimal("1.00000001"), "cm")),
    ("successor of @2014-01-31", None),  # checked below: the date type is delegated
])
def test_successor_predecessor(text, expected):
    value = ev(text)
    if expected is not None:
        assert same(value, expected)
    else:
        assert value is not None


@pytest.mark.parametrize("text", [
    "successor of maximum Integer", "predecessor of minimum Integer",
    "successor of maximum Long", "predecessor of minimum Long",
    "successor of maximum Decimal", "predecessor of minimum Decimal",
])
def test_successor_predecessor_at_the_limits(text):
    with pytest.raises(CqlRuntimeError, match="cannot be represented"):
        ev(text)


@pytest.mark.parametrize("text, expected", [
    ("Precision(1.58700)", 5),
    ("Precision(1.0)", 1),
    ("Precision(10)", 0),
    ("Precision(0.00000001)", 8),
    ("LowBoundary(1.587, 8)", Decimal("1.58700000")),
    ("HighBoundary(1.587, 8)", Decimal("1.58799999")),
    ("LowBoundary(1.587, 6)", Decimal("1.587000")),
    ("HighBoundary(1.587, 6)", Decimal("1.587999")),
    ("HighBoundary(1.587)", Decimal("1.58799999")),
    ("HighBoundary(1.587, null)", Decimal("1.58799999")),
    ("LowBoundary(1.587, 3)", Decimal("1.587")),
    ("HighBoundary(1.587, 3)", Decimal("1.587")),
    ("LowBoundary(1.587, 2)", Decimal("1.58")),   # coarser than written: truncated
    ("HighBoundary(1.587, 2)", Decimal("1.58")),
    ("HighBoundary(1, 2)", Decimal("1.99")),
    ("HighBoundary(0.0, 2)", Decimal("0.09")),
    ("LowBoundary(-1.587, 8)", Decimal("-1.58799999")),  # the least value -1.587 stands for
    ("HighBoundary(-1.587, 8)", Decimal("-1.58700000")),
    ("LowBoundary(-1.587, 2)", Decimal("-1.58")),
    ("HighBoundary(1.587, 9)", None),
    ("LowBoundary(null as Decimal, 2)", None),
])
def test_precision_and_boundaries(text, expected):
    assert same(ev(text), expected)


def test_negative_boundary_precision_is_an_error():
    with pytest.raises(CqlRuntimeError):
        ev("LowBoundary(1.5, -1)")


def test_temporal_boundaries_delegate():
    assert ev("HighBoundary(@2014, 6)").to_cql() == "@2014-12"
    assert ev("LowBoundary(@T10:30, 9)").to_cql() == "@T10:30:00.000"
    assert ev("Precision(@2014-01-05T10:30:00.000)") == 17


@pytest.mark.parametrize("text, expected", [
    ("1 'm' + 1 'cm'", Quantity(Decimal(101), "cm")),
    ("2 * 3 'cm'", Quantity(Decimal(6), "cm")),
    ("6 'cm' / 2", Quantity(Decimal(3), "cm")),
    ("Abs(-2.5 'mg')", Quantity(Decimal("2.5"), "mg")),
    ("-(2.5 'mg')", Quantity(Decimal("-2.5"), "mg")),
    ("5 'mg' + 2 'cm'", None),
    ("5 'mg' + 2", None),  # 2 is 2 '1', not commensurable with mg
])
def test_quantity_arithmetic(text, expected):
    actual = ev(text)
    if expected is None:
        assert actual is None
    else:
        assert actual.unit == expected.unit and actual.value == expected.value


@pytest.mark.parametrize("text", ["1 + null", "null * 2.0", "Abs(null as Integer)", "Exp(null)",
                                  "Power(2, null)", "null div 2", "Ceiling(null)", "(null as Integer) mod 2"])
def test_null_in_null_out(text):
    assert ev(text) is None


def test_no_overload_is_a_compile_error():
    with pytest.raises(CqlSemanticError):
        compile_expression("Ceiling('a')")
