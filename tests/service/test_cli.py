"""``cds-hooks example`` and the CLI wiring."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml

from cds_hooks.cli import EXAMPLE_ANCHOR, main
from cds_hooks.config import PROJECT_ROOT

from .data import PATIENT_ID, patient_resources, request


@pytest.fixture
def example_tree(tmp_path):
    examples = tmp_path / "examples"
    (examples / "patients").mkdir(parents=True)
    (examples / "requests").mkdir()
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in patient_resources()]}
    (examples / "patients" / "pn.json").write_text(json.dumps(bundle))
    body = request("patient-view")
    (examples / "requests" / "pn.patient-view.json").write_text(json.dumps(body))
    rules = tmp_path / "rules"
    for version, key in (("1.0.0", "old"), ("1.10.0", "conditions")):
        folder = rules / "test-rules" / version
        folder.mkdir(parents=True)
        manifest = {"id": "test-rules", "version": version, "services": [
            {"id": "pv", "hook": "patient-view",
             "prefetch": {"patient": "Patient/{{context.patientId}}",
                          key: "Condition?patient={{context.patientId}}&onset-date=ge2024-01-01"}}]}
        (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    return examples, rules


def test_example_fills_prefetch_and_moves_dates(example_tree, capsys):
    examples, rules = example_tree
    assert main(["example", "pn.patient-view", "--examples", str(examples), "--rules", str(rules)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["hook"] == "patient-view" and printed["context"]["patientId"] == PATIENT_ID
    assert set(printed["prefetch"]) == {"patient", "conditions"}  # the newest version's templates (1.10.0)
    shift = (datetime.now(UTC).date() - date.fromisoformat(EXAMPLE_ANCHOR)).days
    onset = printed["prefetch"]["conditions"]["entry"][0]["resource"]["onsetDateTime"]
    assert onset == (date(2024, 3, 1) + timedelta(days=shift)).isoformat()
    assert printed["hookInstance"] != json.loads((examples / "requests" / "pn.patient-view.json").read_text())[
        "hookInstance"]


def test_example_errors(example_tree, capsys):
    examples, rules = example_tree
    assert main(["example", "nobody", "--examples", str(examples), "--rules", str(rules)]) == 2
    assert "pn.patient-view" in capsys.readouterr().err
    assert main(["example", "pn.patient-view", "--examples", str(examples), "--rules", str(rules),
                 "--service", "missing"]) == 2


def test_example_without_prefetch(example_tree, capsys):
    examples, rules = example_tree
    assert main(["example", "pn.patient-view", "--examples", str(examples), "--no-prefetch"]) == 0
    assert "prefetch" not in json.loads(capsys.readouterr().out)


def test_bundled_examples_all_render(capsys):
    requests_dir = PROJECT_ROOT / "fhir" / "examples" / "requests"
    names = sorted(p.stem for p in requests_dir.glob("*.json"))
    if not names:
        pytest.skip("no bundled example requests in fhir/examples/requests")
    for name in names:
        assert main(["example", name]) == 0, name
        printed = json.loads(capsys.readouterr().out)
        assert printed["prefetch"], name
