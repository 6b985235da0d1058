"""Operations: ``/healthz`` (process up), ``/readyz`` (can serve), ``/metrics``."""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from ..http import json_response, outcome_response
from .common import state

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answering."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to serve: the database answers and at least one rule set is active and compiled."""
    st = state()
    problems = []
    try:
        st.database.ping()
    except Exception as exc:  # any driver error means "not ready"; the type goes to the log
        log.warning("database not reachable", extra={"error": type(exc).__name__})
        problems.append("the database is not reachable")
    rulesets = []
    load_errors: list[str] = []
    try:
        snapshot = st.registry.current()
        rulesets = [{"id": r.id, "version": r.version, "sha256": r.sha256} for r in snapshot.rulesets]
        # Rule sets whose active version failed to load (served from an older one, or not at all).
        load_errors = list(getattr(snapshot, "errors", ()))
    except Exception as exc:
        log.warning("rule-set registry failed", extra={"error": type(exc).__name__})
        problems.append("the active rule sets could not be loaded")
    if not rulesets and not problems:
        problems.append("no rule set is active")
    if problems:
        return outcome_response(503, "transient", problems + load_errors)
    body: dict = {"status": "ready", "rulesets": rulesets}
    if load_errors:
        body["errors"] = load_errors
    return json_response(body)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics in the text format."""
    st = state()
    return Response(st.metrics.exposition(), mimetype=st.metrics.content_type.split(";")[0],
                    headers={"Content-Type": st.metrics.content_type})
