"""A loaded, compiled rule-set version and the cards it produces.

Everything a hook call needs is prepared when the version is loaded: the CQL
library is compiled, templates are parsed, suppression is put in order. A call
then only evaluates the library once and renders the cards of one service.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from .content import RuleSetContent
from .humanize import humanize, markdown_escape
from .manifest import Card, Manifest
from .templates import Template

# The key of the rule-set stamp in every card's ``extension`` (reverse-domain,
# one key for all rule sets so that consumers find it without knowing the set).
RULESET_EXTENSION_KEY = "org.example.neuropathy-cds.ruleset"
SUMMARY_LIMIT = 139
ELLIPSIS = "\u2026"

# Parameters the service supplies on every call when the library declares them.
HOOK_PARAMETER = "Hook"
DRAFT_ORDERS_PARAMETER = "Draft Orders"


class RuleSetEvaluationError(RuntimeError):
    """A call that the rule set can't answer (unknown service, hook mismatch)."""


def strip_empty(value: Any) -> Any:
    """Drop ``None``, empty strings, lists and objects, recursively (CDS Hooks
    forbids them in responses)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = strip_empty(item)
            if item is None or item == "" or item == [] or item == {}:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        items = [strip_empty(item) for item in value]
        return [item for item in items if not (item is None or item == "" or item == [] or item == {})]
    return value


def cap_summary(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """One line of at most ``limit`` characters (code points), cut at a word
    boundary with an ellipsis when too long."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + ELLIPSIS


def _plain(value: Any) -> str:
    return humanize(value)


def _markdown(value: Any) -> str:
    return markdown_escape(humanize(value))


@dataclass(frozen=True)
class ServiceDefinition:
    """One CDS service (a discovery entry) provided by a rule set."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    required: tuple[str, ...]
    usage_requirements: str | None
    card_ids: tuple[str, ...]

    def discovery_entry(self) -> dict:
        """The entry for ``GET /cds-services``, JSON-ready, empty values stripped."""
        return strip_empty({
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
            "usageRequirements": self.usage_requirements,
        })


@dataclass(frozen=True)
class _ResourceTemplate:
    """A FHIR resource in a suggestion whose string fields are templates."""

    value: Any

    def render(self, values: Mapping[str, Any]) -> Any:
        return _render_structure(self.value, values)


def _render_structure(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, Template):
        return value.render(values, _plain)
    if isinstance(value, dict):
        return {k: _render_structure(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render_structure(v, values) for v in value]
    return value


@dataclass(frozen=True)
class ActionDefinition:
    type: str
    description: Template
    resource: _ResourceTemplate | None = None
    resource_id: Template | None = None
    resource_ids: str | None = None  # a define giving List<String>


@dataclass(frozen=True)
class SuggestionDefinition:
    label: Template
    when: str | None
    is_recommended: bool | None
    actions: tuple[ActionDefinition, ...]


@dataclass(frozen=True)
class CardDefinition:
    """A card of the manifest with its templates parsed."""

    id: str
    when: str
    indicator: str
    summary: Template
    detail: Template | None
    source: Mapping[str, Any]
    links: tuple[tuple[Template, Mapping[str, Any]], ...]
    override_reasons: tuple[Mapping[str, str], ...]
    selection_behavior: str | None
    suggestions: tuple[SuggestionDefinition, ...]
    suppressed_by: tuple[str, ...]

    @staticmethod
    def from_manifest(card: Card, templates: Mapping[tuple, Template]) -> CardDefinition:
        """Build from a validated manifest card and its parsed templates (keyed
        by their path inside the card, as the validator parsed them)."""
        suggestions = []
        for si, suggestion in enumerate(card.suggestions):
            actions = []
            for ai, action in enumerate(suggestion.actions):
                base = ("suggestions", si, "actions", ai)
                resource = None
                if action.resource is not None:
                    resource = _ResourceTemplate(_attach_templates(action.resource, (*base, "resource"), templates))
                actions.append(ActionDefinition(
                    type=action.type,
                    description=templates[(*base, "description")],
                    resource=resource,
                    resource_id=templates.get((*base, "resourceId")),
                    resource_ids=action.resourceIds,
                ))
            suggestions.append(SuggestionDefinition(
                label=templates[("suggestions", si, "label")],
                when=suggestion.when,
                is_recommended=suggestion.isRecommended,
                actions=tuple(actions),
            ))
        source = MappingProxyType(strip_empty(card.source.model_dump()))
        links = tuple(
            (templates[("links", li, "label")],
             MappingProxyType(strip_empty(link.model_dump(exclude={"label"}))))
            for li, link in enumerate(card.links))
        return CardDefinition(
            id=card.id,
            when=card.when,
            indicator=card.indicator,
            summary=templates[("summary",)],
            detail=templates.get(("detail",)),
            source=source,
            links=links,
            override_reasons=tuple(MappingProxyType(r.model_dump()) for r in card.overrideReasons),
            selection_behavior=card.selectionBehavior,
            suggestions=tuple(suggestions),
            suppressed_by=tuple(card.suppressedBy),
        )


def _attach_templates(value: Any, path: tuple, templates: Mapping[tuple, Template]) -> Any:
    if isinstance(value, dict):
        return {k: _attach_templates(v, (*path, k), templates) for k, v in value.items()}
    if isinstance(value, list):
        return [_attach_templates(v, (*path, i), templates) for i, v in enumerate(value)]
    if isinstance(value, str):
        return templates[path]
    return value


def draft_medication_requests(context: Mapping[str, Any]) -> list[dict]:
    """The MedicationRequests of ``context.draftOrders`` (all of them; for
    order-select too, not only the selections)."""
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict):
        return []
    out = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "MedicationRequest":
            out.append(resource)
    return out


@dataclass(frozen=True, eq=False)
class CompiledRuleSet:
    """A rule-set version ready to serve. Immutable; :meth:`evaluate` is thread-safe."""

    id: str
    version: str
    sha256: str
    url: str
    title: str
    manifest: Manifest
    content: RuleSetContent
    library: Any  # the compiled CQL library (engine object)
    valuesets: tuple[dict, ...]
    parameters: Mapping[str, Any]
    services: tuple[ServiceDefinition, ...]
    cards: Mapping[str, CardDefinition]
    # Card ids in an order where every card comes after the cards that suppress it.
    suppression_order: tuple[str, ...]
    _services_by_id: Mapping[str, ServiceDefinition] = field(init=False, repr=False)
    _evaluate_takes_deadline: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_services_by_id", MappingProxyType({s.id: s for s in self.services}))
        try:
            takes = "deadline" in inspect.signature(self.library.evaluate).parameters
        except (TypeError, ValueError):
            takes = False
        object.__setattr__(self, "_evaluate_takes_deadline", takes)

    def __repr__(self) -> str:
        return f"CompiledRuleSet({self.id} {self.version} sha256={self.sha256[:12]})"

    @property
    def stamp(self) -> dict[str, str]:
        """The rule-set stamp put in every card's extension."""
        return {"id": self.id, "version": self.version, "sha256": self.sha256}

    def service(self, service_id: str) -> ServiceDefinition | None:
        """The service with this id, or None."""
        return self._services_by_id.get(service_id)

    def evaluate_defines(self, *, hook: str, context: Mapping[str, Any], resources: Sequence[dict],
                         now: datetime | None = None, deadline: float | None = None) -> dict[str, Any]:
        """Evaluate the CQL library once for a hook call: define name → value."""
        parameters = dict(self.parameters)
        declared = getattr(self.library, "parameters", {}) or {}
        if HOOK_PARAMETER in declared:
            parameters[HOOK_PARAMETER] = hook
        if DRAFT_ORDERS_PARAMETER in declared:
            parameters[DRAFT_ORDERS_PARAMETER] = draft_medication_requests(context)
        moment = (now or datetime.now(UTC)).isoformat()
        kwargs: dict[str, Any] = {}
        if deadline is not None and self._evaluate_takes_deadline:
            kwargs["deadline"] = deadline
        return self.library.evaluate(list(resources), patient_id=context.get("patientId"),
                                     valuesets=self.valuesets, parameters=parameters, now=moment, **kwargs)

    def evaluate(self, service_id: str, *, hook: str, context: Mapping[str, Any], resources: Sequence[dict],
                 now: datetime | None = None, deadline: float | None = None) -> list[dict]:
        """Cards for one hook call, JSON-ready, in display order.

        ``resources`` are the FHIR resources gathered for the patient (prefetch
        or FHIR server), not the draft orders, which come from ``context``.
        Raises :class:`RuleSetEvaluationError` for an unknown service or a
        hook the service doesn't handle, and the engine's ``CqlError`` when
        evaluation fails.
        """
        service = self.service(service_id)
        if service is None:
            raise RuleSetEvaluationError(f"rule set {self.id} {self.version} has no service {service_id!r}")
        if service.hook != hook:
            raise RuleSetEvaluationError(f"service {service_id!r} handles {service.hook}, not {hook}")
        values = self.evaluate_defines(hook=hook, context=context, resources=resources, now=now,
                                       deadline=deadline)
        return self.render_cards(service, values)

    def visible_cards(self, service: ServiceDefinition, values: Mapping[str, Any]) -> list[str]:
        """Card ids that show for these define values, after suppression, in display order."""
        in_service = set(service.card_ids)
        visible: dict[str, bool] = {}
        for card_id in self.suppression_order:
            if card_id not in in_service:
                continue
            card = self.cards[card_id]
            shows = values.get(card.when) is True
            visible[card_id] = shows and not any(visible.get(other) for other in card.suppressed_by)
        return [card_id for card_id in service.card_ids if visible.get(card_id)]

    def render_cards(self, service: ServiceDefinition, values: Mapping[str, Any]) -> list[dict]:
        """Build the cards of ``service`` from evaluated define values."""
        return [self._render_card(self.cards[card_id], values)
                for card_id in self.visible_cards(service, values)]

    def _render_card(self, card: CardDefinition, values: Mapping[str, Any]) -> dict:
        source = dict(card.source)
        source["topic"] = {"system": self.url, "code": card.id}
        suggestions = []
        for suggestion in card.suggestions:
            if suggestion.when is not None and values.get(suggestion.when) is not True:
                continue
            actions = []
            for action in suggestion.actions:
                description = action.description.render(values, _plain)
                if action.resource_ids is not None:
                    references = values.get(action.resource_ids) or []
                    actions.extend({"type": action.type, "description": description, "resourceId": ref}
                                   for ref in references if isinstance(ref, str) and ref)
                elif action.resource_id is not None:
                    ref = action.resource_id.render(values, _plain)
                    if ref:
                        actions.append({"type": action.type, "description": description, "resourceId": ref})
                else:
                    assert action.resource is not None
                    actions.append({"type": action.type, "description": description,
                                    "resource": action.resource.render(values)})
            # A suggestion with nothing to do would be a button that does nothing.
            if actions:
                suggestions.append({
                    "label": cap_summary(suggestion.label.render(values, _plain), 200),
                    "uuid": str(uuid.uuid4()),
                    "isRecommended": suggestion.is_recommended,
                    "actions": actions,
                })
        rendered = {
            "uuid": str(uuid.uuid4()),
            "summary": cap_summary(card.summary.render(values, _plain)),
            "detail": card.detail.render(values, _markdown).strip() if card.detail else None,
            "indicator": card.indicator,
            "source": source,
            "suggestions": suggestions,
            "selectionBehavior": card.selection_behavior if suggestions else None,
            "overrideReasons": [dict(reason) for reason in card.override_reasons],
            "links": [{"label": label.render(values, _plain), **link} for label, link in card.links],
            "extension": {RULESET_EXTENSION_KEY: self.stamp},
        }
        return strip_empty(rendered)
