"""First start: publish the bundled rule sets and activate the newest of each."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .content import ContentError, RuleSetContent
from .store import Actor, LifecycleError, RuleSetStore, semver_key

log = logging.getLogger(__name__)

BOOTSTRAP_ACTOR = Actor("system:bootstrap", role="system")


@dataclass
class BootstrapReport:
    """What bootstrapping did: versions published and activated, and what failed."""

    skipped: bool = False
    published: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def bundled_folders(rules_dir: Path) -> list[Path]:
    """The version folders ``rules/<id>/<version>/`` that hold a manifest."""
    if not rules_dir.is_dir():
        return []
    return sorted(p for p in rules_dir.glob("*/*") if p.is_dir() and (p / "manifest.yaml").exists())


def bootstrap_bundled(database: Any, rules_dir: Path, *, cql_engine: Any = None) -> BootstrapReport:
    """On a database where no rule set was ever activated, publish every bundled
    version (validated and tested like any other) and activate the newest
    version of each rule set. Does nothing otherwise. Never raises for a
    broken bundled version: it is logged and left out, so the service still
    starts (and ``/readyz`` says nothing is served).

    Safe when several processes start at once: publishing is idempotent and
    activation of an already active version is a no-op.
    """
    store = RuleSetStore(database, cql_engine=cql_engine)
    report = BootstrapReport()
    if store.ever_activated():
        report.skipped = True
        return report
    published: dict[str, list[str]] = defaultdict(list)
    for folder in bundled_folders(Path(rules_dir)):
        label = f"{folder.parent.name}/{folder.name}"
        try:
            content = RuleSetContent.from_folder(folder)
            result = store.publish(content, BOOTSTRAP_ACTOR)
        except (ContentError, LifecycleError) as exc:
            problems = getattr(exc, "problems", ())
            report.failed[label] = str(exc)
            log.error("bundled rule set %s was not published: %s%s", label, exc,
                      "".join(f"\n  {p}" for p in problems if p.is_error))
            continue
        published[result.version.ruleset_id].append(result.version.version)
        if result.changed:
            report.published.append(label)
    for ruleset_id, versions in published.items():
        newest = max(versions, key=semver_key)
        if any(v.ruleset_id == ruleset_id for v in store.active_versions()):
            continue
        try:
            result = store.activate(ruleset_id, newest, BOOTSTRAP_ACTOR, reason="initial")
        except LifecycleError as exc:
            report.failed[f"{ruleset_id}/{newest}"] = str(exc)
            log.error("bundled rule set %s %s was not activated: %s", ruleset_id, newest, exc)
            continue
        if result.changed:
            report.activated.append(f"{ruleset_id}/{newest}")
            log.info("activated bundled rule set %s %s", ruleset_id, newest)
    return report
