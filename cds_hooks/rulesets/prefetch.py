"""Prefetch templates: the CDS Hooks 2.0 token and query subset.

Checked at validation so that a rule set can't ship a template an EHR would
skip or misread. Allowed:

- tokens ``{{context.<field>}}`` for the hook's root-level primitive context
  fields (``patientId``, ``userId``, ``encounterId``) and the four user tokens
  ``{{userPractitionerId}}``, ``{{userPractitionerRoleId}}``,
  ``{{userPatientId}}``, ``{{userRelatedPersonId}}``;
- instance reads ``Type/id`` and type searches ``Type?params`` whose parameters
  are references, tokens (optionally ``:in``), dates with the prefixes
  ``eq lt gt ge le``, ``_count`` and ``_sort`` (``_sort=-date``; the spec
  example's ``sort:desc`` is not valid R4).
"""

from __future__ import annotations

import re

USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
# Root-level primitive context fields usable as prefetch tokens, per hook (library 1.0.1).
CONTEXT_TOKENS: dict[str, frozenset[str]] = {
    "patient-view": frozenset({"userId", "patientId", "encounterId"}),
    "order-select": frozenset({"userId", "patientId", "encounterId"}),
    "order-sign": frozenset({"userId", "patientId", "encounterId"}),
    "appointment-book": frozenset({"userId", "patientId", "encounterId"}),
    "encounter-start": frozenset({"userId", "patientId", "encounterId"}),
    "encounter-discharge": frozenset({"userId", "patientId", "encounterId"}),
    "order-dispatch": frozenset({"patientId"}),
}
_HOOKS_WITH_USER = frozenset(h for h, fields in CONTEXT_TOKENS.items() if "userId" in fields)

_TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_PARAM = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?::(?P<modifier>[A-Za-z-]+))?$")
_SORT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*(?:,-?[A-Za-z_][A-Za-z0-9_-]*)*$")
_PREFIXED = re.compile(r"^(?P<prefix>[a-z]{2})(?=\d)")
_DATE_PREFIXES = {"eq", "lt", "gt", "ge", "le"}
_ALLOWED_SPECIAL = {"_count", "_sort", "_id", "_lastUpdated"}
_PLACEHOLDER = "tokenvalue"


def check_prefetch_template(template: str, hook: str) -> list[str]:
    """Every reason ``template`` is outside the CDS Hooks 2.0 subset (empty if fine)."""
    problems: list[str] = []
    allowed_context = CONTEXT_TOKENS.get(hook, frozenset())

    def token(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("context."):
            field = name[len("context."):]
            if "." in field:
                problems.append(f"nested token {{{{{name}}}}} is not allowed in CDS Hooks 2.0")
            elif field not in allowed_context:
                problems.append(f"{{{{{name}}}}} is not a prefetch token of the {hook} hook "
                                f"(allowed: {', '.join(sorted(allowed_context))})")
        elif name in USER_TOKENS:
            if hook not in _HOOKS_WITH_USER:
                problems.append(f"{{{{{name}}}}} needs a userId, which the {hook} hook does not have")
        elif "(" in name:
            problems.append(f"FHIRPath token {{{{{name}}}}} exists only in CDS Hooks 3.0")
        else:
            problems.append(f"unknown prefetch token {{{{{name}}}}}")
        return _PLACEHOLDER

    text = _TOKEN.sub(token, template.strip())
    if "{{" in text or "}}" in text:
        problems.append("unbalanced '{{' or '}}'")
        return problems
    path, _, query = text.partition("?")
    segments = path.split("/")
    if not _TYPE.match(segments[0]):
        problems.append(f"{segments[0]!r} is not a FHIR resource type")
    elif len(segments) == 2:
        if not _ID.match(segments[1]):
            problems.append(f"{segments[1]!r} is not a resource id")
        if query:
            problems.append("an instance read takes no search parameters")
    elif len(segments) > 2:
        problems.append("only instance reads (Type/id) and type searches (Type?...) are allowed")
    if query:
        for part in query.split("&"):
            problems.extend(_check_parameter(part))
    return problems


def _check_parameter(part: str) -> list[str]:
    name_part, eq, value = part.partition("=")
    if not eq or not value:
        return [f"search parameter {part!r} has no value"]
    match = _PARAM.match(name_part)
    if not match:
        if "." in name_part:
            return [f"chained parameter {name_part!r} is outside the prefetch query subset"]
        return [f"{name_part!r} is not a search parameter name"]
    name, modifier = match["name"], match["modifier"]
    if name == "sort" or modifier in ("desc", "asc"):
        return [f"{name_part!r} is not valid FHIR R4: use _sort=-date"]
    if modifier and modifier != "in":
        return [f"modifier :{modifier} is outside the prefetch query subset (only :in)"]
    if name.startswith("_") and name not in _ALLOWED_SPECIAL:
        return [f"{name} is outside the prefetch query subset"]
    if name == "_count" and not value.isdigit():
        return [f"_count must be a number, not {value!r}"]
    if name == "_sort" and not _SORT.match(value):
        return [f"_sort value {value!r} is not a list of parameter names"]
    prefix = _PREFIXED.match(value)
    if prefix and prefix["prefix"] not in _DATE_PREFIXES:
        return [f"date prefix {prefix['prefix']!r} is outside the prefetch query subset (eq lt gt ge le)"]
    return []
