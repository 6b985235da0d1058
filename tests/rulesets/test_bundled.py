"""The bundled rule sets (rules/*/*) with the real CQL engine: they validate, their own
tests pass, they can be published and activated, and a second version can be
published and activated beside the first."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cds_hooks.rulesets.bootstrap import bundled_folders
from cds_hooks.rulesets.content import RuleSetContent
from cds_hooks.rulesets.loader import check_path
from cds_hooks.rulesets.store import RuleSetStore
from cds_hooks.rulesets.testing import run_tests
from tests.rulesets.conftest import ADMIN

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = bundled_folders(ROOT / "rules")


@pytest.fixture(params=FOLDERS, ids=[f"{p.parent.name}/{p.name}" for p in FOLDERS])
def folder(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_there_is_a_bundled_rule_set() -> None:
    assert FOLDERS, "rules/<id>/<version>/ holds no rule set"


def test_bundled_rule_set_validates(folder: Path) -> None:
    result = check_path(folder)
    assert result.ok, "\n".join(str(p) for p in result.errors)


def test_bundled_rule_set_tests_pass(folder: Path) -> None:
    result = check_path(folder)
    assert result.ruleset is not None
    report = run_tests(result.ruleset)
    assert report.cases, "the rule set has no test cases"
    assert report.passed, report.render()


def bump(folder: Path, version: str) -> RuleSetContent:
    """The version with a new number and the first card's summary reworded slightly."""
    content = RuleSetContent.from_folder(folder)
    files = dict(content.files)
    manifest = yaml.safe_load(files["manifest.yaml"])
    old = manifest["version"]
    text = files["manifest.yaml"].decode().replace(f"version: {old}", f"version: {version}", 1)
    files["manifest.yaml"] = text.encode()
    library = manifest["library"]
    files[library] = files[library].decode().replace(f"version '{old}'", f"version '{version}'", 1).encode()
    return RuleSetContent.from_files(files, folder_name=version)


def test_a_second_version_is_published_and_activated_beside_the_first(folder: Path, store: RuleSetStore) -> None:
    first = store.publish(RuleSetContent.from_folder(folder), ADMIN)
    store.activate(first.version.ruleset_id, first.version.version, ADMIN)
    second = store.publish(bump(folder, "99.0.0"), ADMIN)
    store.activate(second.version.ruleset_id, "99.0.0", ADMIN)
    assert [v.version for v in store.active_versions()] == ["99.0.0"]
    assert store.rollback(first.version.ruleset_id, ADMIN).version.version == first.version.version
