"""The HTTP API through Flask's test client: discovery, hook calls, errors, CORS, health.

Every response goes through the shared validator (``ValidatingClient``).
"""

from __future__ import annotations

import copy
import json
import time

import pytest

import cql

from .conftest import make_app
from .data import PATIENT_ID, full_prefetch, request, searchset
from .fakes import FakeService, fake_ruleset
from .fhir_server import FhirTestServer
from .spec_examples import (
    LIBRARY_ORDER_SELECT,
    LIBRARY_ORDER_SIGN,
    SANDBOX_ORDER_SIGN,
    SPEC_PAGINATION,
    SPEC_PATIENT_VIEW,
)


def post(client, service: str, body, **kwargs):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    kwargs.setdefault("content_type", "application/json")
    return client.post(f"/cds-services/{service}", data=data, **kwargs)


def card_ids(response) -> list[str]:
    return [c["source"]["topic"]["code"] for c in response.get_json()["cards"]]


def diagnostics(response) -> str:
    return " | ".join(i.get("diagnostics", "") for i in response.get_json()["issue"])


# --------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("path", ["/cds-services", "/cds-services/"])
def test_discovery_with_and_without_trailing_slash(client, path):
    response = client.get(path)
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert [s["id"] for s in services] == ["test-patient-view", "test-order-select", "test-order-sign",
                                           "patient-greeting"]
    assert services[0]["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def test_discovery_without_rule_sets(tmp_path):
    app = make_app(tmp_path, fake_ruleset(services=()))
    assert app.test_client().get("/cds-services").get_json() == {"services": []}
    app.extensions["cds"].close()


def test_discovery_is_serialized_once_per_snapshot(client, app):
    client.get("/cds-services")
    cached = app.extensions["cds"]._discovery
    client.get("/cds-services/")
    assert app.extensions["cds"]._discovery is cached


# --------------------------------------------------------------------------- replayed requests


def test_spec_example_patient_view(client, ruleset):
    response = post(client, "patient-greeting", SPEC_PATIENT_VIEW)
    assert response.status_code == 200
    assert card_ids(response) == ["data-summary"]
    assert ruleset.calls[-1]["resources"] == [SPEC_PATIENT_VIEW["prefetch"]["patientToGreet"]]


def test_library_order_select_example(client, ruleset):
    body = copy.deepcopy(LIBRARY_ORDER_SELECT)
    body["prefetch"] = {"patient": {"resourceType": "Patient", "id": "1288992"}, "conditions": searchset([])}
    response = post(client, "test-order-select", body)
    assert response.status_code == 200
    assert card_ids(response) == ["data-summary", "draft-orders"]
    # The context goes to the rule set as sent: draft orders are data for the rules.
    assert ruleset.calls[-1]["context"]["selections"] == LIBRARY_ORDER_SELECT["context"]["selections"]


def test_library_order_sign_example(client):
    body = copy.deepcopy(LIBRARY_ORDER_SIGN)
    body["prefetch"] = {"patient": {"resourceType": "Patient", "id": "1288992"}, "user": None}
    response = post(client, "test-order-sign", body)
    assert response.status_code == 200
    assert card_ids(response) == ["data-summary", "draft-orders"]


def test_spec_pagination_example(tmp_path):
    orders = FakeService(id="orders", hook="order-sign", title="Orders", description="Pages through orders",
                         prefetch={"orders": "MedicationRequest?patient={{context.patientId}}"},
                         required=("orders",))
    ruleset = fake_ruleset(services=(orders,))
    app = make_app(tmp_path, ruleset)
    second = {"resourceType": "MedicationRequest", "id": "rx-page-2-01", "status": "active", "intent": "order",
              "subject": {"reference": "Patient/1288992"}}
    first = SPEC_PAGINATION["prefetch"]["orders"]["entry"][0]["resource"]
    with FhirTestServer([first, second]) as ehr:
        body = json.loads(json.dumps(SPEC_PAGINATION).replace("https://ehr.example.org/fhir", ehr.base_url))
        response = post(app.test_client(), "orders", body)
        assert ehr.queries() == ["MedicationRequest?patient=1288992&_count=1&_page=2"]
    assert response.status_code == 200
    assert sorted(r["id"] for r in ruleset.calls[-1]["resources"]) == ["rx-page-1-01", "rx-page-2-01"]
    app.extensions["cds"].close()


def test_sandbox_shaped_order_sign_fetches_everything(client, fhir, ruleset):
    body = copy.deepcopy(SANDBOX_ORDER_SIGN)
    body["fhirServer"] = fhir.base_url
    response = post(client, "test-order-sign", body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200
    assert card_ids(response) == ["data-summary", "draft-orders"]
    # No encounterId and a Practitioner user: the encounter template is skipped, the user read.
    assert sorted(fhir.queries()) == ["Patient/pn-1", "Practitioner/COREPRACTITIONER1"]


def test_full_prefetch_makes_no_fhir_call(client, fhir, ruleset):
    body = request("patient-view", prefetch=full_prefetch(), fhir_server=fhir.base_url, token="t")
    response = post(client, "test-patient-view", body)
    assert response.status_code == 200
    assert card_ids(response) == ["data-summary", "has-condition"]
    assert fhir.queries() == []
    assert len(ruleset.calls[-1]["resources"]) == 6


def test_missing_keys_are_fetched(client, fhir, ruleset):
    prefetch = full_prefetch()
    del prefetch["conditions"]
    body = request("patient-view", prefetch=prefetch, fhir_server=fhir.base_url, token="tok")
    response = post(client, "test-patient-view", body)
    assert response.status_code == 200
    assert fhir.queries() == [f"Condition?patient={PATIENT_ID}"]
    assert [r["authorization"] for r in fhir.requests] == ["Bearer tok"]


# --------------------------------------------------------------------------- 412 and deadlines


def test_required_data_missing_is_412(client):
    prefetch = full_prefetch()
    del prefetch["medications"]
    response = post(client, "test-patient-view", request("patient-view", prefetch=prefetch))
    assert response.status_code == 412
    assert "medications" in diagnostics(response)
    assert response.get_json()["issue"][0]["code"] == "incomplete"


def test_optional_data_missing_still_answers(client):
    body = request("order-select", prefetch={"patient": {"resourceType": "Patient", "id": PATIENT_ID}})
    response = post(client, "test-order-select", body)
    assert response.status_code == 200


def test_operation_outcome_for_required_key_is_412(client, fhir):
    prefetch = full_prefetch()
    prefetch["patient"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
    response = post(client, "test-patient-view", request("patient-view", prefetch=prefetch,
                                                         fhir_server=fhir.base_url))
    assert response.status_code == 412
    assert fhir.queries() == []


def test_slow_fhir_server_gives_412_within_the_deadline(tmp_path, fhir):
    app = make_app(tmp_path, fhir_deadline=0.5)
    fhir.delay = 3.0
    started = time.monotonic()
    response = post(app.test_client(), "test-patient-view", request("patient-view", fhir_server=fhir.base_url))
    elapsed = time.monotonic() - started
    assert response.status_code == 412
    assert elapsed < 0.9, elapsed
    assert "deadline" in diagnostics(response) or "in time" in diagnostics(response)
    app.extensions["cds"].close()


def test_paging_fhir_server(client, fhir, ruleset):
    fhir.page_size = 1
    response = post(client, "test-patient-view", request("patient-view", fhir_server=fhir.base_url))
    assert response.status_code == 200
    assert sorted(r["id"] for r in ruleset.calls[-1]["resources"]) == [
        "c-af", "c-dpn", "mr-1", "mr-2", "mr-3", PATIENT_ID]
    assert len(fhir.queries()) == 1 + 2 + 3


def test_erroring_fhir_server_is_412(client, fhir):
    fhir.status = 500
    response = post(client, "test-patient-view", request("patient-view", fhir_server=fhir.base_url))
    assert response.status_code == 412 and "HTTP 500" in diagnostics(response)


# --------------------------------------------------------------------------- request errors


def test_unknown_service_is_404(client):
    response = post(client, "no-such-service", request("patient-view"))
    assert response.status_code == 404


def test_hook_mismatch_is_400(client):
    response = post(client, "test-patient-view", request("order-sign", prefetch={}))
    assert response.status_code == 400 and "order-sign" in diagnostics(response)


def test_fhir_authorization_without_fhir_server_is_400(client):
    response = post(client, "test-patient-view", request("patient-view", prefetch=full_prefetch(), token="t"))
    assert response.status_code == 400 and "fhirServer" in diagnostics(response)
    assert "t" not in response.get_json()["issue"][0].get("diagnostics", "").split()


@pytest.mark.parametrize("body,where", [
    ('{"hook": "patient-view",\n "context": }', "line 2 column 13 (char 37)"),
    ("{'single': 'quotes'}", "line 1 column 2"),
    ("", "empty"),
    ("[1, 2]", "JSON object"),
    (b"\xff\xfe\x00", "UTF-8"),
    ('{"hook": ' + "1" * 5000 + "}", "can't be read"),
    ('{"hook": NaN}', "can't be read"),
])
def test_malformed_json_is_400_with_position(client, body, where):
    response = post(client, "test-patient-view", body)
    assert response.status_code == 400
    assert where in diagnostics(response)


@pytest.mark.parametrize("depth", [65, 100000])
def test_json_nested_too_deeply_is_422(client, depth):
    # A limit (CDS_MAX_JSON_DEPTH, 64 by default), whether or not the parser could follow.
    response = post(client, "test-patient-view", '{"a":' + "[" * depth + "]" * depth + "}")
    assert response.status_code == 422 and "nest" in diagnostics(response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_is_accepted_whatever_the_content_type(client, content_type):
    body = json.dumps(request("patient-view", prefetch=full_prefetch()))
    response = client.post("/cds-services/test-patient-view/", data=body, content_type=content_type)
    assert response.status_code == 200


def test_missing_fields_are_named(client):
    body = request("patient-view", prefetch=full_prefetch())
    del body["context"]["patientId"]
    del body["hookInstance"]
    response = post(client, "test-patient-view", body)
    assert response.status_code == 400
    assert "hookInstance" in diagnostics(response)


def test_context_errors_are_named(client):
    body = request("order-select", prefetch={})
    del body["context"]["selections"]
    response = post(client, "test-order-select", body)
    assert response.status_code == 400 and "context.selections" in diagnostics(response)


def test_malformed_prefetch_value_is_400(client):
    response = post(client, "test-patient-view", request("patient-view", prefetch={"patient": [1]}))
    assert response.status_code == 400 and "prefetch.patient" in diagnostics(response)


def test_body_too_large_is_413(tmp_path):
    app = make_app(tmp_path, max_body_bytes=1000)
    response = post(app.test_client(), "test-patient-view", {"padding": "x" * 2000})
    assert response.status_code == 413
    app.extensions["cds"].close()


def test_wrong_method_is_405_with_outcome(client):
    assert client.delete("/cds-services").status_code == 405
    assert client.get("/cds-services/test-patient-view").status_code == 405


def test_unknown_path_is_404_with_outcome(client):
    assert client.get("/nowhere").status_code == 404


# --------------------------------------------------------------------------- evaluation


def test_evaluation_timeout_is_422(tmp_path):
    app = make_app(tmp_path, fake_ruleset(delay=0.2), evaluation_timeout=0.05)
    response = post(app.test_client(), "test-patient-view", request("patient-view", prefetch=full_prefetch()))
    assert response.status_code == 422 and response.get_json()["issue"][0]["code"] == "too-costly"
    app.extensions["cds"].close()


def test_engine_error_is_500_with_outcome(tmp_path):
    app = make_app(tmp_path, fake_ruleset(fail_with=cql.CqlRuntimeError("boom")))
    response = post(app.test_client(), "test-patient-view", request("patient-view", prefetch=full_prefetch()))
    assert response.status_code == 500
    app.extensions["cds"].close()


def test_invalid_cards_are_not_sent(tmp_path):
    app = make_app(tmp_path, fake_ruleset(bad_cards=True))
    response = post(app.test_client(), "test-patient-view", request("patient-view", prefetch=full_prefetch()))
    assert response.status_code == 500 and "break" in diagnostics(response)
    app.extensions["cds"].close()


def test_unexpected_exception_is_500_with_outcome(tmp_path):
    app = make_app(tmp_path, fake_ruleset(fail_with=KeyError("x")))
    response = post(app.test_client(), "test-patient-view", request("patient-view", prefetch=full_prefetch()))
    assert response.status_code == 500
    app.extensions["cds"].close()


def test_evaluation_gets_a_deadline_and_the_raw_context(client, ruleset):
    body = request("order-sign", prefetch={"patient": None, "encounter": None, "user": None})
    post(client, "test-order-sign", body)
    call = ruleset.calls[-1]
    assert call["hook"] == "order-sign" and call["deadline"] > time.monotonic()
    assert call["context"]["draftOrders"]["entry"][0]["resource"]["id"] == "draft-1"


# --------------------------------------------------------------------------- CORS


@pytest.mark.parametrize("path", ["/cds-services", "/cds-services/test-patient-view",
                                  "/cds-services/test-patient-view/feedback"])
def test_preflight_on_all_three_routes(client, path):
    response = client.options(path, headers={"Origin": "https://ehr.example.org",
                                             "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization,content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_cors_allowlist_in_production_style_config(tmp_path):
    app = make_app(tmp_path, cors_origins=("https://ehr.example.org",))
    client = app.test_client()
    allowed = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    other = client.options("/cds-services", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    app.extensions["cds"].close()


# --------------------------------------------------------------------------- health and metrics


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["rulesets"][0]["id"] == "test-rules"


def test_readyz_without_rule_sets_is_503(tmp_path):
    from cds_hooks.serving import StaticRegistry

    app = make_app(tmp_path)
    app.extensions["cds"].registry = StaticRegistry()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and "no rule set" in diagnostics(response)
    app.extensions["cds"].close()


def test_metrics(client, fhir):
    post(client, "test-patient-view", request("patient-view", prefetch=full_prefetch()))
    post(client, "test-patient-view", request("patient-view", fhir_server=fhir.base_url, prefetch={
        "patient": None, "medications": None}))
    fhir.status = 503
    post(client, "test-patient-view", request("patient-view", fhir_server=fhir.base_url))
    client.get("/cds-services")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'cds_requests_total{endpoint="service",hook="patient-view",service="test-patient-view",status="200"} 2.0' in text
    assert 'status="412"' in text
    assert 'cds_requests_total{endpoint="discovery"' in text
    assert 'cds_request_duration_seconds_bucket{endpoint="service"' in text
    assert 'cds_cards_issued_total{card_id="has-condition",ruleset="test-rules"} 2.0' in text
    assert 'cds_fhir_fallback_requests_total{result="ok"} 1.0' in text
    assert 'cds_fhir_fallback_requests_total{result="http_status"} 3.0' in text
    assert 'cds_prefetch_key_failures_total{key="patient",service="test-patient-view"} 1.0' in text


def test_security_headers(client):
    response = client.get("/cds-services")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_spec_prefetch_example_fetches_the_missing_key(tmp_path):
    from .spec_examples import SPEC_PREFETCH_DATA, SPEC_PREFETCH_TEMPLATES

    service = FakeService(id="spec-prefetch", hook="patient-view", title="Spec example",
                          description="The spec's example prefetch", prefetch=SPEC_PREFETCH_TEMPLATES,
                          required=("patient", "hemoglobin-a1c", "diabetes-type2"))
    ruleset = fake_ruleset(services=(service,))
    app = make_app(tmp_path, ruleset)
    diabetes = {"resourceType": "Condition", "id": "dm2", "subject": {"reference": "Patient/1288992"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
                "category": [{"coding": [{"code": "problem-list-item"}]}],
                "clinicalStatus": {"coding": [{"code": "active"}]}}
    with FhirTestServer([diabetes]) as ehr:
        body = {"hook": "patient-view", "hookInstance": "c9a0a5d4-5f7b-4d44-bd55-0b8a3bd3fd0e",
                "fhirServer": ehr.base_url,
                "context": {"userId": "PractitionerRole/123", "patientId": "1288992"},
                "prefetch": copy.deepcopy(SPEC_PREFETCH_DATA)}
        response = post(app.test_client(), "spec-prefetch", body)
        assert ehr.queries() == ["Condition?patient=1288992&code=44054006&category=problem-list-item"
                                 "&clinical-status=active"]
    assert response.status_code == 200
    assert response.get_json()["cards"][0]["summary"] == "Seen: 1 Condition, 1 Observation, 1 Patient, 1 Practitioner"
    app.extensions["cds"].close()


def test_sandbox_shaped_patient_view_with_partial_prefetch(client, fhir, ruleset):
    # The sandbox sends fhirAuthorization with its own fields and only some prefetch keys.
    body = {"hookInstance": "5b1f3c2a-6e1d-4f0a-9e7c-2d8b4a6c1e55", "fhirServer": fhir.base_url,
            "hook": "patient-view",
            "fhirAuthorization": {"access_token": "sandbox-token", "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read user/*.read", "subject": "cds-service"},
            "context": {"userId": "Practitioner/COREPRACTITIONER1", "patientId": PATIENT_ID},
            "prefetch": {"patient": full_prefetch()["patient"]}}
    response = post(client, "test-patient-view", body)
    assert response.status_code == 200
    assert sorted(fhir.queries()) == [f"Condition?patient={PATIENT_ID}",
                                      f"MedicationRequest?patient={PATIENT_ID}&status=active"]


def test_readyz_reports_rule_sets_that_failed_to_load(tmp_path):
    from cds_hooks.serving import StaticRegistry, StaticSnapshot

    app = make_app(tmp_path)
    snapshot = StaticSnapshot([fake_ruleset()])
    snapshot.errors = ("other-rules 2.0.0: could not be compiled",)
    app.extensions["cds"].registry = StaticRegistry(snapshot)
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == "ready" and body["errors"] == ["other-rules 2.0.0: could not be compiled"]
    app.extensions["cds"].close()
