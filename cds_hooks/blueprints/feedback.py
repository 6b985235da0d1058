"""``POST /cds-services/{id}/feedback``: what the clinician did with the cards."""

from __future__ import annotations

from flask import Blueprint, Response, g
from pydantic import ValidationError

from ..http import ApiError, read_json_object
from ..models import SERVICE_ID, FeedbackRequest, describe_validation_error
from ..storage.feedback import issued_cards, store_feedback
from .common import cds_before_request, state

bp = Blueprint("feedback", __name__)


@bp.before_request
def _before() -> Response | None:
    return cds_before_request("feedback")


@bp.route("/cds-services/<service_id>/feedback", methods=["POST", "OPTIONS"])
def feedback(service_id: str) -> Response:
    """Validate and store feedback entries; each is stored once, linked to its issued card."""
    st = state()
    if not SERVICE_ID.match(service_id):
        raise ApiError(404, "not-found", "there is no such CDS service")
    body = read_json_object()
    try:
        parsed = FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, "invalid", describe_validation_error(exc)) from None

    uuids = [entry.card for entry in parsed.feedback]
    known = issued_cards(st.database, uuids)
    if len(known) < len(set(uuids)) and st.recorder.pending():
        # A card issued moments ago by this process may still be on its way to the database.
        st.recorder.flush()
        known = issued_cards(st.database, uuids)
    in_service = any(card.service_id == service_id for card in known.values())
    if not in_service and st.registry.current().find_service(service_id) is None:
        raise ApiError(404, "not-found", f"there is no CDS service {service_id!r}")

    g.service_label = service_id
    results = store_feedback(st.database, service_id, parsed.feedback, known)
    for result in results:
        if result.stored:
            st.metrics.feedback.labels(service_id, result.outcome,
                                       "known" if result.known_card else "unknown").inc()
        else:
            st.metrics.feedback_duplicates.inc()
    g.log_fields = {
        "service": service_id,
        "feedback": len(results),
        "stored": sum(r.stored for r in results),
        "unknown_cards": sum(not r.known_card for r in results),
    }
    return Response(status=200)
