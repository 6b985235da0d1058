"""The audit log is append-only in the database itself: triggers refuse UPDATE and DELETE
on ``audit_log`` (SQLite and PostgreSQL).

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

# The SQL is written out here rather than imported: a migration is history, and must do
# the same thing whatever later versions of the application code say.
_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
]

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}.get(dialect)
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
