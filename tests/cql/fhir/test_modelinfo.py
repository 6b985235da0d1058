"""The FHIR 4.0.1 type information and its build script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cql.fhir.modelinfo import load
from cql.types import ChoiceType, ListType, NamedType

ROOT = Path(__file__).resolve().parents[3]
XML = Path("/tmp/cqlref/node_modules/cql-exec-fhir/lib/modelInfos/fhir-modelinfo-4.0.1.xml")


def test_resource_types_and_elements() -> None:
    info = load()
    observation = info.types["Observation"]
    assert observation.retrievable and observation.is_resource
    assert observation.code_path == "code"
    assert observation.patient_links == ("subject",)
    assert observation.elements["status"] == NamedType("FHIR", "ObservationStatus")
    assert observation.elements["category"] == ListType(NamedType("FHIR", "CodeableConcept"))
    assert isinstance(observation.elements["value"], ChoiceType)
    assert observation.elements["id"] == NamedType("FHIR", "id")  # inherited from Resource
    assert {"Observation", "DomainResource", "Resource"} <= observation.ancestors
    assert info.types["MedicationRequest"].code_path == "medication"
    assert info.types["Medication"].patient_links is None
    assert info.types["AllergyIntolerance"].patient_links == ("patient",)
    assert info.types["Observation.Component"].base is info.types["BackboneElement"]


def test_primitives() -> None:
    info = load()
    assert info.types["dateTime"].primitive == NamedType("System", "DateTime")
    assert info.types["code"].primitive == NamedType("System", "String")  # through FHIR.string
    assert info.types["positiveInt"].primitive == NamedType("System", "Integer")
    assert info.types["ObservationStatus"].primitive == NamedType("System", "String")
    assert info.types["Quantity"].primitive is None


def test_every_element_type_is_known() -> None:
    info = load()

    def check(t: object) -> None:
        if isinstance(t, ListType):
            check(t.element)
        elif isinstance(t, ChoiceType):
            for c in t.choices:
                check(c)
        else:
            assert isinstance(t, NamedType)
            assert t.model == "System" or t.name in info.types, t
    for type_info in info.types.values():
        for element in type_info.elements.values():
            check(element)
    assert len(info.types) > 900


@pytest.mark.skipif(not XML.exists(), reason="the ModelInfo XML (npm cql-exec-fhir) is not installed")
def test_build_script_reproduces_the_committed_json(tmp_path: Path) -> None:
    out = tmp_path / "modelinfo.json"
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_fhir_modelinfo.py"), "--xml", str(XML),
                    "--out", str(out)], check=True, capture_output=True)
    committed = ROOT / "cql" / "fhir" / "modelinfo-4.0.1.json"
    assert json.loads(out.read_text()) == json.loads(committed.read_text())
