"""What every CDS route does first: CORS preflight, then authentication."""

from __future__ import annotations

import logging

from flask import Response, current_app, g, request

from ..auth import AuthenticationFailed
from ..http import outcome_response

log = logging.getLogger("cds_hooks.auth")


def state():
    """The ``ServiceState`` of the current app (see ``cds_hooks.app``)."""
    return current_app.extensions["cds"]


def cds_before_request(kind: str) -> Response | None:
    """Mark the request as a CDS call of ``kind``; answer preflights; authenticate the caller.

    Returns a response to end the request early (preflight, 401) or None to go on.
    """
    g.endpoint_kind = kind
    st = state()
    if request.method == "OPTIONS":
        return st.cors.preflight()
    try:
        g.identity = st.authenticator.authenticate(request)
    except AuthenticationFailed as failure:
        log.warning("authentication failed", extra={"reason": failure.reason})
        return outcome_response(401, "login", "")
    return None
