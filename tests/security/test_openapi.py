"""``/openapi.json``: an OpenAPI 3.1 document generated from the service's pydantic models."""

from __future__ import annotations

import json

import jsonschema
import pytest

from cds_hooks.models import CdsResponse, HookRequest, operation_outcome
from cds_hooks.openapi import OperationOutcome
from tests.service.conftest import make_app
from tests.service.data import full_prefetch, request

from .conftest import EHR, aud
from .keys import claims, mint


@pytest.fixture
def dev_app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.extensions["cds"].close()


def _validator(document: dict, schema: dict) -> jsonschema.Draft202012Validator:
    # Resolve "#/components/schemas/..." references inside the document.
    root = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(root)


def test_document_lists_every_service_and_route(dev_app):
    document = dev_app.test_client().get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for service in ("test-patient-view", "test-order-select", "test-order-sign", "patient-greeting"):
        assert {"post", "options"} <= set(paths[f"/cds-services/{service}"])
        assert "post" in paths[f"/cds-services/{service}/feedback"]
    for route in ("/cds-services", "/admin/api/rulesets", "/admin/api/audit", "/admin/api/feedback/summary",
                  "/admin/api/rulesets/{ruleset_id}/rollback", "/healthz", "/readyz", "/metrics"):
        assert route in paths
    # The schemas are the models' own.
    schemas = document["components"]["schemas"]
    assert schemas["HookRequest"]["required"] == HookRequest.model_json_schema()["required"]
    assert set(schemas["Card"]["properties"]) == set(CdsResponse.model_json_schema()["$defs"]["Card"]["properties"])
    # No CDS route is unauthenticated in development mode's document, nor described as such in production.
    assert paths["/cds-services"]["get"]["security"] == []


def test_requests_and_answers_match_the_document(dev_app):
    client = dev_app.test_client()
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/cds-services/test-patient-view"]["post"]
    body = request("patient-view", prefetch=full_prefetch())
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    _validator(document, schema).validate(body)
    wrong_hook = dict(body, hook="order-sign")
    assert not _validator(document, schema).is_valid(wrong_hook)
    answer = client.post("/cds-services/test-patient-view", data=json.dumps(body))
    _validator(document, operation["responses"]["200"]["content"]["application/json"]["schema"]).validate(
        answer.get_json())
    error = client.post("/cds-services/test-patient-view", data="{}")
    outcome_schema = operation["responses"]["400"]["content"]["application/fhir+json"]["schema"]
    _validator(document, outcome_schema).validate(error.get_json())
    OperationOutcome.model_validate(operation_outcome("too-costly", ["a", "b"]))


def test_production_document_marks_cds_routes_as_needing_a_jwt(client, keys):
    response = client.get("/openapi.json")  # no authentication needed for the description
    assert response.status_code == 200
    document = response.get_json()
    assert document["paths"]["/cds-services"]["get"]["security"] == [{"cdsClientJwt": []}]
    assert document["servers"] == [{"url": "https://cds.example.org/base"}]
    assert document["components"]["securitySchemes"]["cdsClientJwt"]["bearerFormat"] == "JWT"
    # The document is the same whoever asks, and holds no secret or patient data.
    token = mint(keys.es384, claims(EHR, aud("/openapi.json")))
    assert client.get("/openapi.json", headers={"Authorization": f"Bearer {token}"}).get_data() == \
        response.get_data()


def test_admin_answers_match_the_document(tmp_path):
    import yaml

    from cds_hooks.admin.tokens import hash_token
    from tests.leaks import remember

    token = remember("openapi-viewer-token-9d8c7b6a")
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump([{"name": "v", "role": "viewer", "sha256": hash_token(token)}]))
    app = make_app(tmp_path, admin_tokens_file=tokens)
    client = app.test_client()
    document = client.get("/openapi.json").get_json()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/admin/api/rulesets", "/admin/api/audit", "/admin/api/feedback/summary"):
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("Out")
        _validator(document, schema).validate(client.get(path, headers=headers).get_json())
    app.extensions["cds"].close()
