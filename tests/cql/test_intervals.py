"""Interval operators and timing phrases through ``cql.evaluate_expression``.

Covers what the conformance suite covers thinly: open, closed and null
bounds (a closed null bound is the minimum/maximum of the point type, an open
null bound an uncertainty), comparisons at a precision, date/time intervals
with boundaries of mixed precision, collapse and expand with ``per``, and the
interval operator phrases end to end. Expected values follow the CQL 1.5
reference ("Interval Operators") and the timing phrase translations of the
language semantics; comments say why where it is not obvious.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cql import CqlRuntimeError, evaluate_expression, to_cql

NOW = "2024-01-15T12:00:00Z"


def ev(text: str) -> str:
    return to_cql(evaluate_expression(text, NOW))


def check(cases: list[tuple[str, str]]) -> None:
    for expr, expected in cases:
        assert ev(expr) == expected, expr


@pytest.mark.parametrize("expr, expected", [
    # Start/End: open bounds move inwards, closed nulls are the extremes, open nulls unknown
    ("start of Interval(1, 10]", "2"),
    ("end of Interval[1, 10)", "9"),
    ("start of Interval[null as Integer, 5]", "-2147483648"),
    ("end of Interval[1, null as Integer]", "2147483647"),
    ("start of Interval(null as Integer, 5]", "null"),
    ("end of Interval[1.0, 2.0)", "1.99999999"),
    ("start of Interval(@2012-01-01, @2012-02-01]", "@2012-01-02"),
    ("end of Interval[@2012-01, @2012-03)", "@2012-02"),
    ("start of Interval[null as Date, @2012-03-01]", "@0001-01-01"),
    ("end of Interval[@T10:00, null as Time]", "@T23:59:59.999"),
    ("start of (null as Interval<Integer>)", "null"),
])
def test_start_end(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    # in / contains: exclusive at open bounds, a closed null bound always holds
    ("5 in Interval[1, 5)", "false"),
    ("5 in Interval[1, 5]", "true"),
    ("1 in Interval(1, 5]", "false"),
    ("5 in Interval[null as Integer, null as Integer]", "true"),
    ("5 in Interval[1, null]", "true"),
    # an open null bound is unknown, except that no start follows a closed end
    ("5 in Interval(null as Integer, 10]", "null"),
    ("15 in Interval(null as Integer, 10]", "false"),
    ("10 in Interval(null as Integer, 10]", "true"),
    ("3 in Interval[3, null as Integer)", "true"),
    ("null in Interval[1, 10]", "null"),
    ("5 in (null as Interval<Integer>)", "false"),
    ("(null as Interval<Integer>) contains 5", "false"),
    ("Interval[1, 10] contains null", "null"),
    # the untyped Interval[null, null] carries no information: a null interval
    ("5 in Interval[null, null]", "false"),
    ("Interval[null, null] overlaps Interval[1, 10]", "null"),
    ("start of Interval[null, null]", "null"),
    # properly: strictly inside
    ("Interval[1, 10] properly includes 1", "false"),
    ("Interval[1, 10] properly includes 2", "true"),
    ("10 properly included in Interval[1, 10]", "false"),
])
def test_membership(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    # uncertainty reasoning over open null bounds (language semantics, "Interval Operators")
    ("Interval(null, 5] meets after Interval[11, null)", "false"),
    ("Interval(null, 5] meets before Interval(null, 25]", "null"),
    ("Interval[1, 10] overlaps Interval(null, 5]", "true"),
    ("Interval[1, 10] overlaps Interval(null, 0]", "false"),
    ("Interval[1, 5] before Interval[7, null)", "true"),
    ("Interval[7, null) after Interval[1, 5]", "true"),
    ("Interval[1, 10] intersect Interval[5, null)", "Interval[5, null)"),
    ("Interval(null, 5] union Interval[3, 10]", "Interval(null, 10]"),
    ("Interval[3, 5] except Interval(null, 1]", "Interval[3, 5]"),
    ("Interval[1, 5] except Interval[5, null)", "Interval[1, 4]"),
    # equality compares Start and End with =
    ("Interval(null as Integer, 10] = Interval(null as Integer, 10]", "null"),
    ("Interval(null as Integer, 10] = Interval(null as Integer, 11]", "false"),
    ("Interval(null as Integer, 10] ~ Interval(null as Integer, 10]", "true"),
    ("Interval[null as Integer, 10] = Interval[-2147483648, 10]", "true"),
    ("Interval[1, 10) = Interval[1, 9]", "true"),
    ("Interval[1.0, 2.0) = Interval[1.0, 1.99999999]", "true"),
])
def test_unknown_bounds(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("Interval[@2012-01-01, @2012-01-10] includes day of @2012-01-05", "true"),
    # an open bound is compared through its predecessor/successor at its own precision
    ("Interval[@2012-01-01T10:00, @2012-01-05T10:00) contains day of @2012-01-05T08:00", "true"),
    ("Interval[@2012-01-01T10:00, @2012-01-05T10:00) contains @2012-01-05T10:00", "false"),
    ("Interval[@2012-01-01T10:00, @2012-01-05T10:00) contains @2012-01-05T09:59", "true"),
    ("@2012-02-28 during day of Interval[@2011-12-31, @2012-02)", "false"),
    ("@2012-02-28 in year of Interval(@2012-02-15, @2012-03-01]", "true"),
    ("@2012-01-15 in Interval[@2011-12-31, @2012-02)", "true"),
    ("@2012-03 after Interval[@2012, @2012]", "null"),
    # seconds against milliseconds is uncertain unless compared at a coarser precision
    ("Interval[@2017-09-01T00:00:00, @2017-09-01T00:00:00] included in "
     "Interval[@2017-09-01T00:00:00.000, @2017-12-30T23:59:59.999]", "null"),
    ("Interval[@2017-09-01T00:00:00, @2017-09-01T00:00:00] included in day of "
     "Interval[@2017-09-01T00:00:00.000, @2017-12-30T23:59:59.999]", "true"),
    ("Interval[@2012-01-01T00:00, @2012-01-05T12:00] meets day of Interval[@2012-01-06T03:00, @2012-01-08T00:00]",
     "true"),
    ("Interval[@2012-01-01T00:00, @2012-01-05T12:00] meets Interval[@2012-01-06T03:00, @2012-01-08T00:00]",
     "false"),
    # partially specified boundaries meet at their own precision
    ("Interval[@T03, @T04] meets Interval[@T05, @T06]", "true"),
    ("Interval[@2012-01-01T10:00, @2012-01-05T10:00] same day as Interval[@2012-01-01T11:00, @2012-01-05T23:00]",
     "true"),
    ("Interval[@2012-01-01T10:00, @2012-01-05T10:00] same as Interval[@2012-01-01T11:00, @2012-01-05T23:00]",
     "false"),
    ("Interval[@2012-01-01, @2012-01-15] before month of @2012-02-01", "true"),
    ("Interval[@2012-01-01, @2012-01-15] before month of @2012-01-20", "false"),
    ("Interval[@2012-01-01, @2012-01-15] starts year of Interval[@2012-06-01, @2012-12-31]", "true"),
    # mixed precision: a month-precision end may or may not reach a day
    ("Interval[@2012-02-25, @2012-03-26] overlaps Interval[@2012-01-10, @2012-02]", "null"),
    ("Interval[@2012, @2013-03] overlaps Interval[@2012-02, @2013-02]", "true"),
    ("Interval[@2012-01-01, @2012-01] ends Interval[@2011-12-01, @2012-01-31]", "null"),
    # at hour precision DateTimes are normalized to the offset of the evaluation request (Z here):
    # 15:50+05:30 is 10:20Z, in the same hour as 10:55Z (in +05:30 they would be 15:50 and 16:25)
    ("Interval[@2012-01-01T15:50+05:30, @2012-01-01T20:00+05:30] starts hour of "
     "Interval[@2012-01-01T10:55Z, @2012-01-01T23:00Z]", "true"),
    # precision is ignored for non-temporal points
    ("Interval[1, 5] includes Interval[2, 3]", "true"),
])
def test_precision(expr: str, expected: str) -> None:
    assert ev(expr) == expected


def test_width_size_point() -> None:
    check([
        ("width of Interval[3, 7]", "4"),
        ("Size(Interval[3, 7])", "5"),
        ("Size(Interval[3, 8))", "5"),
        ("Size(Interval[3.0, 7.0])", "4.00000001"),
        ("width of Interval[0, null)", "null"),
        ("width of Interval[1.5 'mg', 4 'mg']", "2.5 'mg'"),
        ("point from Interval[4, 5)", "4"),
        ("point from Interval[null, null]", "null"),
    ])
    for expr in ("width of Interval[@2012-01-01, @2012-02-01]", "point from Interval[1, 4]",
                 "width of Interval[null as Integer, 1]"):
        with pytest.raises(CqlRuntimeError):
            evaluate_expression(expr, NOW)


def test_set_operations() -> None:
    check([
        ("Interval[1, 5] union Interval[6, 7]", "Interval[1, 7]"),
        ("Interval[1, 5] union Interval[7, 8]", "null"),
        ("Interval[1, 5] intersect Interval[3, 7]", "Interval[3, 5]"),
        ("Interval[1, 5] intersect Interval[6, 7]", "null"),
        ("Interval[0, 5] except Interval[3, 7]", "Interval[0, 2]"),
        ("Interval[1, 10] except Interval[12, 14]", "Interval[1, 10]"),
        ("Interval[1, 10] except Interval[1, 10]", "null"),
        ("Interval[1, 10] except Interval[3, 7]", "null"),
        ("Interval[@2012-01-07, @2012-01-16] except Interval[@2012-01-05, @2012-01-12]",
         "Interval[@2012-01-13, @2012-01-16]"),
    ])


def test_collapse() -> None:
    check([
        ("collapse { Interval[1, 4], Interval[4, 8], Interval[7, 9] }", "{ Interval[1, 9] }"),
        ("collapse { Interval[1, 2], Interval[3, 4] }", "{ Interval[1, 4] }"),
        ("collapse { Interval[1, 2], Interval[4, 5] }", "{ Interval[1, 2], Interval[4, 5] }"),
        ("collapse { Interval[1, 2], null, Interval[2, 3] }", "{ Interval[1, 3] }"),
        ("collapse null", "null"),
        ("collapse { Interval(null, null) }", "{}"),
        # per widens what counts as meeting: the next start within end + per
        ("collapse { Interval[1, 2], Interval[5, 6] } per 3", "{ Interval[1, 6] }"),
        ("collapse { Interval[1, 2], Interval[5, 6] } per 2", "{ Interval[1, 2], Interval[5, 6] }"),
        # an unknown start stays unknown after merging
        ("collapse { Interval(null as Integer, 5], Interval[3, 8] }", "{ Interval(null, 8] }"),
        # date/time intervals collapse at the coarsest boundary precision, or per's
        ("collapse { Interval[@2012-01-01, @2012-01-10], Interval[@2012-01-11, @2012-01-30] }",
         "{ Interval[@2012-01-01, @2012-01-30] }"),
        ("collapse { Interval[@2012-01-01, @2012-01-10], Interval[@2012-01-20, @2012-01-30] }",
         "{ Interval[@2012-01-01, @2012-01-10], Interval[@2012-01-20, @2012-01-30] }"),
        ("collapse { Interval[@2012-01-01, @2012-01-10], Interval[@2012-01-20, @2012-01-30] } per month",
         "{ Interval[@2012-01-01, @2012-01-30] }"),
        ("collapse { Interval[@T10, @T11], Interval[@T11:30, @T12:00] }", "{ Interval[@T10, @T12:00] }"),
        ("collapse { Interval[@T10:00, @T11:00], Interval[@T11:30, @T12:00] }",
         "{ Interval[@T10:00, @T11:00], Interval[@T11:30, @T12:00] }"),
        ("collapse { Interval[@T10:00, @T11:00], Interval[@T11:30, @T12:00] } per hour",
         "{ Interval[@T10:00, @T12:00] }"),
    ])


def test_expand_numeric_per_types() -> None:
    # an Integer or Decimal per gives points of its own type (the reference's examples)
    points = evaluate_expression("expand Interval[10.0, 12.5] per 1", NOW)
    assert points == [10, 11, 12] and all(type(p) is int for p in points)
    points = evaluate_expression("expand Interval[10, 10] per 0.1", NOW)
    assert len(points) == 10 and all(type(p) is Decimal for p in points)
    assert to_cql(points[-1]) == "10.9"
    intervals = evaluate_expression("expand { Interval[10.0, 12.5) } per 1", NOW)
    assert [(iv.low, iv.high) for iv in intervals] == [(10, 10), (11, 11), (12, 12)]
    assert all(type(iv.low) is int for iv in intervals)
    assert ev("expand Interval[1L, 5L] per 2") == "{ 1L, 3L }"
    assert ev("expand Interval[1, 2] per 0.5") == "{ 1.0, 1.5, 2.0, 2.5 }"
    # a per given as a Quantity keeps the point type
    assert ev("expand Interval[1, 3] per 1 '1'") == "{ 1, 2, 3 }"
    with pytest.raises(CqlRuntimeError):
        evaluate_expression("expand Interval[1, 3] per 0.5 '1'", NOW)


def test_expand() -> None:
    check([
        ("expand Interval[1, 10] per 3", "{ 1, 4, 7 }"),
        ("expand { Interval(1, 10] } per 3", "{ Interval[2, 4], Interval[5, 7], Interval[8, 10] }"),
        ("expand { Interval[1, 3], Interval[2, 4] }", "{ Interval[1, 1], Interval[2, 2], Interval[3, 3], Interval[4, 4] }"),
        ("expand { Interval[1, null) }", "{}"),
        # the per of a Decimal interval defaults to the coarsest boundary precision
        ("expand Interval[1.5, 1.8]", "{ 1.5, 1.6, 1.7, 1.8 }"),
        ("expand Interval[10, 10] per 0.5", "{ 10.0, 10.5 }"),
        ("expand Interval[1.0 'g', 3.0 'g'] per 500 'mg'", "{ 1.0 'g', 1.5 'g', 2.0 'g', 2.5 'g' }"),
        ("expand Interval[@2018-01-31, @2018-03-04] per month", "{ @2018-01, @2018-02, @2018-03 }"),
        ("expand Interval[@2018-01-01, @2018-01-20] per week", "{ @2018-01-01, @2018-01-08 }"),
        ("expand { Interval[@2018-01-01, @2018-01-05] } per 2 days",
         "{ Interval[@2018-01-01, @2018-01-02], Interval[@2018-01-03, @2018-01-04] }"),
        # boundaries less precise than the per contribute nothing
        ("expand Interval[@2018-01, @2018-03] per day", "{}"),
        ("expand { Interval[@T10:00, @T12] }", "{ Interval[@T10, @T10], Interval[@T11, @T11], Interval[@T12, @T12] }"),
    ])
    for expr in ("expand { Interval[1, null] }", "expand Interval[1, 5] per 1 day",
                 "expand Interval[@2018-01-01, @2018-01-03] per 1", "expand Interval[@2018-01-01, @2018-01-03] per hour"):
        with pytest.raises(CqlRuntimeError):
            evaluate_expression(expr, NOW)


@pytest.mark.parametrize("expr, expected", [
    # A starts 3 days or less before start B: start of A in [start of B - 3 days, start of B)
    ("Interval[@2012-01-02, @2012-01-20] starts 3 days or less before start of Interval[@2012-01-05, @2012-01-30]",
     "true"),
    ("Interval[@2012-01-01, @2012-01-20] starts 3 days or less before start of Interval[@2012-01-05, @2012-01-30]",
     "false"),
    ("Interval[@2012-01-05, @2012-01-20] starts 3 days or less before start of Interval[@2012-01-05, @2012-01-30]",
     "false"),
    # 'on or' includes B itself
    ("Interval[@2012-01-05, @2012-01-20] starts 3 days or less on or before start of "
     "Interval[@2012-01-05, @2012-01-30]", "true"),
    ("@2012-01-05 less than 3 days after @2012-01-02", "false"),
    ("@2012-01-04 less than 3 days after @2012-01-02", "true"),
    ("@2012-01-05 3 days or less after @2012-01-02", "true"),
    # the offset unit does not set a precision: only 'day of' does
    ("@2012-01-05T10:00 1 day or less after @2012-01-04T09:00", "false"),
    ("@2012-01-05T10:00 1 day or less after day of @2012-01-04T09:00", "true"),
    ("@2012-01-05T10:00 1 day after @2012-01-04T09:00", "false"),
    ("@2012-01-05T10:00 1 day after day of @2012-01-04T09:00", "true"),
    # or more / more than
    ("@2012-01-01 3 days or more before @2012-01-04", "true"),
    ("@2012-01-01 more than 3 days before @2012-01-04", "false"),
    ("@2012-01-10 more than 3 days after @2012-01-04", "true"),
    # an interval operand stands for its end (before) or start (after)
    ("Interval[@2012-01-01, @2012-01-03] 2 days before @2012-01-05", "true"),
    ("Interval[@2012-01-07, @2012-01-09] 2 days after Interval[@2012-01-01, @2012-01-05]", "true"),
    # B null: the phrase is false (the spec's 'and B is not null')
    ("@2012-01-05 3 days or less after (null as Date)", "false"),
    ("@2012-01-05 within 3 days of (null as Date)", "false"),
    ("(null as Date) 3 days or less after @2012-01-05", "null"),
    ("@2012-01-05 3 days after (null as Date)", "null"),
    # within: [start of B - q, end of B + q]; properly within: open
    ("@2012-01-05 within 3 days of @2012-01-02", "true"),
    ("@2012-01-05 properly within 3 days of @2012-01-02", "false"),
    ("@2012-01-04 properly within 3 days of @2012-01-02", "true"),
    ("@2012-01-14 within 3 days of Interval[@2012-01-05, @2012-01-11]", "true"),
    ("Interval[@2012-01-02, @2012-01-14] occurs within 3 days of Interval[@2012-01-05, @2012-01-11]", "true"),
    ("Interval[@2012-01-01, @2012-01-14] occurs within 3 days of Interval[@2012-01-05, @2012-01-11]", "false"),
    # an ongoing interval (closed null end) ends at the end of time, also 3 days later
    ("@2012-01-05 within 3 days of Interval[@2012-01-01, null]", "true"),
    ("@2012-01-05T10:00 within 3 days of Interval[@2012-01-01T00:00, null]", "true"),
    ("@2011-12-25 within 3 days of Interval[null as Date, @2012-01-01]", "true"),
    ("@2012-01-05 3 days or more after end of Interval[@2012-01-01, null]", "false"),
    # same / on or
    ("Interval[@2012-01-05T10:00, @2012-01-06] starts same day as start of Interval[@2012-01-05T23:00, @2012-01-09]",
     "true"),
    ("Interval[@2012-12-01, @2013-12-01] on or after month of @2012-11-15", "true"),
    ("@2012-11-15 on or after month of Interval[@2012-12-01, @2013-12-01]", "false"),
    ("Interval[6, 10] on or after 6", "true"),
    ("Interval[1, 5] ends before start of Interval[6, 10]", "true"),
    ("Interval[1, 5] starts during Interval[0, 3]", "true"),
    ("Interval[0, 10] includes start of Interval[5, 20]", "true"),
    ("Interval[0, 10] properly includes Interval[0, 5]", "true"),
    ("Interval[0, 5] properly during Interval[0, 5]", "false"),
])
def test_timing_phrases(expr: str, expected: str) -> None:
    assert ev(expr) == expected


def test_issue32_day_precision_inclusive() -> None:
    # the conformance case: the 'on or' bound and 'day of' together
    assert ev("Interval[@2017-12-20T10:30:00, @2017-12-20T12:00:00] starts 1 day or less on or after day of "
              "start of Interval[@2017-12-20T11:00:00, @2017-12-21T21:00:00]") == "true"
