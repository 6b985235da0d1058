"""``cds-hooks rules ...`` through the real command-line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_hooks.cli import main
from tests.admin.conftest import tar_folder
from tests.rulesets.conftest import DEMO_TESTS, patient_bundle, request_for, summary_patch, write_ruleset


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok(demo: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "rules", "validate", str(demo))
    assert code == 0
    assert "demo 1.0.0 is valid" in out


def test_validate_reports_every_problem_with_path_and_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_ruleset(tmp_path, cql_extra='define "Broken": exists "No Such Thing"\n',
                           patch=lambda m: m["cards"][0].update(indicator="hard-stop"))
    code, out, _ = run(capsys, "rules", "validate", str(folder))
    assert code == 1
    assert f"{folder.as_posix()}/Demo.cql:15:" in out
    assert f"{folder.as_posix()}/manifest.yaml:" in out and "indicator" in out
    assert "not valid: 2 error(s)" in out
    code, out, _ = run(capsys, "rules", "validate", "--json", str(folder))
    body = json.loads(out)
    assert body["valid"] is False and len(body["problems"]) == 2


def test_validate_an_archive(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    archive = tmp_path / "demo.tar.gz"
    archive.write_bytes(tar_folder(demo))
    assert run(capsys, "rules", "validate", str(archive))[0] == 0


def test_test_command_prints_a_diff_on_failure(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cases = [dict(DEMO_TESTS["cases"][0], expect=["warning-card"], absent=["info-card"]), DEMO_TESTS["cases"][1]]
    folder = write_ruleset(tmp_path, tests={"cases": cases})
    code, out, _ = run(capsys, "rules", "test", str(folder))
    assert code == 1
    assert "FAIL tests/cases.yaml:2 neuropathy only [demo-patient-view]" in out
    assert "! warning-card  shown     -" in out
    assert "! info-card     absent    shown" in out
    assert "info-card: [info] Neuropathy: 1 condition(s), window 6 months" in out
    assert out.strip().endswith("1 passed, 1 failed")


def test_test_command_passes(demo: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "rules", "test", "-v", str(demo))
    assert code == 0
    assert out.strip().endswith("3 passed, 0 failed")
    code, out, _ = run(capsys, "rules", "test", "--json", str(demo))
    assert json.loads(out)["passed"] is True


def test_diff_reports_gains_losses_and_text(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    old = write_ruleset(tmp_path / "a", "1.0.0")

    def patch(m: dict) -> None:
        summary_patch("Neuropathy: reworded ({{Condition Count}})")(m)
        m["cards"][0]["suppressedBy"] = []  # info-card now shows beside the warning

    new = write_ruleset(tmp_path / "b", "1.1.0", patch=patch)
    patients = tmp_path / "patients"
    patients.mkdir()
    for pid, kwargs in (("p1", {}), ("p2", {"warfarin": True}), ("p3", {"neuropathy": False}),
                        ("p4", {"warfarin": True})):
        (patients / f"{pid}.json").write_text(json.dumps(patient_bundle(pid, **kwargs)))
    (patients / "p4.patient-view.json").write_text(json.dumps(request_for("p4", patient_bundle("p4", warfarin=True))))
    code, out, _ = run(capsys, "rules", "diff", str(old), str(new), "--patients", str(patients))
    assert code == 0, out
    assert "4 hook calls, 4 patients" in out
    assert "info-card: +2 patient(s) gain it, -0 lose it" in out
    assert "  + p2 patient-view" in out and "  + p4 patient-view" in out
    assert "text changed: summary" in out
    assert "-Neuropathy: 1 condition(s), window 6 months" in out
    assert "+Neuropathy: reworded (1)" in out
    assert "warning-card" not in out  # unchanged cards aren't listed
    code, out, _ = run(capsys, "rules", "diff", "--json", str(old), str(new), "--patients", str(patients))
    body = json.loads(out)
    [info] = body["cards"]
    assert (info["cardId"], info["patientsGaining"], info["patientsLosing"]) == ("info-card", 2, 0)
    assert info["textChanged"]["summary"]["calls"] == ["p1 patient-view"]


def test_lifecycle_commands_on_a_database(tmp_path: Path, capsys: pytest.CaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    v1 = write_ruleset(tmp_path / "src", "1.0.0")
    v2 = write_ruleset(tmp_path / "src", "1.1.0", patch=summary_patch("Neuropathy v2"))
    assert run(capsys, "rules", "list")[1].strip() == "no rule sets published"
    code, out, _ = run(capsys, "rules", "publish", str(v1), "--actor", "carol")
    assert code == 0 and out.startswith("demo 1.0.0: draft")
    assert "(no change)" in run(capsys, "rules", "publish", str(v1))[1]
    assert run(capsys, "rules", "publish", str(v2))[0] == 0
    assert run(capsys, "rules", "activate", "demo", "1.0.0")[0] == 0
    code, out, _ = run(capsys, "rules", "activate", "demo", "1.1.0", "--json")
    assert json.loads(out)["previousVersion"] == "1.0.0"
    assert run(capsys, "rules", "rollback", "demo")[1].startswith("demo 1.0.0: active")
    code, _, err = run(capsys, "rules", "retire", "demo", "1.0.0")
    assert code == 1 and "refused:" in err and "is active" in err
    assert run(capsys, "rules", "retire", "demo", "1.1.0")[0] == 0
    code, out, _ = run(capsys, "rules", "list")
    lines = out.strip().splitlines()
    assert lines[0].startswith("* demo") and "1.0.0" in lines[0] and "carol" in lines[0]
    assert "retired" in lines[1]
    broken = write_ruleset(tmp_path / "bad", "2.0.0", cql_extra='define "Broken": exists "No Such Thing"\n')
    code, _, err = run(capsys, "rules", "publish", str(broken))
    assert code == 1 and "Demo.cql:15" in err


def test_server_mode_needs_a_token_from_the_environment(demo: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDS_ADMIN_TOKEN", raising=False)
    code, _, err = run(capsys, "rules", "list", "--server", "http://127.0.0.1:9")
    assert code == 1 and "CDS_ADMIN_TOKEN" in err


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture) -> None:
    for command in ("validate", "test", "diff", "publish", "activate", "rollback", "retire", "list"):
        with pytest.raises(SystemExit) as info:
            main(["rules", command, "--help"])
        assert info.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["rules", "--help"])
    out = capsys.readouterr().out
    assert "impact preview" in out and "CDS_ADMIN_TOKEN" in out




def test_lifecycle_commands_through_a_running_service(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``--server``: the same operations over real HTTP through the admin API."""
    import threading

    import yaml
    from werkzeug.serving import make_server

    from cds_hooks.admin.tokens import hash_token
    from cds_hooks.app import create_app
    from cds_hooks.config import development_config
    from cds_hooks.rulesets.registry import RuleSetRegistry
    from cds_hooks.storage.db import Database

    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump([{"name": "ops", "role": "publisher", "sha256": hash_token("s3cret-ops")}]))
    url = f"sqlite:///{tmp_path / 'srv.sqlite3'}"
    database = Database(url)
    app = create_app(development_config(database_url=url, admin_tokens_file=tokens, bootstrap_rules=False,
                                        instance_dir=tmp_path),
                     registry=RuleSetRegistry(database), database=database)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        monkeypatch.setenv("CDS_ADMIN_TOKEN", "s3cret-ops")
        folder = write_ruleset(tmp_path / "src")
        code, out, _ = run(capsys, "rules", "publish", str(folder), "--server", base)
        assert code == 0 and json.loads(out)["state"] == "draft"
        code, out, _ = run(capsys, "rules", "activate", "demo", "1.0.0", "--server", base)
        assert code == 0 and json.loads(out)["state"] == "active"
        code, out, _ = run(capsys, "rules", "list", "--server", base)
        assert json.loads(out)["rulesets"][0]["active"]["version"] == "1.0.0"
        code, _, err = run(capsys, "rules", "rollback", "demo", "--server", base)
        assert code == 1 and "refused (409)" in err and "no earlier version" in err
        monkeypatch.setenv("CDS_ADMIN_TOKEN", "wrong")
        code, _, err = run(capsys, "rules", "list", "--server", base)
        assert code == 1 and "refused (401)" in err and "wrong" not in err
    finally:
        server.shutdown()
        app.extensions["cds"].close()
