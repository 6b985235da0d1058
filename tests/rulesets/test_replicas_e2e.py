"""Two real service processes (gunicorn) on one database: an activation made
through one replica's admin API is served by both within 5 s, calls during the
switch each get cards from exactly one version, and a rollback restores the
previous cards. Real CQL engine, real HTTP, SQLite and PostgreSQL.

The demo rule set is used (not the bundled one) so that this test checks the
serving machinery whatever the state of the clinical content; the bundled rule
set has its own tests in ``test_bundled.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from cds_hooks.admin.tokens import hash_token
from cds_hooks.rulesets.compiled import RULESET_EXTENSION_KEY
from cds_hooks.rulesets.content import RuleSetContent
from tests.rulesets.conftest import (
    POSTGRES_URL,
    patient_bundle,
    postgres_schema,
    request_for,
    summary_patch,
    write_ruleset,
)
from tests.service.gunicorn_runner import free_port, gunicorn, serve_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TOKEN = "e2e-publisher-token-5b7c9d1e"
SERVICE = "demo-patient-view"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'replicas.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip("CDS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    with postgres_schema(POSTGRES_URL) as url:
        yield url


PICKUP_LIMIT = 5.0  # seconds within which every replica (every worker) serves an activation


def stamps(cards: list[dict]) -> set[str]:
    return {card["extension"][RULESET_EXTENSION_KEY]["version"] for card in cards}


def without_uuids(cards: list[dict]) -> list[dict]:
    return [{k: v for k, v in card.items() if k not in ("uuid", "suggestions")} for card in cards]


class Callers:
    """Threads calling every replica without pause, recording (start time, versions, cards)."""

    def __init__(self, bases: list[str], call: Any, per_replica: int = 2) -> None:
        self.results: list[tuple[float, set[str], list[dict]]] = []
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self._call = call
        self._threads = [threading.Thread(target=self._run, args=(base,)) for base in bases
                         for _ in range(per_replica)]

    def _run(self, base: str) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                cards = self._call(base)
            except BaseException as exc:  # reported by the test
                self.failures.append(exc)
                return
            self.results.append((started, stamps(cards), cards))

    def __enter__(self) -> Callers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def since(self, moment: float) -> list[tuple[float, set[str], list[dict]]]:
        return [r for r in self.results if r[0] >= moment]


def switch_and_watch(bases: list[str], call: Any, change: Any, old: str, new: str) -> list[dict]:
    """Make ``change`` while callers hammer both replicas; check that every call got cards of
    exactly one version, and that every call started 5 s after the change got the new one.
    Returns the cards of a call made after the limit."""
    with Callers(bases, call) as callers:
        time.sleep(0.3)
        change()
        changed_at = time.monotonic()
        time.sleep(PICKUP_LIMIT + 1.0)
    assert not callers.failures, callers.failures[:3]
    assert all(len(versions) == 1 for _, versions, _ in callers.results), "a call mixed two versions"
    assert {v for _, versions, _ in callers.results for v in versions} == {old, new}
    late = callers.since(changed_at + PICKUP_LIMIT)
    assert late and all(versions == {new} for _, versions, _ in late), \
        f"{sum(versions != {new} for _, versions, _ in late)} calls still served {old} after {PICKUP_LIMIT} s"
    stale = [t - changed_at for t, versions, _ in callers.since(changed_at) if versions == {old}]
    print(f"{old} -> {new}: last call on the old version started {max(stale, default=0):.2f} s after the change")
    return late[-1][2]


def test_two_replicas_follow_activation_and_rollback(shared_database: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    current, candidate = "1.0.0", "1.1.0"
    write_ruleset(rules, current, patch=summary_patch("Neuropathy info v1.0.0 ({{Condition Count}})"))
    new_folder = write_ruleset(tmp_path / "upload", candidate,
                               patch=summary_patch("Neuropathy info v1.1.0 ({{Condition Count}})"))
    upload = RuleSetContent.from_folder(new_folder).to_archive()
    request = request_for("p1", patient_bundle("p1"))

    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump([{"name": "e2e", "role": "publisher", "sha256": hash_token(TOKEN)}]))
    env = {"CDS_AUTH": "off", "CDS_DATABASE_URL": shared_database, "CDS_RULES_DIR": str(rules),
           "CDS_ADMIN_TOKENS_FILE": str(tokens), "CDS_REGISTRY_POLL_SECONDS": "2"}
    admin = {"Authorization": f"Bearer {TOKEN}"}
    with ExitStack() as stack:
        bases = []
        for index in range(2):
            port = free_port()
            bases.append(stack.enter_context(gunicorn(serve_command(port, workers=2, threads=4), env, port=port,
                                                      timeout=60, log_path=tmp_path / f"replica{index}.log")))

        def call(base: str) -> list[dict]:
            response = requests.post(f"{base}/cds-services/{SERVICE}", json=request, timeout=10)
            assert response.status_code == 200, response.text
            return response.json()["cards"]

        before = {base: call(base) for base in bases}
        for cards in before.values():
            assert cards and stamps(cards) == {current}
        published = requests.post(f"{bases[0]}/admin/api/rulesets", data=upload, timeout=120,
                                  headers={**admin, "Content-Type": "application/gzip"})
        assert published.status_code == 201, published.text

        def activate() -> None:
            response = requests.post(f"{bases[0]}/admin/api/rulesets/demo/versions/{candidate}/activate",
                                     headers=admin, timeout=120)
            assert response.status_code == 200, response.text

        cards = switch_and_watch(bases, call, activate, current, candidate)
        assert cards[0]["summary"] == "Neuropathy info v1.1.0 (1)"

        def rollback() -> None:
            response = requests.post(f"{bases[1]}/admin/api/rulesets/demo/rollback", headers=admin, timeout=120)
            assert response.status_code == 200 and response.json()["version"] == current, response.text

        switch_and_watch(bases, call, rollback, candidate, current)
        for base in bases:
            assert without_uuids(call(base)) == without_uuids(before[base])

        audit = requests.get(f"{bases[0]}/admin/api/audit", headers=admin, timeout=10).json()["entries"]
        assert [(e["action"], e["newVersion"]) for e in audit[:3]] == [
            ("rollback", current), ("activate", candidate), ("publish", candidate)]
