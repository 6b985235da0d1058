"""Example FHIR data and hook requests for the service tests (written for the tests;
the project's clinical examples live in fhir/examples)."""

from __future__ import annotations

import copy
import uuid

PATIENT_ID = "pn-1"


def patient_resources() -> list[dict]:
    """One patient with conditions, a B12 result, medicines, an encounter and a practitioner."""
    subject = {"reference": f"Patient/{PATIENT_ID}"}
    return [
        {"resourceType": "Patient", "id": PATIENT_ID, "gender": "female", "birthDate": "1950-04-02"},
        {"resourceType": "Practitioner", "id": "pr-1", "name": [{"family": "Careful"}]},
        {"resourceType": "Encounter", "id": "enc-1", "status": "in-progress", "subject": subject,
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "period": {"start": "2026-10-30T09:00:00Z"}},
        {"resourceType": "Condition", "id": "c-dpn", "subject": subject,
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "230572002"}]},
         "onsetDateTime": "2024-03-01"},
        {"resourceType": "Condition", "id": "c-af", "subject": subject,
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "49436004"}]},
         "onsetDateTime": "2022-06-10"},
        {"resourceType": "Observation", "id": "o-b12", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]},
         "effectiveDateTime": "2026-08-01T08:00:00Z",
         "valueQuantity": {"value": 115, "unit": "pmol/L", "system": "http://unitsofmeasure.org",
                           "code": "pmol/L"}},
        *[{"resourceType": "MedicationRequest", "id": f"mr-{n}", "status": status, "intent": "order",
           "subject": subject, "authoredOn": f"2026-0{n}-01",
           "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                     "code": code}]}}
          for n, (status, code) in enumerate(
              [("active", "855332"), ("active", "310431"), ("active", "596926"), ("stopped", "197361")],
              start=1)],
        # Someone else's data on the same server: must never match this patient's searches.
        {"resourceType": "Condition", "id": "c-other", "subject": {"reference": "Patient/other"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}},
    ]


def medication_request(rid: str, code: str = "1000001", *, intent: bool = True) -> dict:
    resource = {"resourceType": "MedicationRequest", "id": rid, "status": "draft",
                "subject": {"reference": f"Patient/{PATIENT_ID}"},
                "medicationCodeableConcept": {"coding": [
                    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code}]}}
    if intent:
        resource["intent"] = "order"
    return resource


def request(hook: str, *, prefetch: dict | None = None, fhir_server: str | None = None,
            token: str | None = None, **context) -> dict:
    """A hook request for the test patient."""
    ctx = {"userId": "Practitioner/pr-1", "patientId": PATIENT_ID, **context}
    if hook in ("order-select", "order-sign") and "draftOrders" not in ctx:
        ctx["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                              "entry": [{"resource": medication_request("draft-1")}]}
    if hook == "order-select" and "selections" not in ctx:
        ctx["selections"] = ["MedicationRequest/draft-1"]
    body: dict = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": ctx}
    if fhir_server:
        body["fhirServer"] = fhir_server
    if token:
        body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "user/*.read", "subject": "cds-service"}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def searchset(resources: list[dict], next_url: str | None = None) -> dict:
    bundle: dict = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                    "entry": [{"resource": copy.deepcopy(r)} for r in resources]}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def full_prefetch(resources: list[dict] | None = None) -> dict:
    """Complete prefetch for the test services' templates (patient, conditions, medications)."""
    resources = resources if resources is not None else patient_resources()
    mine = [r for r in resources if r.get("subject", {}).get("reference") == f"Patient/{PATIENT_ID}"]
    return {
        "patient": next(r for r in resources if r["resourceType"] == "Patient"),
        "conditions": searchset([r for r in mine if r["resourceType"] == "Condition"]),
        "medications": searchset([r for r in mine if r["resourceType"] == "MedicationRequest"
                                  and r["status"] == "active"]),
    }
