"""Database tables (SQLAlchemy 2 declarative models).

No table holds patient-identifying data: issued cards and feedback are linked
by card uuid, and the only patient reference anywhere is a keyed hash.
Schema changes go through Alembic migrations in ``cds_hooks/migrations``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RuleSetVersion(Base):
    """A published rule-set version: immutable content, identified by its hash."""

    __tablename__ = "ruleset_versions"
    __table_args__ = (UniqueConstraint("ruleset_id", "version"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ruleset_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(50))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # draft | active | retired; exactly one active version per rule set.
    state: Mapped[str] = mapped_column(String(16), default="draft")
    title: Mapped[str | None] = mapped_column(String(300))
    manifest: Mapped[dict] = mapped_column(JSON)
    # The canonical content as a gzipped tar archive (paths sorted, links resolved).
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(200))


class Activation(Base):
    """History of which version was made active when, for rollback and audit."""

    __tablename__ = "ruleset_activations"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ruleset_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(50))
    sha256: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str] = mapped_column(String(200))
    # activate | rollback | initial
    reason: Mapped[str] = mapped_column(String(20))


class ServingGeneration(Base):
    """A single row whose counter goes up on every change to what is served.

    Replicas poll this one integer (a cheap query) and reload their snapshot of
    active rule sets when it changes.
    """

    __tablename__ = "serving_generation"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only audit log of administrative actions."""

    __tablename__ = "audit_log"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    ruleset_id: Mapped[str | None] = mapped_column(String(100))
    old_version: Mapped[str | None] = mapped_column(String(50))
    new_version: Mapped[str | None] = mapped_column(String(50))
    sha256: Mapped[str | None] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    detail: Mapped[dict | None] = mapped_column(JSON)


class IssuedCard(Base):
    """A card the service returned, so that feedback can be tied to the exact rules."""

    __tablename__ = "issued_cards"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(100), index=True)
    service_id: Mapped[str] = mapped_column(String(100))
    hook: Mapped[str] = mapped_column(String(50))
    hook_instance: Mapped[str] = mapped_column(String(100))
    ruleset_id: Mapped[str] = mapped_column(String(100))
    ruleset_version: Mapped[str] = mapped_column(String(50))
    ruleset_sha256: Mapped[str] = mapped_column(String(64))
    # uuids of the card's suggestions, so accepted suggestions can be checked.
    suggestion_uuids: Mapped[list | None] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Feedback(Base):
    """One feedback entry. ``dedupe_key`` (a hash of the canonical entry and the
    service id) makes storage idempotent: the same entry twice is stored once."""

    __tablename__ = "feedback"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(100))
    card_uuid: Mapped[str] = mapped_column(String(100), index=True)
    issued_card_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("issued_cards.uuid", ondelete="SET NULL"), nullable=True)
    unknown_card: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(20))
    outcome_timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_suggestions: Mapped[list | None] = mapped_column(JSON)
    override_reason: Mapped[dict | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReplayToken(Base):
    """JWT ids already seen (the replay cache when Redis isn't configured).

    Only a hash of ``iss`` and ``jti`` is kept, until the token expires."""

    __tablename__ = "jwt_replay"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


Index("ix_feedback_service_outcome", Feedback.service_id, Feedback.outcome)

__all__ = [
    "Activation", "AuditEntry", "Base", "Feedback", "IssuedCard", "ReplayToken", "RuleSetVersion",
    "ServingGeneration",
]
