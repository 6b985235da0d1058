"""Impact preview (``cds-hooks rules diff OLD NEW --patients DIR``).

Runs two versions of a rule set over a folder of patient bundles and hook
requests, and reports per card id which patients gain it, which lose it, and
which of its text changed where both versions show it.

The folder is searched recursively for JSON files: a FHIR Bundle is a patient
(named by its file name), an object with a ``hook`` is a hook request
(``<patient>.<hook>.json`` pairs it with the patient ``<patient>.json``, the
layout of ``fhir/examples``). A patient without any request gets a
``patient-view`` request made up for it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import cql
from cds_hooks.examples import days_since, shift_dates

from .compiled import CompiledRuleSet, RuleSetEvaluationError
from .humanize import ValueRenderError
from .templates import TemplateRenderError
from .testing import run_request

# Card fields compared for "text changed" (uuids and the version stamp always differ).
_COMPARED = ("summary", "indicator", "detail", "source", "links", "suggestions", "selectionBehavior",
             "overrideReasons")


@dataclass
class Case:
    """One hook call to preview: a patient and a request."""

    name: str
    patient_name: str
    request: dict
    patient: Any = None


@dataclass
class CardImpact:
    """What changes for one card id."""

    card_id: str
    gained: list[str] = field(default_factory=list)  # case names
    lost: list[str] = field(default_factory=list)
    kept: int = 0
    changed: dict[str, list[str]] = field(default_factory=dict)  # field -> case names
    examples: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (old, new), first seen

    def patients(self, cases: list[str], by_case: Mapping[str, str]) -> int:
        return len({by_case[c] for c in cases})

    def to_json(self, by_case: Mapping[str, str]) -> dict[str, Any]:
        return {
            "cardId": self.card_id,
            "patientsGaining": self.patients(self.gained, by_case),
            "patientsLosing": self.patients(self.lost, by_case),
            "gained": self.gained, "lost": self.lost, "unchangedPresence": self.kept,
            "textChanged": {name: {"calls": cases, "example": {"old": self.examples[name][0],
                                                               "new": self.examples[name][1]}}
                            for name, cases in self.changed.items()},
        }


@dataclass
class ImpactReport:
    """The preview: per card id impacts, and calls that could not be evaluated."""

    old: str
    new: str
    cases: int = 0
    patients: int = 0
    cards: dict[str, CardImpact] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    by_case: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> list[CardImpact]:
        return [c for c in self.cards.values() if c.gained or c.lost or c.changed]

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "calls": self.cases, "patients": self.patients,
                "cards": [c.to_json(self.by_case) for c in self.changed], "errors": self.errors}

    def render(self) -> str:
        """A readable report."""
        lines = [f"Impact of {self.new} over {self.old}: {self.cases} hook calls, {self.patients} patients"]
        if not self.changed:
            lines.append("No card changes.")
        for impact in sorted(self.changed, key=lambda c: c.card_id):
            gain = impact.patients(impact.gained, self.by_case)
            loss = impact.patients(impact.lost, self.by_case)
            lines.append(f"\n{impact.card_id}: +{gain} patient(s) gain it, -{loss} lose it")
            lines.extend(f"  + {name}" for name in impact.gained)
            lines.extend(f"  - {name}" for name in impact.lost)
            for name, cases in impact.changed.items():
                lines.append(f"  text changed: {name} ({len(cases)} call(s), e.g. {cases[0]})")
                old, new = impact.examples[name]
                lines.extend("    " + line for line in _text_diff(old, new))
        for error in self.errors:
            lines.append(f"error: {error}")
        return "\n".join(lines)


def _text_diff(old: Any, new: Any) -> list[str]:
    def as_lines(value: Any) -> list[str]:
        if isinstance(value, str):
            return value.splitlines() or [""]
        return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True).splitlines()

    diff = difflib.unified_diff(as_lines(old), as_lines(new), "old", "new", lineterm="", n=1)
    return [line for line in diff if not line.startswith(("---", "+++"))][:40]


def discover_cases(folder: Path, *, shift_from: date | None = None, today: date | None = None) -> list[Case]:
    """Patients and requests found under ``folder`` (see the module docstring)."""
    days = days_since(shift_from, today) if shift_from else 0
    patients: dict[str, Any] = {}
    requests: list[tuple[str, dict]] = []
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict):
            continue
        if data.get("resourceType") == "Bundle":
            patients[path.stem] = shift_dates(data, days)
        elif isinstance(data.get("hook"), str):
            requests.append((path.name.removesuffix(".json"), shift_dates(data, days)))
    cases: list[Case] = []
    used: set[str] = set()
    for name, request in requests:
        hook = request["hook"]
        patient_name = name.removesuffix("." + hook) if name.endswith("." + hook) else name
        patient = patients.get(patient_name)
        if patient is None and not isinstance(request.get("prefetch"), dict):
            continue  # nothing to evaluate against
        used.add(patient_name)
        cases.append(Case(f"{patient_name} {hook}", patient_name, request, patient))
    for patient_name, bundle in patients.items():
        if patient_name in used:
            continue
        patient_id = next((e["resource"].get("id") for e in bundle.get("entry") or []
                           if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                           and e["resource"].get("resourceType") == "Patient"), None)
        if patient_id is None:
            continue
        request = {"hook": "patient-view", "hookInstance": "00000000-0000-4000-8000-000000000000",
                   "context": {"userId": "Practitioner/impact-preview", "patientId": patient_id}}
        cases.append(Case(f"{patient_name} patient-view", patient_name, request, bundle))
    return cases


def _comparable(card: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name in _COMPARED:
        value = card.get(name)
        if name == "suggestions" and value:
            value = [{k: v for k, v in s.items() if k != "uuid"} for s in value]
        out[name] = value
    return out


def _evaluate(ruleset: CompiledRuleSet, case: Case, now: datetime) -> dict[str, dict] | None:
    hook = case.request.get("hook")
    if not any(s.hook == hook for s in ruleset.services):
        return {}
    _, cards = run_request(ruleset, case.request, case.patient, now=now)
    return {card["source"]["topic"]["code"]: card for card in cards}


def impact(old: CompiledRuleSet, new: CompiledRuleSet, cases: list[Case], *,
           now: datetime | None = None) -> ImpactReport:
    """Evaluate every case with both versions and collect the differences per card id."""
    now = now or datetime.now(UTC)
    report = ImpactReport(f"{old.id} {old.version}", f"{new.id} {new.version}")
    for case in cases:
        try:
            before = _evaluate(old, case, now)
            after = _evaluate(new, case, now)
        except (cql.CqlError, RuleSetEvaluationError, TemplateRenderError, ValueRenderError, KeyError,
                ValueError) as exc:
            report.errors.append(f"{case.name}: {type(exc).__name__}: {exc}")
            continue
        assert before is not None and after is not None
        report.cases += 1
        report.by_case[case.name] = case.patient_name
        for card_id in sorted(set(before) | set(after)):
            entry = report.cards.setdefault(card_id, CardImpact(card_id))
            if card_id not in before:
                entry.gained.append(case.name)
            elif card_id not in after:
                entry.lost.append(case.name)
            else:
                entry.kept += 1
                old_card, new_card = _comparable(before[card_id]), _comparable(after[card_id])
                for name in _COMPARED:
                    if old_card[name] != new_card[name]:
                        entry.changed.setdefault(name, []).append(case.name)
                        entry.examples.setdefault(name, (old_card[name], new_card[name]))
    report.patients = len(set(report.by_case.values()))
    return report

