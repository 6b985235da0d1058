"""Conversion operators (cql/operators/conversion.py): To*, ConvertsTo*,
ConvertQuantity, CanConvertQuantity, and convert/as/cast/is."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cql.errors import CqlRuntimeError, CqlSemanticError
from cql.library import compile_expression, evaluate_expression
from cql.values import Code, Concept, Long, Quantity, Ratio

NOW = "2024-01-15T10:00:00.000+01:00"


def ev(text: str):
    return evaluate_expression(text, now=NOW)


def same(actual, expected) -> bool:
    return type(actual) is type(expected) and actual == expected


@pytest.mark.parametrize("text, expected", [
    ("ToBoolean('y')", True), ("ToBoolean('TRUE')", True), ("ToBoolean('t')", True), ("ToBoolean('1')", True),
    ("ToBoolean('No')", False), ("ToBoolean('0')", False), ("ToBoolean('falsetto')", None),
    ("ToBoolean(' true')", None), ("ToBoolean(1)", True), ("ToBoolean(0L)", False), ("ToBoolean(2)", None),
    ("ToBoolean(1.0)", True), ("ToBoolean(0.00)", False), ("ToBoolean(0.5)", None),
    ("ToInteger('-1')", -1), ("ToInteger('+25')", 25), ("ToInteger('007')", 7), ("ToInteger('one')", None),
    ("ToInteger('1.0')", None), ("ToInteger('1_000')", None), ("ToInteger('٣')", None),
    ("ToInteger('2147483648')", None), ("ToInteger('-2147483648')", -2147483648),
    ("ToInteger(2147483647L)", 2147483647), ("ToInteger(2147483648L)", None), ("ToInteger(true)", 1),
    ("ToLong('-1')", Long(-1)), ("ToLong('9223372036854775808')", None), ("ToLong(5)", Long(5)),
    ("ToLong(false)", Long(0)),
    ("ToDecimal('-0.1')", Decimal("-0.1")), ("ToDecimal('+-0.1')", None), ("ToDecimal('5.')", None),
    ("ToDecimal('.5')", None), ("ToDecimal('1.123456785')", Decimal("1.12345679")),
    ("ToDecimal('100000000000000000000000000000')", None), ("ToDecimal(true)", Decimal("1.0")),
    ("ToDecimal(3)", Decimal(3)), ("ToDecimal(3L)", Decimal(3)),
])
def test_simple_conversions(text, expected):
    assert same(ev(text), expected)


@pytest.mark.parametrize("text, expected", [
    ("ToString(true)", "true"), ("ToString(13)", "13"), ("ToString(10000L)", "10000"),
    ("ToString(0.1)", "0.1"), ("ToString(1.50)", "1.50"), ("ToString(10 / 4)", "2.5"),
    ("ToString(-0.1 'mg')", "-0.1 'mg'"), ("ToString(3 days)", "3 'days'"), ("ToString(5 '1')", "5 '1'"),
    ("ToString(-0.1 'mg':0.1 'mg')", "-0.1 'mg':0.1 'mg'"),
    ("ToString(@2012-01-01)", "2012-01-01"), ("ToString(@2012-01)", "2012-01"),
    ("ToString(@2012-01-01T12:30:00.000-05:00)", "2012-01-01T12:30:00.000-05:00"),
    ("ToString(@2012-01-01T12:30:00.000Z)", "2012-01-01T12:30:00.000+00:00"),
    # a DateTime with the evaluation's offset (+01:00 here) is written without it
    ("ToString(@2012-01-01T12:30:00.000)", "2012-01-01T12:30:00.000"),
    ("ToString(@2012-01-01T12:30:00.000+01:00)", "2012-01-01T12:30:00.000"),
    ("ToString(@2012-01-01T)", "2012-01-01"),
    ("ToString(@T12:30:00.000)", "12:30:00.000"),
    ("ToString('x')", "x"), ("ToString(null as Integer)", None),
])
def test_to_string(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize("value", [
    "@2012-01-01T12:30:00.000-05:00", "@2012-01-01T12:30:00.000", "@2012-01-01T12", "@2012T",
])
def test_datetime_text_round_trips(value):
    assert ev(f"ToDateTime(ToString({value})) ~ {value}") is True


@pytest.mark.parametrize("value", ["5.5 'cm'", "3 days", "-0.1 'mg'", "1 year", "2 '{tbl}'"])
def test_quantity_text_round_trips(value):
    assert ev(f"ToQuantity(ToString({value})) = {value}") is True


def test_ratio_text_round_trips():
    assert ev("ToRatio(ToString(1 'mg':2 'mL')) ~ 1 'mg':2 'mL'") is True


@pytest.mark.parametrize("text, expected", [
    ("ToQuantity(0.1)", Quantity(Decimal("0.1"), "1")),
    ("ToQuantity(13)", Quantity(Decimal(13), "1")),
    ("ToQuantity(13L)", Quantity(Decimal(13), "1")),
    ("ToQuantity('-0.1 \\'mg\\'')", Quantity(Decimal("-0.1"), "mg")),
    ("ToQuantity('5.5 \\'cm\\'')", Quantity(Decimal("5.5"), "cm")),
    ("ToQuantity('444 \\'cm')", None),
    ("ToQuantity('5 \\'not-a-unit\\'')", None),
    ("ToQuantity(1 'mg':2 'mL')", Quantity(Decimal("0.5"), "mg/mL")),
    ("ToRatio('1.0 \\'mg\\':2.0 \\'mg\\'')", Ratio(Quantity(Decimal("1.0"), "mg"), Quantity(Decimal("2.0"), "mg"))),
    ("ToRatio('1.0 \\'mg\\';2.0 \\'mg\\'')", None),
])
def test_quantity_and_ratio(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("ToDate('2014-01')", "@2014-01"),
    ("ToDate('2014-01-01')", "@2014-01-01"),
    ("ToDate('2014-01-01T12:30:00')", "@2014-01-01"),
    ("ToDate(@2014-01-01T23:30:00.000-05:00)", "@2014-01-01"),
    ("ToDateTime('2014-01-01T14:30:00.0Z')", "@2014-01-01T14:30:00.000Z"),
    ("ToDateTime('2014-01-01T14:30:00.0-07:00')", "@2014-01-01T14:30:00.000-07:00"),
    ("ToDateTime('2014-01-01T14:30')", "@2014-01-01T14:30+01:00"),   # the evaluation's offset
    ("ToDateTime(@2014-01-01)", "@2014-01-01T+01:00"),
    ("ToTime('14:30:00.0')", "@T14:30:00.000"),
    ("ToTime('T14:30')", "@T14:30"),
])
def test_dates_and_times(text, expected):
    assert ev(text).to_cql() == expected


@pytest.mark.parametrize("text", [
    "ToDate('2014-13-01')", "ToDate('2014/01/01')", "ToDate('2014-02-30')", "ToDateTime('2014-01-01T25:00')",
    "ToDateTime('2014-01-01 14:30')", "ToTime('25:00')", "ToTime('14-30')",
])
def test_malformed_dates_and_times_are_null(text):
    assert ev(text) is None


def test_to_concept():
    assert ev("ToConcept(Code { system: 'http://loinc.org', code: '8480-6', display: 'SBP' })") == Concept(
        (Code("8480-6", "http://loinc.org", None, "SBP"),), "SBP")
    assert ev("ToConcept({ Code { code: 'a' }, null, Code { code: 'b' } })") == Concept(
        (Code("a"), Code("b")))
    assert ev("ToConcept(null as Code)") is None


@pytest.mark.parametrize("text, expected", [
    ("ConvertsToBoolean('y')", True), ("ConvertsToBoolean('maybe')", False), ("ConvertsToBoolean(2)", False),
    ("ConvertsToBoolean(@2014)", False), ("ConvertsToBoolean(null)", None),
    ("ConvertsToInteger('12')", True), ("ConvertsToInteger(1.5)", False), ("ConvertsToInteger(5L)", True),
    ("ConvertsToInteger(maximum Long)", False),
    ("ConvertsToLong('12')", True), ("ConvertsToLong(1.0)", False),
    ("ConvertsToDecimal('1.5')", True), ("ConvertsToDecimal('1.5.')", False), ("ConvertsToDecimal(true)", True),
    ("ConvertsToString(5 'mg')", True), ("ConvertsToString({1})", False),
    ("ConvertsToString(Code { code: 'a' })", False),
    ("ConvertsToQuantity('5 \\'mg\\'')", True), ("ConvertsToQuantity('5 mg')", False),
    ("ConvertsToRatio('1:2')", True), ("ConvertsToRatio('1')", False),
    ("ConvertsToDate('2014-01-01')", True), ("ConvertsToDate('2014-01-32')", False),
    ("ConvertsToDateTime('2014-01-01T10:00')", True), ("ConvertsToDateTime('2014-01-01T25')", False),
    ("ConvertsToTime('12:00')", True), ("ConvertsToTime(@2014-01-01)", False),
])
def test_converts_to(text, expected):
    assert ev(text) is expected


def test_convert_quantity():
    assert ev("ConvertQuantity(5 'mg', 'g')") == Quantity(Decimal("0.005"), "g")
    assert ev("convert 5 'mg' to 'g'") == Quantity(Decimal("0.005"), "g")
    assert ev("ConvertQuantity(5 'mg', 'cm')") is None
    assert ev("CanConvertQuantity(5 'mg', 'g')") is True
    assert ev("CanConvertQuantity(5 'mg', 'cm')") is False
    assert ev("CanConvertQuantity(5 'mg', 'not a unit')") is False
    with pytest.raises(CqlRuntimeError):
        ev("ConvertQuantity(5 'mg', 'not a unit')")


@pytest.mark.parametrize("text, expected", [
    ("convert 5 to Decimal", Decimal(5)), ("convert 5 to Long", Long(5)), ("convert 5 to String", "5"),
    ("convert '5' to Integer", 5), ("convert 'foo' to Integer", None), ("convert 'true' to Boolean", True),
    ("convert 5 to Quantity", Quantity(Decimal(5), "1")),
])
def test_convert_syntax(text, expected):
    assert same(ev(text), expected)


def test_conversions_the_spec_does_not_define_are_compile_errors():
    for text in ("convert 5.5 to Integer", "ToTime(@2014-01-01T10:00)", "ToBoolean(@2014)"):
        with pytest.raises(CqlSemanticError):
            compile_expression(text)


def test_is_as_cast():
    assert ev("5 is Integer") is True
    assert ev("5 is Decimal") is False
    assert ev("null is Integer") is False
    assert ev("(5 as Any) as Integer") == 5
    assert ev("(5 as Any) as String") is None
    assert ev("{ 1, 2 } is List<Integer>") is True
    with pytest.raises(CqlRuntimeError, match="cannot cast"):
        ev("cast (5 as Any) as String")
