"""A second version of the bundled rule set, published and activated next to 1.0.0 through
the admin API of the running service, then rolled back.

The service runs as ``make run`` starts it (gunicorn, 2 workers, SQLite, the
bundled rules published on first start), plus an admin tokens file. Version
1.0.1 is built in a temporary folder from ``rules/neuropathy-k2/1.0.0`` with
its links resolved (``rules/`` itself is not touched): the manifest's
``version``, the CQL ``library ... version``, one card's summary and one
service's title (so that discovery, too, shows which version serves) change. Each worker polls the database for activations on its own, so every
check of "now served" asks several times, to reach both workers.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_hooks.admin.tokens import hash_token
from cds_hooks.cli import EXAMPLE_ANCHOR
from cds_hooks.examples import load_example
from cds_hooks.prefetch import fill_prefetch
from cds_hooks.rulesets.content import RuleSetContent
from tests.admin.conftest import TOKENS, bearer, zip_folder
from tests.service.conftest import validating_session
from tests.service.fhir_server import FhirTestServer
from tests.service.gunicorn_runner import ROOT, serve_like_make_run

pytestmark = pytest.mark.slow

RULESET = "neuropathy-k2"
OLD_DIR = ROOT / "rules" / RULESET / "1.0.0"
OLD_MANIFEST = yaml.safe_load((OLD_DIR / "manifest.yaml").read_text(encoding="utf-8"))
NEW_VERSION = "1.0.1"
# The wording change: the summary of the investigational K2 card and the title of the
# patient-view service (discovery shows titles, not versions). Read from 1.0.0, so that
# edits of 1.0.0's wording don't break this test.
CARD = "k2-investigational"
OLD_SUMMARY = next(c["summary"] for c in OLD_MANIFEST["cards"] if c["id"] == CARD)
NEW_SUMMARY = f"Revised: {OLD_SUMMARY}"
SERVICE = "neuropathy-k2-patient-view"
OLD_TITLE = next(s["title"] for s in OLD_MANIFEST["services"] if s["id"] == SERVICE)
NEW_TITLE = f"{OLD_TITLE} (revised)"
# A patient and hook request on which the changed card shows (its test case expects it).
EXAMPLE = "apixaban-neuropathy"
SWITCH_SECONDS = 5.0  # issue 5: every replica serves an activation within 5 s


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced; fails if it isn't exactly once,
    so that a change of the 1.0.0 files can't make this version silently identical."""
    assert text.count(old) == 1, (old, text.count(old))
    return text.replace(old, new)


def build_new_version(target: Path) -> Path:
    """Write 1.0.1 under ``target`` from the 1.0.0 folder, links resolved; return its folder."""
    folder = target / RULESET / NEW_VERSION
    # symlinks=False copies what the links (valuesets, tests/examples) point at.
    shutil.copytree(OLD_DIR, folder, symlinks=False,
                    ignore=shutil.ignore_patterns(".*", "__pycache__"))
    manifest_path = folder / "manifest.yaml"
    manifest = manifest_path.read_text(encoding="utf-8")
    manifest = re.sub(r"(?m)^version: 1\.0\.0$", f"version: {NEW_VERSION}", manifest, count=1)
    manifest = replace_once(manifest, OLD_SUMMARY, NEW_SUMMARY)
    manifest = replace_once(manifest, OLD_TITLE, NEW_TITLE)
    manifest_path.write_text(manifest, encoding="utf-8")
    loaded = yaml.safe_load(manifest)
    assert loaded["version"] == NEW_VERSION
    assert "{{" not in OLD_SUMMARY  # a fixed text, so that the rendered card can be compared
    cql_path = folder / loaded["library"]
    cql_path.write_text(replace_once(cql_path.read_text(encoding="utf-8"), "version '1.0.0'",
                                     f"version '{NEW_VERSION}'"), encoding="utf-8")
    assert not any(path.is_symlink() for path in folder.rglob("*"))
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The running service with admin tokens of each role, an HTTP session, and the new version."""
    tmp = tmp_path_factory.mktemp("second-version")
    tokens_file = tmp / "admin-tokens.yaml"
    tokens_file.write_text(yaml.safe_dump([{"name": f"{role}-1", "role": role, "sha256": hash_token(token)}
                                           for role, token in TOKENS.items()]), encoding="utf-8")
    new_folder = build_new_version(tmp / "src")
    with serve_like_make_run(tmp, {"CDS_ADMIN_TOKENS_FILE": str(tokens_file)}) as base, \
            validating_session() as http:
        assert http.get(f"{base}/readyz").status_code == 200, (tmp / "serve.log").read_text()[-3000:]
        yield {"base": base, "http": http, "new_folder": new_folder,
               "old_sha": RuleSetContent.from_folder(OLD_DIR).sha256,
               "new_sha": RuleSetContent.from_folder(new_folder).sha256}


PARALLEL = 8  # concurrent calls per probe, each on a new connection
Probe = Callable[[], list[tuple[list[dict], list[dict]]]]  # -> (cards, discovery services) per call


@pytest.fixture(scope="module")
def probe(env: dict[str, Any]) -> Probe:
    """A function that calls the patient-view service (the example, with full prefetch) and
    discovery ``PARALLEL`` times at once, each pair on a new connection; returns (cards,
    discovery services) per pair.

    Each gunicorn worker has its own registry and notices an activation on its own; a kept-alive
    connection would always reach the same worker, so each pair opens its own, and concurrent
    connections are shared out over both workers (which worker answered can't be seen from outside).
    """
    base, http = env["base"], env["http"]
    examples = ROOT / "fhir" / "examples"
    body = load_example(examples / "requests" / f"{EXAMPLE}.patient-view.json", EXAMPLE_ANCHOR)
    bundle = load_example(examples / "patients" / f"{EXAMPLE}.json", EXAMPLE_ANCHOR)
    resources = [entry["resource"] for entry in bundle["entry"]]
    entry = next(s for s in http.get(f"{base}/cds-services").json()["services"] if s["id"] == SERVICE)
    body["prefetch"] = fill_prefetch(entry["prefetch"], body["context"], resources, hook=body["hook"])

    def one(_: int) -> tuple[list[dict], list[dict]]:
        with validating_session() as session:
            response = session.post(f"{base}/cds-services/{SERVICE}", json=body,
                                    headers={"Connection": "close"})
            assert response.status_code == 200, response.text[:1000]
            services = session.get(f"{base}/cds-services", headers={"Connection": "close"}).json()["services"]
            return response.json()["cards"], services

    with FhirTestServer(resources) as ehr, ThreadPoolExecutor(PARALLEL) as pool:
        body["fhirServer"] = ehr.base_url
        yield lambda: list(pool.map(one, range(PARALLEL)))


def stamp(card: dict) -> dict:
    [value] = [v for k, v in card["extension"].items() if k.endswith(".ruleset")]
    return value


def served(probe: Probe, version: str, sha256: str,
           summary: str) -> bool:
    """Whether every answer of one probe, cards and discovery, comes from ``version``."""
    for cards, services in probe():
        card = next((c for c in cards if c["source"]["topic"]["code"] == CARD), None)
        if card is None or card["summary"] != summary:
            return False
        if any(stamp(c) != {"id": RULESET, "version": version, "sha256": sha256} for c in cards):
            return False
        title = next(s["title"] for s in services if s["id"] == SERVICE)
        if title != (NEW_TITLE if version == NEW_VERSION else OLD_TITLE):
            return False
    return True


def wait_until_served(probe: Probe, version: str, sha256: str,
                      summary: str) -> float:
    """Seconds until three probes in a row come wholly from ``version``; fails after
    ``SWITCH_SECONDS``. Later probes must agree too (no worker goes back)."""
    started = time.monotonic()
    in_a_row = 0
    while in_a_row < 3:
        assert time.monotonic() - started < SWITCH_SECONDS, f"{version} not served within {SWITCH_SECONDS} s"
        in_a_row = in_a_row + 1 if served(probe, version, sha256, summary) else 0
        if not in_a_row:
            time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert all(served(probe, version, sha256, summary) for _ in range(3))
    return elapsed


def admin(env: dict[str, Any], method: str, path: str, role: str, *, archive: bytes | None = None) -> Any:
    """An admin API call with ``role``'s token (and ``archive`` as a zip upload)."""
    headers = bearer(role)
    if archive is None:
        return env["http"].request(method, f"{env['base']}/admin/api/{path}", headers=headers)
    headers["Content-Type"] = "application/zip"
    # An upload refused before its body is read (401, 403) leaves gunicorn closing the
    # connection although the answer said keep-alive (it drains at most 64 KiB of an unread
    # body), so uploads go on a connection of their own.
    with validating_session() as session:
        return session.request(method, f"{env['base']}/admin/api/{path}", headers=headers, data=archive)


def test_publish_activate_and_roll_back_a_second_version(env: dict[str, Any],
                                                         probe: Probe) -> None:
    old_sha, new_sha = env["old_sha"], env["new_sha"]
    assert old_sha != new_sha
    # Before: 1.0.0 is the only version, active, and serves the old wording.
    wait_until_served(probe, "1.0.0", old_sha, OLD_SUMMARY)

    # An author publishes 1.0.1 as a zip of its folder: validated, tested, stored as a draft.
    archive = zip_folder(env["new_folder"], top=NEW_VERSION)
    refused = admin(env, "POST", "rulesets", "viewer", archive=archive)
    assert refused.status_code == 403
    published = admin(env, "POST", "rulesets", "author", archive=archive)
    assert published.status_code == 201, published.text[:3000]
    assert {k: published.json()[k] for k in ("id", "version", "sha256", "state")} == {
        "id": RULESET, "version": NEW_VERSION, "sha256": new_sha, "state": "draft"}
    # Published is not served: 1.0.0 still answers.
    assert served(probe, "1.0.0", old_sha, OLD_SUMMARY)

    # An author can't activate; a publisher can, and every worker follows within 5 s.
    assert admin(env, "POST", f"rulesets/{RULESET}/versions/{NEW_VERSION}/activate", "author").status_code == 403
    activated = admin(env, "POST", f"rulesets/{RULESET}/versions/{NEW_VERSION}/activate", "publisher")
    assert activated.status_code == 200, activated.text[:3000]
    assert activated.json()["state"] == "active" and activated.json()["previousVersion"] == "1.0.0"
    wait_until_served(probe, NEW_VERSION, new_sha, NEW_SUMMARY)

    # Both versions are listed; 1.0.0 is kept as a draft, 1.0.1 is active.
    [listed] = [r for r in admin(env, "GET", "rulesets", "viewer").json()["rulesets"] if r["id"] == RULESET]
    assert listed["active"] == {"version": NEW_VERSION, "sha256": new_sha}
    assert {(v["version"], v["sha256"], v["state"]) for v in listed["versions"]} == {
        ("1.0.0", old_sha, "draft"), (NEW_VERSION, new_sha, "active")}

    # Rollback returns to 1.0.0's cards (and discovery) on every worker.
    rolled = admin(env, "POST", f"rulesets/{RULESET}/rollback", "publisher")
    assert rolled.status_code == 200, rolled.text[:3000]
    assert (rolled.json()["version"], rolled.json()["previousVersion"]) == ("1.0.0", NEW_VERSION)
    wait_until_served(probe, "1.0.0", old_sha, OLD_SUMMARY)

    # The audit log (newest first; read oldest first here) shows each step: who, from where,
    # old and new version, content hash.
    entries = admin(env, "GET", f"audit?ruleset={RULESET}", "viewer").json()["entries"]
    steps = [(e["action"], e["actor"], e["role"], e["oldVersion"], e["newVersion"], e["sha256"], e["outcome"])
             for e in reversed(entries)]
    assert steps == [
        # the bundled version, published and activated at first start
        ("publish", "system:bootstrap", "system", None, "1.0.0", old_sha, "ok"),
        ("bootstrap-activate", "system:bootstrap", "system", None, "1.0.0", old_sha, "ok"),
        ("publish", "token:author-1", "author", None, NEW_VERSION, new_sha, "ok"),
        ("activate", "token:publisher-1", "publisher", "1.0.0", NEW_VERSION, new_sha, "ok"),
        ("rollback", "token:publisher-1", "publisher", NEW_VERSION, "1.0.0", old_sha, "ok"),
    ]
    assert all(e["remoteAddr"] == "127.0.0.1" for e in entries if e["actor"].startswith("token:"))
    assert all(e["at"] for e in entries)
