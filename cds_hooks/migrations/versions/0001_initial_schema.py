"""Initial schema: rule-set versions, activations, serving generation, audit log,
issued cards, feedback and the JWT replay cache (``cds_hooks.storage.models``).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ruleset_versions",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ruleset_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("published_at", _TZ, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("ruleset_id", "version"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_index("ix_ruleset_versions_ruleset_id", "ruleset_versions", ["ruleset_id"])

    op.create_table(
        "ruleset_activations",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ruleset_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("activated_at", _TZ, nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_ruleset_activations_ruleset_id", "ruleset_activations", ["ruleset_id"])

    op.create_table(
        "serving_generation",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("changed_at", _TZ, nullable=True),
        sa.PrimaryKeyConstraint("pk"),
    )

    op.create_table(
        "audit_log",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("ruleset_id", sa.String(100), nullable=True),
        sa.Column("old_version", sa.String(50), nullable=True),
        sa.Column("new_version", sa.String(50), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("remote_addr", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    op.create_table(
        "issued_cards",
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("card_id", sa.String(100), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("hook", sa.String(50), nullable=False),
        sa.Column("hook_instance", sa.String(100), nullable=False),
        sa.Column("ruleset_id", sa.String(100), nullable=False),
        sa.Column("ruleset_version", sa.String(50), nullable=False),
        sa.Column("ruleset_sha256", sa.String(64), nullable=False),
        sa.Column("suggestion_uuids", sa.JSON(), nullable=True),
        sa.Column("issued_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    op.create_index("ix_issued_cards_card_id", "issued_cards", ["card_id"])
    op.create_index("ix_issued_cards_issued_at", "issued_cards", ["issued_at"])

    op.create_table(
        "feedback",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("card_uuid", sa.String(100), nullable=False),
        sa.Column("issued_card_uuid", sa.String(36), nullable=True),
        sa.Column("unknown_card", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("outcome_timestamp", _TZ, nullable=True),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=True),
        sa.Column("override_reason", sa.JSON(), nullable=True),
        sa.Column("received_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["issued_card_uuid"], ["issued_cards.uuid"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_service_outcome", "feedback", ["service_id", "outcome"])

    op.create_table(
        "jwt_replay",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("expires_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_jwt_replay_expires_at", "jwt_replay", ["expires_at"])


def downgrade() -> None:
    for table in ("jwt_replay", "feedback", "issued_cards", "audit_log", "serving_generation",
                  "ruleset_activations", "ruleset_versions"):
        op.drop_table(table)
