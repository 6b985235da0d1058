"""Consistency checks of the neuropathy-k2 rule set content that need no CQL engine.

Value sets, CQL declarations, manifest, card text, example patients, hook requests
and test cases must agree with one another. The engine-backed checks (the CQL
compiles, the cards come out as the tests expect) belong to the rule-set tooling.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VERSION_DIR = ROOT / "rules/neuropathy-k2/1.0.0"
VALUESETS = ROOT / "fhir/valuesets"
EXAMPLES = ROOT / "fhir/examples"
VS_BASE = "https://neuropathy-cds.example.org/fhir/ValueSet/"
PROVENANCE_URL = "https://neuropathy-cds.example.org/fhir/StructureDefinition/code-provenance"
STATUSES = {"VERIFIED", "CORROBORATED", "UNVERIFIED"}

ISSUE_CARD_IDS = {
    "pn-first-line", "b12-deficiency", "b12-indeterminate", "b12-check", "k2-investigational",
    "k2-vka-interaction", "k2-doac-note", "snri-bleeding", "gabapentinoid-renal", "gabapentinoid-opioid",
    "duloxetine-renal-hepatic", "tca-older-adult",
}
ISSUE_VALUESETS = {
    "vitamin-k-antagonists", "direct-oral-anticoagulants", "antiplatelets", "snris", "gabapentinoids",
    "tricyclic-antidepressants", "sodium-channel-blockers", "opioids", "vitamin-k2", "metformin",
    "peripheral-neuropathy", "diabetes", "b12-deficiency", "chronic-liver-disease", "b12-lab", "creatinine",
    "egfr", "body-weight",
}
FORBIDDEN = ("proven", "unequivocally", "safe")
TAG = re.compile(r"\{\{([#^/!]?)([^{}]+)\}\}")

# Plausible long renderings of the defines that appear in summaries.
LONG_VALUES = {
    "Latest B12 Reported": "1234.5 pg/mL",
    "Latest B12 Date": "2026-11-01",
    "Recent Window Months Value": "120",
    "Renal Function Summary": "eGFR 123 mL/min/1.73 m²",
    "Duloxetine Caution Reason": "severe renal impairment (eGFR 123 mL/min/1.73 m²) and chronic liver disease",
    "Age In Years": "105",
}


def load_manifest() -> dict:
    return yaml.safe_load((VERSION_DIR / "manifest.yaml").read_text(encoding="utf-8"))


def cql_text() -> str:
    return (VERSION_DIR / load_manifest()["library"]).read_text(encoding="utf-8")


def cql_defines() -> set[str]:
    return set(re.findall(r'^define (?:function )?"([^"]+)"', cql_text(), re.M))


def card_strings(card: dict):
    """Every text field of a card (templates included)."""
    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from walk(v)
        elif isinstance(value, list):
            for v in value:
                yield from walk(v)
        elif isinstance(value, str):
            yield value
    yield from walk({k: v for k, v in card.items() if k not in ("id", "when", "suppressedBy")})


def valueset_files() -> list[Path]:
    return sorted(VALUESETS.glob("*.json"))


# --------------------------------------------------------------------------------------------
# Value sets
# --------------------------------------------------------------------------------------------


def test_issue_valuesets_exist():
    names = {p.stem for p in valueset_files()}
    assert ISSUE_VALUESETS <= names, ISSUE_VALUESETS - names


@pytest.mark.parametrize("path", valueset_files(), ids=lambda p: p.stem)
def test_valueset_is_valid_r4_with_provenance(path: Path):
    from fhir.resources.R4B.valueset import ValueSet

    data = json.loads(path.read_text(encoding="utf-8"))
    ValueSet.model_validate(data)
    assert data["url"] == VS_BASE + path.stem
    assert data["id"] == path.stem
    assert data["version"] == "1.0.0"
    assert data["name"] and data["title"] and data["status"]
    assert data["compose"]["include"]
    contains = data["expansion"]["contains"]
    assert contains and data["expansion"]["total"] == len(contains)
    keys = [(c["system"], c["code"]) for c in contains]
    assert len(keys) == len(set(keys)), "duplicate codes"
    composed = {(inc["system"], c["code"]) for inc in data["compose"]["include"] for c in inc["concept"]}
    assert composed == set(keys), "compose and expansion differ"
    for entry in contains:
        assert entry.get("display"), entry
        (ext,) = [e for e in entry.get("extension", []) if e["url"] == PROVENANCE_URL]
        parts = {e["url"]: e for e in ext["extension"]}
        assert parts["status"]["valueCode"] in STATUSES, entry
        assert parts["source"]["valueString"].strip(), entry


def test_medication_valuesets_list_products():
    """Medication value sets carry product codes, not only ingredients."""
    for name in ("vitamin-k-antagonists", "direct-oral-anticoagulants", "antiplatelets", "snris", "gabapentinoids",
                 "tricyclic-antidepressants", "sodium-channel-blockers", "opioids", "vitamin-k2", "metformin"):
        data = json.loads((VALUESETS / f"{name}.json").read_text(encoding="utf-8"))
        rxnorm = [c for c in data["expansion"]["contains"] if c["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"]
        assert len(rxnorm) > 3, name


def test_vka_valueset_has_atc_codes():
    data = json.loads((VALUESETS / "vitamin-k-antagonists.json").read_text(encoding="utf-8"))
    atc = {c["code"] for c in data["expansion"]["contains"] if c["system"] == "http://www.whocc.no/atc"}
    assert {"B01AA03", "B01AA04", "B01AA07"} <= atc


def test_mma_code_is_the_valid_loinc():
    data = json.loads((VALUESETS / "mma-lab.json").read_text(encoding="utf-8"))
    codes = {c["code"] for c in data["expansion"]["contains"]}
    assert "13964-2" in codes and "13964-3" not in codes


def test_every_declared_valueset_has_a_file():
    declared = re.findall(r"^valueset \"[^\"]+\": '([^']+)'", cql_text(), re.M)
    assert declared
    urls = {json.loads(p.read_text(encoding="utf-8"))["url"] for p in valueset_files()}
    assert set(declared) <= urls, set(declared) - urls


def test_valuesets_link_resolves():
    assert (VERSION_DIR / "valuesets").resolve() == VALUESETS.resolve()
    assert (VERSION_DIR / "tests/examples").resolve() == EXAMPLES.resolve()


# --------------------------------------------------------------------------------------------
# CQL and manifest
# --------------------------------------------------------------------------------------------


def test_library_header_matches_manifest():
    manifest = load_manifest()
    text = cql_text()
    assert re.search(rf"^library NeuropathyK2 version '{re.escape(manifest['version'])}'", text, re.M)
    assert "using FHIR version '4.0.1'" in text
    assert "include FHIRHelpers version '4.0.1' called FHIRHelpers" in text
    assert re.search(r"^context Patient$", text, re.M)
    assert re.search(r'^parameter "Hook" String$', text, re.M)
    assert re.search(r'^parameter "Draft Orders" List<FHIR.MedicationRequest>$', text, re.M)
    declared = set(re.findall(r'^parameter "([^"]+)"', text, re.M))
    assert set(manifest.get("parameters", {})) <= declared


def test_manifest_validates_against_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = ROOT / "cds_hooks/schemas/ruleset-manifest.schema.json"
    if not schema_path.exists():
        pytest.skip("manifest schema not present")
    jsonschema.validate(load_manifest(), json.loads(schema_path.read_text(encoding="utf-8")))


def test_every_named_define_exists():
    manifest = load_manifest()
    defines = cql_defines()
    named = set()
    for card in manifest["cards"]:
        named.add(card["when"])
        for suggestion in card.get("suggestions", []):
            if suggestion.get("when"):
                named.add(suggestion["when"])
            for action in suggestion["actions"]:
                if action.get("resourceIds"):
                    named.add(action["resourceIds"])
        for text in card_strings(card):
            named |= {name.strip() for kind, name in TAG.findall(text) if kind != "!"}
    assert named <= defines, named - defines


def test_card_ids_unique_and_as_in_issue():
    manifest = load_manifest()
    ids = [c["id"] for c in manifest["cards"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == ISSUE_CARD_IDS
    for service in manifest["services"]:
        assert set(service["cards"]) <= set(ids)
        if "pn-first-line" in service["cards"] and "k2-investigational" in service["cards"]:
            assert service["cards"].index("pn-first-line") < service["cards"].index("k2-investigational")


def test_services_and_prefetch():
    manifest = load_manifest()
    hooks = {s["hook"]: s for s in manifest["services"]}
    assert set(hooks) == {"patient-view", "order-select", "order-sign"}
    for service in manifest["services"]:
        prefetch = service["prefetch"]
        assert prefetch["patient"] == "Patient/{{context.patientId}}"
        for template in prefetch.values():
            assert "sort:desc" not in template
            assert set(re.findall(r"\{\{([^}]+)\}\}", template)) <= {"context.patientId"}
        assert "_sort=-date" in prefetch["observations"]
        for loinc in ("2132-9", "14685-2", "13964-2", "2160-0", "98979-8", "29463-7"):
            assert f"http://loinc.org|{loinc}" in prefetch["observations"]


def test_card_shape():
    for card in load_manifest()["cards"]:
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"] and card["source"]["url"].startswith("https://")
        assert card.get("detail"), card["id"]
        assert card.get("links"), card["id"]
        if card.get("suggestions"):
            assert card.get("selectionBehavior")
    cards = {c["id"]: c for c in load_manifest()["cards"]}
    assert not cards["k2-investigational"].get("suggestions")
    (suggestion,) = cards["k2-vka-interaction"]["suggestions"]
    assert suggestion["actions"][0]["type"] == "delete"


def test_summaries_fit_after_templating():
    for card in load_manifest()["cards"]:
        summary = card["summary"]
        rendered = TAG.sub(lambda m: "" if m.group(1) else LONG_VALUES.get(m.group(2).strip(), "x" * 30), summary)
        assert len(rendered) <= 139, (card["id"], len(rendered), rendered)


def test_no_forbidden_words():
    for card in load_manifest()["cards"]:
        for text in card_strings(card):
            lowered = text.lower()
            for word in FORBIDDEN:
                assert word not in lowered, (card["id"], word)


# --------------------------------------------------------------------------------------------
# Examples and tests
# --------------------------------------------------------------------------------------------


def patient_files() -> list[Path]:
    return sorted((EXAMPLES / "patients").glob("*.json"))


def request_files() -> list[Path]:
    return sorted((EXAMPLES / "requests").glob("*.json"))


def test_enough_examples():
    assert len(patient_files()) >= 15


@pytest.mark.parametrize("path", patient_files(), ids=lambda p: p.stem)
def test_patient_bundle_is_valid(path: Path):
    from fhir.resources.R4B.bundle import Bundle

    data = json.loads(path.read_text(encoding="utf-8"))
    Bundle.model_validate(data)
    assert data["type"] == "collection"
    patients = [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == (2 if path.stem == "second-patient-in-bundle" else 1)
    for patient in patients:
        assert patient.get("birthDate") and patient.get("gender")
    ids = {p["id"] for p in patients}
    for entry in data["entry"]:
        resource = entry["resource"]
        assert resource["id"].startswith(path.stem), resource["id"]
        subject = resource.get("subject", {}).get("reference")
        if subject:
            assert subject.removeprefix("Patient/") in ids


@pytest.mark.parametrize("path", request_files(), ids=lambda p: p.stem)
def test_request_names_an_existing_patient(path: Path):
    from fhir.resources.R4B.bundle import Bundle

    request = json.loads(path.read_text(encoding="utf-8"))
    name, hook = path.stem.rsplit(".", 1)
    assert request["hook"] == hook
    assert "prefetch" not in request and "fhirServer" not in request
    assert re.fullmatch(r"[0-9a-f-]{36}", request["hookInstance"])
    context = request["context"]
    assert context["userId"].startswith("Practitioner/")
    bundle = json.loads((EXAMPLES / "patients" / f"{name}.json").read_text(encoding="utf-8"))
    patient_ids = {e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"}
    assert context["patientId"] in patient_ids
    if hook == "patient-view":
        assert "draftOrders" not in context
        return
    Bundle.model_validate(context["draftOrders"])
    drafts = [e["resource"] for e in context["draftOrders"]["entry"]]
    assert drafts and all(d["resourceType"] == "MedicationRequest" and d["status"] == "draft" for d in drafts)
    if hook == "order-select":
        references = {f"MedicationRequest/{d['id']}" for d in drafts}
        assert context["selections"] and set(context["selections"]) <= references
    else:
        assert "selections" not in context


def test_cases_reference_existing_files():
    manifest = load_manifest()
    services = {s["id"]: s for s in manifest["services"]}
    card_ids = {c["id"] for c in manifest["cards"]}
    test_files = sorted((VERSION_DIR / "tests").glob("*.yaml"))
    assert test_files
    covered = set()
    for test_file in test_files:
        doc = yaml.safe_load(test_file.read_text(encoding="utf-8"))
        assert str(doc["shiftDatesFrom"]) == "2026-11-01"
        for case in doc["cases"]:
            patient = (test_file.parent / case["patient"]).resolve()
            request_path = (test_file.parent / case["request"]).resolve()
            assert patient.is_file() and request_path.is_file(), case["name"]
            request = json.loads(request_path.read_text(encoding="utf-8"))
            service = services[case["service"]]
            assert service["hook"] == request["hook"]
            assert set(case["expect"]) <= card_ids and set(case["absent"]) <= card_ids
            assert not set(case["expect"]) & set(case["absent"])
            assert set(case["expect"]) <= set(service["cards"]), case["name"]
            covered.add(request_path.name)
            for card in case["expect"]:
                covered.add(("fires", card))
            for card in case["absent"]:
                covered.add(("absent", card))
    assert covered >= {p.name for p in request_files()}, "every request is used by a test case"
    for card in ISSUE_CARD_IDS:
        assert ("fires", card) in covered, f"no case where {card} shows"
        assert ("absent", card) in covered, f"no case where {card} does not show"
