"""What is served: immutable snapshots of the active rule sets, kept current.

A hook call pins ``registry.current()`` once and uses that snapshot to the end,
so an activation during the call can't mix two versions into one answer.
``current()`` is cheap: at most every ``poll_interval`` seconds it reads the
one-row serving generation; only when that has changed does it build a new
snapshot, compiling versions it hasn't compiled before (kept in a cache keyed
by content hash, so a rollback is instant). While one thread rebuilds, the
others keep answering from the previous snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .compiled import CompiledRuleSet, ServiceDefinition
from .loader import load_content
from .problems import RuleSetInvalid
from .store import RETIRED, RuleSetStore, VersionInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable view of the rule sets served at one generation."""

    generation: int
    rulesets: tuple[CompiledRuleSet, ...]
    # Rule sets whose active version could not be loaded (served from an older version if one was).
    errors: tuple[str, ...] = ()
    _services: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, tuple[CompiledRuleSet, ServiceDefinition]] = {}
        for ruleset in self.rulesets:
            for service in ruleset.services:
                index.setdefault(service.id, (ruleset, service))
        object.__setattr__(self, "_services", MappingProxyType(index))

    def find_service(self, service_id: str) -> tuple[CompiledRuleSet, ServiceDefinition] | None:
        """The rule set and service definition serving ``service_id``."""
        return self._services.get(service_id)

    def services(self) -> list[tuple[CompiledRuleSet, ServiceDefinition]]:
        """Every (rule set, service) pair, in rule-set order."""
        return [(ruleset, service) for ruleset in self.rulesets for service in ruleset.services]

    def ruleset(self, ruleset_id: str) -> CompiledRuleSet | None:
        """The served version of a rule set."""
        return next((r for r in self.rulesets if r.id == ruleset_id), None)


class RuleSetRegistry:
    """Follows the active rule-set versions in the database.

    ``database`` is a :class:`cds_hooks.storage.db.Database` (or anything
    with an ``engine``). ``keep_inactive`` compiled versions that are no
    longer active are kept for fast rollback; retired ones are dropped.
    """

    def __init__(self, database: Any, *, poll_interval: float = 2.0, cql_engine: Any = None,
                 keep_inactive: int = 4, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = RuleSetStore(database, cql_engine=cql_engine)
        self.poll_interval = poll_interval
        self.keep_inactive = keep_inactive
        self._cql_engine = cql_engine
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, CompiledRuleSet] = OrderedDict()

    def current(self) -> Snapshot:
        """The snapshot to serve now; checks the generation at most every ``poll_interval``."""
        snapshot = self._snapshot
        if snapshot is not None and self._clock() - self._checked_at < self.poll_interval:
            return snapshot
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._refresh()
        elif self._lock.acquire(blocking=False):
            # One thread checks; the others don't wait and serve the snapshot they have.
            try:
                self._refresh()
            except Exception:
                log.exception("rule-set registry: refresh failed; serving generation %s", snapshot.generation)
                self._checked_at = self._clock()
            finally:
                self._lock.release()
        return self._snapshot  # type: ignore[return-value]

    def refresh(self) -> Snapshot:
        """Check the generation now (after a change made by this process, or in tests)."""
        with self._lock:
            self._refresh()
        return self._snapshot  # type: ignore[return-value]

    def cached_versions(self) -> list[str]:
        """Content hashes of the compiled versions held in memory."""
        return list(self._cache)

    def _refresh(self) -> None:
        generation = self.store.generation()
        self._checked_at = self._clock()
        old = self._snapshot
        if old is not None and old.generation == generation:
            return
        versions = self.store.list_versions()
        active = [v for v in versions if v.state == "active"]
        rulesets: list[CompiledRuleSet] = []
        errors: list[str] = []
        for info in active:
            compiled = self._compiled(info)
            if compiled is None:
                errors.append(f"{info.ruleset_id} {info.version} could not be loaded")
                previous = old.ruleset(info.ruleset_id) if old else None
                if previous is not None:
                    rulesets.append(previous)
                continue
            rulesets.append(compiled)
        self._snapshot = Snapshot(generation, tuple(rulesets), tuple(errors))
        self._prune(versions, {r.sha256 for r in rulesets})
        if old is None or [r.sha256 for r in old.rulesets] != [r.sha256 for r in rulesets]:
            log.info("serving rule sets (generation %s): %s", generation,
                     ", ".join(f"{r.id} {r.version}" for r in rulesets) or "none")

    def _compiled(self, info: VersionInfo) -> CompiledRuleSet | None:
        cached = self._cache.get(info.sha256)
        if cached is not None:
            self._cache.move_to_end(info.sha256)
            return cached
        try:
            content = self.store.load_content(info.sha256)
            compiled = load_content(content, engine=self._cql_engine)
        except RuleSetInvalid as exc:
            log.error("rule set %s %s no longer loads: %s", info.ruleset_id, info.version, exc)
            return None
        except Exception:
            log.exception("rule set %s %s could not be loaded", info.ruleset_id, info.version)
            return None
        self._cache[info.sha256] = compiled
        return compiled

    def _prune(self, versions: list[VersionInfo], served: set[str]) -> None:
        retired = {v.sha256 for v in versions if v.state == RETIRED}
        known = {v.sha256 for v in versions}
        for sha in list(self._cache):
            if sha in retired or sha not in known:
                del self._cache[sha]
        inactive = [sha for sha in self._cache if sha not in served]
        for sha in inactive[: max(0, len(inactive) - self.keep_inactive)]:
            del self._cache[sha]

    def warm(self, ruleset: CompiledRuleSet) -> None:
        """Add a version compiled elsewhere in this process (after publishing or activating)."""
        self._cache[ruleset.sha256] = ruleset
