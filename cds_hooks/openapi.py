"""The OpenAPI 3.1 document of the service (``GET /openapi.json``).

The schemas are generated from the pydantic models the service validates with
(``cds_hooks.models``: ``HookRequest`` and the hook contexts, ``CdsResponse``,
``DiscoveryResponse``, ``FeedbackRequest``; ``cds_hooks.admin.models`` for the admin API), so the document can't drift from
what the service accepts and answers. Each CDS service of the served rule sets
gets its own path, with its hook fixed and its context model attached; the
admin API and the operations routes are described too.

The document names no patient data and no secrets; it is built once per
served snapshot (like the discovery document) and needs no authentication.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from flask import Blueprint, Response, current_app
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from .admin.models import AuditPageOut, ChangeOut, FeedbackSummaryOut, RuleSetListOut
from .models import (
    CONTEXT_MODELS,
    CdsResponse,
    DiscoveryResponse,
    FeedbackRequest,
    HookContext,
    HookRequest,
    IssueCode,
)

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
FHIR_JSON = "application/fhir+json"


class OperationOutcomeIssue(BaseModel):
    """One issue of an error answer."""

    model_config = ConfigDict(extra="allow")

    severity: Literal["fatal", "error", "warning", "information"]
    code: IssueCode
    diagnostics: str | None = None
    expression: list[str] | None = None
    location: list[str] | None = None


class OperationOutcome(BaseModel):
    """The body of every non-2xx answer except 401 (``cds_hooks.models.operation_outcome``)."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["OperationOutcome"]
    issue: list[OperationOutcomeIssue]


class Status(BaseModel):
    """``/healthz`` and ``/readyz``."""

    model_config = ConfigDict(extra="allow")

    status: str


def component_schemas() -> dict[str, Any]:
    """JSON Schemas of every model the document refers to, by model name."""
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (HookRequest, "validation"), (FeedbackRequest, "validation"),
        *((model, "validation") for model in {HookContext, *CONTEXT_MODELS.values()}),
        (CdsResponse, "serialization"), (DiscoveryResponse, "serialization"),
        (OperationOutcome, "serialization"), (Status, "serialization"),
        *((model, "serialization") for model in (RuleSetListOut, ChangeOut, AuditPageOut, FeedbackSummaryOut)),
    ]
    _, schema = models_json_schema(models, ref_template=REF)
    return schema.get("$defs", {})


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=ref)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {400: "The request is malformed or breaks the CDS Hooks rules",
             403: "The fhirServer is not one this client may name", 404: "No such service",
             405: "Method not allowed", 409: "Conflicts with the state of the rule-set version",
             412: "Required data could not be obtained",
             413: "The body is too large", 415: "Unsupported content type",
             422: "A limit was exceeded (nesting, prefetch size, evaluation time) or the upload is unusable",
             503: "A dependency (replay cache, database) is unavailable"}
    out: dict[str, Any] = {str(s): {"description": texts[s],
                                    "content": {FHIR_JSON: {"schema": {"$ref": REF.format(model="OperationOutcome")}}}}
                           for s in statuses}
    return out


UNAUTHORIZED = {"401": {"description": "Authentication failed (empty body)"}}
PREFLIGHT = {"summary": "CORS preflight (no authentication)", "security": [],
             "responses": {"204": {"description": "Preflight answer"}}}


def _service_request_schema(hook: str, prefetch: dict[str, str]) -> dict[str, Any]:
    """The request body of one service: a ``HookRequest`` with the hook fixed and its context."""
    context_model = CONTEXT_MODELS.get(hook, HookContext).__name__
    schema: dict[str, Any] = {
        "allOf": [{"$ref": REF.format(model="HookRequest")}],
        "properties": {"hook": {"const": hook}, "context": {"$ref": REF.format(model=context_model)}},
    }
    if prefetch:
        schema["properties"]["prefetch"] = {
            "type": "object",
            "properties": {key: {"description": f"Prefetch template: {template}"}
                           for key, template in prefetch.items()},
        }
    return schema


def build_document(snapshot: Any, *, jwt: bool, base_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document for the services of ``snapshot``; ``jwt`` marks the CDS routes as
    needing a bearer JWT."""
    cds_security = [{"cdsClientJwt": []}] if jwt else []
    paths: dict[str, Any] = {
        "/cds-services": {
            "get": {"operationId": "discovery", "summary": "List the CDS services", "security": cds_security,
                    "responses": {"200": {"description": "The services", "content": _json("DiscoveryResponse")},
                                  **UNAUTHORIZED, **_errors(503)}},
            "options": {**PREFLIGHT, "operationId": "discoveryPreflight"},
        },
    }
    for _ruleset, service in snapshot.services():
        path = f"/cds-services/{service.id}"
        if path in paths:
            continue
        paths[path] = {
            "post": {
                "operationId": f"call-{service.id}", "summary": service.title or service.id,
                "description": service.description, "security": cds_security,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _service_request_schema(service.hook, dict(service.prefetch or {}))}}},
                "responses": {"200": {"description": "Cards", "content": _json("CdsResponse")}, **UNAUTHORIZED,
                              **_errors(400, 403, 404, 412, 413, 422, 503)},
            },
            "options": {**PREFLIGHT, "operationId": f"preflight-{service.id}"},
        }
        paths[path + "/feedback"] = {
            "post": {
                "operationId": f"feedback-{service.id}", "summary": "What the clinician did with the cards",
                "security": cds_security,
                "requestBody": {"required": True, "content": _json("FeedbackRequest")},
                "responses": {"200": {"description": "Stored (empty body)"}, **UNAUTHORIZED,
                              **_errors(400, 404, 413, 422, 503)},
            },
            "options": {**PREFLIGHT, "operationId": f"feedback-preflight-{service.id}"},
        }
    paths.update(_admin_paths())
    paths.update(_operations_paths())
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Neuropathy CDS Hooks service", "version": "2.0.1",
                 "description": "CDS Hooks 2.0.1 services, their feedback, the admin API for rule-set "
                                "versions, and operations routes."},
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "cdsClientJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": "A JWT signed by a trusted CDS client (CDS Hooks 2.0.1)"},
                "adminToken": {"type": "http", "scheme": "bearer",
                               "description": "An admin token listed (as its SHA-256) in CDS_ADMIN_TOKENS_FILE"},
            },
        },
    }
    if base_url:
        document["servers"] = [{"url": base_url}]
    return document


def _admin_paths() -> dict[str, Any]:
    admin = [{"adminToken": []}]

    def op(op_id: str, summary: str, role: str, ok: str, errors: tuple[int, ...], model: str,
           **extra: Any) -> dict[str, Any]:
        responses = {ok: {"description": "JSON", "content": _json(model)}, **UNAUTHORIZED,
                     "403": {**_errors(400)["400"], "description": "Role too low"}, **_errors(*errors)}
        return {"operationId": op_id, "summary": f"{summary} (role: {role})", "security": admin,
                "responses": responses, **extra}

    def name(param: str) -> dict[str, Any]:
        return {"name": param, "in": "path", "required": True, "schema": {"type": "string"}}

    archive = {"required": True, "content": {media: {"schema": {"type": "string", "format": "binary"}}
                                             for media in ("application/zip", "application/gzip",
                                                           "application/octet-stream")}}
    return {
        "/admin/api/rulesets": {
            "get": op("adminListRulesets", "Rule sets, versions, states and hashes", "viewer", "200", (),
                      "RuleSetListOut"),
            "post": op("adminUpload", "Upload a version folder (zip or tar.gz)", "author", "201",
                       (400, 409, 413, 415, 422), "ChangeOut", requestBody=archive),
        },
        "/admin/api/rulesets/{ruleset_id}/versions/{version}/activate": {
            "post": op("adminActivate", "Activate a version", "publisher", "200", (404, 409, 422),
                       "ChangeOut", parameters=[name("ruleset_id"), name("version")]),
        },
        "/admin/api/rulesets/{ruleset_id}/rollback": {
            "post": op("adminRollback", "Return to the previously active version", "publisher", "200",
                       (404, 409), "ChangeOut", parameters=[name("ruleset_id")]),
        },
        "/admin/api/rulesets/{ruleset_id}/versions/{version}/retire": {
            "post": op("adminRetire", "Retire a version that is not active", "publisher", "200", (404, 409),
                       "ChangeOut", parameters=[name("ruleset_id"), name("version")]),
        },
        "/admin/api/audit": {
            "get": op("adminAudit", "The audit log, newest first", "viewer", "200", (400,), "AuditPageOut", parameters=[
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "ruleset", "in": "query", "schema": {"type": "string"}}]),
        },
        "/admin/api/feedback/summary": {
            "get": op("adminFeedbackSummary", "Feedback per rule-set version and card", "viewer", "200", (),
                      "FeedbackSummaryOut"),
        },
    }


def _operations_paths() -> dict[str, Any]:
    status = {"description": "Status", "content": _json("Status")}
    return {
        "/healthz": {"get": {"operationId": "healthz", "summary": "The process is up", "security": [],
                             "responses": {"200": status}}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "Ready to serve", "security": [],
                            "responses": {"200": status, **_errors(503)}}},
        "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics", "security": [],
                             "responses": {"200": {"description": "Metrics",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1",
                                                        "content": {"application/json": {"schema": {
                                                            "type": "object"}}}}}}},
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI document of the services being served now (built once per snapshot)."""
    st = current_app.extensions["cds"]
    snapshot = st.registry.current()
    cached = current_app.extensions.get("cds_openapi")
    if cached is None or cached[0] is not snapshot:
        document = build_document(snapshot, jwt=not st.config.development, base_url=st.config.public_base_url)
        cached = (snapshot, json.dumps(document, separators=(",", ":")).encode())
        current_app.extensions["cds_openapi"] = cached
    return Response(cached[1], mimetype="application/json")
