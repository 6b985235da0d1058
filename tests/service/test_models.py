"""Request parsing (lenient where real clients are sloppy, strict where the spec
says REQUIRED) and the shared response validator."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cds_hooks.models import (
    CdsResponse,
    FeedbackRequest,
    HookRequest,
    ResponseViolation,
    find_empty_values,
    parse_context,
    validate_http_response,
)

from .data import medication_request, request

STAMP = {"org.example.neuropathy-cds.ruleset": {"id": "r", "version": "1.0.0", "sha256": "f" * 64}}


def card(**changes) -> dict:
    body = {"uuid": "6b4f5ac1-0d0c-4d5e-9a3c-2f0a8b3f4e11", "summary": "Check B12", "indicator": "info",
            "source": {"label": "Rules", "topic": {"system": "https://example.org/r", "code": "b12"}},
            "extension": STAMP}
    body.update(changes)
    return body


def check_cards(*cards: dict) -> None:
    validate_http_response("POST", "/cds-services/x", 200, "application/json",
                           json.dumps({"cards": list(cards)}).encode())


# --------------------------------------------------------------------------- requests


def test_sandbox_shaped_order_sign_parses():
    # draftOrders without type, a MedicationRequest without intent, no encounterId, extra fields.
    body = request("order-sign")
    del body["context"]["draftOrders"]["type"]
    body["context"]["draftOrders"]["entry"] = [{"resource": medication_request("d1", intent=False)}]
    body["somethingNew"] = {"x": 1}
    parsed = HookRequest.model_validate(body)
    context = parse_context("order-sign", parsed.context)
    assert context.encounterId is None
    assert context.draftOrders.resources()[0]["id"] == "d1"


@pytest.mark.parametrize("field", ["hook", "hookInstance", "context"])
def test_required_request_fields(field):
    body = request("patient-view")
    del body[field]
    with pytest.raises(ValidationError):
        HookRequest.model_validate(body)


@pytest.mark.parametrize("hook,field", [("patient-view", "userId"), ("patient-view", "patientId"),
                                        ("order-select", "selections"), ("order-select", "draftOrders"),
                                        ("order-sign", "draftOrders")])
def test_required_context_fields(hook, field):
    context = request(hook)["context"]
    del context[field]
    with pytest.raises(ValidationError):
        parse_context(hook, context)


@pytest.mark.parametrize("patient_id", ["", "a/b", "x" * 65, "1 2", "../Patient"])
def test_patient_id_must_be_a_fhir_id(patient_id):
    with pytest.raises(ValidationError):
        parse_context("patient-view", {"userId": "Practitioner/1", "patientId": patient_id})


def test_fhir_authorization_needs_fhir_server_and_hides_token():
    body = request("patient-view", token="secret-token-value")
    with pytest.raises(ValidationError) as info:
        HookRequest.model_validate(body)
    assert "fhirServer" in str(info.value)
    body["fhirServer"] = "https://fhir.example.org/r4"
    parsed = HookRequest.model_validate(body)
    assert parsed.access_token == "secret-token-value"
    assert "secret-token-value" not in repr(parsed) and "secret-token-value" not in str(parsed)


def test_unknown_hook_uses_the_common_context():
    context = parse_context("encounter-start", {"userId": "Practitioner/1", "patientId": "p1", "x": 1})
    assert context.patientId == "p1"


# --------------------------------------------------------------------------- responses


def test_empty_card_list_is_valid():
    check_cards()


def test_a_full_card_is_valid():
    check_cards(card(
        detail="**B12** is low", selectionBehavior="at-most-one",
        suggestions=[{"label": "Order B12", "uuid": "s1", "isRecommended": True,
                      "actions": [{"type": "create", "description": "Order B12",
                                   "resource": {"resourceType": "ServiceRequest"}}]}],
        overrideReasons=[{"system": "https://example.org/o", "code": "x", "display": "Not now"}],
        links=[{"label": "Guideline", "url": "https://example.org/g", "type": "absolute"}]))


def test_summary_limit_counts_characters_not_bytes():
    check_cards(card(summary="µ" * 139))  # 278 bytes in UTF-8, 139 characters
    with pytest.raises(ResponseViolation, match="140 characters"):
        check_cards(card(summary="µ" * 140))


@pytest.mark.parametrize("change,message", [
    ({"suggestions": [{"label": "x", "uuid": "s"}]}, "selectionBehavior"),
    ({"overrideReasons": [{"system": "s", "code": "c"}]}, "display"),
    ({"selectionBehavior": "any", "suggestions": [{"label": "x", "uuid": "s", "actions": [
        {"type": "delete", "resourceId": "MedicationRequest/1"}]}]}, "description"),
    ({"selectionBehavior": "any", "suggestions": [{"label": "x", "uuid": "s", "actions": [
        {"type": "delete", "description": "d"}]}]}, "resourceId"),
    ({"indicator": "hard-stop"}, "indicator"),
    ({"detail": ""}, "empty value"),
    ({"links": []}, "empty value"),
    ({"detail": None}, "empty value"),
    ({"uuid": None}, "empty value"),
    ({"links": [{"label": "x", "url": "https://e.org", "type": "absolute", "appContext": "a"}]}, "appContext"),
    ({"source": {"label": "x"}}, "topic"),
    ({"extension": {}}, "empty value"),
    ({"extension": {"other": 1}}, "ruleset"),
])
def test_invalid_cards_are_rejected(change, message):
    with pytest.raises(ResponseViolation, match=message):
        check_cards(card(**change))


def test_duplicate_card_uuids_are_rejected():
    with pytest.raises(ResponseViolation, match="duplicate uuid"):
        check_cards(card(), card())


def test_at_most_one_recommended():
    suggestions = [{"label": str(n), "uuid": str(n), "isRecommended": True} for n in range(2)]
    with pytest.raises(ValidationError):
        CdsResponse.model_validate({"cards": [card(suggestions=suggestions, selectionBehavior="at-most-one")]})


def test_errors_carry_an_operation_outcome_except_401():
    validate_http_response("GET", "/cds-services", 401, None, b"")
    with pytest.raises(ResponseViolation, match="empty body"):
        validate_http_response("GET", "/cds-services", 401, "application/json", b"{}")
    with pytest.raises(ResponseViolation, match="OperationOutcome"):
        validate_http_response("POST", "/cds-services/x", 400, "text/html", b"<p>bad</p>")
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}
    validate_http_response("POST", "/cds-services/x", 400, "application/fhir+json", json.dumps(outcome).encode())


def test_discovery_rules():
    validate_http_response("GET", "/cds-services/", 200, "application/json", b'{"services": []}')
    with pytest.raises(ResponseViolation, match="description"):
        validate_http_response("GET", "/cds-services", 200, "application/json",
                               b'{"services": [{"hook": "patient-view", "id": "x"}]}')


def test_find_empty_values():
    assert find_empty_values({"a": {"b": [1, None, {"c": ""}], "d": {}}}) == ["$.a.b[1]", "$.a.b[2].c", "$.a.d"]


def test_feedback_parsing():
    parsed = FeedbackRequest.model_validate({"feedback": [
        {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T10:00:00",
         "overrideReason": {"reason": {"system": "s", "code": "c"}, "userComment": "no"}}]})
    assert parsed.feedback[0].outcomeTimestamp.tzinfo is not None
    with pytest.raises(ValidationError, match="acceptedSuggestions"):
        FeedbackRequest.model_validate({"feedback": [
            {"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-11-20T10:00:00Z"}]})
    with pytest.raises(ValidationError):
        FeedbackRequest.model_validate({"feedback": [
            {"card": "c1", "outcome": "ignored", "outcomeTimestamp": "2026-11-20T10:00:00Z"}]})
