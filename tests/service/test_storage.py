"""Storage: migrations, idempotent inserts, feedback linking. Runs on SQLite, and on
PostgreSQL when CDS_TEST_POSTGRES_URL is set (CI)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from cds_hooks.models import FeedbackEntry
from cds_hooks.recorder import IssuedCardRecorder
from cds_hooks.storage.db import Database, normalize_url
from cds_hooks.storage.feedback import dedupe_key, issued_cards, store_feedback
from cds_hooks.storage.models import AuditEntry, Base, Feedback, IssuedCard

HEAD = "0002"  # the newest migration: audit_log append-only triggers


def issued(uuid: str, service: str = "svc", suggestions=None) -> dict:
    return {"uuid": uuid, "card_id": "pn-first-line", "service_id": service, "hook": "patient-view",
            "hook_instance": "hi-1", "ruleset_id": "neuropathy-k2", "ruleset_version": "1.0.0",
            "ruleset_sha256": "b" * 64, "suggestion_uuids": suggestions, "issued_at": datetime.now(UTC)}


def entry(card: str, outcome: str = "overridden", **extra) -> FeedbackEntry:
    body = {"card": card, "outcome": outcome, "outcomeTimestamp": "2026-11-20T10:00:00Z", **extra}
    if outcome == "accepted":
        body.setdefault("acceptedSuggestions", [{"id": "s-1"}])
    return FeedbackEntry.model_validate(body)


def test_migrations_match_the_models(database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert database.current_revision() == HEAD
    database.migrate()  # a second run is a no-op
    database.ping()


def test_audit_log_refuses_update_and_delete_in_the_database(database):
    """The migration's triggers stop plain SQL, not only the application's ORM sessions."""
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_log (at, actor, role, action, ruleset_id, new_version, outcome) "
            "VALUES (:at, 'alice', 'publisher', 'activate', 'neuropathy-k2', '1.0.0', 'ok')"),
            {"at": datetime.now(UTC)})
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "UPDATE audit_log SET outcome = 'refused'",
                      "DELETE FROM audit_log", "DELETE FROM audit_log WHERE actor = 'alice'"):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
            connection.execute(text(statement))
    # Appending still works, and nothing was changed or lost.
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_log (at, actor, action, outcome) VALUES (:at, 'bob', 'retire', 'refused')"),
            {"at": datetime.now(UTC)})
    with database.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.pk)).all()
    assert [(r.actor, r.action, r.outcome) for r in rows] == [("alice", "activate", "ok"), ("bob", "retire", "refused")]


def test_concurrent_migrations_of_a_fresh_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    errors = []

    def migrate():
        try:
            db = Database(url)
            db.migrate()
            db.dispose()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Database(url).current_revision() == HEAD


def test_insert_ignoring_duplicates(database):
    assert database.insert_ignoring_duplicates(IssuedCard, [issued("u1"), issued("u2"), issued("u1")]) == [
        True, True, False]
    assert database.insert_ignoring_duplicates(IssuedCard, [issued("u2")]) == [False]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(IssuedCard)) == 2


def test_feedback_is_linked_and_idempotent(database):
    database.insert_ignoring_duplicates(IssuedCard, [issued("card-1", suggestions=["s-1"]), issued("card-2")])
    entries = [entry("card-1", "accepted"),
               entry("card-2", overrideReason={"reason": {"system": "s", "code": "c"}, "userComment": "n/a"}),
               entry("card-404"),
               entry("card-1", "accepted")]  # the same entry twice in one call
    known = issued_cards(database, [e.card for e in entries])
    assert set(known) == {"card-1", "card-2"}
    results = store_feedback(database, "svc", entries, known)
    assert [(r.stored, r.known_card) for r in results] == [(True, True), (True, True), (True, False),
                                                          (False, True)]
    again = store_feedback(database, "svc", entries[:3], known)
    assert [r.stored for r in again] == [False, False, False]
    with database.session() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.pk)).all()
    assert [(r.card_uuid, r.issued_card_uuid, r.unknown_card) for r in rows] == [
        ("card-1", "card-1", False), ("card-2", "card-2", False), ("card-404", None, True)]
    assert rows[0].accepted_suggestions == [{"id": "s-1"}]
    # The free-text comment may name the patient: only its presence is kept.
    assert rows[1].override_reason == {"reason": {"system": "s", "code": "c"}, "userCommentGiven": True}
    assert rows[1].outcome_timestamp.year == 2026


def test_feedback_for_a_card_of_another_service_is_not_linked(database):
    database.insert_ignoring_duplicates(IssuedCard, [issued("card-9", service="other")])
    known = issued_cards(database, ["card-9"])
    [result] = store_feedback(database, "svc", [entry("card-9")], known)
    assert result.stored and not result.known_card


def test_dedupe_key_depends_on_content():
    assert dedupe_key("svc", entry("c")) == dedupe_key("svc", entry("c"))
    assert dedupe_key("svc", entry("c")) != dedupe_key("svc2", entry("c"))
    assert dedupe_key("svc", entry("c")) != dedupe_key("svc", entry("c", "accepted"))


def test_recorder_writes_in_the_background(database):
    recorder = IssuedCardRecorder(database, flush_seconds=0.01)
    recorder.record([issued("r1"), issued("r2")])
    recorder.record([issued("r3")])
    recorder.flush()
    assert not recorder.pending()
    assert set(issued_cards(database, ["r1", "r2", "r3", "r4"])) == {"r1", "r2", "r3"}
    recorder.close()


def test_recorder_survives_a_failing_write(database):
    dropped = []
    recorder = IssuedCardRecorder(database, flush_seconds=0.01, on_dropped=dropped.append)
    recorder.record([{"uuid": "bad"}])  # missing columns: the write fails
    recorder.flush()
    recorder.record([issued("ok-1")])
    recorder.flush()
    assert dropped == [1] and set(issued_cards(database, ["ok-1"])) == {"ok-1"}
    recorder.close()


def test_postgres_urls_use_psycopg3():
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_migrates(url):
    db = Database(url)
    db.migrate()
    assert db.current_revision() == HEAD
