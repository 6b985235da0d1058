"""Request limits (each a clear 4xx with an OperationOutcome), security headers on every
answer, and CORS in production and development mode."""

from __future__ import annotations

import json

import pytest
import yaml

from cds_hooks.admin.tokens import hash_token
from cds_hooks.app import create_app
from cds_hooks.config import Config
from cds_hooks.serving import StaticRegistry, StaticSnapshot
from tests.leaks import remember
from tests.service.conftest import make_app
from tests.service.data import PATIENT_ID, full_prefetch, patient_resources, request, searchset
from tests.service.fakes import fake_ruleset
from tests.service.fhir_server import FhirTestServer

from .conftest import EHR, aud
from .keys import claims, mint

SERVICE = "/cds-services/test-patient-view"


def post(client, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(SERVICE, data=data, headers=headers)


def issue(response) -> dict:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


@pytest.fixture
def dev_client(tmp_path):
    app = make_app(tmp_path, max_prefetch_keys=3, max_prefetch_resources=20, max_json_depth=20,
                   max_body_bytes=200_000)
    yield app.test_client()
    app.extensions["cds"].close()


# --------------------------------------------------------------------------- limits


def test_body_size_limit_is_413(dev_client):
    response = post(dev_client, request("patient-view", padding="x" * 300_000))
    assert response.status_code == 413 and issue(response)["code"] == "too-long"


def test_json_depth_limit_is_422_wherever_the_nesting_is(dev_client):
    deep: dict = {"resourceType": "Patient", "id": PATIENT_ID}
    node = deep
    for _ in range(25):
        node["extension"] = [{"url": "x"}]
        node = node["extension"][0]
    response = post(dev_client, request("patient-view", prefetch={"patient": deep}))
    assert response.status_code == 422 and issue(response)["code"] == "too-costly"
    # Brackets inside strings don't count.
    response = post(dev_client, request("patient-view", prefetch=full_prefetch(), note="[" * 500 + "{" * 500))
    assert response.status_code == 200


def test_prefetch_key_limit_is_422(dev_client):
    prefetch = dict(full_prefetch(), extra1=None, extra2=None)
    response = post(dev_client, request("patient-view", prefetch=prefetch))
    assert response.status_code == 422 and "keys" in issue(response)["diagnostics"]


def test_prefetch_resource_limit_counts_bundles_and_draft_orders(dev_client):
    many = [{"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": f"Patient/{PATIENT_ID}"}}
            for n in range(25)]
    prefetch = dict(full_prefetch(), conditions=searchset(many))
    response = post(dev_client, request("patient-view", prefetch=prefetch))
    assert response.status_code == 422 and "resources" in issue(response)["diagnostics"]
    drafts = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest",
                                                                "id": f"d{n}"}} for n in range(25)]}
    response = dev_client.post("/cds-services/test-order-sign", data=json.dumps(
        request("order-sign", prefetch={}, draftOrders=drafts)))
    assert response.status_code == 422


def test_fhir_fallback_resource_limit_is_422(tmp_path):
    resources = patient_resources() + [
        {"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": f"Patient/{PATIENT_ID}"}}
        for n in range(30)]
    with FhirTestServer(resources) as fhir:
        app = make_app(tmp_path, max_prefetch_resources=20)
        response = post(app.test_client(), request("patient-view", fhir_server=fhir.base_url))
        app.extensions["cds"].close()
    assert response.status_code == 422


def test_deeply_nested_fhir_answers_are_refused(tmp_path):
    resources = patient_resources()
    node = resources[0]
    for _ in range(80):
        node["extension"] = [{"url": "x"}]
        node = node["extension"][0]
    with FhirTestServer(resources) as fhir:
        app = make_app(tmp_path)
        response = post(app.test_client(), request("patient-view", fhir_server=fhir.base_url))
        app.extensions["cds"].close()
    # The patient read is required by the test service: its failure is a 412, not a 500.
    assert response.status_code == 412


def test_nan_and_infinity_are_not_json(dev_client):
    for constant in ("NaN", "Infinity", "-Infinity"):
        response = post(dev_client, '{"hook": "patient-view", "x": ' + constant + '}')
        assert response.status_code == 400


@pytest.fixture
def admin_app(tmp_path):
    token = remember("admin-publisher-" + "7f3a9c1e5b2d4f60")
    tokens = tmp_path / "admin-tokens.yaml"
    tokens.write_text(yaml.safe_dump([{"name": "pub", "role": "publisher", "sha256": hash_token(token)}]))
    app = make_app(tmp_path, admin_tokens_file=tokens, admin_max_upload_bytes=300_000, max_body_bytes=100_000)
    yield app, token
    app.extensions["cds"].close()


def test_admin_upload_size_limit(admin_app):
    app, token = admin_app
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/zip"}
    too_big = client.post("/admin/api/rulesets", data=b"\0" * 400_000, headers=headers)
    assert too_big.status_code == 413 and issue(too_big)["code"] == "too-long"
    # Larger than a hook request may be, within the upload limit: read, and refused as a bad archive.
    bigger_than_hook = client.post("/admin/api/rulesets", data=b"\0" * 200_000, headers=headers)
    assert bigger_than_hook.status_code == 422
    # Without a token nothing is read: 401.
    assert client.post("/admin/api/rulesets", data=b"\0" * 400_000,
                       headers={"Content-Type": "application/zip"}).status_code == 401


# --------------------------------------------------------------------------- headers


def _assert_security_headers(response, *, hsts: bool) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert ("Strict-Transport-Security" in headers) is hsts


def test_security_headers_on_every_answer(client, keys, admin_app):
    token = mint(keys.es384, claims(EHR, aud(SERVICE)))
    responses = [
        client.get("/cds-services"),  # 401
        client.get("/cds-services", headers={"Authorization": f"Bearer {mint(keys.es384, claims(EHR, aud('/cds-services')))}"}),
        client.post(SERVICE, data=json.dumps(request("patient-view", prefetch=full_prefetch())),
                    headers={"Authorization": f"Bearer {token}"}),
        client.options(SERVICE),
        client.get("/healthz"), client.get("/readyz"), client.get("/metrics"), client.get("/nowhere"),
        client.get("/admin/api/rulesets"),
    ]
    assert [r.status_code for r in responses][:3] == [401, 200, 200]
    for response in responses:
        _assert_security_headers(response, hsts=True)  # the public base URL is https
    app, admin_token = admin_app
    dev = app.test_client()
    for response in (dev.get("/cds-services"), dev.get("/admin/api/rulesets",
                                                       headers={"Authorization": f"Bearer {admin_token}"})):
        assert response.status_code == 200
        _assert_security_headers(response, hsts=False)


# --------------------------------------------------------------------------- CORS


def test_cors_in_production_allows_only_configured_origins(tmp_path, trusted_file, keys):
    from .conftest import jwt_config

    app = create_app(jwt_config(tmp_path, trusted_file, cors_origins=("https://ehr.example.org",)),
                     registry=StaticRegistry(StaticSnapshot([fake_ruleset()])))
    client = app.test_client()
    allowed = client.options(SERVICE, headers={"Origin": "https://ehr.example.org",
                                               "Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    other = client.options(SERVICE, headers={"Origin": "https://evil.example.org"})
    assert "Access-Control-Allow-Origin" not in other.headers
    token = mint(keys.es384, claims(EHR, aud("/cds-services")))
    call = client.get("/cds-services", headers={"Origin": "https://evil.example.org",
                                                "Authorization": f"Bearer {token}"})
    assert call.status_code == 200 and "Access-Control-Allow-Origin" not in call.headers
    assert "Origin" in call.headers["Vary"]
    app.extensions["cds"].close()
    # No origins configured in production: none allowed.
    app = create_app(jwt_config(tmp_path, trusted_file), registry=StaticRegistry(StaticSnapshot([fake_ruleset()])))
    response = app.test_client().options(SERVICE, headers={"Origin": "https://ehr.example.org"})
    assert "Access-Control-Allow-Origin" not in response.headers
    app.extensions["cds"].close()


def test_cors_in_development_allows_any_origin(tmp_path):
    app = make_app(tmp_path)
    response = app.test_client().options(SERVICE, headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    app.extensions["cds"].close()


def test_wildcard_origin_is_refused_in_production(trusted_file):
    with pytest.raises(ValueError, match="development"):
        Config(auth="jwt", trusted_clients_file=trusted_file, public_base_url="https://x.org",
               cors_origins=("*",)).checked()


def test_resources_that_are_not_fhir_r4_are_422_not_500(tmp_path):
    from cds_hooks.app import create_app
    from cds_hooks.config import development_config

    from .fhir_strategies import base_resources

    app = create_app(development_config(database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}", instance_dir=tmp_path))
    client = app.test_client()
    resources = base_resources()
    prefetch = {"patient": resources[0],
                "conditions": {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Unknown"}}]},
                "observations": None, "medicationRequests": None, "medicationStatements": None}
    body = {"hook": "patient-view", "hookInstance": "a1", "prefetch": prefetch,
            "context": {"userId": "Practitioner/pr-1", "patientId": "pn-1"}}
    response = client.post("/cds-services/neuropathy-k2-patient-view", data=json.dumps(body))
    assert response.status_code == 422 and "not FHIR R4" in issue(response)["diagnostics"]
    drafts = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Coding", "id": "d1"}}]}
    body = dict(body, hook="order-sign", context=dict(body["context"], draftOrders=drafts),
                prefetch=dict(prefetch, conditions=None))
    response = client.post("/cds-services/neuropathy-k2-order-sign", data=json.dumps(body))
    assert response.status_code == 422
    app.extensions["cds"].close()
