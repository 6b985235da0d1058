"""The lifecycle store: publish, activate, roll back, retire, audit (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from cds_hooks.rulesets.content import RuleSetContent
from cds_hooks.rulesets.store import (
    Actor,
    Conflict,
    NotFound,
    Refused,
    RuleSetStore,
    install_audit_guard,
    rollback_stack,
    semver_key,
)
from cds_hooks.storage.db import Database
from cds_hooks.storage.models import Activation, AuditEntry, Feedback, IssuedCard, RuleSetVersion
from tests.rulesets.conftest import ADMIN, DEMO_TESTS, write_ruleset

pytestmark = pytest.mark.timeout(120)


def states(store: RuleSetStore) -> dict[str, str]:
    return {v.version: v.state for v in store.list_versions("demo")}


def test_publish_stores_an_immutable_draft(store: RuleSetStore, versions: dict[str, RuleSetContent]) -> None:
    generation = store.generation()
    result = store.publish(versions["1.0.0"], ADMIN)
    assert result.changed
    assert result.version.state == "draft"
    assert result.version.sha256 == versions["1.0.0"].sha256
    assert store.generation() > generation
    stored = store.load_content(result.version.sha256)
    assert stored.sha256 == versions["1.0.0"].sha256
    # Publishing the same content again changes nothing.
    again = store.publish(versions["1.0.0"], ADMIN)
    assert not again.changed and again.version == result.version
    [entry] = store.audit()
    assert (entry["action"], entry["actor"], entry["role"], entry["newVersion"], entry["sha256"],
            entry["remoteAddr"], entry["outcome"]) == ("publish", "alice", "publisher", "1.0.0",
                                                       versions["1.0.0"].sha256, "127.0.0.1", "ok")


def test_same_version_with_other_content_is_refused(store: RuleSetStore, tmp_path: Path,
                                                    versions: dict[str, RuleSetContent]) -> None:
    store.publish(versions["1.0.0"], ADMIN)
    other = RuleSetContent.from_folder(write_ruleset(tmp_path / "other", "1.0.0"))
    assert other.sha256 != versions["1.0.0"].sha256
    with pytest.raises(Conflict, match="immutable"):
        store.publish(other, ADMIN)
    entry = store.audit()[0]
    assert (entry["action"], entry["outcome"]) == ("publish", "refused")


@pytest.mark.parametrize("breakage, where, fragment", [
    ({"cql_extra": 'define "Broken": exists "No Such Thing"\n'}, ("Demo.cql", 15), "CQL"),
    ({"patch": lambda m: m["cards"][0].update(when="No Such Define")}, ("manifest.yaml", None), "No Such Define"),
    ({"tests": {"cases": [dict(DEMO_TESTS["cases"][0], expect=["warning-card"], absent=[])]}},
     ("tests/cases.yaml", 2), "expected but not shown: warning-card"),
])
def test_broken_versions_cannot_be_published(store: RuleSetStore, tmp_path: Path, breakage: dict,
                                             where: tuple, fragment: str) -> None:
    content = RuleSetContent.from_folder(write_ruleset(tmp_path, **breakage))
    with pytest.raises(Refused) as info:
        store.publish(content, ADMIN)
    problem = next(p for p in info.value.problems if fragment in p.message)
    assert problem.file == where[0]
    if where[1] is not None:
        assert problem.line == where[1]
    else:
        assert problem.line is not None
    assert store.list_versions() == []
    entry = store.audit()[0]
    assert (entry["action"], entry["outcome"], entry["rulesetId"]) == ("publish", "refused", "demo")
    assert any(fragment in p["message"] for p in entry["detail"]["problems"])


def test_activate_keeps_exactly_one_active(store: RuleSetStore, versions: dict[str, RuleSetContent]) -> None:
    for content in versions.values():
        store.publish(content, ADMIN)
    first = store.activate("demo", "1.0.0", ADMIN)
    assert first.changed and first.previous is None and first.ruleset is not None
    second = store.activate("demo", "1.1.0", ADMIN)
    assert second.previous == "1.0.0"
    assert states(store) == {"1.0.0": "draft", "1.1.0": "active", "2.0.0": "draft"}
    assert [v.version for v in store.active_versions()] == ["1.1.0"]
    assert not store.activate("demo", "1.1.0", ADMIN).changed
    entry = store.audit()[0]
    assert (entry["action"], entry["oldVersion"], entry["newVersion"]) == ("activate", "1.0.0", "1.1.0")
    with pytest.raises(NotFound):
        store.activate("demo", "9.9.9", ADMIN)
    with pytest.raises(NotFound):
        store.activate("nope", "1.0.0", ADMIN)


def test_rollback_walks_back_through_activations(store: RuleSetStore,
                                                 versions: dict[str, RuleSetContent]) -> None:
    for content in versions.values():
        store.publish(content, ADMIN)
    with pytest.raises(Conflict, match="no active version"):
        store.rollback("demo", ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    with pytest.raises(Conflict, match="no earlier version"):
        store.rollback("demo", ADMIN)
    store.activate("demo", "1.1.0", ADMIN)
    store.activate("demo", "2.0.0", ADMIN)
    result = store.rollback("demo", ADMIN)
    assert (result.previous, result.version.version) == ("2.0.0", "1.1.0")
    assert store.rollback("demo", ADMIN).version.version == "1.0.0"
    with pytest.raises(Conflict):
        store.rollback("demo", ADMIN)
    assert states(store) == {"1.0.0": "active", "1.1.0": "draft", "2.0.0": "draft"}
    actions = [(e["action"], e["oldVersion"], e["newVersion"], e["outcome"]) for e in store.audit(limit=3)]
    assert actions == [("rollback", None, None, "refused"), ("rollback", "1.1.0", "1.0.0", "ok"),
                       ("rollback", "2.0.0", "1.1.0", "ok")]


def test_retire(store: RuleSetStore, versions: dict[str, RuleSetContent]) -> None:
    for content in versions.values():
        store.publish(content, ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    store.activate("demo", "1.1.0", ADMIN)
    store.activate("demo", "2.0.0", ADMIN)
    with pytest.raises(Conflict, match="is active"):
        store.retire("demo", "2.0.0", ADMIN)
    assert store.retire("demo", "1.1.0", ADMIN).changed
    assert not store.retire("demo", "1.1.0", ADMIN).changed
    with pytest.raises(Conflict, match="retired"):
        store.activate("demo", "1.1.0", ADMIN)
    # Rollback skips the retired version.
    assert store.rollback("demo", ADMIN).version.version == "1.0.0"
    assert states(store) == {"1.0.0": "active", "1.1.0": "retired", "2.0.0": "draft"}


def test_a_stored_version_that_no_longer_passes_cannot_be_activated(
        store: RuleSetStore, database: Database, tmp_path: Path) -> None:
    # Content that was stored without passing (as if the engine changed since publishing).
    broken = RuleSetContent.from_folder(write_ruleset(tmp_path, cql_extra='define "Broken": exists "No Such Thing"\n'))
    from datetime import UTC, datetime
    with database.session() as session:
        session.add(RuleSetVersion(ruleset_id="demo", version="1.0.0", sha256=broken.sha256, state="draft",
                                   title="t", manifest={}, archive=broken.to_archive(),
                                   published_at=datetime.now(UTC), published_by="x"))
    with pytest.raises(Refused) as info:
        store.activate("demo", "1.0.0", ADMIN)
    assert any(p.file == "Demo.cql" and p.line == 15 for p in info.value.problems)
    assert store.active_versions() == []


def test_service_ids_must_be_unique_across_active_rule_sets(store: RuleSetStore, tmp_path: Path,
                                                            versions: dict[str, RuleSetContent]) -> None:
    store.publish(versions["1.0.0"], ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    folder = write_ruleset(tmp_path / "twin", patch=lambda m: m.update(id="twin"))
    twin_dir = folder.parent.parent / "twin"
    folder.parent.rename(twin_dir)
    store.publish(RuleSetContent.from_folder(twin_dir / "1.0.0"), ADMIN)
    with pytest.raises(Conflict, match="demo-patient-view"):
        store.activate("twin", "1.0.0", ADMIN)


def test_audit_is_append_only(store: RuleSetStore, database: Database,
                              versions: dict[str, RuleSetContent]) -> None:
    store.publish(versions["1.0.0"], ADMIN)
    with pytest.raises(PermissionError), database.session() as session:
        entry = session.scalars(select(AuditEntry)).first()
        entry.actor = "mallory"
    with pytest.raises(PermissionError), database.session() as session:
        session.delete(session.scalars(select(AuditEntry)).first())
    install_audit_guard(database.engine)
    install_audit_guard(database.engine)  # idempotent
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), database.engine.begin() as connection:
            connection.execute(text(statement))
    assert store.audit()[0]["actor"] == "alice"
    # Inserting still works with the guard in place.
    store.activate("demo", "1.0.0", ADMIN)
    assert len(store.audit()) == 2


def test_concurrent_activations_leave_exactly_one_active(database_url: str, engine: Any,
                                                         versions: dict[str, RuleSetContent]) -> None:
    setup = RuleSetStore(Database(database_url), cql_engine=engine)
    for content in versions.values():
        setup.publish(content, ADMIN)
    errors: list[BaseException] = []

    def worker(version: str) -> None:
        db = Database(database_url)
        store = RuleSetStore(db, cql_engine=engine)
        try:
            for _ in range(3):
                store.activate("demo", version, Actor(f"worker-{version}"))
        except BaseException as exc:  # collected and reported below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=worker, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    active = setup.active_versions()
    assert len(active) == 1
    with Database(database_url).session() as session:
        last = session.scalars(select(Activation).order_by(Activation.pk.desc())).first()
        assert last.version == active[0].version
        assert session.scalar(select(RuleSetVersion.state).where(RuleSetVersion.version == last.version)) == "active"


def test_feedback_summary(store: RuleSetStore, database: Database) -> None:
    from datetime import UTC, datetime
    now = datetime.now(UTC)
    with database.session() as session:
        for i, card_id in enumerate(["info-card", "info-card", "info-card", "warning-card"]):
            session.add(IssuedCard(uuid=f"00000000-0000-0000-0000-00000000000{i}", card_id=card_id,
                                   service_id="demo-patient-view", hook="patient-view", hook_instance="h",
                                   ruleset_id="demo", ruleset_version="1.0.0", ruleset_sha256="a" * 64,
                                   suggestion_uuids=None, issued_at=now))
        session.flush()
        reason = {"reason": {"system": "https://example.org/override", "code": "aware", "display": "Aware"}}
        rows = [("0", "accepted", None), ("1", "overridden", reason), ("2", "overridden", reason),
                ("3", "overridden", {"userComment": "no"})]
        for i, (suffix, outcome, override) in enumerate(rows):
            session.add(Feedback(dedupe_key=f"k{i}", service_id="demo-patient-view",
                                 card_uuid=f"00000000-0000-0000-0000-00000000000{suffix}",
                                 issued_card_uuid=f"00000000-0000-0000-0000-00000000000{suffix}",
                                 unknown_card=False, outcome=outcome, outcome_timestamp=now,
                                 accepted_suggestions=None, override_reason=override, received_at=now))
    summary = store.feedback_summary()
    assert summary == [
        {"rulesetId": "demo", "version": "1.0.0", "sha256": "a" * 64, "cardId": "info-card", "issued": 3,
         "accepted": 1, "overridden": 2,
         "overrideReasons": [{"system": "https://example.org/override", "code": "aware", "display": "Aware",
                              "count": 2}]},
        {"rulesetId": "demo", "version": "1.0.0", "sha256": "a" * 64, "cardId": "warning-card", "issued": 1,
         "accepted": 0, "overridden": 1, "overrideReasons": [{"count": 1}]},
    ]


def test_semver_ordering_and_rollback_stack() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]
    assert sorted(reversed(ordered), key=semver_key) == ordered

    def act(version: str, reason: str = "activate") -> Activation:
        return Activation(version=version, reason=reason)

    assert rollback_stack([act("1"), act("2"), act("3"), act("2", "rollback")]) == ["1", "2"]
    assert rollback_stack([act("1", "initial"), act("2"), act("1", "rollback"), act("3")]) == ["1", "3"]
