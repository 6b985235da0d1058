"""FHIR data written for the FHIR model tests: two patients in one bundle."""

from __future__ import annotations

import copy
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

PATIENT_URL = "urn:uuid:7f1c2a9e-0d4b-4d8e-9a1f-3b5c6d7e8f90"


def cc(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: dict[str, Any] = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


def patient_resources() -> list[dict[str, Any]]:
    """The resources of patient p1 (and of p2, who must never leak into p1's results)."""
    return [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1952-05-15",
         "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                       "valueDateTime": "1952-05-15T07:30:00+01:00"}]},
         "name": [{"family": "Martin", "given": ["Anne", "Marie"]}]},
        {"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "1990"},
        # Conditions of p1, referenced in the three forms.
        {"resourceType": "Condition", "id": "c-neuro", "subject": {"reference": "Patient/p1"},
         "clinicalStatus": cc(CLINICAL, "active"), "verificationStatus": cc(VERIFICATION, "confirmed"),
         "code": cc(SNOMED, "302226006", "Peripheral nerve disease"), "onsetDateTime": "2021-03-04"},
        {"resourceType": "Condition", "id": "c-diabetes", "subject": {"reference": PATIENT_URL},
         "code": cc(ICD10, "E11.42", "Type 2 diabetes mellitus with diabetic polyneuropathy"),
         "onsetPeriod": {"start": "2015-01-01"}},
        {"resourceType": "Condition", "id": "c-refuted",
         "subject": {"reference": "http://example.org/fhir/Patient/p1/_history/3"},
         "clinicalStatus": cc(CLINICAL, "active"), "verificationStatus": cc(VERIFICATION, "refuted"),
         "code": cc(SNOMED, "302226006")},
        # p2's condition: same code, must never show for p1.
        {"resourceType": "Condition", "id": "c-other", "subject": {"reference": "Patient/p2"},
         "code": cc(SNOMED, "302226006")},
        # Observations: B12 in different units and shapes.
        {"resourceType": "Observation", "id": "o-b12-pg", "status": "final", "subject": {"reference": "Patient/p1"},
         "code": cc(LOINC, "2132-9", "Cobalamin [Mass/volume]"), "effectiveDateTime": "2025-11-02T08:15:00Z",
         "valueQuantity": {"value": 250.0, "unit": "pg/mL", "system": UCUM, "code": "pg/mL"}},
        {"resourceType": "Observation", "id": "o-b12-pmol", "status": "final", "subject": {"reference": "Patient/p1"},
         "code": cc(LOINC, "14685-2", "Cobalamin [Moles/volume]"),
         "effectivePeriod": {"start": "2025-06-01T09:00:00Z", "end": "2025-06-01T10:00:00Z"},
         "valueQuantity": {"value": 115, "unit": "pmol/L", "system": UCUM, "code": "pmol/L"}},
        {"resourceType": "Observation", "id": "o-weight", "status": "amended", "subject": {"reference": "Patient/p1"},
         "code": cc(LOINC, "29463-7", "Body weight"), "effectiveDateTime": "2025-10",
         "valueQuantity": {"value": 154.30, "unit": "lb", "system": UCUM, "code": "[lb_av]"}},
        {"resourceType": "Observation", "id": "o-text", "status": "preliminary",
         "subject": {"reference": "Patient/p1"}, "code": cc(LOINC, "8302-2", "Body height"),
         "valueString": "about 170 cm", "issued": "2025-09-01T12:00:00.123+02:00"},
        {"resourceType": "Observation", "id": "o-other", "status": "final", "subject": {"reference": "Patient/p2"},
         "code": cc(LOINC, "2132-9"), "effectiveDateTime": "2025-11-01",
         "valueQuantity": {"value": 90, "unit": "pg/mL", "system": UCUM, "code": "pg/mL"}},
        # Medicines: a CodeableConcept, a contained Medication, a separate Medication.
        {"resourceType": "MedicationRequest", "id": "mr-warfarin", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": cc(RXNORM, "855332", "warfarin sodium 5 MG Oral Tablet")},
        {"resourceType": "MedicationRequest", "id": "mr-contained", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/p1"},
         "contained": [{"resourceType": "Medication", "id": "med1",
                        "code": cc(RXNORM, "596934", "duloxetine 30 MG Delayed Release Oral Capsule")}],
         "medicationReference": {"reference": "#med1"}},
        {"resourceType": "MedicationRequest", "id": "mr-separate", "status": "on-hold", "intent": "order",
         "subject": {"reference": "Patient/p1"},
         "medicationReference": {"reference": "Medication/med2", "display": "pregabalin 75 MG"}},
        {"resourceType": "Medication", "id": "med2", "code": cc(RXNORM, "483440", "pregabalin 75 MG Oral Capsule")},
        {"resourceType": "MedicationRequest", "id": "mr-unresolved", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/p1"}, "medicationReference": {"reference": "Medication/missing"}},
        {"resourceType": "MedicationStatement", "id": "ms-metformin", "status": "active",
         "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": cc(RXNORM, "861007", "metformin hydrochloride 500 MG Oral Tablet")},
        {"resourceType": "MedicationRequest", "id": "mr-other", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/p2"}, "medicationCodeableConcept": cc(RXNORM, "855332")},
    ]


def bundle(resources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    resources = copy.deepcopy(resources if resources is not None else patient_resources())
    entries = []
    for r in resources:
        url = PATIENT_URL if r["resourceType"] == "Patient" and r.get("id") == "p1" \
            else f"http://example.org/fhir/{r['resourceType']}/{r['id']}"
        entries.append({"fullUrl": url, "resource": r})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def valueset_expansion(url: str, codes: list[tuple[str, str]], nested: bool = False) -> dict[str, Any]:
    contains = [{"system": s, "code": c} for s, c in codes]
    if nested and len(contains) > 1:
        contains = [{"system": contains[0]["system"], "code": "group", "abstract": True,
                     "contains": contains}]
    return {"resourceType": "ValueSet", "url": url, "version": "1", "status": "active",
            "expansion": {"timestamp": "2025-01-01T00:00:00Z", "contains": contains}}


def valueset_compose(url: str, system: str, codes: list[str]) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": url, "version": "1", "status": "active",
            "compose": {"include": [{"system": system, "concept": [{"code": c} for c in codes]}]}}


BASE = "http://example.org/fhir/ValueSet/"


def valuesets() -> list[dict[str, Any]]:
    return [
        valueset_compose(BASE + "neuropathy", SNOMED, ["302226006", "230572002"]),
        valueset_expansion(BASE + "diabetes", [(ICD10, "E11.42"), (ICD10, "E11.9")], nested=True),
        valueset_expansion(BASE + "b12", [(LOINC, "2132-9"), (LOINC, "14685-2")]),
        valueset_expansion(BASE + "warfarin", [(RXNORM, "855332"), (RXNORM, "11289")]),
        valueset_expansion(BASE + "duloxetine", [(RXNORM, "596934")]),
        valueset_expansion(BASE + "pregabalin", [(RXNORM, "483440")]),
        valueset_expansion(BASE + "metformin", [(RXNORM, "861007")]),
    ]
