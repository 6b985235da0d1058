"""Storing feedback idempotently and linking it to the cards that were issued."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from ..models import FeedbackEntry
from .db import Database
from .models import Feedback, IssuedCard


@dataclass(frozen=True)
class FeedbackStored:
    """What happened to one entry: stored or a duplicate, and whether its card was known."""

    card: str
    outcome: str
    stored: bool
    known_card: bool


def dedupe_key(service_id: str, entry: FeedbackEntry) -> str:
    """SHA-256 of the service id and the entry's canonical JSON (extra fields included)."""
    canonical = json.dumps({"service": service_id, "entry": entry.model_dump(mode="json", exclude_none=True)},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def issued_cards(database: Database, uuids: Sequence[str]) -> dict[str, IssuedCard]:
    """The issued cards among ``uuids``, by uuid."""
    wanted = [u for u in set(uuids) if len(u) <= 36]
    if not wanted:
        return {}
    with database.session() as session:
        rows = session.scalars(select(IssuedCard).where(IssuedCard.uuid.in_(wanted))).all()
    return {row.uuid: row for row in rows}


def _override_reason(entry: FeedbackEntry) -> dict | None:
    # The coded reason is kept; a clinician's free-text comment is not, because
    # it may name the patient (no patient-identifying data is stored). Only the
    # fact that there was a comment is.
    given = entry.overrideReason
    if given is None:
        return None
    kept: dict = {}
    if given.reason is not None:
        kept["reason"] = given.reason.model_dump(mode="json", exclude_none=True)
    if given.userComment:
        kept["userCommentGiven"] = True
    return kept or None


def store_feedback(database: Database, service_id: str, entries: Sequence[FeedbackEntry],
                   known: dict[str, IssuedCard]) -> list[FeedbackStored]:
    """Store each entry once; entries whose card isn't in ``known`` are stored and flagged.

    A card issued by another service than ``service_id`` counts as unknown for
    this service: the link would tie the feedback to the wrong rules.
    """
    now = datetime.now(UTC)
    rows = []
    for entry in entries:
        card = known.get(entry.card)
        linked = card is not None and card.service_id == service_id
        rows.append({
            "dedupe_key": dedupe_key(service_id, entry),
            "service_id": service_id,
            "card_uuid": entry.card,
            "issued_card_uuid": entry.card if linked else None,
            "unknown_card": not linked,
            "outcome": entry.outcome,
            "outcome_timestamp": entry.outcomeTimestamp,
            "accepted_suggestions": [s.model_dump(mode="json", exclude_none=True)
                                     for s in entry.acceptedSuggestions or []] or None,
            "override_reason": _override_reason(entry),
            "received_at": now,
        })
    inserted = database.insert_ignoring_duplicates(Feedback, rows)
    return [FeedbackStored(row["card_uuid"], row["outcome"], stored, not row["unknown_card"])
            for row, stored in zip(rows, inserted)]
