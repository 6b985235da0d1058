"""The rule-set test runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cds_hooks.rulesets.compiled import RuleSetEvaluationError
from cds_hooks.rulesets.loader import load_ruleset
from cds_hooks.rulesets.testing import run_request, run_tests
from tests.rulesets.conftest import DEMO_TESTS, patient_bundle, request_for, write_ruleset


def test_prefetch_is_filled_from_the_patient_bundle_when_the_request_has_none(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, prefetch_in_requests=False)
    report = run_tests(load_ruleset(folder, engine=engine))
    assert report.passed, report.render()
    assert [c.actual for c in report.cases] == [["info-card"], ["warning-card"], []]


def test_errors_in_a_case_are_failures_with_the_reason(tmp_path: Path, engine: Any) -> None:
    cases = [dict(DEMO_TESTS["cases"][0], request="data/p1.json")]  # a bundle is not a hook request
    report = run_tests(load_ruleset(write_ruleset(tmp_path, tests={"cases": cases}), engine=engine))
    assert not report.passed
    [case] = report.failures
    assert "hook and a context" in case.error
    [problem] = report.as_problems()
    assert (problem.file, problem.line) == ("tests/cases.yaml", 2)


def test_dates_are_shifted_from_the_anchor(tmp_path: Path, engine: Any) -> None:
    tests = {"shiftDatesFrom": "2026-11-01", "cases": DEMO_TESTS["cases"]}
    report = run_tests(load_ruleset(write_ruleset(tmp_path, tests=tests), engine=engine))
    assert report.passed


def test_a_required_key_the_client_could_not_fetch_is_a_412(tmp_path: Path, engine: Any) -> None:
    ruleset = load_ruleset(write_ruleset(tmp_path), engine=engine)
    bundle = patient_bundle("p1")
    request = request_for("p1", bundle)
    request["prefetch"]["conditions"] = {"resourceType": "OperationOutcome",
                                         "issue": [{"severity": "error", "code": "exception"}]}
    with pytest.raises(RuleSetEvaluationError, match="412.*conditions"):
        run_request(ruleset, request, bundle)
    # Without prefetch, every key is filled from the patient's data.
    request.pop("prefetch")
    _, cards = run_request(ruleset, request, bundle)
    assert [c["source"]["topic"]["code"] for c in cards] == ["info-card"]


def test_a_crash_during_evaluation_fails_the_case(tmp_path: Path, engine: Any) -> None:
    ruleset = load_ruleset(write_ruleset(tmp_path), engine=engine)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("engine defect")

    object.__setattr__(ruleset, "library", type("Lib", (), {"evaluate": staticmethod(explode),
                                                            "parameters": {}})())
    report = run_tests(ruleset)
    assert len(report.failures) == 3
    assert all("internal error: TypeError: engine defect" in c.error for c in report.failures)
