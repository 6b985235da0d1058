"""``POST /cds-services/{id}``: one hook call, from request to cards.

Parse (lenient about extra fields, strict about required ones) -> pin the
rule-set snapshot -> gather data (prefetch decision table, FHIR fallback under
one deadline) -> evaluate the rule set once -> check the cards -> record them
for feedback (in the background) -> answer.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g
from pydantic import ValidationError

import cql

from ..http import ApiError, json_response, read_json_object
from ..limits import check_prefetch_limits, check_resource_types
from ..logs import request_id
from ..models import (
    SERVICE_ID,
    CdsResponse,
    HookRequest,
    OrderSignContext,
    card_problems,
    describe_validation_error,
    parse_context,
)
from ..prefetch import GatherResult, PrefetchBadRequest, gather
from .common import cds_before_request, state

bp = Blueprint("services", __name__)
log = logging.getLogger(__name__)


@bp.before_request
def _before() -> Response | None:
    return cds_before_request("service")


@bp.route("/cds-services/<service_id>", methods=["POST", "OPTIONS"])
def call_service(service_id: str) -> Response:
    """Evaluate the service's rule set for one hook call and answer its cards."""
    st = state()
    started = time.monotonic()
    body = read_json_object()
    check_prefetch_limits(body, max_keys=st.config.max_prefetch_keys,
                          max_resources=st.config.max_prefetch_resources)
    try:
        hook_request = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, "invalid", describe_validation_error(exc)) from None
    request_id.set(hook_request.hookInstance)

    snapshot = st.registry.current()  # pinned: this call uses this snapshot to the end
    found = snapshot.find_service(service_id) if SERVICE_ID.match(service_id) else None
    if found is None:
        g.service_label = "unknown"
        raise ApiError(404, "not-found", f"there is no CDS service {service_id!r} (see GET /cds-services)")
    ruleset, service = found
    g.service_label = service.id
    g.hook_label = service.hook
    if hook_request.hook != service.hook:
        raise ApiError(400, "not-supported",
                       f"service {service.id!r} answers the {service.hook} hook, not {hook_request.hook}")
    try:
        context = parse_context(service.hook, hook_request.context)
    except ValidationError as exc:
        raise ApiError(400, "invalid", describe_validation_error(exc, "context")) from None
    g.log_fields = {"service": service.id, "hook": service.hook,
                    "patient_ref": st.hash_patient(context.patientId),
                    "ruleset": f"{ruleset.id}@{ruleset.version}"}

    if hook_request.fhirServer and not g.identity.allows_fhir_server(hook_request.fhirServer):
        raise ApiError(403, "forbidden", "this client may not name that fhirServer")

    plan = st.plans.get(ruleset.sha256, service)
    try:
        gathered = gather(plan, hook_request.prefetch, context, fhir_server=hook_request.fhirServer,
                          access_token=hook_request.access_token, client=st.fhir,
                          deadline=started + st.config.fhir_deadline)
    except PrefetchBadRequest as exc:
        raise ApiError(400, "invalid", str(exc)) from None
    _note_prefetch(gathered, service.id)
    if len(gathered.resources) > st.config.max_prefetch_resources:
        # The FHIR fallback may page in more than a client could send.
        raise ApiError(422, "too-costly", f"the patient data exceeds {st.config.max_prefetch_resources} resources")
    missing = gathered.missing_required()
    if missing:
        raise ApiError(412, "incomplete", [
            f"required prefetch {o.key!r} could not be obtained: {o.problem}" for o in missing])

    check_resource_types(gathered.resources)
    if isinstance(context, OrderSignContext):
        check_resource_types(context.draftOrders.resources())
    try:
        cards = ruleset.evaluate(service.id, hook=service.hook, context=hook_request.context,
                                 resources=gathered.resources, now=datetime.now(UTC),
                                 deadline=time.monotonic() + st.config.evaluation_timeout)
    except cql.CqlTimeoutError:
        raise ApiError(422, "too-costly", "evaluating the rule set took longer than allowed") from None
    except cql.CqlError as exc:
        log.error("rule-set evaluation failed", extra={"error": type(exc).__name__,
                                                        "line": getattr(exc, "line", None)})
        raise ApiError(500, "exception", "the rule set could not be evaluated for this call") from None

    response_body: dict[str, Any] = {"cards": cards}
    _check_cards(response_body)
    _record(st, ruleset, service, hook_request.hookInstance, cards)
    g.log_fields["cards"] = [card["source"]["topic"]["code"] for card in cards]
    return json_response(response_body)


def _note_prefetch(gathered: GatherResult, service_id: str) -> None:
    st = state()
    sources: dict[str, int] = {}
    for outcome in gathered.outcomes.values():
        sources[outcome.source] = sources.get(outcome.source, 0) + 1
        if outcome.source == "failed":
            st.metrics.prefetch_failures.labels(service_id, outcome.key).inc()
    g.log_fields["prefetch"] = sources
    failed = gathered.failed()
    if failed:
        g.log_fields["prefetch_failed"] = {o.key: o.problem for o in failed}
    if gathered.medications_fetched:
        g.log_fields["medications_fetched"] = gathered.medications_fetched
    if gathered.medications_unresolved:
        g.log_fields["medications_unresolved"] = len(gathered.medications_unresolved)


def _check_cards(body: dict[str, Any]) -> None:
    # The rule set renders the cards; a card that breaks the spec is a bug there,
    # and sending it could make the EHR drop every card. Say so instead.
    problems = card_problems(body["cards"])
    try:
        CdsResponse.model_validate(body)
    except ValidationError as exc:
        problems.extend(describe_validation_error(exc))
    if problems:
        log.error("the rule set produced invalid cards", extra={"problems": problems[:10]})
        raise ApiError(500, "exception", "the rule set produced cards that break the CDS Hooks rules")


def _record(st: Any, ruleset: Any, service: Any, hook_instance: str, cards: list[dict]) -> None:
    now = datetime.now(UTC)
    rows = []
    for card in cards:
        card_id = card["source"]["topic"]["code"]
        st.metrics.cards.labels(ruleset.id, card_id).inc()
        rows.append({
            "uuid": card["uuid"], "card_id": card_id, "service_id": service.id, "hook": service.hook,
            "hook_instance": hook_instance, "ruleset_id": ruleset.id, "ruleset_version": ruleset.version,
            "ruleset_sha256": ruleset.sha256,
            "suggestion_uuids": [s["uuid"] for s in card.get("suggestions", ())] or None,
            "issued_at": now,
        })
    st.recorder.record(rows)
