"""The rule-set lifecycle in the database: publish, activate, roll back, retire, audit.

- A published version is immutable: its canonical content is stored as an
  archive and identified by its SHA-256. Publishing the same content again is a
  no-op; the same id and version with other content is refused.
- States: ``draft`` (published, not served), ``active`` (served; exactly one per
  rule set), ``retired`` (withdrawn; can't be activated again).
- Publishing and activation validate the version and run its tests; a version
  that fails either is refused with every problem, so nothing broken is served.
- Every change runs in one transaction that starts by bumping the single
  serving-generation row. That write is the lock that serialises lifecycle
  changes across processes (a row lock on PostgreSQL, the write lock on
  SQLite), so "exactly one active" holds under concurrency, and the bump is
  what replicas poll to pick up the change.
- Every change, every refused attempt and every call by an admin whose role is too low
  is written to the append-only audit
  log in the same transaction as the change itself.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, sessionmaker

from cds_hooks.storage.models import (
    Activation,
    AuditEntry,
    Feedback,
    IssuedCard,
    RuleSetVersion,
    ServingGeneration,
)

from .compiled import CompiledRuleSet
from .content import RuleSetContent
from .loader import check_content
from .problems import Problem
from .testing import run_tests

log = logging.getLogger(__name__)

DRAFT, ACTIVE, RETIRED = "draft", "active", "retired"
GENERATION_ROW = 1
_T = TypeVar("_T")


class LifecycleError(Exception):
    """A lifecycle operation that can't be done; ``problems`` says why."""

    status = 409

    def __init__(self, message: str, problems: tuple[Problem, ...] | list[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)


class NotFound(LifecycleError):
    status = 404


class Conflict(LifecycleError):
    status = 409


class Refused(LifecycleError):
    """The version fails validation or its tests."""

    status = 422


@dataclass(frozen=True)
class Actor:
    """Who does an operation, for the audit log."""

    name: str
    role: str | None = None
    remote_addr: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    """A published version as listed (without its content)."""

    ruleset_id: str
    version: str
    sha256: str
    state: str
    title: str | None
    published_at: datetime
    published_by: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.ruleset_id, "version": self.version, "sha256": self.sha256, "state": self.state,
                "title": self.title, "publishedAt": _iso(self.published_at), "publishedBy": self.published_by}


@dataclass(frozen=True)
class ChangeResult:
    """The outcome of a lifecycle operation."""

    version: VersionInfo
    changed: bool
    previous: str | None = None  # the version that was active before
    ruleset: CompiledRuleSet | None = field(default=None, compare=False)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything stored here is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _iso(value: datetime | None) -> str | None:
    value = _utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def _versions() -> Any:
    """A query for version rows without the heavy archive and manifest columns."""
    return select(RuleSetVersion).options(defer(RuleSetVersion.archive), defer(RuleSetVersion.manifest))


def _info(row: RuleSetVersion) -> VersionInfo:
    return VersionInfo(row.ruleset_id, row.version, row.sha256, row.state, row.title,
                       _utc(row.published_at), row.published_by)  # type: ignore[arg-type]


def semver_key(version: str) -> tuple:
    """Sort key for semantic versions: a release sorts after its pre-releases."""
    core, _, rest = version.partition("+")[0].partition("-")
    parts = tuple(int(p) if p.isdigit() else 0 for p in core.split("."))
    if not rest:
        return (parts, 1, ())
    pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in rest.split("."))
    return (parts, 0, pre)


def rollback_stack(activations: list[Activation]) -> list[str]:
    """Versions in the order they were made active, with rolled-back ones removed:
    the last is the current one, the one before it is what a rollback returns to."""
    stack: list[str] = []
    for row in activations:
        if row.reason == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != row.version:
                stack.append(row.version)
        else:
            stack.append(row.version)
    return stack


class RuleSetStore:
    """Lifecycle operations on one database.

    ``database`` is a :class:`cds_hooks.storage.db.Database` or anything with
    an ``engine`` attribute (or an SQLAlchemy ``Engine``). ``cql_engine`` is the
    CQL engine to validate with (default: the ``cql`` package).
    """

    def __init__(self, database: Any, *, cql_engine: Any = None) -> None:
        self.engine: Engine = getattr(database, "engine", database)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.cql_engine = cql_engine
        self._generation_row_checked = False

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def _change(self) -> Iterator[Session]:
        """A transaction that holds the lifecycle lock and bumps the generation."""
        self._ensure_generation_row()
        with self._sessions.begin() as session:
            # First statement is a write: it takes the lock before anything is read.
            session.execute(update(ServingGeneration).where(ServingGeneration.pk == GENERATION_ROW)
                            .values(generation=ServingGeneration.generation + 1, changed_at=datetime.now(UTC)))
            yield session

    def _ensure_generation_row(self) -> None:
        if self._generation_row_checked:
            return
        with self._sessions() as session:
            if session.get(ServingGeneration, GENERATION_ROW) is None:
                try:
                    session.add(ServingGeneration(pk=GENERATION_ROW, generation=0, changed_at=datetime.now(UTC)))
                    session.commit()
                except IntegrityError:
                    session.rollback()  # another process created it first
        self._generation_row_checked = True

    def _read(self, fn: Callable[[Session], _T]) -> _T:
        with self._sessions() as session:
            return fn(session)

    def _audit(self, session: Session, actor: Actor, action: str, *, ruleset_id: str | None = None,
               old_version: str | None = None, new_version: str | None = None, sha256: str | None = None,
               outcome: str = "ok", detail: dict | None = None) -> None:
        session.add(AuditEntry(at=datetime.now(UTC), actor=actor.name[:200], role=actor.role,
                               action=action, ruleset_id=ruleset_id, old_version=old_version,
                               new_version=new_version, sha256=sha256,
                               remote_addr=(actor.remote_addr or None) and actor.remote_addr[:64],
                               outcome=outcome, detail=detail))

    def _audit_refusal(self, actor: Actor, action: str, error: LifecycleError, **fields: Any) -> None:
        """Record a refused attempt in its own transaction (the change itself rolled back)."""
        detail = {"error": error.message,
                  "problems": [p.to_json() for p in error.problems if p.is_error][:50]}
        with self._sessions.begin() as session:
            self._audit(session, actor, action, outcome="refused", detail=detail, **fields)

    def record_forbidden(self, actor: Actor, action: str, required_role: str) -> None:
        """Audit an admin whose role is too low for what they tried (the API answered 403).

        Unknown callers (no or wrong token) are only logged: auditing them would let
        anyone fill the audit table."""
        with self._sessions.begin() as session:
            self._audit(session, actor, action, outcome="forbidden", detail={"required_role": required_role})

    # -- reading ------------------------------------------------------------------------------
    def generation(self) -> int:
        """The serving generation: changes whenever what is served may have changed."""
        with self.engine.connect() as connection:
            value = connection.execute(
                select(ServingGeneration.generation).where(ServingGeneration.pk == GENERATION_ROW)).scalar()
        return int(value or 0)

    def list_versions(self, ruleset_id: str | None = None) -> list[VersionInfo]:
        """Every published version (optionally of one rule set), by id then semantic version."""
        def query(session: Session) -> list[VersionInfo]:
            statement = _versions()
            if ruleset_id is not None:
                statement = statement.where(RuleSetVersion.ruleset_id == ruleset_id)
            rows = [_info(row) for row in session.scalars(statement)]
            return sorted(rows, key=lambda v: (v.ruleset_id, semver_key(v.version)))
        return self._read(query)

    def active_versions(self) -> list[VersionInfo]:
        """The active version of each rule set."""
        return self._read(lambda s: [_info(r) for r in s.scalars(
            _versions().where(RuleSetVersion.state == ACTIVE).order_by(RuleSetVersion.ruleset_id))])

    def get_version(self, ruleset_id: str, version: str) -> VersionInfo:
        row = self._read(lambda s: s.scalar(_versions().where(
            RuleSetVersion.ruleset_id == ruleset_id, RuleSetVersion.version == version)))
        if row is None:
            raise NotFound(f"rule set {ruleset_id} has no version {version}")
        return _info(row)

    def load_content(self, sha256: str) -> RuleSetContent:
        """The stored content of a published version."""
        row = self._read(lambda s: s.scalar(select(RuleSetVersion).where(RuleSetVersion.sha256 == sha256)))
        if row is None:
            raise NotFound(f"no published version with sha256 {sha256}")
        content = RuleSetContent.from_archive(row.archive)
        # The archive holds the files without a top folder; keep the version as its name.
        return RuleSetContent(content.files, folder_name=row.version)

    def ever_activated(self) -> bool:
        """Whether any rule set has ever been activated in this database."""
        return bool(self._read(lambda s: s.scalar(select(func.count()).select_from(Activation))))

    # -- checking -----------------------------------------------------------------------------
    def verify(self, content: RuleSetContent, *, run_test_cases: bool = True) -> CompiledRuleSet:
        """Validate ``content`` and run its tests; raises :class:`Refused` with every problem."""
        result = check_content(content, engine=self.cql_engine)
        if result.ruleset is None:
            raise Refused("the rule set is not valid", result.problems)
        if run_test_cases:
            report = run_tests(result.ruleset)
            if not report.passed:
                raise Refused(f"{len(report.failures)} of {len(report.cases)} rule-set tests fail",
                              report.as_problems())
            if not report.cases:
                raise Refused("the rule set has no tests", [Problem("tests", None, "no test cases")])
        return result.ruleset

    # -- lifecycle ----------------------------------------------------------------------------
    def publish(self, content: RuleSetContent, actor: Actor) -> ChangeResult:
        """Validate, test and store a version as a draft.

        The same content published again returns the existing version
        (``changed`` False). Raises :class:`Refused` (invalid, tests fail) or
        :class:`Conflict` (the id and version exist with other content).
        """
        sha = content.sha256
        try:
            ruleset = self.verify(content)
        except Refused as exc:
            self._audit_refusal(actor, "publish", exc, sha256=sha, **_manifest_ids(content))
            raise
        ids = {"ruleset_id": ruleset.id, "new_version": ruleset.version, "sha256": sha}
        try:
            unchanged = self._published_already(ruleset, sha)
            if unchanged is not None:
                return unchanged
            with self._change() as session:
                row = RuleSetVersion(
                    ruleset_id=ruleset.id, version=ruleset.version, sha256=sha, state=DRAFT,
                    title=ruleset.title[:300], manifest=ruleset.manifest.model_dump(mode="json"),
                    archive=content.to_archive(), published_at=datetime.now(UTC), published_by=actor.name[:200])
                session.add(row)
                self._audit(session, actor, "publish", detail={"files": len(content), "bytes": content.total_bytes},
                            **ids)
                session.flush()
                return ChangeResult(_info(row), changed=True, ruleset=ruleset)
        except IntegrityError:
            # Published concurrently by another process (unique id+version or sha256).
            unchanged = self._published_already(ruleset, sha)
            if unchanged is not None:
                return unchanged
            raise Conflict(f"{ruleset.id} {ruleset.version} was published concurrently") from None
        except Conflict as exc:
            self._audit_refusal(actor, "publish", exc, **ids)
            raise

    def _published_already(self, ruleset: CompiledRuleSet, sha: str) -> ChangeResult | None:
        """The existing version if this exact content is published; Conflict if the id
        and version (or the content) are taken otherwise; None if it is new."""
        def find(session: Session) -> tuple[RuleSetVersion | None, RuleSetVersion | None]:
            by_version = session.scalar(select(RuleSetVersion).where(
                RuleSetVersion.ruleset_id == ruleset.id, RuleSetVersion.version == ruleset.version))
            by_sha = session.scalar(select(RuleSetVersion).where(RuleSetVersion.sha256 == sha))
            return by_version, by_sha
        by_version, by_sha = self._read(find)
        if by_version is not None:
            if by_version.sha256 == sha:
                return ChangeResult(_info(by_version), changed=False, ruleset=ruleset)
            raise Conflict(f"{ruleset.id} {ruleset.version} is already published with other content "
                           f"(sha256 {by_version.sha256}); published versions are immutable: "
                           f"give the new content a new version")
        if by_sha is not None:
            raise Conflict(f"this content is already published as {by_sha.ruleset_id} {by_sha.version}")
        return None

    def activate(self, ruleset_id: str, version: str, actor: Actor, *, reason: str = "activate") -> ChangeResult:
        """Make ``version`` the one active version of its rule set, atomically.

        The stored content is validated and tested again first (the engine may
        have changed since publishing), so a version that no longer passes is
        never served.
        """
        action = "activate" if reason != "initial" else "bootstrap-activate"
        try:
            target = self.get_version(ruleset_id, version)
            if target.state == ACTIVE:
                return ChangeResult(target, changed=False, previous=version)
            ruleset = self._check_activatable(target)
            with self._change() as session:
                result = self._switch(session, ruleset_id, version, actor, reason, action)
            return ChangeResult(result.version, result.changed, result.previous, ruleset)
        except LifecycleError as exc:
            self._audit_refusal(actor, action, exc, ruleset_id=ruleset_id, new_version=version)
            raise

    def rollback(self, ruleset_id: str, actor: Actor) -> ChangeResult:
        """Return to the version that was active before the current one."""
        try:
            target = self._rollback_target(ruleset_id)
            ruleset = self._check_activatable(target)
            with self._change() as session:
                # Re-check under the lock: someone may have changed things meanwhile.
                if self._rollback_target(ruleset_id, session).version != target.version:
                    raise Conflict("the active version changed during the rollback; try again")
                result = self._switch(session, ruleset_id, target.version, actor, "rollback", "rollback")
            return ChangeResult(result.version, result.changed, result.previous, ruleset)
        except LifecycleError as exc:
            self._audit_refusal(actor, "rollback", exc, ruleset_id=ruleset_id)
            raise

    def retire(self, ruleset_id: str, version: str, actor: Actor) -> ChangeResult:
        """Withdraw a version that is not active; it can't be activated again."""
        try:
            current = self.get_version(ruleset_id, version)
            if current.state == RETIRED:
                return ChangeResult(current, changed=False)
            with self._change() as session:
                row = session.scalar(select(RuleSetVersion).where(
                    RuleSetVersion.ruleset_id == ruleset_id, RuleSetVersion.version == version))
                if row is None:
                    raise NotFound(f"rule set {ruleset_id} has no version {version}")
                if row.state == ACTIVE:
                    raise Conflict(f"{ruleset_id} {version} is active; activate another version or roll back "
                                   f"before retiring it")
                row.state = RETIRED
                self._audit(session, actor, "retire", ruleset_id=ruleset_id, old_version=version,
                            sha256=row.sha256)
                session.flush()
                return ChangeResult(_info(row), changed=True)
        except LifecycleError as exc:
            self._audit_refusal(actor, "retire", exc, ruleset_id=ruleset_id, old_version=version)
            raise

    def _check_activatable(self, target: VersionInfo) -> CompiledRuleSet:
        if target.state == RETIRED:
            raise Conflict(f"{target.ruleset_id} {target.version} is retired and can't be activated")
        ruleset = self.verify(self.load_content(target.sha256))
        self._check_service_ids(ruleset)
        return ruleset

    def _check_service_ids(self, ruleset: CompiledRuleSet) -> None:
        """Service ids must be unique across the rule sets that are served together."""
        own = {s.id for s in ruleset.services}
        for other in self.active_versions():
            if other.ruleset_id == ruleset.id:
                continue
            manifest = self._read(lambda s, o=other: s.scalar(
                select(RuleSetVersion.manifest).where(RuleSetVersion.sha256 == o.sha256)))
            clash = own & {s["id"] for s in (manifest or {}).get("services", [])}
            if clash:
                raise Conflict(f"service id(s) {', '.join(sorted(clash))} are already served by the active "
                               f"rule set {other.ruleset_id} {other.version}")

    def _switch(self, session: Session, ruleset_id: str, version: str, actor: Actor, reason: str,
                action: str) -> ChangeResult:
        rows = list(session.scalars(select(RuleSetVersion).where(RuleSetVersion.ruleset_id == ruleset_id)))
        target = next((r for r in rows if r.version == version), None)
        if target is None:
            raise NotFound(f"rule set {ruleset_id} has no version {version}")
        if target.state == RETIRED:
            raise Conflict(f"{ruleset_id} {version} is retired and can't be activated")
        current = [r for r in rows if r.state == ACTIVE]
        previous = current[0].version if current else None
        if previous == version and len(current) == 1:
            return ChangeResult(_info(target), changed=False, previous=previous)
        for row in current:
            row.state = DRAFT
        target.state = ACTIVE
        session.add(Activation(ruleset_id=ruleset_id, version=version, sha256=target.sha256,
                               activated_at=datetime.now(UTC), activated_by=actor.name[:200], reason=reason))
        self._audit(session, actor, action, ruleset_id=ruleset_id, old_version=previous, new_version=version,
                    sha256=target.sha256)
        session.flush()
        return ChangeResult(_info(target), changed=True, previous=previous)

    def _rollback_target(self, ruleset_id: str, session: Session | None = None) -> VersionInfo:
        def find(s: Session) -> VersionInfo:
            history = list(s.scalars(select(Activation).where(Activation.ruleset_id == ruleset_id)
                                     .order_by(Activation.pk)))
            states = {r.version: r for r in s.scalars(select(RuleSetVersion).where(
                RuleSetVersion.ruleset_id == ruleset_id))}
            if not states:
                raise NotFound(f"no rule set {ruleset_id}")
            active = next((v for v, r in states.items() if r.state == ACTIVE), None)
            if active is None:
                raise Conflict(f"rule set {ruleset_id} has no active version to roll back from")
            stack = rollback_stack(history)
            if stack and stack[-1] == active:
                stack.pop()
            for candidate in reversed(stack):
                row = states.get(candidate)
                if row is not None and row.state == DRAFT and candidate != active:
                    return _info(row)
            raise Conflict(f"rule set {ruleset_id} has no earlier version to roll back to")
        return find(session) if session is not None else self._read(find)

    # -- audit and feedback ---------------------------------------------------------------------
    def audit(self, *, limit: int = 100, before: int | None = None, ruleset_id: str | None = None) -> list[dict]:
        """Audit entries, newest first; ``before`` pages by entry id."""
        def query(session: Session) -> list[dict]:
            statement = select(AuditEntry).order_by(AuditEntry.pk.desc()).limit(max(1, min(limit, 1000)))
            if before is not None:
                statement = statement.where(AuditEntry.pk < before)
            if ruleset_id is not None:
                statement = statement.where(AuditEntry.ruleset_id == ruleset_id)
            return [{
                "id": row.pk, "at": _iso(row.at), "actor": row.actor, "role": row.role, "action": row.action,
                "rulesetId": row.ruleset_id, "oldVersion": row.old_version, "newVersion": row.new_version,
                "sha256": row.sha256, "remoteAddr": row.remote_addr, "outcome": row.outcome,
                "detail": row.detail,
            } for row in session.scalars(statement)]
        return self._read(query)

    def feedback_summary(self) -> list[dict]:
        """Per rule-set version and card id: cards issued, accepted, overridden, and override reasons."""
        def query(session: Session) -> list[dict]:
            key_cols = (IssuedCard.ruleset_id, IssuedCard.ruleset_version, IssuedCard.ruleset_sha256,
                        IssuedCard.card_id)
            summary: dict[tuple, dict] = {}

            def entry(key: tuple) -> dict:
                if key not in summary:
                    summary[key] = {"rulesetId": key[0], "version": key[1], "sha256": key[2], "cardId": key[3],
                                    "issued": 0, "accepted": 0, "overridden": 0, "_reasons": defaultdict(int)}
                return summary[key]

            for *key, count in session.execute(select(*key_cols, func.count()).group_by(*key_cols)):
                entry(tuple(key))["issued"] = count
            joined = (select(*key_cols, Feedback.outcome, func.count())
                      .join(IssuedCard, Feedback.issued_card_uuid == IssuedCard.uuid)
                      .group_by(*key_cols, Feedback.outcome))
            for *key, outcome, count in session.execute(joined):
                if outcome in ("accepted", "overridden"):
                    entry(tuple(key))[outcome] += count
            reasons = (select(*key_cols, Feedback.override_reason)
                       .join(IssuedCard, Feedback.issued_card_uuid == IssuedCard.uuid)
                       .where(Feedback.outcome == "overridden"))
            for *key, override in session.execute(reasons):
                reason = (override or {}).get("reason") if isinstance(override, dict) else None
                if isinstance(reason, dict):
                    label = (reason.get("system"), reason.get("code"), reason.get("display"))
                else:
                    label = (None, None, None)
                entry(tuple(key))["_reasons"][label] += 1
            out = []
            for key in sorted(summary, key=lambda k: (k[0], semver_key(k[1]), k[3])):
                item = summary[key]
                reasons_map = item.pop("_reasons")
                item["overrideReasons"] = [
                    {k: v for k, v in (("system", s), ("code", c), ("display", d)) if v is not None} | {"count": n}
                    for (s, c, d), n in sorted(reasons_map.items(), key=lambda kv: -kv[1])]
                out.append(item)
            return out
        return self._read(query)


def _manifest_ids(content: RuleSetContent) -> dict[str, str]:
    """Id and version from a manifest that may be invalid, for auditing a refusal."""
    try:
        import yaml

        data = yaml.safe_load(content.text("manifest.yaml"))
    except Exception:  # any unreadable manifest: the refusal is audited without ids
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    if isinstance(data.get("id"), str):
        out["ruleset_id"] = data["id"][:100]
    if isinstance(data.get("version"), str):
        out["new_version"] = data["version"][:50]
    return out


def audit_append_only_ddl(dialect: str) -> list[str]:
    """SQL that makes the audit table refuse UPDATE and DELETE in the database itself
    (for a migration); the ORM guard below covers the application's own sessions."""
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
            "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        ]
    return []


def install_audit_guard(engine: Engine) -> None:
    """Create the append-only triggers on ``engine``'s database (idempotent)."""
    with engine.begin() as connection:
        for statement in audit_append_only_ddl(engine.dialect.name):
            connection.execute(text(statement))


def _refuse_audit_change(*_args: Any) -> None:
    raise PermissionError("the audit log is append-only")


def _register_orm_guard() -> None:
    from sqlalchemy import event

    if not event.contains(AuditEntry, "before_update", _refuse_audit_change):
        event.listen(AuditEntry, "before_update", _refuse_audit_change)
        event.listen(AuditEntry, "before_delete", _refuse_audit_change)


_register_orm_guard()
