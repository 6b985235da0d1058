"""The admin API: authentication and roles, upload, lifecycle, audit, feedback."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.admin import blueprint as admin_blueprint
from tests.admin.conftest import TOKENS, bearer, tar_folder, zip_folder
from tests.rulesets.conftest import patient_bundle, request_for, write_ruleset

pytestmark = pytest.mark.timeout(120)

ROUTES = [
    ("GET", "/admin/api/rulesets", "viewer"),
    ("POST", "/admin/api/rulesets", "author"),
    ("POST", "/admin/api/rulesets/demo/versions/1.0.0/activate", "publisher"),
    ("POST", "/admin/api/rulesets/demo/rollback", "publisher"),
    ("POST", "/admin/api/rulesets/demo/versions/1.0.0/retire", "publisher"),
    ("GET", "/admin/api/audit", "viewer"),
    ("GET", "/admin/api/feedback/summary", "viewer"),
]
ORDER = ["viewer", "author", "publisher"]


def upload(client: Any, folder: Path, role: str = "author", kind: str = "zip") -> Any:
    if kind == "zip":
        return client.post("/admin/api/rulesets", data=zip_folder(folder, top=folder.name),
                           headers={**bearer(role), "Content-Type": "application/zip"})
    return client.post("/admin/api/rulesets", data=tar_folder(folder),
                       headers={**bearer(role), "Content-Type": "application/gzip"})


def no_token_in(response: Any) -> None:
    text = response.get_data(as_text=True) + json.dumps(dict(response.headers))
    for token in TOKENS.values():
        assert token not in text


@pytest.mark.parametrize("method, path, _role", ROUTES)
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dmlld2VyOnNlY3JldA=="},
    {"Authorization": "Bearer not-a-known-token"},
    {"Authorization": f"Bearer {TOKENS['publisher']}x"},
    {"Authorization": TOKENS["publisher"]},
])
def test_requests_without_a_valid_token_get_a_bare_401(client: Any, method: str, path: str, _role: str,
                                                       headers: dict, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.open(path, method=method, headers=headers, data=b"x")
    assert response.status_code == 401
    assert response.get_data() == b""
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    no_token_in(response)
    for token in TOKENS.values():
        assert token not in caplog.text


@pytest.mark.parametrize("method, path, needed", ROUTES)
@pytest.mark.parametrize("role", ORDER)
def test_roles_are_enforced_on_every_route(client: Any, method: str, path: str, needed: str, role: str) -> None:
    response = client.open(path, method=method, headers=bearer(role), data=b"")
    if ORDER.index(role) < ORDER.index(needed):
        assert response.status_code == 403
        body = response.get_json()
        assert body["resourceType"] == "OperationOutcome"
        assert needed in body["issue"][0]["diagnostics"]
    else:
        assert response.status_code not in (401, 403)
    no_token_in(response)


def test_every_admin_route_declares_a_role(app: Any) -> None:
    views = [rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")]
    assert len(views) == len(ROUTES) + 1  # plus the catch-all
    for endpoint in views:
        assert getattr(app.view_functions[endpoint], "required_role", None) in ORDER, endpoint


def test_unknown_paths_need_a_token_and_give_404_or_405(client: Any) -> None:
    assert client.get("/admin/api/secrets").status_code == 401
    response = client.get("/admin/api/secrets", headers=bearer("viewer"))
    assert response.status_code == 404 and response.get_json()["resourceType"] == "OperationOutcome"


def test_the_audit_log_cannot_be_edited_through_the_api(client: Any, demo_versions: dict[str, Path]) -> None:
    assert upload(client, demo_versions["1.0.0"]).status_code == 201
    before = client.get("/admin/api/audit", headers=bearer("publisher")).get_json()
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = client.open("/admin/api/audit", method=method, headers=bearer("publisher"),
                               json={"entries": []})
        assert response.status_code == 405, method
        assert "GET" in response.headers["Allow"]
        assert client.open(f"/admin/api/audit/{before['entries'][0]['id']}", method=method,
                           headers=bearer("publisher")).status_code == 404
    assert client.get("/admin/api/audit", headers=bearer("publisher")).get_json() == before


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_upload_activate_rollback_retire(client: Any, app: Any, demo_versions: dict[str, Path]) -> None:
    first = upload(client, demo_versions["1.0.0"])
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["id"], body["version"], body["state"], body["changed"]) == ("demo", "1.0.0", "draft", True)
    assert len(body["sha256"]) == 64
    # The same content again (as tar.gz this time) is the same version.
    again = upload(client, demo_versions["1.0.0"], kind="tar.gz")
    assert again.status_code == 200 and again.get_json()["sha256"] == body["sha256"]
    assert upload(client, demo_versions["1.1.0"], kind="tar.gz").status_code == 201

    # Nothing is served until a version is activated.
    assert client.get("/cds-services").get_json() == {"services": []}
    response = client.post("/admin/api/rulesets/demo/versions/1.0.0/activate", headers=bearer("publisher"))
    assert response.status_code == 200 and response.get_json()["state"] == "active"
    [service] = client.get("/cds-services").get_json()["services"]
    assert service["id"] == "demo-patient-view"

    def summary() -> str:
        bundle = patient_bundle("p1")
        result = client.post("/cds-services/demo-patient-view", json=request_for("p1", bundle))
        assert result.status_code == 200, result.get_json()
        [card] = result.get_json()["cards"]
        stamp = card["extension"]["org.example.neuropathy-cds.ruleset"]
        assert card["source"]["topic"] == {"system": "https://example.org/rulesets/demo", "code": "info-card"}
        return f"{stamp['version']}: {card['summary']}"

    assert summary() == "1.0.0: Neuropathy info v1.0.0 (1)"
    response = client.post("/admin/api/rulesets/demo/versions/1.1.0/activate", headers=bearer("publisher"))
    assert response.get_json()["previousVersion"] == "1.0.0"
    assert summary() == "1.1.0: Neuropathy info v1.1.0 (1)"
    response = client.post("/admin/api/rulesets/demo/rollback", headers=bearer("publisher"))
    assert response.status_code == 200
    assert (response.get_json()["version"], response.get_json()["previousVersion"]) == ("1.0.0", "1.1.0")
    assert summary() == "1.0.0: Neuropathy info v1.0.0 (1)"

    response = client.post("/admin/api/rulesets/demo/versions/1.0.0/retire", headers=bearer("publisher"))
    assert response.status_code == 409
    assert "active" in response.get_json()["issue"][0]["diagnostics"]
    response = client.post("/admin/api/rulesets/demo/versions/1.1.0/retire", headers=bearer("publisher"))
    assert response.status_code == 200 and response.get_json()["state"] == "retired"
    response = client.post("/admin/api/rulesets/demo/versions/1.1.0/activate", headers=bearer("publisher"))
    assert response.status_code == 409
    assert client.post("/admin/api/rulesets/demo/versions/9.9.9/activate",
                       headers=bearer("publisher")).status_code == 404

    listing = client.get("/admin/api/rulesets", headers=bearer("viewer")).get_json()
    [entry] = listing["rulesets"]
    assert entry["active"] == {"version": "1.0.0", "sha256": body["sha256"]}
    assert [(v["version"], v["state"]) for v in entry["versions"]] == [("1.0.0", "active"), ("1.1.0", "retired")]

    audit = client.get("/admin/api/audit", headers=bearer("viewer")).get_json()["entries"]
    actions = [(e["action"], e["actor"], e["oldVersion"], e["newVersion"], e["outcome"]) for e in reversed(audit)]
    assert actions == [
        ("publish", "token:author", None, "1.0.0", "ok"),
        ("publish", "token:author", None, "1.1.0", "ok"),
        ("activate", "token:publisher", None, "1.0.0", "ok"),
        ("activate", "token:publisher", "1.0.0", "1.1.0", "ok"),
        ("rollback", "token:publisher", "1.1.0", "1.0.0", "ok"),
        ("retire", "token:publisher", "1.0.0", None, "refused"),
        ("retire", "token:publisher", "1.1.0", None, "ok"),
        ("activate", "token:publisher", None, "1.1.0", "refused"),
        ("activate", "token:publisher", None, "9.9.9", "refused"),
    ]
    assert all(e["remoteAddr"] == "127.0.0.1" and e["at"].endswith("Z") for e in audit)
    assert audit[-1]["sha256"] == body["sha256"] and audit[-1]["role"] == "author"
    page = client.get(f"/admin/api/audit?limit=2&before={audit[0]['id']}", headers=bearer("viewer")).get_json()
    assert [e["id"] for e in page["entries"]] == [audit[1]["id"], audit[2]["id"]] and page["next"] == audit[2]["id"]
    assert client.get("/admin/api/audit?limit=0", headers=bearer("viewer")).status_code == 400


def test_a_broken_upload_is_refused_with_every_problem(client: Any, tmp_path: Path) -> None:
    folder = write_ruleset(tmp_path, cql_extra='define "Broken": exists "No Such Thing"\n',
                           patch=lambda m: m["cards"][0].update(indicator="hard-stop"))
    response = upload(client, folder)
    assert response.status_code == 422
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    diagnostics = [issue["diagnostics"] for issue in body["issue"]]
    assert any(d.startswith("Demo.cql:15:") and "CQL" in d for d in diagnostics), diagnostics
    assert any(d.startswith("manifest.yaml:") and "indicator" in d for d in diagnostics), diagnostics
    assert client.get("/admin/api/rulesets", headers=bearer("viewer")).get_json()["rulesets"] == []


def test_a_version_whose_tests_fail_is_refused(client: Any, tmp_path: Path) -> None:
    folder = write_ruleset(tmp_path, tests={"cases": [
        {"name": "wrong expectation", "patient": "data/p1.json", "request": "data/p1.patient-view.json",
         "expect": ["warning-card"]}]})
    response = upload(client, folder)
    assert response.status_code == 422
    diagnostics = [issue["diagnostics"] for issue in response.get_json()["issue"]]
    assert any(d.startswith("tests/cases.yaml:2:") and "warning-card" in d for d in diagnostics), diagnostics


@pytest.mark.parametrize("data, content_type, status", [
    (b"not an archive", "application/zip", 422),
    (b"", "application/zip", 400),
    (b"PK\x03\x04", "text/plain", 415),
])
def test_bad_uploads(client: Any, data: bytes, content_type: str, status: int) -> None:
    response = client.post("/admin/api/rulesets", data=data, headers={**bearer("author"),
                                                                       "Content-Type": content_type})
    assert response.status_code == status
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_archives_with_links_or_escaping_paths_are_refused(client: Any, demo_versions: dict[str, Path]) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.yaml", (demo_versions["1.0.0"] / "manifest.yaml").read_text())
        archive.writestr("../../etc/cron.d/evil", "x")
    response = client.post("/admin/api/rulesets", data=buffer.getvalue(),
                           headers={**bearer("author"), "Content-Type": "application/zip"})
    assert response.status_code == 422
    assert "leaving the folder" in response.get_json()["issue"][1]["diagnostics"]


def test_changing_the_tokens_file_takes_effect_without_a_restart(client: Any, tokens_file: Path) -> None:
    assert client.get("/admin/api/rulesets", headers=bearer("viewer")).status_code == 200
    tokens_file.write_text("[]\n")
    time.sleep(0.01)
    assert client.get("/admin/api/rulesets", headers=bearer("viewer")).status_code == 401


def test_feedback_summary_counts_issued_accepted_and_overridden(client: Any, app: Any,
                                                                demo_versions: dict[str, Path]) -> None:
    upload(client, demo_versions["1.0.0"])
    client.post("/admin/api/rulesets/demo/versions/1.0.0/activate", headers=bearer("publisher"))
    bundle = patient_bundle("p2", warfarin=True)
    uuids = []
    for _ in range(3):
        cards = client.post("/cds-services/demo-patient-view", json=request_for("p2", bundle)).get_json()["cards"]
        uuids.append((cards[0]["uuid"], cards[0]["suggestions"][0]["uuid"]))
    app.extensions["cds"].recorder.flush()
    feedback = {"feedback": [
        {"card": uuids[0][0], "outcome": "accepted", "acceptedSuggestions": [{"id": uuids[0][1]}],
         "outcomeTimestamp": "2026-01-01T10:00:00Z"},
        {"card": uuids[1][0], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T10:01:00Z",
         "overrideReason": {"reason": {"system": "https://example.org/override", "code": "aware",
                                       "display": "Aware of the interaction"}}},
    ]}
    response = client.post("/cds-services/demo-patient-view/feedback", json=feedback)
    assert response.status_code == 200, response.get_data(as_text=True)
    summary = client.get("/admin/api/feedback/summary", headers=bearer("viewer")).get_json()["summary"]
    [row] = summary
    assert (row["rulesetId"], row["version"], row["cardId"]) == ("demo", "1.0.0", "warning-card")
    assert (row["issued"], row["accepted"], row["overridden"]) == (3, 1, 1)
    assert row["overrideReasons"] == [{"system": "https://example.org/override", "code": "aware",
                                       "display": "Aware of the interaction", "count": 1}]


def test_blueprint_module_exposes_the_blueprint() -> None:
    assert admin_blueprint.blueprint is admin_blueprint.bp
    assert admin_blueprint.bp.url_prefix == "/admin/api"


def test_a_forbidden_call_by_a_known_admin_is_audited(client: Any) -> None:
    refused = client.post("/admin/api/rulesets/neuropathy-k2/rollback", headers=bearer("viewer"))
    assert refused.status_code == 403
    entries = client.get("/admin/api/audit", headers=bearer("viewer")).get_json()
    entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
    forbidden = [e for e in entries if e.get("outcome") == "forbidden"]
    assert len(forbidden) == 1
    assert forbidden[0]["action"] == "POST /admin/api/rulesets/neuropathy-k2/rollback"
    assert forbidden[0]["role"] == "viewer"


def test_calls_without_a_valid_token_are_not_audited(client: Any) -> None:
    assert client.post("/admin/api/rulesets/neuropathy-k2/rollback").status_code == 401
    entries = client.get("/admin/api/audit", headers=bearer("viewer")).get_json()
    entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
    assert not [e for e in entries if e.get("outcome") == "forbidden"]
