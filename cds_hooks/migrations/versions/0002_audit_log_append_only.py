"""The audit log is append-only in the database itself: triggers refuse UPDATE and DELETE
on ``audit_log`` (SQLite and PostgreSQL; ``cds_hooks.rulesets.store.audit_append_only_ddl``).

The ORM guard in ``cds_hooks.rulesets.store`` stops the application's own
sessions; these triggers also stop plain SQL from any other client of the
database, so an entry can't be changed or removed short of dropping the
trigger. A later migration that rebuilds ``audit_log`` (SQLite batch mode
copies the table) must install the triggers again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from cds_hooks.rulesets.store import audit_append_only_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = audit_append_only_ddl(dialect)
    if not statements:
        # No silent gap: a database the service supports always gets the guard.
        raise NotImplementedError(f"no append-only audit triggers for the {dialect} dialect")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
