"""``cds-hooks rules validate``: every problem, with file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cds_hooks.rulesets.loader import check_path
from cds_hooks.rulesets.problems import Problem
from tests.rulesets.conftest import DEMO_CQL, write_ruleset


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


def errors(folder: Path, engine: Any) -> list[Problem]:
    return [p for p in check_path(folder, engine=engine).problems if p.is_error]


def find(problems: list[Problem], fragment: str) -> Problem:
    for problem in problems:
        if fragment in problem.message:
            return problem
    raise AssertionError(f"no problem mentions {fragment!r}: {[str(p) for p in problems]}")


def test_demo_is_valid(demo: Path, engine: Any) -> None:
    result = check_path(demo, engine=engine)
    assert result.ok, [str(p) for p in result.problems]
    assert result.ruleset is not None
    assert result.ruleset.id == "demo" and result.ruleset.version == "1.0.0"


def test_schema_problems_are_all_reported_with_lines(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["colour"] = "blue"
        m["cards"][0]["indicator"] = "hard-stop"
        del m["cards"][1]["source"]
        m["services"][0]["hook"] = "patient-open"

    folder = write_ruleset(tmp_path, patch=patch)
    manifest = folder / "manifest.yaml"
    problems = errors(folder, engine)
    assert find(problems, "unknown key 'colour'").line == line_of(manifest, "colour:")
    assert find(problems, "indicator").line == line_of(manifest, "hard-stop")
    assert find(problems, "missing required key 'source'").line == line_of(manifest, "- id: warning-card")
    assert find(problems, "hook").line == line_of(manifest, "patient-open")
    assert all(p.file == "manifest.yaml" for p in problems)


def test_yaml_syntax_error_has_a_line(demo: Path, engine: Any) -> None:
    manifest = demo / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("title: Demo rule set", "title: [unclosed"))
    problem = find(errors(demo, engine), "YAML syntax error")
    assert problem.file == "manifest.yaml" and problem.line is not None


def test_duplicate_keys_are_errors(demo: Path, engine: Any) -> None:
    manifest = demo / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("title: Demo rule set\n", "title: A\ntitle: B\n", 1))
    assert find(errors(demo, engine), "duplicate key title").line == 4


def test_version_must_be_semantic_and_match_folder_and_library(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, patch=lambda m: m.update(version="1.0"))
    assert find(errors(folder, engine), "semantic version").line == 2

    folder = write_ruleset(tmp_path / "b", patch=lambda m: m.update(version="1.0.1"))
    problems = errors(folder, engine)
    assert find(problems, "does not match the folder name 1.0.0").line == 2
    library = find(problems, "library version")
    assert (library.file, library.line) == ("Demo.cql", 1)


def test_id_must_match_parent_folder(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, patch=lambda m: m.update(id="other"))
    assert find(errors(folder, engine), "does not match the rule-set folder").line == 1


def test_cql_error_points_into_the_library(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, cql_extra='define "Broken": exists "No Such Thing"\n')
    problem = find(errors(folder, engine), "CQL")
    assert problem.file == "Demo.cql"
    assert problem.line == line_of(folder / "Demo.cql", '"Broken"')


def test_library_name_must_match_file(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, cql=DEMO_CQL.format(version="1.0.0", extra="").replace("Demo", "Other", 1))
    assert find(errors(folder, engine), "named 'Other'").file == "manifest.yaml"


def test_missing_define_and_wrong_type(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["cards"][0]["when"] = "Show Infos"
        m["cards"][1]["when"] = "Condition Count"

    folder = write_ruleset(tmp_path, patch=patch)
    manifest = folder / "manifest.yaml"
    problems = errors(folder, engine)
    missing = find(problems, "no define named 'Show Infos'")
    assert missing.line == line_of(manifest, "when: Show Infos")
    assert "did you mean 'Show Info'" in missing.message
    assert find(problems, "must be a Boolean, but it is System.Integer").line == line_of(manifest, "when: Condition Count")


def test_template_names_are_checked_at_their_line(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["cards"][1]["detail"] = "First line\nSecond {{Not A Define}}\n{{#Condition Count}}x{{/Condition Count}}\n"

    folder = write_ruleset(tmp_path, patch=patch)
    manifest = folder / "manifest.yaml"
    problems = errors(folder, engine)
    assert find(problems, "no define named 'Not A Define'").line == line_of(manifest, "Second {{Not A Define}}")
    assert find(problems, "needs a Boolean or a List").line == line_of(manifest, "{{#Condition Count}}")


def test_malformed_template(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, patch=lambda m: m["cards"][0].update(summary="{{#Show Info}} open"))
    assert find(errors(folder, engine), "never closed").line == line_of(folder / "manifest.yaml", "{{#Show Info}}")


def test_value_sets_must_be_provided(demo: Path, engine: Any) -> None:
    (demo / "valuesets" / "warfarin.json").unlink()
    problem = find(errors(demo, engine), "value set 'Warfarin'")
    assert problem.file == "Demo.cql"
    assert problem.line == line_of(demo / "Demo.cql", 'valueset "Warfarin"')


def test_bad_value_set_files(demo: Path, engine: Any) -> None:
    (demo / "valuesets" / "broken.json").write_text('{\n  "resourceType": "ValueSet",\n  oops\n}')
    (demo / "valuesets" / "other.json").write_text('{"resourceType": "CodeSystem"}')
    problems = errors(demo, engine)
    assert find(problems, "invalid JSON").line == 3
    assert find(problems, "not a FHIR ValueSet").file == "valuesets/other.json"


def test_prefetch_templates_are_checked(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["services"][0]["prefetch"]["labs"] = "Observation?patient={{context.patientId}}&sort:desc=date"
        m["services"][0]["required"] = ["patient", "nothing"]

    folder = write_ruleset(tmp_path, patch=patch)
    manifest = folder / "manifest.yaml"
    problems = errors(folder, engine)
    assert find(problems, "_sort=-date").line == line_of(manifest, "sort:desc")
    assert find(problems, "required key 'nothing'").line == line_of(manifest, "- nothing")


def test_ids_services_and_suppression(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["cards"][1]["id"] = "info-card"
        m["services"][0]["cards"] = ["info-card", "ghost-card"]
        m["cards"][0]["suppressedBy"] = ["info-card", "nobody"]

    folder = write_ruleset(tmp_path, patch=patch)
    problems = errors(folder, engine)
    find(problems, "card id 'info-card' is used twice")
    find(problems, "no card with id 'ghost-card'")
    find(problems, "can't suppress itself")
    find(problems, "no card with id 'nobody'")


def test_suppression_cycle(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, patch=lambda m: m["cards"][1].update(suppressedBy=["info-card"]))
    find(errors(folder, engine), "suppression cycle")


def test_summary_length_and_suggestions(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["cards"][0]["summary"] = "x" * 140
        del m["cards"][1]["selectionBehavior"]
        m["cards"][1]["suggestions"][0]["actions"].append({"type": "delete", "description": "d"})
        m["cards"][1]["suggestions"][0]["when"] = "Condition Count"

    folder = write_ruleset(tmp_path, patch=patch)
    problems = errors(folder, engine)
    find(problems, "longer than 139 characters")
    find(problems, "needs selectionBehavior")
    find(problems, "exactly one of resourceId or resourceIds")
    find(problems, "define 'Condition Count' must be a Boolean")


def test_override_reasons_need_display(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, patch=lambda m: m["cards"][1]["overrideReasons"][0].pop("display"))
    find(errors(folder, engine), "missing required key 'display'")


def test_parameters(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, patch=lambda m: m.update(parameters={"Window": "six", "Nope": 1, "Hook": "x"}))
    problems = errors(folder, engine)
    find(problems, "does not fit the parameter type System.Integer")
    find(problems, "declares no parameter 'Nope'")
    find(problems, "supplied by the service")


def test_test_files_are_checked(tmp_path: Path, engine: Any) -> None:
    tests = {"cases": [
        {"name": "bad", "patient": "data/missing.json", "request": "data/p1.patient-view.json",
         "service": "nope", "expect": ["ghost"], "absent": ["info-card"]},
    ]}
    folder = write_ruleset(tmp_path, tests=tests)
    problems = errors(folder, engine)
    assert all(p.file == "tests/cases.yaml" for p in problems)
    find(problems, "patient file data/missing.json not found")
    find(problems, "no service 'nope'")
    find(problems, "no card with id 'ghost'")


def test_everything_is_reported_not_only_the_first(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["cards"][0]["when"] = "Nope"
        m["services"][0]["prefetch"]["x"] = "Patient/{{Patient.id}}"

    folder = write_ruleset(tmp_path, patch=patch, cql_extra='define "Broken": exists "No Such Thing"\n')
    problems = errors(folder, engine)
    # The CQL error stops define checks, but the manifest checks that don't need defines still run.
    find(problems, "CQL")
    find(problems, "unknown prefetch token")


@pytest.mark.parametrize("missing", ["manifest.yaml", "Demo.cql"])
def test_missing_files(demo: Path, engine: Any, missing: str) -> None:
    (demo / missing).unlink()
    assert errors(demo, engine)


def test_template_lines_in_folded_and_quoted_styles(demo: Path, engine: Any) -> None:
    manifest = demo / "manifest.yaml"
    text = manifest.read_text().replace(
        "detail: Check the INR.",
        'detail: "Check the INR.\n\n    Then {{Missing Define}} and more"')
    manifest.write_text(text)
    assert find(errors(demo, engine), "'Missing Define'").line == line_of(manifest, "{{Missing Define}}")


def test_queries_the_local_search_cannot_run_are_warnings(tmp_path: Path, engine: Any) -> None:
    def patch(m: dict) -> None:
        m["services"][0]["prefetch"]["odd"] = "Observation?patient={{context.patientId}}&flavour=sweet"

    result = check_path(write_ruleset(tmp_path, patch=patch), engine=engine)
    assert result.ok
    warning = find([p for p in result.problems if not p.is_error], "can't run this query")
    assert "flavour" in warning.message


def test_an_engine_defect_refuses_the_version_instead_of_crashing(demo: Path) -> None:
    class Crashing:
        def compile_library(self, *args: Any, **kwargs: Any) -> Any:
            raise AttributeError("internal engine bug")

    result = check_path(demo, engine=Crashing())
    problem = find(result.errors, "the CQL engine failed")
    assert problem.file == "Demo.cql" and result.ruleset is None


def test_a_value_fitting_no_alternative_is_one_problem(tmp_path: Path, engine: Any) -> None:
    folder = write_ruleset(tmp_path, patch=lambda m: m.update(valuesets=5, parameters={"Window": [1]}))
    problems = errors(folder, engine)
    assert [p.message.split(":")[0] for p in problems] == ["valuesets", "parameters.Window"]
    assert problems[0].line == line_of(folder / "manifest.yaml", "valuesets: 5")
