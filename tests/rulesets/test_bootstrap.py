"""First start with an empty database: publish the bundled versions, activate the newest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.rulesets.bootstrap import bootstrap_bundled
from cds_hooks.rulesets.store import RuleSetStore
from cds_hooks.storage.db import Database
from tests.rulesets.conftest import summary_patch, write_ruleset


def test_publishes_all_and_activates_the_newest(tmp_path: Path, database: Database, engine: Any) -> None:
    rules = tmp_path / "rules"
    for version in ("1.0.0", "1.2.0", "1.10.0"):
        write_ruleset(rules, version, patch=summary_patch(f"Neuropathy {version}"))
    report = bootstrap_bundled(database, rules, cql_engine=engine)
    assert sorted(report.published) == ["demo/1.0.0", "demo/1.10.0", "demo/1.2.0"]
    assert report.activated == ["demo/1.10.0"]
    store = RuleSetStore(database, cql_engine=engine)
    assert [(v.version, v.state) for v in store.list_versions()] == [
        ("1.0.0", "draft"), ("1.2.0", "draft"), ("1.10.0", "active")]
    assert {e["actor"] for e in store.audit()} == {"system:bootstrap"}
    # Not again once something was activated, even with new bundled versions.
    write_ruleset(rules, "2.0.0")
    assert bootstrap_bundled(database, rules, cql_engine=engine).skipped
    assert [v.version for v in store.active_versions()] == ["1.10.0"]


def test_a_broken_bundled_version_is_logged_and_left_out(tmp_path: Path, database: Database, engine: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    rules = tmp_path / "rules"
    write_ruleset(rules, "1.0.0")
    write_ruleset(rules, "1.1.0", cql_extra='define "Broken": exists "No Such Thing"\n')
    with caplog.at_level(logging.ERROR):
        report = bootstrap_bundled(database, rules, cql_engine=engine)
    assert report.activated == ["demo/1.0.0"]
    assert "demo/1.1.0" in report.failed
    assert "Demo.cql:15" in caplog.text


def test_missing_rules_folder_does_nothing(tmp_path: Path, database: Database, engine: Any) -> None:
    report = bootstrap_bundled(database, tmp_path / "none", cql_engine=engine)
    assert report.published == [] and report.activated == []
