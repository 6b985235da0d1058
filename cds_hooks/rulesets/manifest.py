"""The rule-set manifest (``manifest.yaml``) as pydantic models.

These models are the single definition of the manifest's structure: the loader
validates with them, and the JSON Schema shipped for editors
(``cds_hooks/schemas/ruleset-manifest.schema.json``) is generated from them by
:func:`manifest_json_schema`. Rules that need the CQL library or several parts
of the manifest at once (defines exist, ids unique, ...) live in
:mod:`cds_hooks.rulesets.validate`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Semantic Versioning 2.0.0, the regular expression suggested by semver.org.
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
RULESET_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
CARD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
SERVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ABSOLUTE_URL_PATTERN = r"^https?://[^\s/$.?#][^\s]*$"

# Hooks of the CDS Hooks library 1.0.1.
HOOKS = ("patient-view", "order-select", "order-sign", "order-dispatch", "appointment-book",
         "encounter-start", "encounter-discharge")

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "ruleset-manifest.schema.json"

RuleSetId = Annotated[str, StringConstraints(pattern=RULESET_ID_PATTERN, max_length=100)]
CardId = Annotated[str, StringConstraints(pattern=CARD_ID_PATTERN, max_length=100)]
ServiceId = Annotated[str, StringConstraints(pattern=SERVICE_ID_PATTERN, max_length=100)]
Version = Annotated[str, StringConstraints(pattern=SEMVER_PATTERN, max_length=50)]
AbsoluteUrl = Annotated[str, StringConstraints(pattern=ABSOLUTE_URL_PATTERN, max_length=2000)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
# A CQL define name, exactly as written in the library (spaces allowed).
DefineName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^{}\n]+$")]
Template = Annotated[str, Field(description="Mustache-style template: {{Define Name}}, "
                                            "{{#Define}}...{{/Define}}, {{^Define}}...{{/Define}}")]


class _Model(BaseModel):
    # Unknown keys are errors: in a clinical rule set a misspelt key silently
    # ignored is a card that silently never shows.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CqlValue(_Model):
    """A parameter value written as a CQL expression, e.g. ``{cql: "12 months"}``."""

    cql: NonEmpty


ParameterValue = bool | int | float | str | CqlValue


class Source(_Model):
    label: NonEmpty
    url: AbsoluteUrl | None = None
    icon: AbsoluteUrl | None = Field(None, description="absolute URL of a 100x100 PNG")


class Link(_Model):
    label: Template
    url: AbsoluteUrl
    type: Literal["absolute", "smart"] = "absolute"
    appContext: str | None = Field(None, description="only for smart links")
    autolaunchable: bool | None = None


class OverrideReason(_Model):
    system: NonEmpty
    code: NonEmpty
    display: NonEmpty


class Action(_Model):
    type: Literal["create", "update", "delete"]
    description: Template
    resource: dict[str, Any] | None = Field(
        None, description="create/update: a FHIR resource; its string fields may be templates")
    resourceId: Template | None = Field(None, description="delete: one relative reference, e.g. MedicationRequest/1")
    resourceIds: DefineName | None = Field(
        None, description="delete: a define giving a List<String> of relative references; one action each")


class Suggestion(_Model):
    label: Template
    when: DefineName | None = Field(None, description="Boolean define; the suggestion is offered only when true")
    isRecommended: bool | None = None
    actions: list[Action] = Field(min_length=1)


class Card(_Model):
    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"suggestions": ["selectionBehavior"]}})

    id: CardId
    when: DefineName = Field(description="Boolean define; the card shows when it is true")
    indicator: Literal["info", "warning", "critical"]
    summary: Template = Field(min_length=1)
    detail: Template | None = None
    source: Source
    links: list[Link] = Field(default_factory=list)
    overrideReasons: list[OverrideReason] = Field(default_factory=list)
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    suggestions: list[Suggestion] = Field(default_factory=list)
    suppressedBy: list[CardId] = Field(default_factory=list)


class Service(_Model):
    id: ServiceId
    hook: Literal[HOOKS]  # type: ignore[valid-type]
    title: NonEmpty
    description: NonEmpty
    prefetch: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")], NonEmpty] = Field(
        default_factory=dict)
    usageRequirements: str | None = None
    required: list[str] | None = Field(
        None, description="prefetch keys without which the service answers 412 (default: all keys)")
    cards: list[CardId] = Field(min_length=1, description="cards this service may return, in display order")


class Manifest(_Model):
    """The whole manifest."""

    id: RuleSetId
    version: Version
    title: NonEmpty
    description: NonEmpty
    publisher: str | None = None
    url: AbsoluteUrl = Field(description="canonical URL; source.topic.system of every card")
    status: Literal["draft", "active"] = "draft"
    library: Annotated[str, StringConstraints(pattern=r"^[^/\\][^\\]*\.cql$")]
    valuesets: str | list[NonEmpty] | None = Field(
        None, description="a folder of ValueSet JSON, or a list of files, relative to the version folder")
    parameters: dict[NonEmpty, ParameterValue] = Field(default_factory=dict)
    services: list[Service] = Field(min_length=1)
    cards: list[Card] = Field(min_length=1)


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of the manifest, generated from :class:`Manifest`."""
    schema = Manifest.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://neuropathy-cds.example.org/schemas/ruleset-manifest.schema.json",
        **schema,
        "title": "CDS Hooks rule-set manifest",
    }


def write_json_schema(path: Path = SCHEMA_PATH) -> None:
    """Regenerate the shipped schema file (``python -m cds_hooks.rulesets.manifest``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest_json_schema(), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_json_schema()
    print(f"wrote {SCHEMA_PATH}")
