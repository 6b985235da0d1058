"""List operators through ``cql.evaluate_expression``: null handling, uncertain equality,
overload choice for untyped nulls, and the hashed paths of distinct and membership.

Expected values come from the CQL 1.5 reference ("List Operators") unless a
comment says otherwise.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from cql import CqlRuntimeError, evaluate_expression, to_cql
from cql.operators.list import Membership, distinct_list, equality_key, list_contains
from cql.values import Code, Concept, Date, DateTime, Interval, Quantity, Time, Tuple
from cql.values.compare import equal


def ev(text: str) -> str:
    return to_cql(evaluate_expression(text))


@pytest.mark.parametrize("expr, expected", [
    # in / contains: nulls equal to each other, a null list is empty
    ("null in {1, null}", "true"),
    ("null in {1, 2}", "false"),
    ("null in {}", "false"),
    ("1 in (null as List<Integer>)", "false"),
    ("(null as List<Integer>) contains 1", "false"),
    ("{1, null} contains null", "true"),
    ("{null, 'b'} contains 'a'", "false"),
    ("2 in {1.0, 2.0}", "true"),
    # equality that is unknown makes membership unknown
    ("@2012-01-01 in {@2012-01}", "null"),
    ("@2012-01-01 in {@2012-01, @2012-01-01}", "true"),
    ("@2012-02-01 in {@2012-01}", "false"),
    # exists
    ("exists {null, null}", "false"),
    ("exists {null, 1}", "true"),
    ("exists (null as List<Integer>)", "false"),
])
def test_membership(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("{} = {}", "true"),
    ("{null} = {null}", "true"),
    ("{1, null} = {1, 2}", "null"),
    ("{1, 2} = {1, 3}", "false"),
    ("{1, null} ~ {1, null}", "true"),
    ("{1, 2} = (null as List<Integer>)", "null"),
    ("({1, 2} as List<Any>) = ({'1', '2'} as List<Any>)", "false"),
    ("({1, 2} as List<Any>) ~ ({1, 2} as List<Any>)", "true"),
])
def test_list_equality(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("distinct {null, 1, null, 1}", "{ null, 1 }"),
    ("distinct {2, 1, 2.0}", "{ 2, 1 }"),
    ("distinct (null as List<Integer>)", "null"),
    ("distinct {'a', 'A', 'a'}", "{ 'a', 'A' }"),
    # values of different precision are not known to be equal: both kept
    ("distinct {@2012, @2012-01, @2012}", "{ @2012, @2012-01 }"),
    ("distinct {1 'g', 1000 'mg', 2 'g'}", "{ 1 'g', 2 'g' }"),
    ("distinct {Tuple{a: 1, b: null}, Tuple{a: 1, b: null}, Tuple{a: 2, b: null}}",
     "{ Tuple { a: 1, b: null }, Tuple { a: 2, b: null } }"),
    ("distinct {{1, 2}, {1, 2}, {2, 1}}", "{ { 1, 2 }, { 2, 1 } }"),
    ("distinct {Interval[1, 3], Interval[1, 4), Interval[1, 3)}", "{ Interval[1, 3], Interval[1, 3) }"),
    ("distinct {Code{code: 'a', system: 's'}, Code{code: 'a', system: 's'}}",
     "{ Code { code: 'a', system: 's' } }"),
])
def test_distinct(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("{1, null} union {null, 2}", "{ 1, null, 2 }"),
    ("null union {1, 1}", "{ 1 }"),
    ("{1, 1} union null", "{ 1 }"),
    ("{1, 2} | {2, 3}", "{ 1, 2, 3 }"),
    ("{1, 2} union {2.5}", "{ 1, 2, 2.5 }"),
    ("{1, 2, null} except {null}", "{ 1, 2 }"),
    ("{1, 1, 2} except {3}", "{ 1, 2 }"),
    ("{1, 2} except null", "{ 1, 2 }"),
    ("(null as List<Integer>) except {1}", "null"),
    ("{null, 1, 3, 5} intersect {null, 3, 5, 7}", "{ null, 3, 5 }"),
    ("{1, 1, 2} intersect {1}", "{ 1 }"),
    ("{1, 2} intersect (null as List<Integer>)", "null"),
    # uncertain equality: kept by except, dropped by intersect
    ("{@2012-01} except {@2012-01-01}", "{ @2012-01 }"),
    ("{@2012-01} intersect {@2012-01-01}", "{}"),
    ("{1 'g', 5 'g'} except {1000 'mg'}", "{ 5 'g' }"),
])
def test_set_operations(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    # list-list forms
    ("{1, 2, 3} includes {3, 1}", "true"),
    ("{1, 2} includes {1, 2, 3}", "false"),
    ("{1, null} includes {null}", "true"),
    ("{1, 2} includes (null as List<Integer>)", "null"),
    ("{1, 1} properly includes {1}", "true"),
    ("{1, 2} properly includes {1, 2}", "false"),
    ("{1} included in {1, 2}", "true"),
    ("{1, 2} properly included in {1, 2, 3}", "true"),
    ("{@2012-01} includes {@2012-01-01}", "null"),
    # element forms
    ("{1, 2} includes 2", "true"),
    ("{1, 2} includes (null as Integer)", "false"),
    ("2 included in {1, 2}", "true"),
    ("{1, 2} properly includes 1", "true"),
    ("{1, 1} properly includes 1", "false"),
    ("{1} properly includes 1", "false"),
    ("{1, null} properly includes 1", "null"),
    ("{1, null} properly includes null", "true"),
    ("{null, null} properly includes null", "false"),
    ("1 properly included in {1, 2}", "true"),
    # an untyped null: a list for (properly) includes in the list position and for includes
    # in the element position, an element for properly includes in the element position
    ("{'s', 'a'} includes null", "null"),
    ("null included in {2}", "null"),
    ("null properly includes {2}", "null"),
    ("{'s'} properly included in null", "null"),
    ("{'s', 'u', null} properly includes null", "true"),
    ("null properly included in {'s', 'u'}", "false"),
    # nested lists: the element form
    ("{{1}, {2}} includes {1}", "true"),
    ("{{1}, {2}} contains {2}", "true"),
])
def test_inclusion(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("First({})", "null"),
    ("First(null as List<Integer>)", "null"),
    ("Last({1, null})", "null"),
    ("{1, 2}[-1]", "null"),
    ("{1, 2}[2]", "null"),
    ("(null as List<Integer>)[0]", "null"),
    ("{1, 2}[null as Integer]", "null"),
    ("IndexOf({1, 2, 2}, 2)", "1"),
    ("IndexOf({null, 2}, 2)", "1"),
    ("IndexOf({1, 2}, null)", "null"),
    ("IndexOf({@2012, @2012-01-01}, @2012-01-01)", "null"),
    ("IndexOf({@2012-01-01, @2012}, @2012-01-01)", "0"),
    ("Length(null as List<Integer>)", "0"),
    ("Length({null, null})", "2"),
    ("singleton from (null as List<Integer>)", "null"),
    ("singleton from {null}", "null"),
    ("Skip({1, 2, 3}, null as Integer)", "{ 1, 2, 3 }"),
    ("Skip({1, 2, 3}, -1)", "{}"),
    ("Skip({1, 2, 3}, 5)", "{}"),
    ("Take({1, 2}, 5)", "{ 1, 2 }"),
    ("Take({1, 2}, -1)", "{}"),
    ("Tail({1})", "{}"),
    ("Tail(null as List<Integer>)", "null"),
    ("Slice({'a', 'b', 'c'}, -4)", "{ 'a', 'b', 'c' }"),
    ("Slice({'a', 'b', 'c'}, 0, -2)", "{ 'a' }"),
    ("Slice({'a', 'b', 'c'}, 0, -4)", "{}"),
    ("Slice({'a', 'b', 'c'}, 0, 4)", "{ 'a', 'b', 'c' }"),
    ("Slice({'a', 'b', 'c'}, 4, 2)", "{}"),
    ("Slice({'a', 'b', 'c'}, null, 2)", "{ 'a', 'b' }"),
    ("Flatten({{1}, null, {2}})", "{ 1, 2 }"),
    ("Flatten({{null}, {}})", "{ null }"),
    ("Flatten(null as List<List<Integer>>)", "null"),
])
def test_positions_and_slices(expr: str, expected: str) -> None:
    assert ev(expr) == expected


def test_singleton_from_several_elements_is_an_error() -> None:
    with pytest.raises(CqlRuntimeError):
        evaluate_expression("singleton from {1, 1}")


# ---------------------------------------------------------------- keys and fast paths

_SAMPLES = [
    1, 2, Decimal("1.0"), Decimal("2.50"), "a", "A", True, False,
    Date(2012), Date(2012, 1), Date(2012, 1, 1),
    DateTime(2012, 1, 1, 10, tz_offset=Decimal(0)), DateTime(2012, 1, 1, 11, tz_offset=Decimal(1)),
    DateTime(2012, 1, 1, 10, 0, tz_offset=Decimal(0)), DateTime(2012, 1, 1),
    Time(10), Time(10, 0), Time(10, 0, 0, 0),
    Code("a", "s"), Code("a", "s", display="x"), Concept((Code("a", "s"),)),
    Quantity(Decimal(1), "g"), Quantity(Decimal(1000), "mg"), Quantity(Decimal(2), "g"),
    [1, None], [1, None], [Decimal("1.00"), None], Tuple({"a": 1, "b": "x"}), Tuple({"b": "x", "a": 1}),
    Interval(1, 3, True, True, "Integer"), Interval(1, 4, True, False, "Integer"),
    {"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p1"},
]


@pytest.mark.parametrize("a", _SAMPLES, ids=repr)
def test_equality_keys_agree_with_equality(a: object) -> None:
    ka = equality_key(a)
    assert ka is not None
    for b in _SAMPLES:
        kb = equality_key(b)
        assert kb is not None
        if equal(a, b) is True:
            assert ka[0] == kb[0], (a, b)
        elif ka[1] and kb[1]:
            assert ka[0] != kb[0], (a, b)


def test_naive_datetimes_fall_back_to_pairwise_comparison() -> None:
    naive = DateTime(2012, 1, 1, 10)
    aware = DateTime(2012, 1, 1, 10, tz_offset=Decimal(0))
    assert equality_key(naive) is None
    assert distinct_list([naive, aware, naive]) == [naive]
    assert aware in Membership([1, naive])


def test_membership_and_contains_on_mixed_lists() -> None:
    items = ["a", None, 1, Decimal("2.0"), Code("c", "s")]
    members = Membership(items)
    assert None in members and 2 in members and "a" in members and Code("c", "s") in members
    assert "b" not in members and True not in members
    assert list_contains([True, 1], 1) is True
    assert list_contains([True], 1) is False


def test_large_lists_stay_linear() -> None:
    codes = [Code(str(i % 500), "http://loinc.org") for i in range(5000)]
    start = time.perf_counter()
    assert len(distinct_list(codes)) == 500
    members = Membership(codes)
    assert sum(1 for c in codes if c in members) == 5000
    resources = [{"resourceType": "Observation", "id": str(i % 200), "status": "final"} for i in range(2000)]
    assert len(distinct_list(resources)) == 200
    assert time.perf_counter() - start < 0.5
