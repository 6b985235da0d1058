"""Parser: precedence, phrases, libraries, and located syntax errors."""

from __future__ import annotations

import pytest

from cql import ast
from cql.errors import CqlSyntaxError
from cql.parser import parse_expression, parse_library


def test_multiplication_binds_tighter_than_addition():
    e = parse_expression("1 + 2 * 3")
    assert isinstance(e, ast.Binary) and e.op == "+"
    assert isinstance(e.right, ast.Binary) and e.right.op == "*"


def test_set_operators_are_loosest():
    e = parse_expression("{1} union {2} = {1, 2}")
    assert isinstance(e, ast.Binary) and e.op == "union"
    assert isinstance(e.right, ast.Binary) and e.right.op == "="


def test_not_binds_tighter_than_equality():
    e = parse_expression("not true = false")
    assert isinstance(e, ast.Binary) and e.op == "="
    assert isinstance(e.left, ast.Unary) and e.left.op == "not"


def test_and_binds_tighter_than_or():
    e = parse_expression("a or b and c")
    assert e.op == "or" and e.right.op == "and"


def test_negative_literals_fold():
    e = parse_expression("-2147483648")
    assert isinstance(e, ast.Literal) and e.value == "-2147483648"


def test_power_after_negation():
    e = parse_expression("-2^2")
    assert isinstance(e, ast.Binary) and e.op == "^"


def test_quantity_and_ratio_literals():
    q = parse_expression("5.5 'mg'")
    assert isinstance(q, ast.QuantityLiteral) and q.unit == "mg"
    r = parse_expression("1 'mg':2 'mL'")
    assert isinstance(r, ast.RatioLiteral) and r.denominator.unit == "mL"
    d = parse_expression("3 days")
    assert isinstance(d, ast.QuantityLiteral) and d.unit == "days"


def test_temporal_literals():
    assert parse_expression("@2014-01-01").kind == "date"
    assert parse_expression("@2014-01-01T10:00:00.000+01:00").kind == "datetime"
    assert parse_expression("@2014T").kind == "datetime"
    assert parse_expression("@T12:00").kind == "time"


def test_tuple_list_and_instance_selectors():
    assert isinstance(parse_expression("{ a: 1, b: 'x' }"), ast.TupleSelector)
    assert isinstance(parse_expression("{ 1, 2 }"), ast.ListSelector)
    assert isinstance(parse_expression("{}"), ast.ListSelector)
    assert isinstance(parse_expression("Tuple { : }"), ast.TupleSelector)
    inst = parse_expression("Code { code: '1', system: 'x' }")
    assert isinstance(inst, ast.InstanceSelector) and inst.type.name == "Code"


@pytest.mark.parametrize("text,kind,extra", [
    ("A starts same day as start B", "same", {"prefix": "starts", "precision": "day", "suffix": "start"}),
    ("A properly includes B", "includes", {"properly": True}),
    ("A during day of B", "included_in", {"precision": "day"}),
    ("A 3 days or less before B", "before_after", {"offset_qualifier": "or less", "relation": "before"}),
    ("A less than 3 days after B", "before_after", {"offset_qualifier": "less than", "relation": "after"}),
    ("A on or after B", "before_after", {"inclusive": True}),
    ("A before or on B", "before_after", {"inclusive": True}),
    ("A occurs properly within 3 days of end B", "within", {"prefix": "occurs", "properly": True, "suffix": "end"}),
    ("A meets before B", "meets", {"relation": "before"}),
    ("A overlaps after day of B", "overlaps", {"relation": "after", "precision": "day"}),
    ("A starts B", "starts", {}),
    ("A ends day of B", "ends", {"precision": "day"}),
])
def test_timing_phrases(text, kind, extra):
    e = parse_expression(text)
    assert isinstance(e, ast.Timing) and e.phrase.kind == kind
    for key, value in extra.items():
        assert getattr(e.phrase, key) == value


def test_start_of_is_an_extractor_not_a_suffix():
    e = parse_expression("A same as start of B")
    assert e.phrase.suffix is None
    assert isinstance(e.right, ast.Unary) and e.right.op == "start"


def test_query_clauses():
    e = parse_expression(
        "from [Condition] C, [Observation] O let x: 1 with [Encounter] E such that E.id = C.id "
        "where C.id = O.id return all Tuple { c: C } sort by c desc")
    assert isinstance(e, ast.Query)
    assert [s.alias for s in e.sources] == ["C", "O"]
    assert e.lets[0][0] == "x" and e.relationships[0].kind == "with"
    assert e.return_distinct is False and e.sort[0].descending


def test_aggregate_clause_with_starting():
    e = parse_expression("({1, 2}) L aggregate distinct A starting 1: A * L")
    assert e.aggregate.distinct and isinstance(e.aggregate.starting, ast.Literal)


def test_retrieve_forms():
    r = parse_expression("[Condition: code in \"VS\"]")
    assert r.code_path == "code" and r.comparator == "in"
    r = parse_expression("[Observation: \"B12\"]")
    assert r.code_path is None and isinstance(r.terminology, ast.Identifier)


def test_library_declarations():
    lib = parse_library("""
        library Test version '1.0.0'
        using FHIR version '4.0.1'
        include FHIRHelpers version '4.0.1' called FHIRHelpers
        codesystem "LOINC": 'http://loinc.org'
        valueset "VS": 'http://x/vs' version '1'
        code "C": '2132-9' from "LOINC" display 'B12'
        concept "K": { "C" } display 'k'
        parameter "Months" Integer default 12
        context Patient
        define private "X": 1
        define fluent function F(a Integer) returns Integer: a + 1
    """)
    assert lib.name == "Test" and lib.version == "1.0.0"
    assert lib.includes[0].alias == "FHIRHelpers"
    assert lib.parameters[0].type.name == "Integer"
    x = lib.statements[1]
    assert isinstance(x, ast.ExpressionDef) and x.access == "private" and x.context == "Patient"
    f = lib.statements[2]
    assert isinstance(f, ast.FunctionDef) and f.fluent and f.return_type.name == "Integer"


@pytest.mark.parametrize("text,line,col", [
    ("1 +", 1, 4),
    ("Interval[1, 2", 1, 14),
    ("(1 + 2", 1, 7),
    ("'unterminated", 1, 1),
    ("if true then 1", 1, 15),
])
def test_syntax_errors_are_located(text, line, col):
    with pytest.raises(CqlSyntaxError) as info:
        parse_expression(text)
    assert (info.value.line, info.value.column) == (line, col)


def test_library_syntax_error_location():
    with pytest.raises(CqlSyntaxError) as info:
        parse_library("library X\ndefine A: 1\ndefine B 2\n")
    assert info.value.line == 3
    assert "expected ':'" in info.value.message


def test_convert_with_a_parenthesized_operand():
    e = parse_expression("convert (5 'mg') to 'g'")
    assert isinstance(e, ast.Convert) and e.unit == "g"


def test_a_define_may_not_reuse_a_value_set_name():
    from cql import compile_library
    from cql.errors import CqlSemanticError

    with pytest.raises(CqlSemanticError) as info:
        compile_library("library T\nvalueset \"X\": 'http://x/vs'\ndefine \"X\": 1\n")
    assert "already declared as a valueset" in info.value.message and info.value.line == 3
