"""Prefetch templates: only the CDS Hooks 2.0 token and query subset."""

from __future__ import annotations

import pytest

from cds_hooks.rulesets.prefetch import check_prefetch_template


@pytest.mark.parametrize("template", [
    "Patient/{{context.patientId}}",
    "Condition?patient={{context.patientId}}",
    "Observation?patient={{context.patientId}}&code=http://loinc.org|2132-9,http://loinc.org|14685-2&_sort=-date",
    "Observation?subject={{context.patientId}}&date=ge2025-01-01&_count=10",
    "MedicationRequest?patient={{context.patientId}}&status=active,on-hold",
    "Condition?patient={{context.patientId}}&code:in=http://example.org/vs",
    "Practitioner/{{userPractitionerId}}",
    "Encounter/{{context.encounterId}}",
])
def test_valid_templates(template: str) -> None:
    assert check_prefetch_template(template, "patient-view") == []


@pytest.mark.parametrize("template, fragment", [
    ("Observation?patient={{context.patientId}}&sort:desc=date", "use _sort=-date"),
    ("Patient/{{Patient.id}}", "unknown prefetch token"),
    ("MedicationRequest?patient={{context.draftOrders.MedicationRequest.id}}", "nested token"),
    ("Observation?patient={{context.patientId}}&date=ge{{today()}}", "FHIRPath"),
    ("Observation?patient={{context.patientId}}&date=sa2025-01-01", "date prefix 'sa'"),
    ("Observation?patient={{context.patientId}}&_include=Observation:subject", "_include"),
    ("Observation?patient.name=x", "chained"),
    ("Observation?code:text=b12", "modifier :text"),
    ("Patient/{{context.patientId}}/Condition", "only instance reads"),
    ("patient/{{context.patientId}}", "not a FHIR resource type"),
    ("Condition?patient={{context.selections}}", "not a prefetch token"),
    ("Condition?patient=", "has no value"),
    ("Condition?_count=many", "_count"),
])
def test_invalid_templates(template: str, fragment: str) -> None:
    problems = check_prefetch_template(template, "order-select")
    assert problems and any(fragment in p for p in problems), problems


def test_user_tokens_need_a_user() -> None:
    assert check_prefetch_template("Practitioner/{{userPractitionerId}}", "order-dispatch")
