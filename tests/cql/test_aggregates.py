"""Aggregate functions through ``cql.evaluate_expression``: nulls, empty lists, result
types, quantities in different units, uncertain extremes and ties.

Expected values come from the CQL 1.5 reference ("Aggregate Functions") unless a
comment says otherwise.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cql import CqlRuntimeError, evaluate_expression, to_cql
from cql.values import Long


def ev(text: str) -> str:
    return to_cql(evaluate_expression(text))


@pytest.mark.parametrize("name", [
    "Sum", "Product", "Min", "Max", "Avg", "Median", "Mode", "Variance", "PopulationVariance", "StdDev",
    "PopulationStdDev", "GeometricMean",
])
def test_null_and_empty_sources_give_null(name: str) -> None:
    assert evaluate_expression(f"{name}(null as List<Decimal>)") is None
    assert evaluate_expression(f"{name}({{ null as Decimal, null as Decimal }})") is None
    assert evaluate_expression(f"{name}(List<Decimal>{{}})") is None


@pytest.mark.parametrize("expr, expected", [
    ("Count(null as List<Integer>)", "0"),
    ("Count({null, null})", "0"),
    ("Count({1, null, 1})", "2"),
    ("AllTrue({null, null})", "true"),
    ("AllTrue({true, null, false})", "false"),
    ("AnyTrue({null, null})", "false"),
    ("AnyTrue({false, null, true})", "true"),
    ("AnyTrue(null as List<Boolean>)", "false"),
    ("AllTrue(null as List<Boolean>)", "true"),
])
def test_counting_and_boolean_aggregates(expr: str, expected: str) -> None:
    assert ev(expr) == expected


def test_result_types() -> None:
    assert type(evaluate_expression("Sum({1, 2})")) is int
    assert type(evaluate_expression("Sum({1L, 2L})")) is Long
    assert evaluate_expression("Sum({1, null, 2.5})") == Decimal("3.5")
    assert evaluate_expression("Avg({1, 2, 4})") == Decimal("2.33333333")
    assert type(evaluate_expression("Avg({1, 2})")) is Decimal
    assert evaluate_expression("Median({1, 2, 3, 4})") == Decimal("2.5")
    assert type(evaluate_expression("Max({1, 2})")) is int
    assert type(evaluate_expression("Product({2L, 3L})")) is Long


@pytest.mark.parametrize("expr", ["Sum({2147483647, 1})", "Product({65536, 65536})", "Sum({9223372036854775807L, 1L})"])
def test_overflow_is_an_error(expr: str) -> None:
    with pytest.raises(CqlRuntimeError):
        evaluate_expression(expr)


@pytest.mark.parametrize("expr, expected", [
    ("Median({3, 1, 2})", "2"),
    ("Median({5.5, 1.0, 3.0, 2.0})", "2.5"),
    ("Variance({1.0, 2.0, 3.0, 4.0})", "1.66666667"),
    ("Variance({1.0})", "null"),
    ("StdDev({1.0})", "null"),
    ("PopulationVariance({1.0})", "0.00"),
    ("PopulationStdDev({2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0})", "2.0"),
    ("GeometricMean({2.0, 8.0})", "4.00000000"),
    ("GeometricMean({1.0, 3.0, 9.0})", "3.00000000"),
    ("GeometricMean({0.0, 3.0})", "0"),
    ("GeometricMean({-2.0, 8.0})", "null"),
    ("Product({1.5, 2.0})", "3.00"),
])
def test_statistics(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("Sum({1 'ml', 2 'l'})", "2001 'ml'"),
    ("Sum({1 'ml', 2 'g'})", "null"),
    ("Avg({5.5 'cm', 4.7 'cm', 4.8 'cm'})", "5.0 'cm'"),
    ("Avg({1 'ml', 1 'l'})", "500.5 'ml'"),
    ("Median({3 'mg', 1 'mg', 2 'g'})", "3 'mg'"),
    ("Max({1 'ml', 2 'l'})", "2 'l'"),
    ("Min({1 'ml', 2 'l'})", "1 'ml'"),
    ("Max({1 'ml', 2 'g'})", "null"),
    ("Variance({1.0 'mg', 2.0 'mg', 3.0 'mg', 4.0 'mg', 5.0 'mg'})", "2.50 'mg'"),
    ("PopulationStdDev({1.0 'mg', 2.0 'mg', 3.0 'mg', 4.0 'mg', 5.0 'mg'})", "1.41421356 'mg'"),
    ("Product({1.0 'mg', 2.0 'mg', 3.0 'mg', 4.0 'mg'})", "24.0000 'mg'"),
])
def test_quantities(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("Max({'a', 'B', 'Z'})", "'a'"),
    ("Min({@2012-12-31, @2013-01-01, @2012-01-01})", "@2012-01-01"),
    ("Max({@T10:00, @T09:59})", "@T10:00"),
    # the extreme is unknown when values of different precisions can't be ordered
    ("Max({@2012, @2012-06})", "null"),
    ("Min({@2012-06, @2012})", "null"),
    # ... but not when one value is known to be the largest
    ("Max({@2012, @2012-06, @2013})", "@2013"),
    ("Max({@2013, @2012, @2012-06})", "@2013"),
])
def test_min_max(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("Mode({2.0, 2.0, 8.0, 6.0, 8.0, 8.0})", "8.0"),
    ("Mode({1.0 'mg', 2.0 'mg', 3.0 'mg', 2.0 'mg'})", "2.0 'mg'"),
    ("Mode({1 'g', 1000 'mg', 2 'g'})", "1 'g'"),
    ("Mode({null, null, 1})", "1"),
    # ties: the smallest of the most frequent values (when they are ordered)
    ("Mode({2, 1, 1, 2})", "1"),
    ("Mode({'b', 'a'})", "'a'"),
    # ... else the first to appear
    ("Mode({Tuple{a: 2}, Tuple{a: 1}})", "Tuple { a: 2 }"),
    ("Mode({Tuple{a: 1}, Tuple{a: 2}, Tuple{a: 2}})", "Tuple { a: 2 }"),
    ("Mode({Code{code: 'x'}, Code{code: 'y'}, Code{code: 'y'}})", "Code { code: 'y' }"),
])
def test_mode(expr: str, expected: str) -> None:
    assert ev(expr) == expected
