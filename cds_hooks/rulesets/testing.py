"""Run a rule-set version's own tests (``cds-hooks rules test PATH``).

Each case is a hook request with patient data and the card ids that must and
must not appear. When the request has no ``prefetch``, each of the service's
prefetch templates is run against the patient bundle with the same FHIR
search the local test server uses, so the rule set sees exactly what it would
see on a call with complete prefetch.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import cql
from cds_hooks.examples import days_since, shift_dates

from .compiled import CompiledRuleSet, RuleSetEvaluationError, ServiceDefinition
from .content import RuleSetContent, resolve_relative
from .humanize import ValueRenderError
from .loader import load_test_file
from .problems import Problem
from .templates import TemplateRenderError

log = logging.getLogger(__name__)


@dataclass
class CaseResult:
    """The outcome of one test case."""

    file: str
    line: int | None
    name: str
    service_id: str | None
    expect: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    cards: list[dict] = field(default_factory=list)
    error: str | None = None

    @property
    def actual(self) -> list[str]:
        return [card["source"]["topic"]["code"] for card in self.cards]

    @property
    def missing(self) -> list[str]:
        return [c for c in self.expect if c not in self.actual]

    @property
    def unexpected(self) -> list[str]:
        return [c for c in self.absent if c in self.actual]

    @property
    def passed(self) -> bool:
        return self.error is None and not self.missing and not self.unexpected

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def diff(self) -> str:
        """Expected against actual cards, one row per card id, with the actual summaries."""
        if self.error:
            return f"  error: {self.error}"
        ids = list(dict.fromkeys([*self.expect, *self.absent, *self.actual]))
        width = max([len(i) for i in ids] + [4])
        rows = [f"    {'card':<{width}}  {'expected':<8}  actual"]
        for card_id in ids:
            expected = "shown" if card_id in self.expect else "absent" if card_id in self.absent else "-"
            actual = "shown" if card_id in self.actual else "-"
            wrong = (expected == "shown" and actual != "shown") or (expected == "absent" and actual == "shown")
            rows.append(f"  {'!' if wrong else ' '} {card_id:<{width}}  {expected:<8}  {actual}")
        for card in self.cards:
            rows.append(f"      {card['source']['topic']['code']}: [{card['indicator']}] {card['summary']}")
        return "\n".join(rows)

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "name": self.name, "service": self.service_id,
                "passed": self.passed, "expect": list(self.expect), "absent": list(self.absent),
                "actual": self.actual, "missing": self.missing, "unexpected": self.unexpected,
                "error": self.error}


@dataclass
class TestReport:
    """All case results, and problems that stopped a test file from running."""

    __test__ = False  # not a pytest test class

    cases: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def failures(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.passed]

    @property
    def passed(self) -> bool:
        return not self.failures and not any(p.is_error for p in self.problems)

    def as_problems(self) -> list[Problem]:
        """Failures as problems (file and line of the case), for publishing refusals."""
        out = [p for p in self.problems if p.is_error]
        for case in self.failures:
            if case.error:
                message = f"test {case.name!r}: {case.error}"
            else:
                parts = []
                if case.missing:
                    parts.append(f"expected but not shown: {', '.join(case.missing)}")
                if case.unexpected:
                    parts.append(f"shown but must be absent: {', '.join(case.unexpected)}")
                message = f"test {case.name!r} failed: {'; '.join(parts)} (shown: {', '.join(case.actual) or 'none'})"
            out.append(Problem(case.file, case.line, message))
        return out

    def render(self, verbose: bool = False) -> str:
        """Human-readable report: failures with their diff, then a count line."""
        lines = [str(p) for p in self.problems]
        for case in self.cases:
            if not case.passed:
                lines.append(f"FAIL {case.where} {case.name} [{case.service_id}]")
                lines.append(case.diff())
            elif verbose:
                lines.append(f"ok   {case.where} {case.name} [{case.service_id}]: {', '.join(case.actual) or 'no cards'}")
        failed = len(self.failures)
        lines.append(f"{len(self.cases) - failed} passed, {failed} failed")
        return "\n".join(lines)


def gather_as_service(service: ServiceDefinition, request: Mapping[str, Any], patient_data: Sequence[dict],
                      valuesets: Sequence[dict] = ()) -> list[dict]:
    """The resources the service would evaluate for ``request``.

    Uses the service's own prefetch handling (``cds_hooks.prefetch``): when the
    request has no ``prefetch``, a client holding ``patient_data`` fills every
    key; the decision table is then applied as on a real call (a required key
    that can't be had raises, as the service would answer 412). Medications
    that the gathered resources or the draft orders reference are taken from
    ``patient_data``, as the service reads them from the client's FHIR server.
    """
    from cds_hooks.models import parse_context
    from cds_hooks.prefetch import PrefetchPlan, fill_prefetch, gather

    hook, context = request["hook"], request["context"]
    prefetch = request.get("prefetch")
    if not isinstance(prefetch, dict):
        prefetch = fill_prefetch(service.prefetch, context, patient_data, hook=hook, valuesets=valuesets)
    plan = PrefetchPlan.compile(service.prefetch, service.required)
    result = gather(plan, prefetch, parse_context(hook, context), fhir_server=None, access_token=None,
                    client=None, deadline=time.monotonic() + 5)
    # Without a server, gather lists the Medications the data and the draft orders reference
    # as unresolved: the patient bundle stands in for the client's FHIR server. Those the
    # bundle doesn't hold stay unresolved, and the service would answer 412 for them.
    medications = {r.get("id"): r for r in patient_data if r.get("resourceType") == "Medication"}
    found = [medications[rid] for rid in result.medications_unresolved if rid in medications]
    result.medications_unresolved = [rid for rid in result.medications_unresolved if rid not in medications]
    missing = result.missing_required()
    if missing:
        raise RuleSetEvaluationError("the service would answer 412: " + "; ".join(
            f"required prefetch {o.key!r}: {o.problem}" for o in missing))
    return result.resources + found


def patient_resources(bundle: Any) -> list[dict]:
    """The resources of a patient bundle (or a list of resources)."""
    if isinstance(bundle, list):
        return [r for r in bundle if isinstance(r, dict)]
    if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle":
        return [e["resource"] for e in bundle.get("entry") or [] if isinstance(e, dict) and "resource" in e]
    if isinstance(bundle, dict) and "resourceType" in bundle:
        return [bundle]
    return []


def service_for(ruleset: CompiledRuleSet, hook: str, service_id: str | None = None) -> ServiceDefinition:
    """The named service, or the only service of the rule set for ``hook``."""
    if service_id is not None:
        service = ruleset.service(service_id)
        if service is None:
            raise RuleSetEvaluationError(f"no service {service_id!r}")
        return service
    matches = [s for s in ruleset.services if s.hook == hook]
    if len(matches) != 1:
        raise RuleSetEvaluationError(
            f"{len(matches)} services handle {hook}; name one with 'service:'" if matches
            else f"no service handles {hook}")
    return matches[0]


def run_request(ruleset: CompiledRuleSet, request: Mapping[str, Any], patient: Any = None, *,
                service_id: str | None = None, now: datetime | None = None) -> tuple[ServiceDefinition, list[dict]]:
    """Evaluate one hook request as the service would with complete prefetch."""
    hook = request.get("hook")
    context = request.get("context") or {}
    if not isinstance(hook, str) or not isinstance(context, dict):
        raise RuleSetEvaluationError("the request needs a hook and a context")
    service = service_for(ruleset, hook, service_id)
    resources = gather_as_service(service, request, patient_resources(patient), ruleset.valuesets)
    cards = ruleset.evaluate(service.id, hook=hook, context=context, resources=resources, now=now)
    return service, cards


def load_json(content: RuleSetContent, path: str, days: int) -> Any:
    """A JSON file of the content with its FHIR dates moved by ``days``."""
    return shift_dates(json.loads(content.text(path)), days)


def run_tests(ruleset: CompiledRuleSet, *, now: datetime | None = None,
              files: Iterable[str] | None = None) -> TestReport:
    """Run every case of the version's ``tests/*.yaml``."""
    now = now or datetime.now(UTC)
    today: date = now.date()
    content = ruleset.content
    report = TestReport()
    if files is None:
        files = [p for p in content.under("tests") if p.endswith((".yaml", ".yml")) and p.count("/") == 1]
    for file in files:
        loaded = load_test_file(content, file)
        if isinstance(loaded, Problem):
            report.problems.append(loaded)
            continue
        doc, tests = loaded
        days = days_since(tests.shiftDatesFrom, today) if tests.shiftDatesFrom else 0
        for index, case in enumerate(tests.cases):
            result = CaseResult(file=file, line=doc.line_of(["cases", index]), name=case.name,
                                service_id=case.service, expect=tuple(case.expect), absent=tuple(case.absent))
            try:
                request = load_json(content, resolve_relative(file, case.request), days)
                patient = load_json(content, resolve_relative(file, case.patient), days) if case.patient else None
                service, result.cards = run_request(ruleset, request, patient, service_id=case.service, now=now)
                result.service_id = service.id
            except (cql.CqlError, RuleSetEvaluationError, TemplateRenderError, ValueRenderError) as exc:
                result.error = f"{type(exc).__name__}: {exc}"
            except (KeyError, ValueError, json.JSONDecodeError) as exc:
                result.error = f"cannot run the case: {type(exc).__name__}: {exc}"
            except Exception as exc:  # an engine or rendering defect fails the case, never the run
                log.exception("rule-set test %r crashed", case.name)
                result.error = f"internal error: {type(exc).__name__}: {exc}"
            report.cases.append(result)
    return report
