"""Fixed snapshots of served rule sets, for tests and tools that serve given rule sets.

The real registry (``cds_hooks.rulesets.RuleSetRegistry``) follows activations
in the database; these classes implement the same ``current()`` /
``find_service()`` / ``services()`` interface (docs/seams.md) over a fixed
list of compiled rule sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class StaticSnapshot:
    """An immutable view of a fixed list of compiled rule sets."""

    def __init__(self, rulesets: Sequence[Any] = (), generation: int = 0) -> None:
        self.generation = generation
        self.rulesets = tuple(rulesets)
        self._by_id = {}
        for ruleset in self.rulesets:
            for service in ruleset.services:
                self._by_id.setdefault(service.id, (ruleset, service))

    def find_service(self, service_id: str) -> tuple[Any, Any] | None:
        """The rule set and service definition serving ``service_id``."""
        return self._by_id.get(service_id)

    def services(self) -> list[tuple[Any, Any]]:
        """Every (rule set, service) pair, in rule-set order."""
        return [(ruleset, service) for ruleset in self.rulesets for service in ruleset.services]


class StaticRegistry:
    """A registry whose snapshot never changes."""

    def __init__(self, snapshot: StaticSnapshot | None = None) -> None:
        self._snapshot = snapshot or StaticSnapshot()

    def current(self) -> StaticSnapshot:
        return self._snapshot
