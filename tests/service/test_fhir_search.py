"""The prefetch search subset over resources in memory (FHIR R4 semantics)."""

from __future__ import annotations

import pytest

from cds_hooks.fhir_search import UnsupportedSearch, parse_query, search

from .data import PATIENT_ID, patient_resources

RESOURCES = patient_resources()


def ids(query: str, **kwargs) -> list[str]:
    return [r["id"] for r in search(RESOURCES, query, **kwargs)]


def test_read():
    assert ids(f"Patient/{PATIENT_ID}") == [PATIENT_ID]
    assert ids("Patient/nobody") == []
    assert ids(f"/Patient/{PATIENT_ID}") == [PATIENT_ID]


@pytest.mark.parametrize("value", [PATIENT_ID, f"Patient/{PATIENT_ID}",
                                   f"https://fhir.example.org/r4/Patient/{PATIENT_ID}"])
def test_reference_forms(value):
    assert ids(f"Condition?patient={value}") == ["c-dpn", "c-af"]
    assert ids(f"Condition?subject={value}") == ["c-dpn", "c-af"]


def test_reference_type_must_match():
    assert ids(f"Condition?patient=Group/{PATIENT_ID}") == []


@pytest.mark.parametrize("token,expected", [
    ("230572002", ["c-dpn"]),
    ("http://snomed.info/sct|230572002", ["c-dpn"]),
    ("http://loinc.org|230572002", []),
    ("|230572002", []),  # explicitly no system
    ("http://snomed.info/sct|", ["c-dpn", "c-af"]),
    ("230572002,49436004", ["c-dpn", "c-af"]),  # comma is OR
])
def test_token_forms(token, expected):
    assert ids(f"Condition?patient={PATIENT_ID}&code={token}") == expected


def test_repeated_parameter_is_and():
    assert ids(f"Condition?patient={PATIENT_ID}&code=230572002&code=49436004") == []
    assert ids(f"MedicationRequest?patient={PATIENT_ID}&status=active&intent=order") == ["mr-1", "mr-2", "mr-3"]


def test_url_encoded_values():
    assert ids(f"Condition?patient={PATIENT_ID}&code=http%3A%2F%2Fsnomed.info%2Fsct%7C230572002") == ["c-dpn"]


def test_in_value_set():
    valueset = {"resourceType": "ValueSet", "url": "https://example.org/vs/dpn",
                "compose": {"include": [{"system": "http://snomed.info/sct", "concept": [{"code": "230572002"}]}]}}
    expansion = {"resourceType": "ValueSet", "url": "https://example.org/vs/af",
                 "expansion": {"contains": [{"system": "http://snomed.info/sct", "code": "49436004"}]}}
    query = f"Condition?patient={PATIENT_ID}&code:in=https://example.org/vs/dpn"
    assert ids(query, valuesets=[valueset, expansion]) == ["c-dpn"]
    assert ids(query.replace("dpn", "af"), valuesets=[valueset, expansion]) == ["c-af"]
    with pytest.raises(UnsupportedSearch, match="not available"):
        ids(query)


@pytest.mark.parametrize("param,expected", [
    ("date=2026-08-01", ["o-b12"]),
    ("date=eq2026-08", ["o-b12"]),
    ("date=2026-08-02", []),
    ("date=gt2026-07-31", ["o-b12"]),
    ("date=gt2026-08-01", []),
    ("date=ge2026-08-01", ["o-b12"]),
    ("date=lt2026-08-01", []),
    ("date=lt2026-08-02", ["o-b12"]),
    ("date=le2026-08-01", ["o-b12"]),
    ("date=le2026-07-31", []),
    ("date=ge2026-08-01T08:00:00Z", ["o-b12"]),
    ("date=gt2026-08-01T09:00:00%2B02:00", ["o-b12"]),  # 07:00Z; the result is at 08:00Z
    ("date=lt2026-08-01T09:00:00%2B02:00", []),
    ("date=ge2026-08-01T09:00:00%2B02:00", ["o-b12"]),
])
def test_dates_with_prefixes(param, expected):
    assert ids(f"Observation?patient={PATIENT_ID}&{param}") == expected


def test_period_dates():
    assert ids(f"Encounter?patient={PATIENT_ID}&date=ge2026-10-30") == ["enc-1"]  # open-ended period
    assert ids(f"Encounter?patient={PATIENT_ID}&date=lt2026-10-30") == []


def test_sort_and_count():
    assert ids(f"MedicationRequest?patient={PATIENT_ID}&_sort=-authoredon") == ["mr-4", "mr-3", "mr-2", "mr-1"]
    assert ids(f"MedicationRequest?patient={PATIENT_ID}&_sort=authoredon&_count=2") == ["mr-1", "mr-2"]
    assert ids(f"MedicationRequest?patient={PATIENT_ID}&_sort=-authoredon&_count=1") == ["mr-4"]


def test_id_parameter():
    assert ids("Practitioner?_id=pr-1,pr-2") == ["pr-1"]


@pytest.mark.parametrize("query", [
    "Observation?patient=1&code:text=b12",       # modifier other than :in
    "Observation?patient=1&date=sa2020",          # prefix outside eq lt gt ge le
    "Observation?patient=1&sort:desc=date",       # the spec example's invalid R4
    "Observation?patient=1&_include=Observation:subject",
    "Observation?value-quantity=5",               # parameter outside the table
    "Observation?patient=1&_sort=code",
    "Observation?patient=1&_count=ten",
    "Observation?patient=1&date=2020-13",
    "Patient/1/_history/2",
    "patient/1",
    "Observation?patient=",
])
def test_outside_the_subset_raises(query):
    with pytest.raises(UnsupportedSearch):
        parse_query(query)


def test_parse_query_shape():
    parsed = parse_query("Observation?patient=1&code=a,b&_count=3&_sort=-date")
    assert parsed.resource_type == "Observation" and parsed.count == 3
    assert parsed.criteria[1].values == ("a", "b")
    assert parsed.sort[0][1] is True
