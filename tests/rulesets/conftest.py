"""Fixtures for the rule-set tests: a small demo rule set written to disk, in
variants, so that each check can be shown to pass and to fail."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import cql
from cds_hooks.rulesets.content import RuleSetContent
from cds_hooks.rulesets.store import Actor, RuleSetStore
from cds_hooks.storage.db import Database
from tests.databases import POSTGRES_URL, postgres_schema  # noqa: F401  (re-exported to other test modules)

NEUROPATHY_VS = "http://example.org/fhir/ValueSet/demo-neuropathy"
WARFARIN_VS = "http://example.org/fhir/ValueSet/demo-warfarin"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

DEMO_CQL = """library Demo version '{version}'
using FHIR version '4.0.1'
valueset "Neuropathy": 'http://example.org/fhir/ValueSet/demo-neuropathy'
valueset "Warfarin": 'http://example.org/fhir/ValueSet/demo-warfarin'
parameter "Hook" String
parameter "Window" Integer default 12
context Patient
define "Has Neuropathy": exists [Condition: "Neuropathy"]
define "On Warfarin": exists [MedicationRequest: "Warfarin"]
define "Show Info": "Has Neuropathy"
define "Show Warning": "Has Neuropathy" and "On Warfarin"
define "Condition Count": Count([Condition])
define "Is Patient View": "Hook" = 'patient-view'
define "Window Months": "Window"
{extra}"""


def demo_manifest(version: str = "1.0.0") -> dict[str, Any]:
    return {
        "id": "demo",
        "version": version,
        "title": "Demo rule set",
        "description": "A small rule set for the machinery's tests.",
        "publisher": "Test team",
        "url": "https://example.org/rulesets/demo",
        "status": "active",
        "library": "Demo.cql",
        "valuesets": "valuesets",
        "parameters": {"Window": 6},
        "services": [{
            "id": "demo-patient-view",
            "hook": "patient-view",
            "title": "Demo",
            "description": "Demo patient-view service",
            "prefetch": {
                "patient": "Patient/{{context.patientId}}",
                "conditions": "Condition?patient={{context.patientId}}",
                "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
            },
            "cards": ["warning-card", "info-card"],
        }],
        "cards": [
            {
                "id": "info-card",
                "when": "Show Info",
                "indicator": "info",
                "summary": "Neuropathy: {{Condition Count}} condition(s), window {{Window Months}} months",
                "detail": "Some *information*.\n{{#Is Patient View}}\n- shown in the chart\n{{/Is Patient View}}\n",
                "source": {"label": "Demo source", "url": "https://example.org/source"},
                "suppressedBy": ["warning-card"],
            },
            {
                "id": "warning-card",
                "when": "Show Warning",
                "indicator": "warning",
                "summary": "Warfarin with neuropathy",
                "detail": "Check the INR.",
                "source": {"label": "Demo source"},
                "links": [{"label": "Guideline", "url": "https://example.org/guideline", "type": "absolute"}],
                "overrideReasons": [{"system": "https://example.org/override", "code": "aware",
                                     "display": "Aware of the interaction"}],
                "selectionBehavior": "at-most-one",
                "suggestions": [{
                    "label": "Order an INR",
                    "isRecommended": True,
                    "actions": [{"type": "create", "description": "Order an INR test",
                                 "resource": {"resourceType": "ServiceRequest", "status": "draft",
                                              "intent": "proposal",
                                              "code": {"text": "INR"}}}],
                }],
            },
        ],
    }


def valueset(url: str, system: str, codes: list[str]) -> dict:
    return {"resourceType": "ValueSet", "url": url, "status": "active",
            "expansion": {"timestamp": "2026-01-01", "contains": [{"system": system, "code": c} for c in codes]}}


def patient_bundle(pid: str, *, neuropathy: bool = True, warfarin: bool = False) -> dict:
    resources: list[dict] = [{"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1950-05-01"}]
    if neuropathy:
        resources.append({"resourceType": "Condition", "id": f"{pid}-c1", "subject": {"reference": f"Patient/{pid}"},
                          "clinicalStatus": {"coding": [{"code": "active"}]},
                          "code": {"coding": [{"system": ICD10, "code": "E11.42"}]},
                          "recordedDate": "2026-06-01"})
    if warfarin:
        resources.append({"resourceType": "MedicationRequest", "id": f"{pid}-m1", "status": "active",
                          "intent": "order", "subject": {"reference": f"Patient/{pid}"},
                          "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "11289"}]}})
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def request_for(pid: str, bundle: dict | None = None, hook: str = "patient-view") -> dict:
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/1", "patientId": pid},
    }
    if bundle is not None:
        resources = [e["resource"] for e in bundle["entry"]]
        request["prefetch"] = {
            "patient": resources[0],
            "conditions": {"resourceType": "Bundle", "type": "searchset",
                           "entry": [{"resource": r} for r in resources if r["resourceType"] == "Condition"]},
            "medications": {"resourceType": "Bundle", "type": "searchset",
                            "entry": [{"resource": r} for r in resources if r["resourceType"] == "MedicationRequest"]},
        }
    return request


DEMO_TESTS = {
    "cases": [
        {"name": "neuropathy only", "patient": "data/p1.json", "request": "data/p1.patient-view.json",
         "expect": ["info-card"], "absent": ["warning-card"]},
        {"name": "neuropathy and warfarin", "patient": "data/p2.json", "request": "data/p2.patient-view.json",
         "expect": ["warning-card"], "absent": ["info-card"]},
        {"name": "no neuropathy", "patient": "data/p3.json", "request": "data/p3.patient-view.json",
         "absent": ["warning-card", "info-card"]},
    ]
}


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, as authors do."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=200, allow_unicode=True)


def write_ruleset(root: Path, version: str = "1.0.0", *, manifest: dict | None = None,
                  patch: Callable[[dict], None] | None = None, cql: str | None = None, cql_extra: str = "",
                  tests: dict | None = None, prefetch_in_requests: bool = True) -> Path:
    """Write the demo rule set to ``root/demo/<version>`` and return that folder."""
    folder = root / "demo" / version
    (folder / "valuesets").mkdir(parents=True, exist_ok=True)
    (folder / "tests" / "data").mkdir(parents=True, exist_ok=True)
    data = copy.deepcopy(manifest or demo_manifest(version))
    if patch:
        patch(data)
    (folder / "manifest.yaml").write_text(dump_yaml(data), encoding="utf-8")
    (folder / "Demo.cql").write_text(cql if cql is not None else DEMO_CQL.format(version=version, extra=cql_extra),
                                     encoding="utf-8")
    (folder / "valuesets" / "neuropathy.json").write_text(
        json.dumps(valueset(NEUROPATHY_VS, ICD10, ["E11.42", "G62.9"])), encoding="utf-8")
    (folder / "valuesets" / "warfarin.json").write_text(
        json.dumps(valueset(WARFARIN_VS, RXNORM, ["11289", "855332"])), encoding="utf-8")
    (folder / "tests" / "cases.yaml").write_text(yaml.safe_dump(tests or DEMO_TESTS, sort_keys=False),
                                                 encoding="utf-8")
    for pid, kwargs in (("p1", {}), ("p2", {"warfarin": True}), ("p3", {"neuropathy": False})):
        bundle = patient_bundle(pid, **kwargs)
        (folder / "tests" / "data" / f"{pid}.json").write_text(json.dumps(bundle), encoding="utf-8")
        request = request_for(pid, bundle if prefetch_in_requests else None)
        (folder / "tests" / "data" / f"{pid}.patient-view.json").write_text(json.dumps(request), encoding="utf-8")
    return folder


@pytest.fixture
def engine() -> Any:
    """The CQL engine the rule-set tests compile with: the real one."""
    return cql


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write_ruleset(tmp_path)


# --- databases ---------------------------------------------------------------------------------



@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database's URL: SQLite always, PostgreSQL when CDS_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rules.sqlite3'}"
        db = Database(url)
        db.migrate()
        db.dispose()
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("CDS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    with postgres_schema(POSTGRES_URL) as url:
        db = Database(url)
        db.migrate()
        db.dispose()
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def store(database: Database, engine: Any) -> RuleSetStore:
    return RuleSetStore(database, cql_engine=engine)


ADMIN = Actor("alice", role="publisher", remote_addr="127.0.0.1")


def summary_patch(text: str) -> Callable[[dict], None]:
    """A manifest patch that changes the info card's summary (a new version's wording)."""
    def patch(m: dict) -> None:
        m["cards"][0]["summary"] = text
    return patch


@pytest.fixture
def versions(tmp_path: Path) -> dict[str, RuleSetContent]:
    """Three valid versions of the demo rule set, each with its own info-card wording."""
    out = {}
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        folder = write_ruleset(tmp_path / "src", version,
                               patch=summary_patch(f"Neuropathy info v{version} ({{{{Condition Count}}}})"))
        out[version] = RuleSetContent.from_folder(folder)
    return out
