"""Admin authentication reviewed (every route behind a token and a role, constant-time
matching of hashes, nothing echoed or logged), the fhirServer allowlist on every
outgoing path, and log hygiene: the lines of a realistic workload hold no token,
no JWT, no patient id and no FHIR content."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
import yaml

from cds_hooks.admin import tokens as admin_tokens
from cds_hooks.admin.tokens import AdminTokens, hash_token
from tests.leaks import JWT_SHAPE, find_leaks, remember
from tests.service.conftest import make_app
from tests.service.data import PATIENT_ID, full_prefetch, patient_resources, request
from tests.service.fhir_server import FhirTestServer

from .conftest import EHR, aud
from .keys import claims, mint

ROLES = ("viewer", "author", "publisher")


@pytest.fixture
def admin(tmp_path):
    secrets = {role: remember(f"{role}-{uuid.uuid4().hex}") for role in ROLES}
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump([{"name": f"{role}-desk", "role": role, "sha256": hash_token(secret)}
                                    for role, secret in secrets.items()]))
    app = make_app(tmp_path, admin_tokens_file=path)
    yield app, secrets
    app.extensions["cds"].close()


def test_every_admin_route_needs_a_role(admin):
    app, _ = admin
    views = {rule.endpoint: app.view_functions[rule.endpoint] for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/admin/")}
    assert len(views) >= 8
    for endpoint, view in views.items():
        assert getattr(view, "required_role", None) in ROLES, f"{endpoint} has no role check"


CALLS = [("GET", "/admin/api/rulesets", "viewer"), ("GET", "/admin/api/audit", "viewer"),
         ("GET", "/admin/api/feedback/summary", "viewer"), ("POST", "/admin/api/rulesets", "author"),
         ("POST", "/admin/api/rulesets/x/versions/1.0.0/activate", "publisher"),
         ("POST", "/admin/api/rulesets/x/rollback", "publisher"),
         ("POST", "/admin/api/rulesets/x/versions/1.0.0/retire", "publisher"),
         ("GET", "/admin/api/anything/else", "viewer")]


@pytest.mark.parametrize("method,path,needed", CALLS)
def test_roles_are_enforced_on_every_route(admin, method, path, needed, caplog, capsys):
    app, secrets = admin
    client = app.test_client()
    headers_for = {role: {"Authorization": f"Bearer {secret}"} for role, secret in secrets.items()}
    for header in ({}, {"Authorization": "Bearer wrong-token-value-1234"}, {"Authorization": "Basic x"},
                   {"Authorization": f"Bearer {secrets['publisher']}x"},
                   {"Authorization": f"Bearer {hash_token(secrets['publisher'])}"}):  # the hash is no token
        response = client.open(path, method=method, headers=header)
        assert response.status_code == 401 and response.get_data() == b""
    for role in ROLES:
        response = client.open(path, method=method, headers=headers_for[role], data=b"",
                               content_type="application/zip")
        if ROLES.index(role) < ROLES.index(needed):
            assert response.status_code == 403
        else:
            assert response.status_code not in (401, 403)
        assert secrets[role] not in response.get_data(as_text=True)
    logged = caplog.text + capsys.readouterr().err
    for secret in secrets.values():
        assert secret not in logged and hash_token(secret) not in logged


def test_tokens_are_matched_by_hash_in_constant_time(tmp_path, monkeypatch):
    path = tmp_path / "t.yaml"
    secret = "a-long-admin-token-0123456789"
    path.write_text(yaml.safe_dump([{"name": f"n{n}", "role": "viewer", "sha256": hash_token(f"other-{n}")}
                                    for n in range(5)] + [{"name": "me", "role": "publisher",
                                                           "sha256": hash_token(secret)}]))
    compared = []
    real = admin_tokens.hmac.compare_digest
    monkeypatch.setattr(admin_tokens.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    tokens = AdminTokens(path)
    assert tokens.authenticate(secret).role == "publisher"
    assert len(compared) == 6  # every entry, no early exit
    assert tokens.authenticate("nope") is None
    # The file holds hashes only; a raw token placed in it is refused without being quoted.
    path.write_text(yaml.safe_dump([{"name": "x", "role": "viewer", "sha256": secret}]))
    with pytest.raises(admin_tokens.TokenFileError) as error:
        AdminTokens(path)
    assert secret not in str(error.value)


# --------------------------------------------------------------------------- fhirServer


def test_fhir_redirects_are_not_followed_to_other_hosts(tmp_path):
    with FhirTestServer(patient_resources()) as elsewhere, FhirTestServer([]) as fhir:
        fhir.status = 302  # every answer is a redirect ...
        original = fhir._json

        def redirect(body, status=200):
            response = original(body, status)
            response.headers["Location"] = elsewhere.base_url + "/Patient/" + PATIENT_ID
            return response

        fhir._json = redirect
        app = make_app(tmp_path)
        response = app.test_client().post("/cds-services/test-patient-view", data=json.dumps(
            request("patient-view", fhir_server=fhir.base_url, token=remember("fallback-access-token-1a2b3c"))))
        app.extensions["cds"].close()
        assert response.status_code == 412
        assert fhir.requests and elsewhere.requests == []  # ... and nothing reached the other host


def test_medication_reads_go_only_to_the_allowed_fhir_server(client, keys, fhir):
    # A referenced Medication is read from fhirServer, which this client may name; an absolute
    # reference to another server is never fetched.
    prefetch = full_prefetch()
    prefetch["medications"] = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "MedicationRequest", "id": "mr-x", "status": "active", "intent": "order",
                      "subject": {"reference": f"Patient/{PATIENT_ID}"},
                      "medicationReference": {"reference": "https://evil.example.org/fhir/Medication/m1"}}},
        {"resource": {"resourceType": "MedicationRequest", "id": "mr-y", "status": "active", "intent": "order",
                      "subject": {"reference": f"Patient/{PATIENT_ID}"},
                      "medicationReference": {"reference": "Medication/m2"}}}]}
    before = len(fhir.requests)
    body = request("patient-view", prefetch=prefetch, fhir_server=fhir.base_url)
    path = "/cds-services/test-patient-view"
    response = client.post(path, data=json.dumps(body),
                           headers={"Authorization": f"Bearer {mint(keys.es384, claims(EHR, aud(path)))}"})
    # The Medication on the other server stays unknown, so the answer is 412 (missing data).
    assert response.status_code == 412
    assert [r["query"] for r in fhir.requests[before:]] == ["Medication/m2"]
    # Another fhirServer: refused before any request is made.
    body["fhirServer"] = "https://evil.example.org/fhir"
    response = client.post(path, data=json.dumps(body),
                           headers={"Authorization": f"Bearer {mint(keys.es384, claims(EHR, aud(path)))}"})
    assert response.status_code == 403


# --------------------------------------------------------------------------- logs


def test_a_workload_leaves_no_secret_or_patient_data_in_the_logs(client, keys, fhir, admin, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    access_token = remember(f"fhir-access-{uuid.uuid4().hex}")
    used = [access_token]
    path = "/cds-services/test-patient-view"
    for n in range(6):
        jwt = mint(keys.es384, claims(EHR, aud(path)))
        used.append(jwt)
        body = request("patient-view", fhir_server=fhir.base_url, token=access_token,
                       prefetch={"patient": full_prefetch()["patient"]} if n % 2 else None)
        if n == 5:
            jwt = jwt[:-3] + "abc"  # a failing one
            used.append(jwt)
        client.post(path, data=json.dumps(body), headers={"Authorization": f"Bearer {jwt}"})
        client.post(path, data=json.dumps(body), headers={"Authorization": f"Bearer {used[-1]}"})  # replay
    app, secrets = admin
    for secret in secrets.values():
        app.test_client().get("/admin/api/audit", headers={"Authorization": f"Bearer {secret}"})
        app.test_client().get("/admin/api/audit", headers={"Authorization": f"Bearer {secret}-wrong"})
        used += [secret, secret + "-wrong"]
    text = capsys.readouterr().err + "\n" + "\n".join(
        f"{r.getMessage()} {json.dumps({k: v for k, v in vars(r).items() if k not in ('args', 'msg', 'exc_info')}, default=str)}"
        for r in caplog.records if r.name != "werkzeug")  # the test FHIR server's own access log
    assert "authentication failed" in text and '"message": "request"' in text
    assert not find_leaks([("workload", text)], used)
    assert not JWT_SHAPE.search(text)
    # Patient ids only as a keyed hash, no FHIR content (codes, dates of the patient's data).
    assert not re.search(rf"\b{PATIENT_ID}\b", text)
    for content in ("230572002", "1950-04-02", "pmol/L"):
        assert content not in text


def test_the_leak_detector_finds_what_it_looks_for():
    jwt = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
    assert find_leaks([("log", f'{{"reason": "bad {jwt}"}}')], [])
    assert find_leaks([("log", "token=admin-secret-value")], ["admin-secret-value"])
    assert not find_leaks([("log", "nothing here")], ["admin-secret-value"])
