"""Requests as the CDS Hooks specification and hook library show them (2.0.1 and
library 1.0.1; the library's examples give only the context, so hook and
hookInstance are added), and as the CDS Hooks sandbox sends them."""

from __future__ import annotations

# The spec's example call of the "patient-greeting" service, with prefetch.
SPEC_PATIENT_VIEW = {
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": "http://hooks.smarthealthit.org:9080",
    "hook": "patient-view",
    "fhirAuthorization": {
        "access_token": "some-opaque-fhir-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/Observation.read",
        "subject": "cds-service4",
    },
    "context": {"userId": "Practitioner/example", "patientId": "1288992", "encounterId": "89284"},
    "prefetch": {
        "patientToGreet": {"resourceType": "Patient", "gender": "male", "birthDate": "1925-12-23",
                           "id": "1288992", "active": True},
    },
}

_NUTRITION_ORDER = {
    "resourceType": "NutritionOrder",
    "id": "pureeddiet-simple",
    "identifier": [{"system": "http://goodhealthhospital.org/nutrition-requests", "value": "123"}],
    "status": "draft",
    "patient": {"reference": "Patient/1288992"},
    "dateTime": "2014-09-17",
    "orderer": {"reference": "Practitioner/example", "display": "Dr Adam Careful"},
    "oralDiet": {"type": [{"coding": [{"system": "http://snomed.info/sct", "code": "226211001",
                                       "display": "Pureed diet"}], "text": "Pureed diet"}]},
}

_AMOXICILLIN = {
    "resourceType": "MedicationRequest",
    "id": "smart-MedicationRequest-103",
    "meta": {"lastUpdated": "2018-04-30T13:25:40.845-04:00"},
    "text": {"status": "generated",
             "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Amoxicillin 120 MG/ML / clavulanate "
                    "potassium 8.58 MG/ML Oral Suspension (rxnorm: 617993)</div>"},
    "status": "draft",
    "intent": "order",
    "medicationCodeableConcept": {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617993",
                    "display": "Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral Suspension"}],
        "text": "Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral Suspension"},
    "subject": {"reference": "Patient/1288992"},
    "dosageInstruction": [{"text": "5 mL bid x 10 days", "timing": {"repeat": {
        "boundsPeriod": {"start": "2005-01-04"}, "frequency": 2, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mL", "system": "http://unitsofmeasure.org",
                                          "code": "mL"}}]}],
    "dispenseRequest": {"numberOfRepeatsAllowed": 1,
                        "quantity": {"value": 1, "unit": "mL", "system": "http://unitsofmeasure.org",
                                     "code": "mL"},
                        "expectedSupplyDuration": {"value": 10, "unit": "days",
                                                   "system": "http://unitsofmeasure.org", "code": "d"}},
}

# Library 1.0.1, order-select, Example (R4): draftOrders without "type".
LIBRARY_ORDER_SELECT = {
    "hook": "order-select",
    "hookInstance": "3a7f0a2e-4e2e-4f1c-9f0b-5c3b8f0d6a11",
    "context": {
        "userId": "PractitionerRole/123",
        "patientId": "1288992",
        "encounterId": "89284",
        "selections": ["NutritionOrder/pureeddiet-simple", "MedicationRequest/smart-MedicationRequest-103"],
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": _NUTRITION_ORDER},
                                                            {"resource": _AMOXICILLIN}]},
    },
}

# Library 1.0.1, order-sign, Example (R4).
LIBRARY_ORDER_SIGN = {
    "hook": "order-sign",
    "hookInstance": "8f4f6b8c-2c5c-4d3b-8a59-0f2a1d9e7c22",
    "context": {
        "userId": "PractitionerRole/123",
        "patientId": "1288992",
        "encounterId": "89284",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": _NUTRITION_ORDER},
                                                            {"resource": _AMOXICILLIN}]},
    },
}

# The spec's pagination example: prefetch "orders" has a next link on fhirServer.
SPEC_PAGINATION = {
    "hook": "order-sign",
    "hookInstance": "4a74b1d0-4fee-4d18-b76f-7f3bd361e4bc",
    "fhirServer": "https://ehr.example.org/fhir",
    "context": {
        "userId": "PractitionerRole/123",
        "patientId": "1288992",
        "encounterId": "89284",
        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
            "resourceType": "MedicationRequest", "id": "draft-rx-1", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"text": "Amoxicillin 500 mg tablet"},
            "subject": {"reference": "Patient/1288992"}}}]},
    },
    "prefetch": {
        "orders": {
            "resourceType": "Bundle", "type": "searchset", "total": 2,
            "link": [
                {"relation": "self",
                 "url": "https://ehr.example.org/fhir/MedicationRequest?patient=1288992&_count=1&_page=1"},
                {"relation": "next",
                 "url": "https://ehr.example.org/fhir/MedicationRequest?patient=1288992&_count=1&_page=2"},
            ],
            "entry": [{"resource": {
                "resourceType": "MedicationRequest", "id": "rx-page-1-01", "status": "active", "intent": "order",
                "medicationCodeableConcept": {"text": "Metformin 500 mg tablet"},
                "subject": {"reference": "Patient/1288992"}}}],
        },
    },
}

# As the CDS Hooks sandbox sends order-sign: no encounterId, draftOrders without
# type, a MedicationRequest without intent, no prefetch keys, no fhirAuthorization.
SANDBOX_ORDER_SIGN = {
    "hookInstance": "f6d3b1e2-9c1a-4a6e-8f53-6a2b9d0c1e33",
    "fhirServer": None,  # replaced by the test's FHIR server
    "hook": "order-sign",
    "context": {
        "userId": "Practitioner/COREPRACTITIONER1",
        "patientId": "pn-1",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": {
            "resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
            "subject": {"reference": "Patient/pn-1"},
            "medicationCodeableConcept": {"text": "Warfarin Sodium 5 MG Oral Tablet", "coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "855332",
                 "display": "Warfarin Sodium 5 MG Oral Tablet"}]}}}]},
    },
}

# The spec's example prefetch templates and prefetch data ("Example prefetch templates"):
# "diabetes-type2" is missing from the data, so the service must fetch it; "user"
# comes as a collection Bundle. The template's "sort:desc=date" is copied as written.
SPEC_PREFETCH_TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "hemoglobin-a1c": "Observation?patient={{context.patientId}}&code=4548-4&_count=1&sort:desc=date",
    "diabetes-type2": "Condition?patient={{context.patientId}}&code=44054006&category=problem-list-item"
                      "&clinical-status=active",
    "user": "PractitionerRole?_id={{userPractitionerRoleId}}",
}

SPEC_PREFETCH_DATA = {
    "patient": {"resourceType": "Patient", "id": "1288992", "gender": "male", "birthDate": "1974-12-25"},
    "hemoglobin-a1c": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]}}}]},
    "user": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Practitioner", "id": "123"}}]},
}
