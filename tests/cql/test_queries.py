"""Query semantics through ``cql.evaluate_expression``: single and multiple sources, null
sources, let, with/without, where, return (distinct and all), aggregate, sort.

Expected values follow the CQL 1.5 Author's and Developer's Guides; where those
are silent, the reference engine's results (noted in a comment).
"""

from __future__ import annotations

import time

import pytest

from cql import CqlSemanticError, compile_library, evaluate_expression, to_cql


def ev(text: str) -> str:
    return to_cql(evaluate_expression(text))


@pytest.mark.parametrize("expr, expected", [
    # a single non-list source gives a single value
    ("(4) X", "4"),
    ("(4) X where X > 5", "null"),
    ("(4) X return X * 2", "8"),
    ("(null as Integer) X return X", "null"),
    # a null list source gives null
    ("(null as List<Integer>) X return X", "null"),
    ("(null as List<Integer>) X aggregate A starting 0: A + X", "null"),
    ("({} as List<Integer>) X aggregate A starting 5: A + X", "5"),
    # several sources: the cartesian product, tuples without a return clause
    ("from ({1, 2}) A, ({'x'}) B", "{ Tuple { A: 1, B: 'x' }, Tuple { A: 2, B: 'x' } }"),
    ("from (4) A, (5) B", "Tuple { A: 4, B: 5 }"),
    ("from (4) A, (5) B return A + B", "9"),
    ("from ({4}) A, (5) B return A + B", "{ 9 }"),
    # (reference engine) a null source of a multi-source query has no elements
    ("from ({1, 2}) A, (null as List<Integer>) B", "{}"),
    ("from ({1, 2}) A, ({1, 2}) B where A < B return A * 10 + B", "{ 12 }"),
])
def test_sources(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("({1, 2, 2, null, null}) X", "{ 1, 2, 2, null, null }"),
    ("({1, 2, 2, null, null}) X return X", "{ 1, 2, null }"),
    ("({1, 2, 2, null, null}) X return distinct X", "{ 1, 2, null }"),
    ("({1, 2, 2, null, null}) X return all X", "{ 1, 2, 2, null, null }"),
    ("({1, 2, 3}) X where X > 1 and null", "{}"),
    ("({1, 2, 3}) X where X in {1, 3} return Tuple { v: X }", "{ Tuple { v: 1 }, Tuple { v: 3 } }"),
])
def test_where_and_return(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("({1, 2, 3}) X let Y: X * 10, Z: Y + 1 return Z", "{ 11, 21, 31 }"),
    ("({1, 2, 3}) X let Y: X * 10 where Y > 15 return Y", "{ 20, 30 }"),
    ("({3, 1, 2}) X with ({2, 3}) Y such that X = Y", "{ 3, 2 }"),
    ("({3, 1, 2}) X without ({2, 3}) Y such that X = Y", "{ 1 }"),
    ("({3, 1, 2}) X with (null as List<Integer>) Y such that true", "{}"),
    ("({3, 1, 2}) X without (null as List<Integer>) Y such that true", "{ 3, 1, 2 }"),
    ("({3, 1, 2}) X with (2) Y such that X = Y", "{ 2 }"),
    # such that conditions see the let values; several relationships all apply
    ("({1, 2, 3}) X let D: X * 2 with ({4, 6}) Y such that Y = D without ({6}) W such that W = D", "{ 2 }"),
    # nested queries keep their own aliases
    ("({1, 2}) X return (({10, 20}) Y return X + Y)", "{ { 11, 21 }, { 12, 22 } }"),
    ("({1, 2}) X where exists (({2, 3}) Y where Y = X)", "{ 2 }"),
])
def test_let_and_relationships(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("({1, 2, 3}) X aggregate A: Coalesce(A, 0) + X", "6"),
    ("({1, 2, 3}) X aggregate A: A", "null"),
    ("({1, 1, 2}) X aggregate all A starting 0: A + X", "4"),
    ("({1, 1, 2}) X aggregate distinct A starting 0: A + X", "3"),
    ("({1, null, null, 2}) X aggregate distinct A starting 0: A + Coalesce(X, 100)", "103"),
    # distinct rows keep their own let values
    ("({1, 1, 2}) X let D: X * 10 aggregate distinct A starting 0: A + D", "30"),
    ("from ({1, 1}) X, ({2, 2}) Y aggregate distinct A starting 0: A + X + Y", "3"),
    ("({1, 2, 3}) X where X > 1 aggregate A starting 1: A * X", "6"),
    ("({'a', 'b'}) X aggregate A starting '': A + X", "'ab'"),
])
def test_aggregate(expr: str, expected: str) -> None:
    assert ev(expr) == expected


_ROWS = ("{ Tuple { k: 2, n: 'a' }, Tuple { k: null, n: 'b' }, Tuple { k: 1, n: 'c' }, Tuple { k: 2, n: 'd' }, "
         "Tuple { k: 1, n: 'e' } }")


@pytest.mark.parametrize("expr, expected", [
    ("({3, null, 1, 2}) X sort asc", "{ null, 1, 2, 3 }"),
    ("({3, null, 1, 2}) X sort desc", "{ 3, 2, 1, null }"),
    ("({3, 1, 2}) X sort ascending", "{ 1, 2, 3 }"),
    ("({1, 2.5, 2}) X sort desc", "{ 2.5, 2, 1 }"),
    ("({'b', 'B', 'a'}) X sort asc", "{ 'B', 'a', 'b' }"),
    # sort by element properties: stable, nulls first ascending and last descending
    (f"(({_ROWS}) R sort by k) S return all S.n", "{ 'b', 'c', 'e', 'a', 'd' }"),
    (f"({_ROWS}) R return all R.n sort asc", "{ 'a', 'b', 'c', 'd', 'e' }"),
    (f"({_ROWS}) R sort by k desc", "{ Tuple { k: 2, n: 'a' }, Tuple { k: 2, n: 'd' }, Tuple { k: 1, n: 'c' }, "
                                    "Tuple { k: 1, n: 'e' }, Tuple { k: null, n: 'b' } }"),
    (f"({_ROWS}) R sort by k asc, n desc", "{ Tuple { k: null, n: 'b' }, Tuple { k: 1, n: 'e' }, "
                                           "Tuple { k: 1, n: 'c' }, Tuple { k: 2, n: 'd' }, Tuple { k: 2, n: 'a' } }"),
    # sort by an expression of the element; $this is the element
    ("({-3, 1, -2}) X sort by Abs($this)", "{ 1, -2, -3 }"),
    ("({Tuple { p: Interval[3, 5] }, Tuple { p: Interval[1, 9] }}) X sort by p.low",
     "{ Tuple { p: Interval[1, 9] }, Tuple { p: Interval[3, 5] } }"),
    # the sort applies to the returned values, after duplicates are removed
    ("({3, 1, 3, 2}) X return X * 10 sort desc", "{ 30, 20, 10 }"),
    # date/times: by earliest instant, the less precise first when uncertain
    ("({@2012-10-05T10, @2012-01-01, @2012-01-01T12, @2012-10-05}) X sort asc",
     "{ @2012-01-01T, @2012-01-01T12, @2012-10-05T, @2012-10-05T10 }"),
    ("({@2012-02, @2012, @2011-12-31}) X sort asc", "{ @2011-12-31, @2012, @2012-02 }"),
    ("({1 'm', 20 'cm', 3 'mm'}) X sort asc", "{ 3 'mm', 20 'cm', 1 'm' }"),
])
def test_sort(expr: str, expected: str) -> None:
    text = ev(expr)
    # DateTime literals take the evaluation's offset: compare without it
    assert text.replace("+00:00", "").replace("Z", "") == expected.replace("Z", "")


def test_sort_by_alias_is_rejected() -> None:
    # sort items are evaluated on the result elements: the aliases are not in scope
    with pytest.raises(CqlSemanticError):
        evaluate_expression("({1, 2}) X sort by X")


def test_aliases_restored_after_nested_evaluation() -> None:
    lib = compile_library("""
library T version '1'
define function F(x Integer): ({x, x + 1}) X return X * 2
define R: ({1, 2}) X return Tuple { a: X, b: F(X), c: X }
""")
    assert to_cql(lib.evaluate()["R"]) == \
        "{ Tuple { a: 1, b: { 2, 4 }, c: 1 }, Tuple { a: 2, b: { 4, 6 }, c: 2 } }"


def test_queries_over_a_few_hundred_elements_are_fast() -> None:
    rows = ", ".join(f"Tuple {{ id: '{i % 150}', v: {i % 37}, d: @2020-01-{i % 28 + 1:02d} }}" for i in range(300))
    lib = compile_library(f"""
library P version '1'
define Rows: {{ {rows} }}
define Sorted: Rows R sort by d desc, v
define Ids: Rows R return R.id
define Joined: from Rows A, ({{1, 5, 9}}) B where A.v = B return A.id
define Related: Rows A with Rows B such that B.id = A.id and B.v > A.v return A.id
define Total: Rows R aggregate distinct T starting 0: T + R.v
""")
    start = time.perf_counter()
    result = lib.evaluate()
    elapsed = time.perf_counter() - start
    assert len(result["Sorted"]) == 300
    assert len(result["Ids"]) == 150
    assert elapsed < 2.0


def test_sort_by_property_wins_over_a_define_of_the_same_name():
    from cql import compile_library

    lib = compile_library(
        "library T\n"
        "define \"a\": 99\n"
        "define \"Sorted\": ({ Tuple { a: 2 }, Tuple { a: 1 }, Tuple { a: 3 } }) X sort by a\n")
    result = lib.evaluate()["Sorted"]
    assert [t.elements["a"] for t in result] == [1, 2, 3]
