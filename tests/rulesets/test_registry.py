"""Serving snapshots: pickup of activations, pinned snapshots, cache, replicas."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.rulesets.content import RuleSetContent
from cds_hooks.rulesets.registry import RuleSetRegistry
from cds_hooks.rulesets.store import RuleSetStore
from cds_hooks.rulesets.testing import run_request
from cds_hooks.storage.db import Database
from tests.rulesets.conftest import ADMIN, patient_bundle, request_for

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def info_summary(ruleset: Any) -> str:
    bundle = patient_bundle("p1")
    _, cards = run_request(ruleset, request_for("p1", bundle), bundle)
    return cards[0]["summary"]


def test_snapshot_serves_the_active_versions(store: RuleSetStore, database: Database, engine: Any,
                                             versions: dict[str, RuleSetContent]) -> None:
    registry = RuleSetRegistry(database, cql_engine=engine)
    assert registry.current().rulesets == ()
    store.publish(versions["1.0.0"], ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    snapshot = registry.refresh()
    [ruleset] = snapshot.rulesets
    assert (ruleset.id, ruleset.version, ruleset.sha256) == ("demo", "1.0.0", versions["1.0.0"].sha256)
    found = snapshot.find_service("demo-patient-view")
    assert found is not None and found[0] is ruleset and found[1].hook == "patient-view"
    assert snapshot.find_service("nope") is None
    assert [(r.id, s.id) for r, s in snapshot.services()] == [("demo", "demo-patient-view")]
    assert found[1].discovery_entry()["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def test_generation_is_checked_at_most_every_poll_interval(store: RuleSetStore, database: Database, engine: Any,
                                                           versions: dict[str, RuleSetContent]) -> None:
    store.publish(versions["1.0.0"], ADMIN)
    store.publish(versions["1.1.0"], ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    clock = FakeClock()
    registry = RuleSetRegistry(database, poll_interval=2.0, cql_engine=engine, clock=clock)
    pinned = registry.current()
    assert pinned.ruleset("demo").version == "1.0.0"
    store.activate("demo", "1.1.0", ADMIN)
    clock.now = 1.9
    assert registry.current() is pinned
    clock.now = 2.1
    fresh = registry.current()
    assert fresh.ruleset("demo").version == "1.1.0"
    # The snapshot a request pinned earlier is unchanged.
    assert pinned.ruleset("demo").version == "1.0.0"
    assert "v1.0.0" in info_summary(pinned.ruleset("demo"))
    assert "v1.1.0" in info_summary(fresh.ruleset("demo"))


def test_rollback_restores_the_previous_cards_from_cache(store: RuleSetStore, database: Database, engine: Any,
                                                          versions: dict[str, RuleSetContent]) -> None:
    store.publish(versions["1.0.0"], ADMIN)
    store.publish(versions["1.1.0"], ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    registry = RuleSetRegistry(database, poll_interval=0, cql_engine=engine)
    first = registry.current().ruleset("demo")
    before = info_summary(first)
    store.activate("demo", "1.1.0", ADMIN)
    assert info_summary(registry.current().ruleset("demo")) != before
    store.rollback("demo", ADMIN)
    restored = registry.current().ruleset("demo")
    assert restored is first  # the compiled version came from the cache
    assert info_summary(restored) == before


def test_retired_versions_are_dropped_from_the_cache(store: RuleSetStore, database: Database, engine: Any,
                                                     versions: dict[str, RuleSetContent]) -> None:
    for content in versions.values():
        store.publish(content, ADMIN)
    registry = RuleSetRegistry(database, poll_interval=0, cql_engine=engine, keep_inactive=1)
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        store.activate("demo", version, ADMIN)
        registry.current()
    # Active 2.0.0 plus one inactive kept for rollback.
    assert registry.cached_versions() == [versions["1.1.0"].sha256, versions["2.0.0"].sha256]
    store.retire("demo", "1.1.0", ADMIN)
    registry.current()
    assert registry.cached_versions() == [versions["2.0.0"].sha256]


def test_concurrent_calls_during_activation_each_use_one_version(
        store: RuleSetStore, database: Database, engine: Any, versions: dict[str, RuleSetContent]) -> None:
    store.publish(versions["1.0.0"], ADMIN)
    store.publish(versions["1.1.0"], ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    registry = RuleSetRegistry(database, poll_interval=0.01, cql_engine=engine)
    bundle = patient_bundle("p2", warfarin=False)
    request = request_for("p2", bundle)
    seen: list[set[tuple[str, str]]] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def caller() -> None:
        try:
            while not stop.is_set():
                snapshot = registry.current()  # pinned once per call, as the service does
                ruleset, service = snapshot.find_service("demo-patient-view")
                cards = ruleset.evaluate(service.id, hook="patient-view", context=request["context"],
                                         resources=[e["resource"] for e in bundle["entry"]])
                stamps = {(c["extension"]["org.example.neuropathy-cds.ruleset"]["version"],
                           c["summary"].split()[2]) for c in cards}
                seen.append(stamps)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    store.activate("demo", "1.1.0", ADMIN)
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert not failures, failures
    versions_seen = set()
    for stamps in seen:
        assert len(stamps) == 1
        [(version, wording)] = stamps
        assert wording == f"v{version}"  # stamp and text come from the same version
        versions_seen.add(version)
    assert versions_seen == {"1.0.0", "1.1.0"}


def test_a_version_that_fails_to_load_keeps_the_previous_one_served(
        store: RuleSetStore, database: Database, engine: Any, versions: dict[str, RuleSetContent]) -> None:
    store.publish(versions["1.0.0"], ADMIN)
    store.publish(versions["1.1.0"], ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    registry = RuleSetRegistry(database, poll_interval=0, cql_engine=engine)
    assert registry.current().ruleset("demo").version == "1.0.0"
    store.activate("demo", "1.1.0", ADMIN)

    class Broken:
        def compile_library(self, *args: Any, **kwargs: Any) -> Any:
            import cql
            raise cql.CqlUnsupportedError("engine upgraded badly", 1, 1)

    registry._cql_engine = Broken()
    snapshot = registry.current()
    assert snapshot.ruleset("demo").version == "1.0.0"
    assert snapshot.errors == ("demo 1.1.0 could not be loaded",)


def start_worker(url: str, poll: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.rulesets.registry_worker", url, str(poll)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def read_until(process: subprocess.Popen, version: str, deadline: float) -> float:
    """Wait for the worker to report ``version``; returns when it did."""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.split()[-1] == version:
            return time.monotonic()
    raise AssertionError(f"worker did not switch to {version}")


def test_two_processes_switch_within_five_seconds(database_url: str, engine: Any,
                                                  versions: dict[str, RuleSetContent]) -> None:
    """Two replicas (separate processes, one database) pick up an activation and a rollback."""
    store = RuleSetStore(Database(database_url), cql_engine=engine)
    store.publish(versions["1.0.0"], ADMIN)
    store.publish(versions["1.1.0"], ADMIN)
    store.activate("demo", "1.0.0", ADMIN)
    workers = [start_worker(database_url, 2.0) for _ in range(2)]
    try:
        for worker in workers:
            read_until(worker, "1.0.0", time.monotonic() + 30)
        for target, change in (("1.1.0", lambda: store.activate("demo", "1.1.0", ADMIN)),
                               ("1.0.0", lambda: store.rollback("demo", ADMIN))):
            change()
            changed_at = time.monotonic()
            for worker in workers:
                switched = read_until(worker, target, changed_at + 5.0)
                assert switched - changed_at < 5.0
    finally:
        for worker in workers:
            worker.stdin.close()
            worker.wait(timeout=10)
