"""Value sets from FHIR ValueSet resources, membership, and errors for missing or unsupported ones."""

from __future__ import annotations

import pytest

import cql
from cql.fhir.terminology import Terminology, parse_valueset
from cql.values import Code, Concept

from .data import BASE, ICD10, LOINC, SNOMED, valueset_compose, valueset_expansion, valuesets
from .util import evaluate, library, one


def test_expansion_with_nested_contains_skips_abstract_entries() -> None:
    vs = parse_valueset(valueset_expansion(BASE + "x", [(ICD10, "E11.42"), (ICD10, "E11.9")], nested=True))
    assert vs.has(ICD10, "E11.42") and vs.has(ICD10, "E11.9")
    assert not vs.has(ICD10, "group")  # abstract: navigation only
    assert not vs.has(SNOMED, "E11.9")


def test_compose_with_enumerated_concepts_and_exclude() -> None:
    resource = valueset_compose(BASE + "x", SNOMED, ["1", "2", "3"])
    resource["compose"]["exclude"] = [{"system": SNOMED, "concept": [{"code": "2"}]}]
    vs = parse_valueset(resource)
    assert [c.code for c in vs.entries] == ["1", "3"]


def test_expansion_wins_over_compose() -> None:
    resource = valueset_expansion(BASE + "x", [(LOINC, "1-8")])
    resource["compose"] = {"include": [{"system": LOINC, "filter": [{"property": "x", "op": "=", "value": "y"}]}]}
    assert parse_valueset(resource).has(LOINC, "1-8")


@pytest.mark.parametrize("include", [
    {"system": SNOMED, "filter": [{"property": "concept", "op": "is-a", "value": "302226006"}]},
    {"system": SNOMED},
])
def test_intensional_compose_is_unsupported(include: dict) -> None:
    resource = {"resourceType": "ValueSet", "url": BASE + "neuropathy", "compose": {"include": [include]}}
    with pytest.raises(cql.CqlUnsupportedError):
        parse_valueset(resource)
    with pytest.raises(cql.CqlUnsupportedError):
        one("[Condition: \"Neuropathy\"]", valuesets=[resource] + valuesets()[1:])


def test_compose_imports_other_value_sets_given() -> None:
    part = valueset_expansion(BASE + "part", [(SNOMED, "302226006")])
    whole = {"resourceType": "ValueSet", "url": BASE + "neuropathy",
             "compose": {"include": [{"valueSet": [BASE + "part"]}]}}
    given = [whole, part] + valuesets()[1:]
    assert len(one("[Condition: \"Neuropathy\"]", valuesets=given)) == 2
    with pytest.raises(cql.CqlRuntimeError, match="imports"):
        one("[Condition: \"Neuropathy\"]", valuesets=[whole] + valuesets()[1:])


def test_membership_of_codes_concepts_lists_and_strings() -> None:
    result = evaluate({
        "Code": "\"B12 mass\" in \"B12\"",
        "Concept": "\"B12 tests\" in \"B12\"",
        "List": "{ \"Neuropathy code\", \"B12 mass\" } in \"B12\"",
        "Empty list": "(List<Code>{}) in \"B12\"",
        "String": "'2132-9' in \"B12\"",
        "Wrong system": "Code { code: '2132-9', system: 'http://snomed.info/sct' } in \"B12\"",
        "Null": "(null as Code) in \"B12\"",
        "Any": "AnyInValueSet({ \"Neuropathy code\", \"B12 moles\" }, \"B12\")",
        "Any none": "AnyInValueSet({ \"Neuropathy code\" }, \"B12\")",
        "FHIR concept": "First([Observation] O where O.id = 'o-b12-pmol').code in \"B12\"",
        "FHIR coding": "First([Observation] O where O.id = 'o-b12-pmol').code.coding[0] in \"B12\"",
        "Version ignored": "Code { code: '2132-9', system: 'http://loinc.org', version: '2.77' } in \"B12\"",
    })
    assert result == {"Code": True, "Concept": True, "List": True, "Empty list": False, "String": True,
                      "Wrong system": False, "Null": False, "Any": True, "Any none": False, "FHIR concept": True,
                      "FHIR coding": True, "Version ignored": True}


def test_string_membership_is_ambiguous_with_several_systems() -> None:
    mixed = valueset_expansion(BASE + "b12", [(LOINC, "2132-9"), (SNOMED, "2132-9")])
    with pytest.raises(cql.CqlRuntimeError, match="ambiguous"):
        one("'2132-9' in \"B12\"", valuesets=[mixed] + [v for v in valuesets() if v["url"] != BASE + "b12"])


def test_expand_value_set() -> None:
    assert one("ExpandValueSet(\"Diabetes\")") == [Code("E11.42", ICD10), Code("E11.9", ICD10)]


def test_code_system_membership() -> None:
    result = evaluate({"Code": "\"B12 mass\" in \"LOINC\"", "Other": "\"B12 mass\" in \"SNOMED\"",
                       "Any": "AnyInCodeSystem({ \"Neuropathy code\" }, \"SNOMED\")",
                       "Concept": "\"B12 tests\" in \"LOINC\""})
    assert result == {"Code": True, "Other": False, "Any": True, "Concept": True}


def test_missing_value_set_is_an_error_at_its_declaration() -> None:
    given = [v for v in valuesets() if v["url"] != BASE + "metformin"]
    with pytest.raises(cql.CqlRuntimeError, match="metformin") as info:
        # Even when no define uses it: every declared value set must be given.
        evaluate({"X": "1"}, valuesets=given)
    assert info.value.line is not None


def test_value_set_version_declared_in_the_library() -> None:
    extra = "valueset \"Pinned\": 'http://example.org/fhir/ValueSet/pinned' version '2'\n"
    v1 = valueset_expansion(BASE + "pinned", [(LOINC, "2132-9")])
    v2 = dict(valueset_expansion(BASE + "pinned", [(LOINC, "14685-2")]), version="2")
    assert evaluate({"X": "\"B12 mass\" in \"Pinned\"", "Y": "\"B12 moles\" in \"Pinned\""}, extra=extra,
                    valuesets=valuesets() + [v1, v2]) == {"X": False, "Y": True}
    with pytest.raises(cql.CqlRuntimeError, match="version '2'"):
        evaluate({"X": "1"}, extra=extra, valuesets=valuesets() + [v1])


def test_several_versions_of_an_unpinned_value_set_are_ambiguous() -> None:
    v2 = dict(valueset_expansion(BASE + "b12", [(LOINC, "14685-2")]), version="2")
    with pytest.raises(cql.CqlRuntimeError, match="several versions"):
        evaluate({"X": "1"}, valuesets=valuesets() + [v2])


def test_value_sets_in_a_bundle_and_not_value_sets() -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": v} for v in valuesets()]}
    assert one("\"B12 mass\" in \"B12\"", valuesets=[bundle]) is True
    with pytest.raises(cql.CqlRuntimeError, match="ValueSet"):
        one("1", valuesets=valuesets() + [{"resourceType": "Patient"}])


def test_included_library_value_sets_are_checked() -> None:
    common = ("library Common version '1'\nusing FHIR version '4.0.1'\n"
              "valueset \"Extra\": 'http://example.org/fhir/ValueSet/extra'\n"
              "context Patient\ndefine \"Has extra\": exists [Condition: \"Extra\"]\n")
    main = ("library Main version '1'\nusing FHIR version '4.0.1'\ninclude Common version '1' called Common\n"
            "context Patient\ndefine X: Common.\"Has extra\"\n")
    lib = cql.compile_library(main, libraries={"Common": common})
    assert lib.referenced_valuesets == [(BASE + "extra", None)]
    with pytest.raises(cql.CqlRuntimeError, match="extra"):
        lib.evaluate([], valuesets=[])
    extra = valueset_expansion(BASE + "extra", [(SNOMED, "1")])
    assert lib.evaluate([], valuesets=[extra]) == {"X": False}


def test_prebuilt_terminology_can_be_reused() -> None:
    lib = library({"X": "\"B12 mass\" in \"B12\""})
    terminology = Terminology(valuesets(), lib.referenced_valuesets)
    assert lib.evaluate([], valuesets=terminology) == {"X": True}


def test_concept_equivalence() -> None:
    assert one("Concept { codes: { \"B12 mass\" } } ~ \"B12 tests\"") is True
    assert one("\"B12 moles\" ~ \"B12 tests\"") is True
    assert isinstance(one("\"B12 tests\""), Concept)
