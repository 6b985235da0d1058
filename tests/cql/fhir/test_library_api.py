"""The evaluation API on FHIR data: parameters, threads, and the bundled rule library on its examples."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

import cql

from .data import RXNORM, bundle, cc, patient_resources, valuesets
from .util import NOW, evaluate, library

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "rules" / "neuropathy-k2" / "1.0.0"
EXAMPLES = ROOT / "fhir" / "examples"
EXAMPLE_NOW = "2026-11-01T12:00:00Z"  # the anchor the example dates are written against


def test_parameters_of_fhir_types() -> None:
    extra = "parameter \"Draft Orders\" List<FHIR.MedicationRequest>\nparameter \"Limit\" Integer default 3\n"
    draft = {"resourceType": "MedicationRequest", "id": "draft", "status": "draft", "intent": "order",
             "contained": [{"resourceType": "Medication", "id": "m", "code": cc(RXNORM, "855332")}],
             "medicationReference": {"reference": "#m"}}
    separate = {"resourceType": "MedicationRequest", "id": "draft2", "status": "draft", "intent": "order",
                "medicationReference": {"reference": "Medication/med2"}}
    defines = {"Drafts": "\"Draft Orders\" D where D.medication in \"Warfarin\" return D.id.value",
               "Drafts2": "\"Draft Orders\" D where D.medication in \"Pregabalin\" return D.id.value",
               "Count": "Count(\"Draft Orders\")", "The limit": "\"Limit\""}
    result = evaluate(defines, extra=extra, parameters={"Draft Orders": [draft, separate], "Limit": 5})
    assert result == {"Drafts": ["draft"], "Drafts2": ["draft2"], "Count": 2, "The limit": 5}
    assert evaluate(defines, extra=extra)["Count"] == 0
    with pytest.raises(cql.CqlRuntimeError, match="Draft Orders"):
        evaluate(defines, extra=extra, parameters={"Draft Orders": [{"resourceType": "Condition"}]})


def test_parameters_of_fhir_data_types() -> None:
    extra = ("parameter \"Concept\" FHIR.CodeableConcept\nparameter \"Status\" FHIR.code\n"
             "parameter \"Requests\" List<FHIR.MedicationRequest>\n")
    result = evaluate({"In": "\"Concept\" in \"Warfarin\"", "Is": "\"Concept\" is FHIR.CodeableConcept",
                       "Is final": "\"Status\" = 'final'"}, extra=extra,
                      parameters={"Concept": cc(RXNORM, "855332"), "Status": "final"})
    assert result == {"In": True, "Is": True, "Is final": True}
    with pytest.raises(cql.CqlRuntimeError, match="resourceType"):
        evaluate({"X": "Count(\"Requests\")"}, extra=extra, parameters={"Requests": [{"id": "x"}]})


def test_each_evaluation_has_its_own_state_and_many_threads_share_one_library() -> None:
    lib = library({
        "Conditions": "[Condition] C return C.id.value",
        "Age": "AgeInYears()",
        "B12 values": "[Observation: \"B12\"] O return (O.value as Quantity).value",
        "Medicines": "[MedicationRequest] R where R.medication in \"Warfarin\" return R.id.value",
    })
    data = bundle()
    expected = {
        "p1": lib.evaluate(data, patient_id="p1", valuesets=valuesets(), now=NOW),
        "p2": lib.evaluate(data, patient_id="p2", valuesets=valuesets(), now=NOW),
    }
    assert expected["p1"] != expected["p2"]
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def worker(index: int) -> None:
        patient = "p1" if index % 2 else "p2"
        try:
            barrier.wait()
            for _ in range(25):
                got = lib.evaluate(data, patient_id=patient, valuesets=valuesets(), now=NOW)
                assert got == expected[patient]
        except BaseException as err:  # noqa: BLE001 - collected for the main thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_evaluate_selected_defines_and_unknown_define() -> None:
    lib = library({"A": "1", "B": "[Condition]"})
    assert lib.evaluate(bundle(), patient_id="p1", valuesets=valuesets(), defines=["A"]) == {"A": 1}
    with pytest.raises(cql.CqlSemanticError):
        lib.evaluate(bundle(), patient_id="p1", valuesets=valuesets(), defines=["C"])


def test_library_metadata() -> None:
    lib = library({"Conditions": "[Condition]"})
    assert lib.defines["Conditions"].type == "List<FHIR.Condition>"
    assert lib.valuesets["B12"].id == "http://example.org/fhir/ValueSet/b12"


# ---------------------------------------------------------------- the bundled rule library


def _rule_library() -> cql.Library:
    return cql.compile_library((RULES / "NeuropathyK2.cql").read_text(encoding="utf-8"))


def _rule_valuesets() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((RULES / "valuesets").glob("*.json"))]


def _cases() -> list[dict[str, Any]]:
    cases = []
    for file in sorted((RULES / "tests").glob("*.yaml")):
        cases.extend(yaml.safe_load(file.read_text(encoding="utf-8"))["cases"])
    return cases


def _card_conditions() -> dict[str, str]:
    manifest = yaml.safe_load((RULES / "manifest.yaml").read_text(encoding="utf-8"))
    return {card["id"]: card["when"] for card in manifest["cards"]}


def test_rule_library_compiles() -> None:
    lib = _rule_library()
    assert lib.name == "NeuropathyK2" and lib.version == "1.0.0"
    assert len(lib.defines) > 40


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"].split(":")[0])
def test_rule_library_on_the_examples(case: dict[str, Any]) -> None:
    """Every example evaluates, and the card conditions hold with all of the patient's data
    (the rule set's own tests check the same through prefetch)."""
    lib = _rule_library()
    patient = json.loads((RULES / "tests" / case["patient"]).read_text(encoding="utf-8"))
    request = json.loads((RULES / "tests" / case["request"]).read_text(encoding="utf-8"))
    context = request["context"]
    drafts = [e["resource"] for e in (context.get("draftOrders") or {}).get("entry", [])
              if e["resource"]["resourceType"] == "MedicationRequest"]
    before = copy.deepcopy(patient)
    values = lib.evaluate(patient, patient_id=context["patientId"], valuesets=_rule_valuesets(),
                          parameters={"Hook": request["hook"], "Draft Orders": drafts}, now=EXAMPLE_NOW)
    assert patient == before
    conditions = _card_conditions()
    shown = {card for card in case["expect"]}
    for card in shown:
        assert values[conditions[card]] is True, card
    for card in case["absent"]:
        assert values[conditions[card]] is not True, card
    # Text the cards show must render.
    for value in values.values():
        cql.to_cql(value)


def test_rule_library_list_and_bundle_and_order() -> None:
    lib = _rule_library()
    patient = json.loads((RULES / "tests" / "examples" / "patients" / "b12-indeterminate-250-pgml.json")
                         .read_text(encoding="utf-8"))
    resources = [e["resource"] for e in patient["entry"]]
    kwargs = {"valuesets": _rule_valuesets(), "parameters": {"Hook": "patient-view"}, "now": EXAMPLE_NOW}
    reference = {k: cql.to_cql(v) for k, v in lib.evaluate(patient, **kwargs).items()}
    for data in (resources, list(reversed(resources)), resources[2:] + resources[:2]):
        assert {k: cql.to_cql(v) for k, v in lib.evaluate(data, **kwargs).items()} == reference
    assert reference["B12 Indeterminate"] == "true"


def test_second_patient_in_the_rule_library_example_does_not_leak() -> None:
    lib = _rule_library()
    patient = json.loads((EXAMPLES / "patients" / "second-patient-in-bundle.json").read_text(encoding="utf-8"))
    values = lib.evaluate(patient, patient_id="second-patient-in-bundle", valuesets=_rule_valuesets(),
                          parameters={"Hook": "patient-view"}, now=EXAMPLE_NOW)
    assert values["Has Neuropathy"] is False
    assert values["VKA Active"] is False
    assert values["Recent B12 Results"] == []
    with pytest.raises(cql.CqlRuntimeError, match="patients"):
        lib.evaluate(patient, valuesets=_rule_valuesets(), now=EXAMPLE_NOW)


def test_separate_medication_resolves_when_in_the_data() -> None:
    lib = _rule_library()
    patient = json.loads((EXAMPLES / "patients" / "warfarin-separate-medication.json").read_text(encoding="utf-8"))
    values = lib.evaluate(patient, valuesets=_rule_valuesets(), parameters={"Hook": "patient-view"},
                          now=EXAMPLE_NOW)
    assert values["VKA Active"] is True
    assert values["VKA Names"] == ["warfarin sodium 2.5 MG Oral Tablet"]
    without = [e["resource"] for e in patient["entry"] if e["resource"]["resourceType"] != "Medication"]
    values = lib.evaluate(without, valuesets=_rule_valuesets(), parameters={"Hook": "patient-view"},
                          now=EXAMPLE_NOW)
    assert values["VKA Active"] is False


def test_unused_resources_do_not_matter() -> None:
    resources = patient_resources() + [{"resourceType": "Practitioner", "id": "dr"},
                                       {"resourceType": "Encounter", "id": "e1", "status": "finished",
                                        "class": {"code": "AMB"}, "subject": {"reference": "Patient/p1"}}]
    assert evaluate({"C": "Count([Condition])", "E": "Count([Encounter])"}, data=resources) == {"C": 2, "E": 1}


def test_other_fhir_versions_are_not_supported() -> None:
    with pytest.raises(cql.CqlUnsupportedError, match="3.0.0") as info:
        cql.compile_library("library T version '1'\nusing FHIR version '3.0.0'\ndefine X: 1\n")
    assert info.value.line == 2
