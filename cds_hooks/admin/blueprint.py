"""The admin API under ``/admin/api/``: rule-set versions, lifecycle, audit, feedback.

Every route needs ``Authorization: Bearer <admin token>`` (401 without a valid
one, a bare answer as everywhere in the service) and a role (403 when the
token's role is too low): viewer for reading, author for uploading, publisher
for activating, rolling back and retiring. Errors are OperationOutcomes; a
refused upload lists every problem with its file and line. Tokens are never
echoed, logged or stored; the audit log names the token's entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from cds_hooks.http import FHIR_JSON_MIMETYPE, ApiError, json_response, outcome_response
from cds_hooks.rulesets.content import MAX_ARCHIVE_BYTES, ContentError, RuleSetContent
from cds_hooks.rulesets.problems import Problem
from cds_hooks.rulesets.store import Actor, LifecycleError, RuleSetStore

from .models import AuditPageOut, ChangeOut, FeedbackSummaryOut, RuleSetListOut
from .tokens import ROLES, AdminIdentity, AdminTokens

log = logging.getLogger("cds_hooks.admin")

bp = Blueprint("admin", __name__, url_prefix="/admin/api")
blueprint = bp

EXTENSION = "cds_hooks.admin"
ARCHIVE_TYPES = {
    "application/zip": "zip", "application/x-zip-compressed": "zip",
    "application/gzip": "tar.gz", "application/x-gzip": "tar.gz", "application/x-tar+gzip": "tar.gz",
    "application/x-compressed-tar": "tar.gz",
}


@dataclass
class AdminContext:
    """What the admin routes use: the lifecycle store, the tokens, and this process's registry."""

    store: RuleSetStore
    tokens: AdminTokens
    registry: Any = None


def register_admin(app: Flask, *, store: RuleSetStore | None = None, tokens: AdminTokens | None = None,
                   registry: Any = None) -> None:
    """Register the admin API on ``app``.

    By default everything comes from the service state (``app.extensions["cds"]``):
    the registry's store (same database and CQL engine), the tokens file from
    ``CDS_ADMIN_TOKENS_FILE``. Without a tokens file every request is a 401.
    """
    state = app.extensions.get("cds")
    if registry is None and state is not None:
        registry = state.registry
    if store is None:
        store = getattr(registry, "store", None)
        if not isinstance(store, RuleSetStore):
            if state is None:
                raise ValueError("register_admin needs a store when the app has no service state")
            store = RuleSetStore(state.database)
    if tokens is None:
        tokens = AdminTokens(state.config.admin_tokens_file if state is not None else None)
    if not tokens.configured:
        log.warning("CDS_ADMIN_TOKENS_FILE is not set: the admin API refuses every request")
    app.extensions[EXTENSION] = AdminContext(store, tokens, registry)
    app.register_blueprint(bp)


def _context() -> AdminContext:
    return current_app.extensions[EXTENSION]


def _identity() -> AdminIdentity:
    return g.admin_identity


def _actor() -> Actor:
    identity = _identity()
    return Actor(f"token:{identity.name}", role=identity.role, remote_addr=request.remote_addr)


@bp.before_request
def _authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    identity = None
    if scheme.lower() == "bearer" and token.strip():
        identity = _context().tokens.authenticate(token.strip())
    if identity is None:
        # The reason, never the token.
        reason = "no bearer token" if not header else "unknown token"
        log.warning("admin authentication failed: %s", reason,
                    extra={"path": request.path, "remote_addr": request.remote_addr})
        return outcome_response(401, "login", "authentication required")
    g.admin_identity = identity
    return None


def requires(role: str) -> Callable:
    """Route decorator: the token's role must be at least ``role``."""
    assert role in ROLES

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _identity().has_role(role):
                _context().store.record_forbidden(_actor(), f"{request.method} {request.path}", role)
                raise ApiError(403, "forbidden", f"this action needs the {role} role")
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorate


def problems_response(status: int, message: str, problems: tuple[Problem, ...] | list[Problem]) -> Response:
    """An OperationOutcome with the message and one issue per problem (file and line first)."""
    issues: list[dict[str, Any]] = [{"severity": "error", "code": "processing" if status == 422 else "conflict",
                                     "diagnostics": message}]
    for problem in problems:
        issue: dict[str, Any] = {"severity": "error" if problem.is_error else "warning", "code": "invalid",
                                 "diagnostics": f"{problem.location()}: {problem.message}",
                                 "location": [problem.location()]}
        issues.append(issue)
    return json_response({"resourceType": "OperationOutcome", "issue": issues}, status, FHIR_JSON_MIMETYPE)


@bp.errorhandler(LifecycleError)
def _lifecycle_error(error: LifecycleError) -> Response:
    return problems_response(error.status, error.message, error.problems)


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    # Also registered app-wide by the service; here so the blueprint stands alone.
    return outcome_response(error.status, error.code, error.diagnostics, error.headers)


def _after_change(result: Any) -> None:
    """Let this process serve the change at once; other replicas follow by polling."""
    registry = _context().registry
    if registry is None:
        return
    if result.ruleset is not None and hasattr(registry, "warm"):
        registry.warm(result.ruleset)
    if hasattr(registry, "refresh"):
        try:
            registry.refresh()
        except Exception:  # the change is committed; the next poll picks it up
            log.exception("registry refresh after an admin change failed")


def _change_body(result: Any) -> dict[str, Any]:
    return ChangeOut(**result.version.to_json(), changed=result.changed, previousVersion=result.previous).body()


# --------------------------------------------------------------------------- routes


@bp.get("/rulesets")
@requires("viewer")
def list_rulesets() -> Response:
    """Rule sets, their versions, states and hashes, and which version is active."""
    store = _context().store
    grouped: dict[str, dict[str, Any]] = {}
    for info in store.list_versions():
        entry = grouped.setdefault(info.ruleset_id, {"id": info.ruleset_id, "title": info.title, "active": None,
                                                     "versions": []})
        entry["versions"].append(info.to_json())
        entry["title"] = info.title or entry["title"]
        if info.state == "active":
            entry["active"] = {"version": info.version, "sha256": info.sha256}
    return json_response(RuleSetListOut(generation=store.generation(), rulesets=list(grouped.values())).body())


@bp.post("/rulesets")
@requires("author")
def upload_ruleset() -> Response:
    """Upload a version folder as a zip or gzipped tar: validated, tested and published as a draft."""
    # Archives may be larger than hook requests (CDS_ADMIN_MAX_UPLOAD_BYTES); a bigger one is a 413.
    state = current_app.extensions.get("cds")
    request.max_content_length = state.config.admin_max_upload_bytes if state is not None else MAX_ARCHIVE_BYTES
    mimetype = (request.mimetype or "").lower()
    if mimetype not in ARCHIVE_TYPES and mimetype != "application/octet-stream":
        raise ApiError(415, "not-supported", "upload the version folder as application/zip or application/gzip")
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "invalid", "the request body is empty; send the archive of a version folder")
    try:
        content = RuleSetContent.from_archive(data)
    except ContentError as exc:
        return problems_response(422, "the archive can't be used", [Problem("archive", None, str(exc))])
    result = _context().store.publish(content, _actor())
    body = _change_body(result)
    return json_response(body, 201 if result.changed else 200)


@bp.post("/rulesets/<ruleset_id>/versions/<version>/activate")
@requires("publisher")
def activate(ruleset_id: str, version: str) -> Response:
    """Make a published version the active one (validated and tested again first)."""
    result = _context().store.activate(ruleset_id, version, _actor())
    _after_change(result)
    return json_response(_change_body(result))


@bp.post("/rulesets/<ruleset_id>/rollback")
@requires("publisher")
def rollback(ruleset_id: str) -> Response:
    """Return to the version that was active before the current one."""
    result = _context().store.rollback(ruleset_id, _actor())
    _after_change(result)
    return json_response(_change_body(result))


@bp.post("/rulesets/<ruleset_id>/versions/<version>/retire")
@requires("publisher")
def retire(ruleset_id: str, version: str) -> Response:
    """Withdraw a version that is not active."""
    result = _context().store.retire(ruleset_id, version, _actor())
    _after_change(result)
    return json_response(_change_body(result))


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "invalid", f"{name} must be a whole number from {low} to {high}")
    return int(raw)


@bp.get("/audit")
@requires("viewer")
def audit() -> Response:
    """The audit log, newest first: ``limit`` (1-1000), ``before`` (an entry id), ``ruleset``."""
    limit = _int_arg("limit", 100, 1, 1000) or 100
    before = _int_arg("before", None, 1, 2**62)
    entries = _context().store.audit(limit=limit, before=before, ruleset_id=request.args.get("ruleset") or None)
    page = AuditPageOut(entries=entries, next=entries[-1]["id"] if len(entries) == limit else None)
    return json_response(page.body())


@bp.get("/feedback/summary")
@requires("viewer")
def feedback_summary() -> Response:
    """Per rule-set version and card id: issued, accepted, overridden, override reasons."""
    return json_response(FeedbackSummaryOut(summary=_context().store.feedback_summary()).body())


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@requires("viewer")
def unknown(rest: str) -> Response:
    """Anything else under the admin API: 404 (or 405 for a known path), after authentication."""
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except Exception:  # no route for this method
            continue
        if endpoint != "admin.unknown":
            allowed.append(method)
    if allowed:
        raise ApiError(405, "not-supported", f"{request.method} is not allowed here",
                       headers={"Allow": ", ".join(allowed)})
    raise ApiError(404, "not-found", "no such admin resource")
