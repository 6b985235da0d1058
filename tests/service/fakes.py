"""A small in-test rule set implementing the ``CompiledRuleSet`` interface (docs/seams.md).

It lets the service be tested on its own: the cards depend on the data in a
way the tests can predict, and they follow the card contract (uuid, topic,
rule-set stamp).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import cql

RULESET_URL = "https://neuropathy-cds.example.org/rulesets/test-rules"
EXTENSION_KEY = "org.example.neuropathy-cds.ruleset"


@dataclass(frozen=True)
class FakeService:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    required: tuple[str, ...]
    usage_requirements: str | None = None
    card_ids: tuple[str, ...] = ()

    def discovery_entry(self) -> dict:
        entry = {"hook": self.hook, "title": self.title, "description": self.description, "id": self.id}
        if self.prefetch:
            entry["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry


@dataclass
class FakeRuleSet:
    """Cards: ``data-summary`` always (counts what it saw), ``draft-orders`` for order hooks,
    ``has-condition`` with a suggestion when a Condition is present."""

    id: str = "test-rules"
    version: str = "1.0.0"
    sha256: str = "a" * 64
    url: str = RULESET_URL
    title: str = "Test rules"
    services: tuple[FakeService, ...] = ()
    calls: list = field(default_factory=list)
    delay: float = 0.0
    fail_with: Exception | None = None
    bad_cards: bool = False

    def service(self, service_id: str) -> FakeService | None:
        return next((s for s in self.services if s.id == service_id), None)

    def evaluate(self, service_id: str, *, hook: str, context: Mapping, resources: Sequence[dict],
                 now: datetime | None = None, deadline: float | None = None) -> list[dict]:
        self.calls.append({"service": service_id, "hook": hook, "context": context,
                           "resources": list(resources), "deadline": deadline})
        if self.delay:
            time.sleep(self.delay)
            if deadline is not None and time.monotonic() > deadline:
                raise cql.CqlTimeoutError("evaluation deadline passed")
        if self.fail_with is not None:
            raise self.fail_with
        types: dict[str, int] = {}
        for resource in resources:
            types[resource["resourceType"]] = types.get(resource["resourceType"], 0) + 1
        seen = ", ".join(f"{n} {t}" for t, n in sorted(types.items())) or "no data"
        cards = [self._card("data-summary", f"Seen: {seen}"[:139])]
        drafts = (context.get("draftOrders") or {}).get("entry") or []
        if drafts:
            cards.append(self._card("draft-orders", f"{len(drafts)} draft order(s)"))
        if "Condition" in types:
            card = self._card("has-condition", "A condition is on record", indicator="warning")
            card["selectionBehavior"] = "at-most-one"
            card["suggestions"] = [{
                "label": "Remove the draft order", "uuid": str(uuid.uuid4()), "isRecommended": True,
                "actions": [{"type": "delete", "description": "Remove it", "resourceId": "MedicationRequest/x"}],
            }]
            card["overrideReasons"] = [{"system": "https://example.org/override", "code": "not-relevant",
                                        "display": "Not relevant"}]
            cards.append(card)
        if self.bad_cards:
            cards[0]["summary"] = "x" * 140
        return cards

    def _card(self, card_id: str, summary: str, indicator: str = "info") -> dict:
        return {
            "uuid": str(uuid.uuid4()),
            "summary": summary,
            "indicator": indicator,
            "source": {"label": "Test rules", "topic": {"system": self.url, "code": card_id}},
            "extension": {EXTENSION_KEY: {"id": self.id, "version": self.version, "sha256": self.sha256}},
        }


PATIENT_VIEW = FakeService(
    id="test-patient-view", hook="patient-view", title="Test patient-view",
    description="Counts the data it sees",
    prefetch={"patient": "Patient/{{context.patientId}}",
              "conditions": "Condition?patient={{context.patientId}}",
              "medications": "MedicationRequest?patient={{context.patientId}}&status=active"},
    required=("patient", "conditions", "medications"),
    card_ids=("data-summary", "has-condition"))

ORDER_SELECT = FakeService(
    id="test-order-select", hook="order-select", title="Test order-select",
    description="Looks at draft orders",
    prefetch={"patient": "Patient/{{context.patientId}}",
              "conditions": "Condition?patient={{context.patientId}}"},
    required=("patient",),
    card_ids=("data-summary", "draft-orders", "has-condition"))

ORDER_SIGN = FakeService(
    id="test-order-sign", hook="order-sign", title="Test order-sign",
    description="Looks at draft orders before signing",
    prefetch={"patient": "Patient/{{context.patientId}}",
              "encounter": "Encounter/{{context.encounterId}}",
              "user": "Practitioner/{{userPractitionerId}}"},
    required=("patient",),
    card_ids=("data-summary", "draft-orders"))

# The CDS Hooks spec's own example service, for replaying its example request.
PATIENT_GREETING = FakeService(
    id="patient-greeting", hook="patient-view", title="Patient greeting",
    description="Display which patient the user is currently working with",
    prefetch={"patientToGreet": "Patient/{{context.patientId}}"},
    required=("patientToGreet",),
    card_ids=("data-summary",))


def fake_ruleset(**changes) -> FakeRuleSet:
    """The test rule set with all four services."""
    changes.setdefault("services", (PATIENT_VIEW, ORDER_SELECT, ORDER_SIGN, PATIENT_GREETING))
    return FakeRuleSet(**changes)
