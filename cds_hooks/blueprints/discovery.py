"""``GET /cds-services``: the services of the active rule sets."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from ..http import JSON_MIMETYPE
from .common import cds_before_request, state

bp = Blueprint("discovery", __name__)


@bp.before_request
def _before() -> Response | None:
    return cds_before_request("discovery")


def render_discovery(snapshot: Any) -> bytes:
    """The discovery document of ``snapshot``, serialized (cached per snapshot by the app)."""
    services = [service.discovery_entry() for _, service in snapshot.services()]
    return json.dumps({"services": services}, ensure_ascii=False, separators=(",", ":")).encode()


@bp.route("/cds-services", methods=["GET", "OPTIONS"])
@bp.route("/cds-services/", methods=["GET", "OPTIONS"])
def discovery() -> Response:
    """List every service of the active rule sets."""
    st = state()
    return Response(st.discovery_body(st.registry.current()), mimetype=JSON_MIMETYPE)
