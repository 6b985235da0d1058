"""Retrieves: by type, value set, code, concept and list of codes; patient filtering; medication references."""

from __future__ import annotations

import pytest

import cql

from .data import PATIENT_URL, RXNORM, bundle, cc, patient_resources
from .util import evaluate, ids, library, one


def test_retrieve_by_type_returns_only_the_patients_resources() -> None:
    result = evaluate({"Conditions": "[Condition]", "Observations": "[Observation]", "Patients": "[Patient]"})
    # c-other and o-other belong to p2; the references are relative, urn:uuid and absolute with history.
    assert ids(result["Conditions"]) == ["c-diabetes", "c-neuro", "c-refuted"]
    assert ids(result["Observations"]) == ["o-b12-pg", "o-b12-pmol", "o-text", "o-weight"]
    assert ids(result["Patients"]) == ["p1"]


def test_second_patient_sees_only_its_own() -> None:
    result = evaluate({"Conditions": "[Condition]", "Requests": "[MedicationRequest]",
                       "Neuropathies": "[Condition: \"Neuropathy\"]"}, patient_id="p2")
    assert ids(result["Conditions"]) == ["c-other"]
    assert ids(result["Requests"]) == ["mr-other"]
    assert ids(result["Neuropathies"]) == ["c-other"]


def test_urn_uuid_reference_matches_the_patients_full_url() -> None:
    resources = bundle()
    # Without the patient's fullUrl, the urn:uuid reference names nobody.
    for entry in resources["entry"]:
        if entry["resource"]["id"] == "p1":
            entry["fullUrl"] = "http://example.org/fhir/Patient/p1"
    assert "c-diabetes" not in ids(one("[Condition]", data=resources))
    assert "c-diabetes" in ids(one("[Condition]", data=bundle()))
    assert PATIENT_URL.startswith("urn:uuid:")


def test_retrieve_by_value_set_code_and_concept() -> None:
    result = evaluate({
        "VS": "[Condition: \"Neuropathy\"]",
        "VS path": "[Condition: code in \"Neuropathy\"]",
        "Nested expansion": "[Condition: \"Diabetes\"]",
        "Code": "[Observation: \"B12 mass\"]",
        "Code path": "[Observation: code ~ \"B12 mass\"]",
        "Code equal": "[Observation: code = \"B12 moles\"]",
        "Concept": "[Observation: \"B12 tests\"]",
        "Codes": "[Observation: { \"B12 mass\", \"B12 moles\" }]",
        "Code system": "[Observation: code in \"LOINC\"]",
        "Other path": "[Condition: clinicalStatus ~ \"Active\"]",
        "Nothing": "[Observation: \"Neuropathy code\"]",
    })
    assert ids(result["VS"]) == ["c-neuro", "c-refuted"]
    assert ids(result["VS path"]) == ["c-neuro", "c-refuted"]
    assert ids(result["Nested expansion"]) == ["c-diabetes"]
    assert ids(result["Code"]) == ["o-b12-pg"]
    assert ids(result["Code path"]) == ["o-b12-pg"]
    assert ids(result["Code equal"]) == ["o-b12-pmol"]
    assert ids(result["Concept"]) == ["o-b12-pg", "o-b12-pmol"]
    assert ids(result["Codes"]) == ["o-b12-pg", "o-b12-pmol"]
    assert ids(result["Code system"]) == ["o-b12-pg", "o-b12-pmol", "o-text", "o-weight"]
    assert ids(result["Other path"]) == ["c-neuro", "c-refuted"]
    assert result["Nothing"] == []


def test_retrieve_for_other_resource_types_uses_their_primary_code_path() -> None:
    resources = patient_resources() + [
        {"resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": {"reference": "Patient/p1"},
         "code": cc("http://snomed.info/sct", "302226006")},
        {"resourceType": "Immunization", "id": "im1", "status": "completed", "patient": {"reference": "Patient/p1"},
         "vaccineCode": cc("http://snomed.info/sct", "302226006"), "occurrenceDateTime": "2020-01-01"},
        {"resourceType": "AllergyIntolerance", "id": "al1", "patient": {"reference": "Patient/p2"},
         "code": cc("http://snomed.info/sct", "302226006")},
    ]
    result = evaluate({"Procedures": "[Procedure: \"Neuropathy\"]", "Immunizations": "[Immunization: \"Neuropathy\"]",
                       "Allergies": "[AllergyIntolerance: \"Neuropathy\"]"}, data=resources)
    assert ids(result["Procedures"]) == ["pr1"]
    assert ids(result["Immunizations"]) == ["im1"]
    assert result["Allergies"] == []


def test_medication_code_in_the_request_in_a_contained_and_in_a_separate_medication() -> None:
    result = evaluate({
        "Warfarin requests": "[MedicationRequest: \"Warfarin\"]",
        "Contained": "[MedicationRequest: \"Duloxetine\"]",
        "Separate": "[MedicationRequest: medication in \"Pregabalin\"]",
        "Statement": "[MedicationStatement: \"Metformin\"]",
        "Medications": "[Medication]",
    })
    assert ids(result["Warfarin requests"]) == ["mr-warfarin"]  # mr-other (p2) must not leak
    assert ids(result["Contained"]) == ["mr-contained"]
    assert ids(result["Separate"]) == ["mr-separate"]
    assert ids(result["Statement"]) == ["ms-metformin"]
    assert ids(result["Medications"]) == ["med2"]  # not patient data: never filtered


def test_medication_reads_as_the_referenced_medications_code() -> None:
    result = evaluate({
        "Codes": "[MedicationRequest] R return Tuple { id: R.id.value, "
                 "code: FHIRHelpers.ToConcept(R.medication as FHIR.CodeableConcept), "
                 "reference: (R.medication as FHIR.Reference).reference.value }",
        "In": "[MedicationRequest] R where R.medication in \"Pregabalin\" return R.id.value",
        "Is reference": "[MedicationRequest] R where R.medication is FHIR.Reference return R.id.value",
    })
    rows = {row.elements["id"]: row.elements for row in result["Codes"]}
    assert rows["mr-contained"]["code"].codes[0].code == "596934"
    assert rows["mr-separate"]["code"].codes[0].code == "483440"
    assert rows["mr-warfarin"]["code"].codes[0].code == "855332"
    # An unresolved reference stays a Reference, and matches no code.
    assert rows["mr-unresolved"]["code"] is None
    assert rows["mr-unresolved"]["reference"] == "Medication/missing"
    assert result["In"] == ["mr-separate"]
    assert result["Is reference"] == ["mr-unresolved"]


def test_absolute_and_full_url_medication_references() -> None:
    resources = patient_resources()
    request = next(r for r in resources if r["id"] == "mr-separate")
    request["medicationReference"] = {"reference": "http://example.org/fhir/Medication/med2"}
    data = bundle(resources)
    assert ids(one("[MedicationRequest: \"Pregabalin\"]", data=data)) == ["mr-separate"]
    for entry in data["entry"]:
        if entry["resource"]["id"] == "med2":
            entry["fullUrl"] = "urn:uuid:0b5f1c9e-1111-4222-8333-944455556666"
    request = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "mr-separate")
    request["medicationReference"] = {"reference": "urn:uuid:0b5f1c9e-1111-4222-8333-944455556666"}
    assert ids(one("[MedicationRequest: \"Pregabalin\"]", data=data)) == ["mr-separate"]


def test_unfiltered_context_sees_every_patient() -> None:
    result = evaluate({"All": "[Condition: \"Neuropathy\"]", "Count": "Count([Patient])"}, context="Unfiltered")
    assert ids(result["All"]) == ["c-neuro", "c-other", "c-refuted"]
    assert result["Count"] == 2


def test_patient_definition_needs_a_patient_context() -> None:
    assert one("Patient.id.value") == "p1"
    with pytest.raises(cql.CqlSemanticError, match="Patient"):
        library({"X": "Patient"}, context="Unfiltered")


def test_patient_selection() -> None:
    only_p1 = [r for r in patient_resources() if r["id"] != "p2"]
    assert one("Patient.id.value", data=only_p1, patient_id=None) == "p1"
    with pytest.raises(cql.CqlRuntimeError, match="2 patients"):
        one("Patient.id.value", patient_id=None)
    # A patient id without its Patient resource still selects the resources that reference it.
    no_patient = [r for r in patient_resources() if r["resourceType"] != "Patient"]
    result = evaluate({"P": "Patient", "C": "[Condition]"}, data=no_patient, patient_id="p1")
    assert result["P"] is None
    assert ids(result["C"]) == ["c-neuro", "c-refuted"]  # the urn:uuid reference needs the entry
    assert one("[Condition]", data=[], patient_id=None) == []


def test_retrieve_of_a_type_that_is_not_a_resource_is_a_compile_error() -> None:
    with pytest.raises(cql.CqlSemanticError, match="retrieved"):
        library({"X": "[CodeableConcept]"})
    with pytest.raises(cql.CqlSemanticError, match="primary code path"):
        library({"X": "[Patient: \"Neuropathy\"]"})
    with pytest.raises(cql.CqlUnsupportedError):
        library({"X": "[Observation: status in \"Neuropathy\"]"})


def test_bundle_or_list_in_any_order_gives_the_same_results() -> None:
    defines = {
        "Conditions": "[Condition]",
        "Neuropathies": "[Condition: \"Neuropathy\"] C where C.verificationStatus !~ \"Refuted\" return C.id.value",
        "First B12": "First([Observation: \"B12\"])",
        "Latest": "Last([Observation: \"B12\"] O return Tuple { id: O.id.value, v: (O.value as Quantity).value } "
                  "sort by v).id",
        "Medicines": "[MedicationRequest] R return R.medication",
    }
    resources = patient_resources()
    # A list has no fullUrls: use relative references only.
    next(r for r in resources if r["id"] == "c-diabetes")["subject"] = {"reference": "Patient/p1"}
    reference = evaluate(defines, data=bundle(resources))
    variants = [list(reversed(resources)), resources[3:] + resources[:3], bundle(list(reversed(resources)))]
    for data in variants:
        result = evaluate(defines, data=data)
        assert {k: cql.to_cql(v) for k, v in result.items()} == {k: cql.to_cql(v) for k, v in reference.items()}
    assert reference["First B12"]["id"] == "o-b12-pg"
    assert reference["Latest"] == "o-b12-pg"


def test_the_same_resource_twice_counts_once() -> None:
    resources = patient_resources()
    twice = resources + [r for r in resources if r["resourceType"] == "Condition"]
    assert ids(one("[Condition]", data=twice)) == ["c-neuro", "c-refuted"]  # urn:uuid needs the Bundle
    changed = resources + [dict(resources[2], onsetDateTime="2020-01-01")]
    with pytest.raises(cql.CqlRuntimeError, match="twice"):
        one("[Condition]", data=changed)
    newer = dict(resources[2], onsetDateTime="2020-01-01", meta={"lastUpdated": "2026-01-01T00:00:00Z"})
    older = dict(resources[2], meta={"lastUpdated": "2025-01-01T00:00:00Z"})
    data = [r for r in resources if r["id"] != "c-neuro"] + [older, newer]
    onset = one("First([Condition] C where C.id = 'c-neuro').onset as dateTime", data=data)
    assert onset.value == "2020-01-01"


def test_invalid_data_is_an_error() -> None:
    with pytest.raises(cql.CqlRuntimeError, match="resourceType"):
        one("[Condition]", data=[{"id": "x"}])
    with pytest.raises(cql.CqlRuntimeError, match="Bundle or a list"):
        one("[Condition]", data="not data")


def test_contained_resources_navigate() -> None:
    result = one("[MedicationRequest] R where exists (R.contained X where X is FHIR.Medication) "
                 "return (First(R.contained) as FHIR.Medication).code.coding[0].code.value")
    assert result == ["596934"]


def test_rxnorm_constant_is_used() -> None:
    assert RXNORM.startswith("http")


def test_sort_by_fhir_elements_really_sorts() -> None:
    result = evaluate({
        "By issued": "[Observation] O where O.issued is not null or O.effective is dateTime sort by issued",
        "By effective": "([Observation] O sort by effective desc) O return O.id.value",
        "By onset": "([Condition] C sort by onset) C return C.id.value",
        "By date": "([Observation] O return Tuple { id: O.id.value, t: O.effective as dateTime } sort by t) X "
                   "return X.id",
    })
    assert ids(result["By issued"])[-1] == "o-text"  # the only one with issued; nulls first
    # dateTime values by time; the Period-valued and absent ones (null keys) last when descending.
    assert result["By effective"] == ["o-b12-pg", "o-weight", "o-b12-pmol", "o-text"]
    assert result["By onset"][-1] == "c-neuro"
    assert result["By date"] == ["o-b12-pmol", "o-text", "o-weight", "o-b12-pg"]
