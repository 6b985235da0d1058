"""The bundled rule set end to end over HTTP, in both data paths.

The service runs under gunicorn as ``make run`` starts it (real registry, the
bundled ``rules/`` published into an empty SQLite database, authentication
off). Every case of ``rules/neuropathy-k2/1.0.0/tests/*.yaml`` is sent to its
service twice, with its patient bundle and request moved from the file's
``shiftDatesFrom`` to today:

- (a) with full prefetch, filled from the bundle by the service's own
  templates (``fill_prefetch`` on the discovery entry), and a ``fhirServer``
  holding the patient's resources, because Medications referenced by orders
  can't be named by a CDS Hooks 2.0 template and must be read from it;
- (b) with no prefetch at all: the service fetches every key from the FHIR
  test server.

Both answers must hold exactly the case's ``expect`` card ids and none of its
``absent`` ones, each card stamped with the rule set's id, version and hash.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_hooks.examples import load_example
from cds_hooks.prefetch import fill_prefetch, referenced_medications
from cds_hooks.rulesets.content import RuleSetContent
from cds_hooks.rulesets.testcases import TestCase, TestFile
from tests.service.conftest import validating_session
from tests.service.fhir_server import FhirTestServer
from tests.service.gunicorn_runner import ROOT, serve_like_make_run

pytestmark = pytest.mark.slow

RULESET_DIR = ROOT / "rules" / "neuropathy-k2" / "1.0.0"
MANIFEST = yaml.safe_load((RULESET_DIR / "manifest.yaml").read_text(encoding="utf-8"))


def rule_set_cases() -> list[Any]:
    """One pytest parameter per case of the rule set's test files: (test file, its anchor, case)."""
    params = []
    for path in sorted((RULESET_DIR / "tests").glob("*.yaml")):
        tests = TestFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        for case in tests.cases:
            ident = f"{path.stem}:{Path(case.request).stem}"
            params.append(pytest.param(path, tests.shiftDatesFrom, case, id=ident))
    return params


CASES = rule_set_cases()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The running service and an HTTP session that validates every response.

    Unlike the service tests' ``bundled_service``, this fails rather than skips
    when the bundled rule set isn't served: serving it is what is under test.
    """
    tmp = tmp_path_factory.mktemp("neuropathy-http")
    with serve_like_make_run(tmp) as base, validating_session() as http:
        ready = http.get(f"{base}/readyz")
        assert ready.status_code == 200, (ready.text, (tmp / "serve.log").read_text()[-3000:])
        yield base, http


@pytest.fixture(scope="module")
def discovery(service: Any) -> dict[str, dict]:
    """Discovery entries by service id."""
    base, http = service
    return {s["id"]: s for s in http.get(f"{base}/cds-services").json()["services"]}


@pytest.fixture(scope="module")
def expected_stamp() -> dict[str, str]:
    """The stamp every card must carry: computed here from the folder, not asked of the service."""
    return {"id": MANIFEST["id"], "version": MANIFEST["version"],
            "sha256": RuleSetContent.from_folder(RULESET_DIR).sha256}


def test_cases_were_found() -> None:
    # A silently empty parameter list would make every check below vacuous.
    assert len(CASES) >= 30


def test_discovery_lists_the_three_services(discovery: dict[str, dict]) -> None:
    declared = {s["id"]: s for s in MANIFEST["services"]}
    assert set(declared) <= set(discovery)
    for service_id, entry in declared.items():
        assert discovery[service_id]["hook"] == entry["hook"]
        assert discovery[service_id]["prefetch"] == entry["prefetch"]


def prefetched_resources(prefetch: dict[str, Any]) -> list[dict]:
    """The resources a filled prefetch holds (Bundles unpacked, ``null`` keys skipped)."""
    out: list[dict] = []
    for value in prefetch.values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            out += [entry["resource"] for entry in value.get("entry", [])]
        elif isinstance(value, dict):
            out.append(value)
    return out


def card_ids(cards: list[dict]) -> list[str]:
    return [card["source"]["topic"]["code"] for card in cards]


def check_cards(label: str, cards: list[dict], case: TestCase, service_id: str,
                stamp: dict[str, str]) -> None:
    """The checks every answer must pass, whichever data path produced it."""
    ids = card_ids(cards)
    assert len(ids) == len(set(ids)), (label, ids)
    assert set(ids) == set(case.expect), (label, "expected", sorted(case.expect), "got", ids)
    assert not set(ids) & set(case.absent), (label, "must be absent", sorted(set(ids) & set(case.absent)))
    for card in cards:
        assert card["source"]["topic"]["system"] == MANIFEST["url"], (label, card["source"])
        stamps = {key: value for key, value in (card.get("extension") or {}).items() if key.endswith(".ruleset")}
        assert list(stamps.values()) == [stamp], (label, card["source"]["topic"]["code"], card.get("extension"))
    # Display order is the order of the service's card list in the manifest.
    order = next(s["cards"] for s in MANIFEST["services"] if s["id"] == service_id)
    assert ids == sorted(ids, key=order.index), (label, ids)
    # The investigational K2 card never precedes the guideline options (issue 6).
    if "pn-first-line" in ids and "k2-investigational" in ids:
        assert ids.index("k2-investigational") > ids.index("pn-first-line"), (label, ids)


@pytest.mark.parametrize("test_file, anchor, case", CASES)
def test_case_over_http_with_prefetch_and_with_fallback(service: Any, discovery: dict[str, dict],
                                                        expected_stamp: dict[str, str], test_file: Path,
                                                        anchor: Any, case: TestCase) -> None:
    base, http = service
    body = load_example(test_file.parent / case.request, anchor)
    bundle = load_example(test_file.parent / case.patient, anchor)
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    service_id = case.service or next(s["id"] for s in discovery.values() if s["hook"] == body["hook"])
    entry = discovery[service_id]
    assert "prefetch" not in body and "fhirServer" not in body  # the two paths below add them
    prefetch = fill_prefetch(entry["prefetch"], body["context"], resources, hook=body["hook"])
    assert set(prefetch) == set(entry["prefetch"])  # every key filled: nothing left to fetch but Medications
    url = f"{base}/cds-services/{service_id}"

    with FhirTestServer(resources) as ehr:
        full = http.post(url, json={**body, "prefetch": prefetch, "fhirServer": ehr.base_url})
        assert full.status_code == 200, ("prefetch", full.text[:1000])
        # With complete prefetch the only reads are the Medications no template can name:
        # exactly those the prefetched resources reference and don't contain.
        wanted = referenced_medications(prefetched_resources(prefetch))
        assert sorted(ehr.queries()) == sorted(f"Medication/{rid}" for rid in wanted), ehr.queries()
        served_by_prefetch = len(ehr.requests)

        fallback = http.post(url, json={**body, "fhirServer": ehr.base_url})
        assert fallback.status_code == 200, ("fallback", fallback.text[:1000])
        # Every prefetch key was fetched from the server on the fallback path.
        fetched = ehr.queries()[served_by_prefetch:]
        assert {q.split("?")[0].split("/")[0] for q in fetched} >= {"Patient", "Condition", "Observation",
                                                                     "MedicationRequest", "MedicationStatement"}

    check_cards("prefetch", full.json()["cards"], case, service_id, expected_stamp)
    check_cards("fallback", fallback.json()["cards"], case, service_id, expected_stamp)
    assert card_ids(full.json()["cards"]) == card_ids(fallback.json()["cards"])


def with_medicines_by_reference(body: dict) -> tuple[dict, list[dict]]:
    """``body`` with each draft MedicationRequest's medicine moved into a Medication resource that
    it references by id, and those Medications (for the FHIR server: no template can name them)."""
    body = copy.deepcopy(body)
    medications = []
    for entry in body["context"]["draftOrders"]["entry"]:
        order = entry["resource"]
        if order["resourceType"] != "MedicationRequest" or "medicationCodeableConcept" not in order:
            continue
        medication = {"resourceType": "Medication", "id": f"{order['id']}-medication",
                      "code": order.pop("medicationCodeableConcept")}
        order["medicationReference"] = {"reference": f"Medication/{medication['id']}"}
        medications.append(medication)
    return body, medications


ORDER_CASES = [param for param in CASES if not param.id.startswith("patient-view:")]


@pytest.mark.parametrize("test_file, anchor, case", ORDER_CASES)
def test_draft_orders_given_by_medication_reference(service: Any, discovery: dict[str, dict],
                                                    expected_stamp: dict[str, str], test_file: Path,
                                                    anchor: Any, case: TestCase) -> None:
    """The same cards when the draft orders name their medicine through a Medication resource on the
    FHIR server instead of a code: the service reads it, as it does for active orders."""
    base, http = service
    body, medications = with_medicines_by_reference(load_example(test_file.parent / case.request, anchor))
    assert medications  # every order case drafts at least one medicine
    bundle = load_example(test_file.parent / case.patient, anchor)
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    prefetch = fill_prefetch(discovery[case.service]["prefetch"], body["context"], resources, hook=body["hook"])
    with FhirTestServer(resources + medications) as ehr:
        response = http.post(f"{base}/cds-services/{case.service}",
                             json={**body, "prefetch": prefetch, "fhirServer": ehr.base_url})
        assert {f"Medication/{m['id']}" for m in medications} <= set(ehr.queries())
    assert response.status_code == 200, response.text[:1000]
    check_cards("draft by reference", response.json()["cards"], case, case.service, expected_stamp)


def test_a_medicine_that_cannot_be_read_gives_412_not_a_wrong_card(service: Any,
                                                                   discovery: dict[str, dict]) -> None:
    """warfarin-separate-medication: warfarin is known only through a Medication the
    prefetch can't carry. Without a fhirServer to read it from, the answer must be 412
    (unknown), never the investigational K2 card a patient on warfarin must not get."""
    from cds_hooks.cli import EXAMPLE_ANCHOR as anchor

    examples = ROOT / "fhir" / "examples"
    body = load_example(examples / "requests" / "warfarin-separate-medication.patient-view.json", anchor)
    bundle = load_example(examples / "patients" / "warfarin-separate-medication.json", anchor)
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    entry = next(s for s in discovery.values() if s["hook"] == "patient-view")
    prefetch = fill_prefetch(entry["prefetch"], body["context"], resources, hook="patient-view")
    assert referenced_medications(prefetched_resources(prefetch))  # the case really depends on a reference
    base, http = service
    answer = http.post(f"{base}/cds-services/{entry['id']}", json={**body, "prefetch": prefetch})
    assert answer.status_code == 412, answer.text[:500]
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "Medication" in outcome["issue"][0]["diagnostics"]
