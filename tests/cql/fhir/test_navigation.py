"""FHIR navigation: element types, choices, primitives, extensions, FHIRHelpers conversions."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

import cql
from cql.fhir.values import FhirElement, FhirPrimitive
from cql.values import Code, Concept, Date, DateTime, Interval, Quantity

from .data import UCUM, bundle, patient_resources
from .util import evaluate, library, one, text


def observation(id_: str) -> str:
    return f"First([Observation] O where O.id = '{id_}')"


def test_element_types_are_fhir_types() -> None:
    lib = library({
        "Status": f"{observation('o-b12-pg')}.status",
        "Code": f"{observation('o-b12-pg')}.code",
        "Categories": f"{observation('o-b12-pg')}.category",
        "Effective": f"{observation('o-b12-pg')}.effective",
        "Given": "Patient.name.given",
    })
    assert lib.defines["Status"].type == "FHIR.ObservationStatus"
    assert lib.defines["Code"].type == "FHIR.CodeableConcept"
    assert lib.defines["Categories"].type == "List<FHIR.CodeableConcept>"
    assert lib.defines["Effective"].type == \
        "Choice<FHIR.dateTime, FHIR.Period, FHIR.Timing, FHIR.instant>"
    assert lib.defines["Given"].type == "List<FHIR.string>"


def test_primitive_values_and_value_element() -> None:
    result = evaluate({
        "Gender": "Patient.gender",
        "Gender value": "Patient.gender.value",
        "Birth": "Patient.birthDate.value",
        "Id": "Patient.id.value",
        "Given": "Patient.name[0].given[1].value",
    })
    assert isinstance(result["Gender"], FhirPrimitive)
    assert result["Gender value"] == "female"
    assert result["Birth"] == Date(1952, 5, 15)
    assert result["Id"] == "p1"
    assert result["Given"] == "Marie"


def test_primitive_extension_and_missing_elements() -> None:
    result = evaluate({
        "Birth time": "(Patient.birthDate.extension E where E.url = "
                      "'http://hl7.org/fhir/StructureDefinition/patient-birthTime' return E.value as dateTime).value",
        "Gender extension": "Patient.gender.extension",
        "Deceased": "Patient.deceased",
        "Telecom": "Patient.telecom",
    })
    assert result["Birth time"] == [DateTime(1952, 5, 15, 7, 30, 0, tz_offset=Decimal(1))]
    assert result["Gender extension"] == []
    assert result["Deceased"] is None
    assert result["Telecom"] == []


def test_choice_elements_is_and_as() -> None:
    o = observation
    result = evaluate({
        "is dateTime": f"{o('o-b12-pg')}.effective is dateTime",
        "is Period": f"{o('o-b12-pg')}.effective is FHIR.Period",
        "period start": f"({o('o-b12-pmol')}.effective as Period).start.value",
        "as dateTime": f"({o('o-b12-pg')}.effective as dateTime).value",
        "as DateTime": f"{o('o-b12-pg')}.effective as DateTime",
        "period as dateTime": f"{o('o-b12-pmol')}.effective as dateTime",
        "is FHIR.Quantity": f"{o('o-b12-pg')}.value is FHIR.Quantity",
        "is Quantity": f"{o('o-b12-pg')}.value is Quantity",
        "string is Quantity": f"{o('o-text')}.value is Quantity",
        "string is String": f"{o('o-text')}.value is String",
        "as Quantity": f"{o('o-b12-pg')}.value as Quantity",
        "as FHIR.Quantity": f"{o('o-b12-pg')}.value as FHIR.Quantity",
        "string as Quantity": f"{o('o-text')}.value as Quantity",
        "string value": f"{o('o-text')}.value as String",
    })
    assert result["is dateTime"] is True
    assert result["is Period"] is False
    assert result["period start"] == DateTime(2025, 6, 1, 9, 0, 0, tz_offset=Decimal(0))
    assert result["as dateTime"] == DateTime(2025, 11, 2, 8, 15, 0, tz_offset=Decimal(0))
    assert result["as DateTime"] == DateTime(2025, 11, 2, 8, 15, 0, tz_offset=Decimal(0))
    assert result["period as dateTime"] is None
    assert result["is FHIR.Quantity"] is True
    assert result["is Quantity"] is True
    assert result["string is Quantity"] is False
    assert result["string is String"] is True
    assert result["as Quantity"] == Quantity(Decimal("250.0"), "pg/mL")
    assert isinstance(result["as FHIR.Quantity"], FhirElement)
    assert result["string as Quantity"] is None
    assert result["string value"] == "about 170 cm"


def test_strict_cast_of_wrong_choice_is_an_error() -> None:
    with pytest.raises(cql.CqlRuntimeError):
        one(f"cast {observation('o-text')}.value as Quantity")


def test_temporal_precision_follows_the_string() -> None:
    result = evaluate({
        "month": f"{observation('o-weight')}.effective as DateTime",
        "ms": f"FHIRHelpers.ToDateTime({observation('o-text')}.issued)",
        "year": "First([Patient] P return P.birthDate.value)",
        "other year": "Patient.birthDate.value",
    })
    assert result["month"] == DateTime(2025, 10)
    assert cql.to_cql(result["month"]) == "@2025-10T"
    assert result["ms"] == DateTime(2025, 9, 1, 12, 0, 0, 123, tz_offset=Decimal(2))
    other = evaluate({"Birth": "Patient.birthDate.value"}, patient_id="p2")["Birth"]
    assert other == Date(1990)
    assert cql.to_cql(other) == "@1990"


def test_decimals_keep_their_digits() -> None:
    resources = patient_resources()
    weight = next(r for r in resources if r["id"] == "o-weight")
    weight["valueQuantity"]["value"] = Decimal("154.30")
    pg = next(r for r in resources if r["id"] == "o-b12-pg")
    pg["valueQuantity"]["value"] = 0.1 + 0.2  # a float as JSON gives it
    result = evaluate({
        "weight": f"({observation('o-weight')}.value as Quantity).value",
        "pg": f"({observation('o-b12-pg')}.value as Quantity).value",
        "pmol": f"({observation('o-b12-pmol')}.value as Quantity).value",
    }, data=resources)
    assert str(result["weight"]) == "154.30"
    assert str(result["pg"]) == "0.30000000"  # repr digits, rounded to CQL's 8 places
    assert str(result["pmol"]) == "115"


def test_quantity_conversion_uses_the_ucum_code() -> None:
    result = evaluate({"weight": f"{observation('o-weight')}.value as Quantity"})
    assert result["weight"] == Quantity(Decimal("154.3"), "[lb_av]")


@pytest.mark.parametrize(("quantity", "expected"), [
    ({"value": 5, "unit": "milligram", "system": UCUM, "code": "mg"}, "5 'mg'"),
    ({"value": 5, "unit": "mg"}, "5 'mg'"),
    ({"value": 5, "code": "mg"}, "5 'mg'"),
    ({"value": 5}, "5 '1'"),
    ({"value": 3, "unit": "days", "system": UCUM, "code": "d"}, "3 days"),
    ({"value": 2, "system": "http://hl7.org/fhirpath/CodeSystem/calendar-units", "code": "a"}, "2 years"),
    ({"unit": "mg", "system": UCUM, "code": "mg"}, "null"),
])
def test_to_quantity(quantity: dict, expected: str) -> None:
    resources = patient_resources()
    next(r for r in resources if r["id"] == "o-b12-pg")["valueQuantity"] = quantity
    assert text(f"FHIRHelpers.ToQuantity({observation('o-b12-pg')}.value as FHIR.Quantity)",
                data=resources) == expected


@pytest.mark.parametrize("quantity", [
    {"value": 5, "comparator": "<", "unit": "mg", "system": UCUM, "code": "mg"},
    {"value": 5, "unit": "tablet", "system": "http://example.org/units", "code": "TAB"},
])
def test_to_quantity_errors_as_fhirhelpers_does(quantity: dict) -> None:
    resources = patient_resources()
    next(r for r in resources if r["id"] == "o-b12-pg")["valueQuantity"] = quantity
    with pytest.raises(cql.CqlRuntimeError, match="FHIRHelpers.ToQuantity"):
        one(f"{observation('o-b12-pg')}.value as Quantity", data=resources)


def test_quantity_with_comparator_as_interval() -> None:
    resources = patient_resources()
    next(r for r in resources if r["id"] == "o-b12-pg")["valueQuantity"] = \
        {"value": 100, "comparator": "<", "unit": "pg/mL", "system": UCUM, "code": "pg/mL"}
    result = one(f"FHIRHelpers.ToInterval({observation('o-b12-pg')}.value as FHIR.Quantity)", data=resources)
    assert result == Interval(None, Quantity(Decimal(100), "pg/mL"), True, False, "Quantity")


def test_coding_and_codeableconcept_conversions() -> None:
    result = evaluate({
        "Code": f"FHIRHelpers.ToCode({observation('o-b12-pg')}.code.coding[0])",
        "Concept": f"FHIRHelpers.ToConcept({observation('o-b12-pg')}.code)",
        "Implicit": f"{observation('o-b12-pg')}.code ~ \"B12 mass\"",
        "Implicit concept": f"{observation('o-b12-pg')}.code ~ \"B12 tests\"",
        "Coding equivalent": f"{observation('o-b12-pg')}.code.coding[0] ~ \"B12 mass\"",
        "Not equivalent": f"{observation('o-b12-pmol')}.code ~ \"B12 mass\"",
        "Status": "First([Condition] C where C.id = 'c-neuro').clinicalStatus ~ \"Active\"",
    })
    assert result["Code"] == Code("2132-9", "http://loinc.org", None, "Cobalamin [Mass/volume]")
    assert result["Concept"] == Concept((Code("2132-9", "http://loinc.org", None, "Cobalamin [Mass/volume]"),))
    assert result["Implicit"] is True
    assert result["Implicit concept"] is True
    assert result["Coding equivalent"] is True
    assert result["Not equivalent"] is False
    assert result["Status"] is True


def test_period_range_and_ratio() -> None:
    resources = patient_resources()
    resources.append({"resourceType": "Observation", "id": "o-range", "status": "final",
                      "subject": {"reference": "Patient/p1"}, "code": {"text": "range"},
                      "valueRange": {"low": {"value": 1, "unit": "mg", "system": UCUM, "code": "mg"},
                                     "high": {"value": 3.5, "unit": "mg", "system": UCUM, "code": "mg"}},
                      "effectivePeriod": {"end": "2025-01-02"}})
    resources.append({"resourceType": "Observation", "id": "o-ratio", "status": "final",
                      "subject": {"reference": "Patient/p1"}, "code": {"text": "ratio"},
                      "valueRatio": {"numerator": {"value": 1, "system": UCUM, "code": "mg"},
                                     "denominator": {"value": 2, "system": UCUM, "code": "mL"}}})
    result = evaluate({
        "Period": f"FHIRHelpers.ToInterval({observation('o-b12-pmol')}.effective as FHIR.Period)",
        "Open start": f"FHIRHelpers.ToInterval({observation('o-range')}.effective as FHIR.Period)",
        "Range": f"{observation('o-range')}.value as Interval<Quantity>",
        "Range in": f"2 'mg' in ({observation('o-range')}.value as FHIR.Range)",
        "Ratio": f"{observation('o-ratio')}.value as Ratio",
        "Implicit period": f"{observation('o-b12-pmol')}.effective during Interval[@2025-01-01, @2025-12-31]",
    }, data=resources)
    assert cql.to_cql(result["Period"]) == "Interval[@2025-06-01T09:00:00Z, @2025-06-01T10:00:00Z]"
    assert cql.to_cql(result["Open start"]) == "Interval(null, @2025-01-02T]"
    assert cql.to_cql(result["Range"]) == "Interval[1 'mg', 3.5 'mg']"
    assert result["Range in"] is True
    assert cql.to_cql(result["Ratio"]) == "1 'mg':2 'mL'"
    assert result["Implicit period"] is True


def test_implicit_conversions_in_comparisons() -> None:
    result = evaluate({
        "status": f"{observation('o-b12-pg')}.status = 'final'",
        "status in": f"{observation('o-weight')}.status in {{ 'final', 'amended' }}",
        "birth": "Patient.birthDate < @1960-01-01",
        "birth as datetime": "Patient.birthDate same day as @1952-05-15T10:00:00Z",
        "id concat": "'Patient/' + Patient.id",
        "value compare": f"{observation('o-b12-pg')}.value > 200 'pg/mL'",
        "string value compare": f"{observation('o-text')}.value > 200 'pg/mL'",
        "effective after": f"{observation('o-b12-pmol')}.effective after @2025-05-01",
    })
    assert result == {"status": True, "status in": True, "birth": True, "birth as datetime": True,
                      "id concat": "Patient/p1", "value compare": True, "string value compare": None,
                      "effective after": True}


def test_fhirhelpers_functions() -> None:
    result = evaluate({
        "ToString": "FHIRHelpers.ToString(Patient.gender)",
        "ToString id": "FHIRHelpers.ToString(Patient.id)",
        "ToDate": "FHIRHelpers.ToDate(Patient.birthDate)",
        "ToDateTime": f"FHIRHelpers.ToDateTime({observation('o-b12-pg')}.effective as FHIR.dateTime)",
        "ToDecimal": f"FHIRHelpers.ToDecimal(({observation('o-b12-pg')}.value as FHIR.Quantity).value)",
        "ToCalendarUnit": "FHIRHelpers.ToCalendarUnit('wk')",
        "null": "FHIRHelpers.ToString(null as FHIR.string)",
    })
    assert result == {"ToString": "female", "ToString id": "p1", "ToDate": Date(1952, 5, 15),
                      "ToDateTime": DateTime(2025, 11, 2, 8, 15, 0, tz_offset=Decimal(0)),
                      "ToDecimal": Decimal("250.0"), "ToCalendarUnit": "week", "null": None}


def test_fhirhelpers_rejects_system_arguments_at_compile_time() -> None:
    with pytest.raises(cql.CqlSemanticError):
        library({"X": "FHIRHelpers.ToString('already a string')"})


def test_fhirhelpers_other_versions_are_not_built_in() -> None:
    with pytest.raises(cql.CqlSemanticError, match="FHIRHelpers"):
        cql.compile_library("library T using FHIR version '4.0.1' "
                            "include FHIRHelpers version '3.0.0' called FHIRHelpers")


def test_unknown_element_is_a_compile_error() -> None:
    with pytest.raises(cql.CqlSemanticError, match="has no element 'foo'"):
        library({"X": "[Condition] C return C.foo"})


def test_uri_converts_implicitly() -> None:
    # The FHIR 4.0.1 ModelInfo declares uri -> String (and its subtypes canonical, url, ...).
    assert one(f"{observation('o-b12-pg')}.code.coding[0].system = 'http://loinc.org'") is True
    assert one(f"{observation('o-b12-pg')}.code.coding[0].system.value = 'http://loinc.org'") is True


def test_resources_and_elements_render_as_cql() -> None:
    assert text("Patient") == "FHIR.Patient { id: 'p1' }"
    assert text(f"{observation('o-b12-pg')}.code") == \
        "FHIR.CodeableConcept { coding: { FHIR.Coding { system: 'http://loinc.org', code: '2132-9', " \
        "display: 'Cobalamin [Mass/volume]' } } }"
    assert text("Patient.gender") == "FHIR.AdministrativeGender { value: 'female' }"


def test_data_is_never_modified() -> None:
    data = bundle()
    before = copy.deepcopy(data)
    evaluate({"A": "[Observation] O return O.value as Quantity", "B": "[MedicationRequest] R return R.medication",
              "C": "Patient.birthDate.extension"}, data=data)
    assert data == before
