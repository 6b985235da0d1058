"""Compile a small FHIR library around expressions and evaluate it on the test data."""

from __future__ import annotations

from typing import Any

import cql

from .data import bundle, valuesets

HEADER = """library T version '1'
using FHIR version '4.0.1'
include FHIRHelpers version '4.0.1' called FHIRHelpers
codesystem "LOINC": 'http://loinc.org'
codesystem "SNOMED": 'http://snomed.info/sct'
codesystem "RxNorm": 'http://www.nlm.nih.gov/research/umls/rxnorm'
codesystem "ConditionClinical": 'http://terminology.hl7.org/CodeSystem/condition-clinical'
codesystem "ConditionVerification": 'http://terminology.hl7.org/CodeSystem/condition-ver-status'
valueset "Neuropathy": 'http://example.org/fhir/ValueSet/neuropathy'
valueset "Diabetes": 'http://example.org/fhir/ValueSet/diabetes'
valueset "B12": 'http://example.org/fhir/ValueSet/b12'
valueset "Warfarin": 'http://example.org/fhir/ValueSet/warfarin'
valueset "Duloxetine": 'http://example.org/fhir/ValueSet/duloxetine'
valueset "Pregabalin": 'http://example.org/fhir/ValueSet/pregabalin'
valueset "Metformin": 'http://example.org/fhir/ValueSet/metformin'
code "B12 mass": '2132-9' from "LOINC"
code "B12 moles": '14685-2' from "LOINC"
code "Neuropathy code": '302226006' from "SNOMED"
code "Active": 'active' from "ConditionClinical"
code "Refuted": 'refuted' from "ConditionVerification"
concept "B12 tests": { "B12 mass", "B12 moles" }
"""

NOW = "2026-01-15T12:00:00Z"


def library(defines: dict[str, str], context: str = "Patient", extra: str = "") -> cql.Library:
    body = "\n".join(f'define "{name}":\n  {expr}' for name, expr in defines.items())
    return cql.compile_library(HEADER + extra + f"\ncontext {context}\n" + body + "\n")


def evaluate(defines: dict[str, str], data: Any = None, *, patient_id: str | None = "p1",
             context: str = "Patient", extra: str = "", **kwargs: Any) -> dict[str, Any]:
    lib = library(defines, context, extra)
    kwargs.setdefault("valuesets", valuesets())
    kwargs.setdefault("now", NOW)
    return lib.evaluate(bundle() if data is None else data, patient_id=patient_id, **kwargs)


def one(expr: str, **kwargs: Any) -> Any:
    return evaluate({"X": expr}, **kwargs)["X"]


def text(expr: str, **kwargs: Any) -> str:
    return cql.to_cql(one(expr, **kwargs))


def ids(value: Any) -> list[str]:
    """Ids of the resources in a define's value (a list of resource dicts)."""
    return [r["id"] for r in value]
