"""Two real service processes (gunicorn) on one database: an activation made
through one replica's admin API is served by both within 5 s, calls during the
switch each get cards from exactly one version, and a rollback restores the
previous cards. Runs the real CQL engine on the bundled rule set."""

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
from cds_hooks.examples import load_example
from cds_hooks.rulesets.compiled import RULESET_EXTENSION_KEY
from cds_hooks.rulesets.content import RuleSetContent
from cds_hooks.rulesets.loader import check_content
from cds_hooks.rulesets.testing import fill_prefetch, patient_resources, service_for
from tests.rulesets.conftest import POSTGRES_URL, postgres_schema
from tests.service.gunicorn_runner import free_port, gunicorn, serve_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "rules" / "neuropathy-k2" / "1.0.0"
EXAMPLES = ROOT / "fhir" / "examples"
ANCHOR = "2026-11-01"
TOKEN = "e2e-publisher-token-5b7c9d1e"
EXAMPLE = "warfarin-neuropathy.patient-view"


def write_content(content: RuleSetContent, folder: Path) -> Path:
    for name in content:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content[name])
    return folder


def next_version(content: RuleSetContent, version: str) -> RuleSetContent:
    """The bundled version with a new version number and one card's source label reworded."""
    files = dict(content.files)
    manifest = yaml.safe_load(files["manifest.yaml"])
    old = manifest["version"]
    text = files["manifest.yaml"].decode().replace(f"version: {old}", f"version: {version}", 1)
    label = manifest["cards"][0]["source"]["label"]
    text = text.replace(f"label: {label}", f"label: {label} (rev {version})", 1)
    files["manifest.yaml"] = text.encode()
    library = manifest["library"]
    files[library] = files[library].decode().replace(f"version '{old}'", f"version '{version}'", 1).encode()
    return RuleSetContent.from_files(files, folder_name=version)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'replicas.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip("CDS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    with postgres_schema(POSTGRES_URL) as url:
        yield url


def stamps(cards: list[dict]) -> set[str]:
    return {card["extension"][RULESET_EXTENSION_KEY]["version"] for card in cards}


def without_uuids(cards: list[dict]) -> list[dict]:
    return [{k: v for k, v in card.items() if k not in ("uuid", "suggestions")} for card in cards]


def test_two_replicas_follow_activation_and_rollback(shared_database: str, tmp_path: Path) -> None:
    bundled = RuleSetContent.from_folder(BUNDLED)
    checked = check_content(bundled)
    if checked.ruleset is None:
        pytest.skip("the CQL engine can't compile the bundled rule set yet: "
                    + "; ".join(str(p) for p in checked.errors[:3]))
    ruleset = checked.ruleset
    current = ruleset.version
    candidate = "99.0.0"
    rules = tmp_path / "rules"
    write_content(bundled, rules / ruleset.id / current)
    upload = next_version(bundled, candidate).to_archive()

    request = load_example(EXAMPLES / "requests" / f"{EXAMPLE}.json", ANCHOR)
    patient = load_example(EXAMPLES / "patients" / f"{EXAMPLE.split('.')[0]}.json", ANCHOR)
    service = service_for(ruleset, request["hook"])
    request["prefetch"] = fill_prefetch(service, request["context"], patient_resources(patient), ruleset.valuesets)

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
            response = requests.post(f"{base}/cds-services/{service.id}", json=request, timeout=10)
            assert response.status_code == 200, response.text
            return response.json()["cards"]

        before = {base: call(base) for base in bases}
        for cards in before.values():
            assert cards and stamps(cards) == {current}

        # Callers hammer both replicas while the version changes under them.
        mixed: list[Any] = []
        seen: set[str] = set()
        stop = threading.Event()

        def hammer(base: str) -> None:
            while not stop.is_set():
                try:
                    versions = stamps(call(base))
                except Exception as exc:  # reported below
                    mixed.append(exc)
                    return
                if len(versions) != 1:
                    mixed.append(versions)
                seen.update(versions)

        workers = [threading.Thread(target=hammer, args=(base,)) for base in bases for _ in range(2)]
        for worker in workers:
            worker.start()
        try:
            published = requests.post(f"{bases[0]}/admin/api/rulesets", data=upload, timeout=120,
                                      headers={**admin, "Content-Type": "application/gzip"})
            assert published.status_code == 201, published.text
            activated = requests.post(f"{bases[0]}/admin/api/rulesets/{ruleset.id}/versions/{candidate}/activate",
                                      headers=admin, timeout=120)
            assert activated.status_code == 200, activated.text
            switched_at = time.monotonic()
            for base in bases:
                while stamps(call(base)) != {candidate}:
                    assert time.monotonic() - switched_at < 5.0, f"{base} still serves {current}"
                    time.sleep(0.1)
            time.sleep(0.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        assert not mixed, mixed[:3]
        assert seen == {current, candidate}
        label = call(bases[1])[0]["source"]["label"]
        assert f"(rev {candidate})" in label

        rolled = requests.post(f"{bases[1]}/admin/api/rulesets/{ruleset.id}/rollback", headers=admin, timeout=120)
        assert rolled.status_code == 200 and rolled.json()["version"] == current
        rolled_at = time.monotonic()
        for base in bases:
            while stamps(call(base)) != {current}:
                assert time.monotonic() - rolled_at < 5.0
                time.sleep(0.1)
            assert without_uuids(call(base)) == without_uuids(before[base])

        audit = requests.get(f"{bases[0]}/admin/api/audit", headers=admin, timeout=10).json()["entries"]
        assert [(e["action"], e["newVersion"]) for e in audit[:3]] == [
            ("rollback", current), ("activate", candidate), ("publish", candidate)]
