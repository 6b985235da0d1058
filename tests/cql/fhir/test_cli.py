"""The ``cql eval`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cql.cli import main

from .data import bundle, valuesets
from .util import HEADER

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "rules" / "neuropathy-k2" / "1.0.0"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "vs").mkdir()
    for i, vs in enumerate(valuesets()):
        (tmp_path / "vs" / f"{i}.json").write_text(json.dumps(vs))
    data = bundle()
    next(e for e in data["entry"] if e["resource"]["id"] == "o-weight")["resource"]["valueQuantity"]["value"] = 0
    text = json.dumps(data).replace('"value": 0,', '"value": 154.30,')
    (tmp_path / "data.json").write_text(text)
    (tmp_path / "Common.cql").write_text("library Common version '1'\ndefine \"Two\": 2\n")
    (tmp_path / "main.cql").write_text(
        HEADER + "include Common version '1' called Common\nparameter \"Hook\" String\n"
        "parameter \"Drafts\" List<FHIR.MedicationRequest>\ncontext Patient\n"
        "define \"Weight\": First([Observation] O where O.id = 'o-weight').value as Quantity\n"
        "define \"Hook value\": \"Hook\"\ndefine \"Two\": Common.\"Two\"\n"
        "define \"Drafts count\": Count(\"Drafts\")\ndefine private \"Hidden\": 1\n")
    (tmp_path / "drafts.json").write_text(json.dumps(
        {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "d",
                                                           "status": "draft", "intent": "order"}}]}))
    return {"dir": tmp_path, "main": tmp_path / "main.cql", "data": tmp_path / "data.json",
            "common": tmp_path / "Common.cql", "drafts": tmp_path / "drafts.json"}


def test_eval_prints_each_public_define(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(files["main"]), "--data", str(files["data"]), "--valueset", str(files["dir"] / "vs"),
                 "--include", str(files["common"]), "--param", "Hook='patient-view'",
                 "--param-json", f"Drafts={files['drafts']}", "--patient", "p1", "--now", "2026-01-15T12:00:00Z"])
    out = capsys.readouterr().out
    assert code == 0
    # The JSON number keeps its written digits.
    assert out.splitlines() == ["Weight: 154.30 '[lb_av]'", "Hook value: 'patient-view'", "Two: 2",
                                "Drafts count: 1"]


def test_eval_selected_define(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(files["main"]), "--data", str(files["data"]), "--valueset", str(files["dir"] / "vs"),
                 "--include", str(files["common"]), "--patient", "p2", "--define", "Two"])
    assert code == 0
    assert capsys.readouterr().out == "Two: 2\n"


@pytest.mark.parametrize(("text", "where"), [
    ("library Bad version '1'\ndefine X: 1 +\n", ":3:1:"),
    ("library Bad version '1'\nusing FHIR version '4.0.1'\ncontext Patient\ndefine X: [Condition] C where C.foo\n",
     ":4:33:"),
    ("library Bad version '1'\nusing FHIR version '4.0.1'\nvalueset \"V\": 'http://x'\ncontext Patient\n"
     "define X: 1\n", ":3:1:"),
    ("library Bad version '1'\ndefine X: Message(1, true, 'E1', 'Error', 'failed here')\n", ":2:1:"),
])
def test_errors_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str) -> None:
    path = tmp_path / "bad.cql"
    path.write_text(text)
    assert main(["eval", str(path), "--data", str(ROOT / "fhir" / "examples" / "patients" / "egfr-25.json")]) == 1
    err = capsys.readouterr().err
    assert f"{path}{where}" in err


def test_bad_inputs(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Bundle",\n  "entry": [,]}')
    assert main(["eval", str(files["main"]), "--data", str(broken)]) == 1
    assert f"{broken}:2:13: invalid JSON" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.cql")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["eval", str(files["main"]), "--param", "Nope"]) == 1
    assert "NAME=" in capsys.readouterr().err
    assert main(["eval", str(files["main"]), "--include", str(files["common"]), "--data", str(files["data"]),
                 "--valueset", str(files["dir"] / "vs"), "--param", "Unknown=1", "--patient", "p1"]) == 1
    assert "no parameter 'Unknown'" in capsys.readouterr().err


def test_rule_library_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    patient = RULES / "tests" / "examples" / "patients" / "b12-indeterminate-250-pgml.json"
    code = main(["eval", str(RULES / "NeuropathyK2.cql"), "--data", str(patient), "--valueset",
                 str(RULES / "valuesets"), "--param", "Hook='patient-view'", "--now", "2026-11-01T12:00:00Z",
                 "--define", "Show B12 Indeterminate Card", "--define", "Latest B12 Converted"])
    assert code == 0
    assert capsys.readouterr().out.splitlines() == ["Show B12 Indeterminate Card: true",
                                                    "Latest B12 Converted: 185 'pmol/L'"]
