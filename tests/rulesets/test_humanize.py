"""CQL values rendered for people."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cds_hooks.rulesets.humanize import format_unit, humanize, markdown_escape
from cql.values import Code, Concept, Interval, Tuple


@pytest.mark.parametrize("value, text", [
    (None, "unknown"),
    (True, "yes"),
    (False, "no"),
    (72, "72"),
    (Decimal("45.1"), "45.1"),
    (Decimal("148.00"), "148.00"),
    (Decimal("-0.0"), "0.0"),
    ("text", "text"),
    (["a", "b"], "a, b"),
    ([], "none"),
    (Code("11289", "http://rxnorm", display="warfarin"), "warfarin"),
    (Code("11289", "http://rxnorm"), "11289"),
    (Concept((Code("1", display="one"),), display=None), "one"),
    (Interval(1, 5), "1 to 5"),
    (Tuple({"a": 1}), "a: 1"),
    ({"value": 115, "unit": "pmol/L", "system": "http://unitsofmeasure.org"}, "115 pmol/L"),
    ({"coding": [{"system": "s", "code": "c", "display": "Warfarin"}]}, "Warfarin"),
])
def test_values(value: object, text: str) -> None:
    assert humanize(value) == text


def test_units() -> None:
    assert format_unit("mL/min/{1.73_m2}") == "mL/min/1.73 m2"
    assert format_unit("1") == ""
    assert format_unit("mo", Decimal(3)) == "months"
    assert format_unit("year", 1) == "year"
    assert format_unit("pmol/L") == "pmol/L"


def test_resources_have_no_text_form() -> None:
    with pytest.raises(TypeError):
        humanize({"resourceType": "Observation", "id": "1"})
    with pytest.raises(TypeError):
        humanize(object())


def test_markdown_escape() -> None:
    assert markdown_escape("[click](http://x) *bold* <b>") == r"\[click\](http://x) \*bold\* \<b\>"


@pytest.mark.parametrize("expression, text", [
    ("115 'pmol/L'", "115 pmol/L"),
    ("60 'mL/min/{1.73_m2}'", "60 mL/min/1.73 m2"),
    ("3 months", "3 months"),
    ("1 year", "1 year"),
    ("@2026-03-04", "2026-03-04"),
    ("@2026-03", "2026-03"),
    ("@2026-03-04T10:30:00.000+01:00", "2026-03-04 10:30"),
    ("@2026-03-04T", "2026-03-04"),
    ("@T14:05", "14:05"),
    ("1 'mg':2 'mL'", "1 mg : 2 mL"),
    ("Round(45.123, 1)", "45.1"),
    ("{'a', 'b'}", "a, b"),
    ("Interval[@2026-01-01, @2026-03-01]", "2026-01-01 to 2026-03-01"),
])
def test_values_from_the_engine(expression: str, text: str) -> None:
    import cql

    assert humanize(cql.evaluate_expression(expression)) == text
