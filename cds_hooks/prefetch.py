"""Prefetch: render templates, read what the client sent, fetch what it didn't.

Each prefetch key is handled exactly as the CDS Hooks decision table says
(``../shared/cds-hooks/SPEC_CHECKLIST.md``):

============================  =============================================================
what arrived                  what happens here
============================  =============================================================
key absent                    fetched from ``fhirServer`` (with the bearer token if given);
                              impossible and the key is required: 412
``null``                      no data; not fetched again
Bundle (maybe empty)          its resources are used; ``next`` links are followed on
                              ``fhirServer`` (under the same deadline, up to a page cap)
                              unless the template asks for one page (``_count``);
                              more pages but no way to fetch them: the key failed
a single resource             used
OperationOutcome, or one      the client hit an error: not fetched again; the key failed
with an error inside a Bundle (412 when required, no data otherwise)
============================  =============================================================

A template whose tokens can't be resolved for this call (``{{context.encounterId}}``
without an encounter, ``{{userPatientId}}`` when the user is a Practitioner) is
skipped, as the spec tells clients to do: the data it names doesn't exist.

Medicines referenced by id (``medicationReference`` to ``Medication/x``) are
part of what the rules need, but CDS Hooks 2.0 templates can't ask for them.
After the keys are gathered, Medications referenced by the gathered resources
or by the hook's draft orders that are neither in the data nor contained are
read from ``fhirServer`` under the same deadline (``resolve_medications``);
one that can't be had (no server, not found, fetch failed) is missing
required data, like a required key: the call answers 412 rather than
evaluate rules on a medicine it can't see.

Templates are compiled once per service (``PlanCache``), so a call only
substitutes values.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .fhir_client import FetchJob, FhirClient, bundle_resources, next_link, outcome_is_error, within_base
from .models import FHIR_ID, RELATIVE_REFERENCE, HookContext

_TOKEN = re.compile(r"\{\{(.*?)\}\}")
# Context fields the spec marks as prefetch tokens for the patient and order hooks.
CONTEXT_TOKENS = frozenset({"patientId", "userId", "encounterId"})
# User tokens: the bare id of the user when ``userId`` is of that type.
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class PrefetchTemplateError(ValueError):
    """A template uses a token outside CDS Hooks 2.0."""


class PrefetchBadRequest(ValueError):
    """A prefetch value in the request is not JSON the decision table knows (400)."""


@dataclass(frozen=True)
class PrefetchTemplate:
    """One compiled template: literal text and tokens, alternating."""

    key: str
    text: str
    parts: tuple[str, ...]  # even indexes literal text, odd indexes token names
    # A template with ``_count`` asks for the first page only ("the latest B12"):
    # its next links are not followed.
    first_page_only: bool = False

    @classmethod
    def compile(cls, key: str, text: str) -> PrefetchTemplate:
        """Split ``text`` into literals and tokens; raise ``PrefetchTemplateError`` on a bad token."""
        pieces = _TOKEN.split(text)
        for index in range(1, len(pieces), 2):
            token = pieces[index].strip()
            pieces[index] = token
            if token.startswith("context."):
                name = token[len("context."):]
                if name not in CONTEXT_TOKENS:
                    raise PrefetchTemplateError(
                        f"prefetch {key!r}: {{{{{token}}}}} is not a prefetch token "
                        f"(context tokens are {', '.join(sorted('context.' + t for t in CONTEXT_TOKENS))})")
            elif token not in USER_TOKENS:
                raise PrefetchTemplateError(f"prefetch {key!r}: unknown token {{{{{token}}}}}")
        if "{{" in pieces[-1] or any("{{" in p or "}}" in p for p in pieces[0::2]):
            raise PrefetchTemplateError(f"prefetch {key!r}: unbalanced braces")
        query = text.partition("?")[2]
        first_page_only = any(p.split("=", 1)[0] == "_count" for p in query.split("&"))
        return cls(key, text, tuple(pieces), first_page_only)

    def render(self, context: HookContext) -> str | None:
        """The relative FHIR URL for this call, or None when a token has no value."""
        out = []
        for index, piece in enumerate(self.parts):
            if index % 2 == 0:
                out.append(piece)
                continue
            value = token_value(piece, context)
            if value is None:
                return None
            out.append(value)
        return "".join(out)


def token_value(token: str, context: HookContext) -> str | None:
    """The value of one prefetch token in ``context``, or None if it has none.

    Values are checked to be FHIR ids (or ``Type/id`` for ``userId``) because
    they become part of a URL.
    """
    if token.startswith("context."):
        value = getattr(context, token[len("context."):], None)
        if not isinstance(value, str):
            return None
        if token == "context.userId":
            return value if RELATIVE_REFERENCE.match(value) else None
        return value if FHIR_ID.match(value) else None
    match = RELATIVE_REFERENCE.match(context.userId)
    if match and match["type"] == USER_TOKENS.get(token):
        return match["id"]
    return None


@dataclass(frozen=True)
class PrefetchPlan:
    """A service's compiled templates and which keys it can't do without."""

    templates: tuple[PrefetchTemplate, ...]
    required: frozenset[str]

    @classmethod
    def compile(cls, prefetch: Mapping[str, str], required: Sequence[str]) -> PrefetchPlan:
        """Compile every template; ``required`` keys not in ``prefetch`` are ignored."""
        templates = tuple(PrefetchTemplate.compile(key, text) for key, text in prefetch.items())
        return cls(templates, frozenset(required) & {t.key for t in templates})


class PlanCache:
    """Compiled plans by (rule-set hash, service id): compiled on first use, then reused."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, str], PrefetchPlan] = {}
        self._lock = threading.Lock()

    def get(self, ruleset_sha256: str, service: Any) -> PrefetchPlan:
        key = (ruleset_sha256, service.id)
        plan = self._plans.get(key)
        if plan is None:
            plan = PrefetchPlan.compile(service.prefetch or {}, service.required or ())
            with self._lock:
                self._plans[key] = plan
        return plan


@dataclass
class KeyOutcome:
    """What happened to one prefetch key."""

    key: str
    source: str  # prefetch | null | fetched | skipped | failed
    required: bool
    count: int = 0
    problem: str | None = None


@dataclass
class GatherResult:
    """The resources gathered for a call and, per key, where they came from."""

    resources: list[dict] = field(default_factory=list)
    outcomes: dict[str, KeyOutcome] = field(default_factory=dict)
    # Referenced Medications: how many were read from fhirServer, and which
    # couldn't be had (no server, not found, or the fetch failed).
    medications_fetched: int = 0
    medications_unresolved: list[str] = field(default_factory=list)

    def missing_required(self) -> list[KeyOutcome]:
        """Required data that couldn't be had: the call must answer 412.

        A Medication that an order references but that couldn't be read counts
        too: without it the order's medicine is unknown, and rules that look for
        (say) warfarin would answer as if it weren't there.
        """
        missing = [o for o in self.outcomes.values() if o.required and o.source == "failed"]
        if self.medications_unresolved:
            count = len(self.medications_unresolved)
            missing.append(KeyOutcome(
                "referenced Medication", "failed", True,
                problem=f"{count} Medication resource{'s' if count > 1 else ''} referenced by the patient's "
                        "medicines or draft orders could not be read (no fhirServer, or the read failed)"))
        return missing

    def failed(self) -> list[KeyOutcome]:
        return [o for o in self.outcomes.values() if o.source == "failed"]


def gather(plan: PrefetchPlan, prefetch: Mapping[str, Any] | None, context: HookContext, *,
           fhir_server: str | None, access_token: str | None, client: FhirClient | None,
           deadline: float) -> GatherResult:
    """Apply the decision table to every key of ``plan``; fetch what's missing in parallel."""
    prefetch = prefetch or {}
    result = GatherResult()
    jobs: dict[str, FetchJob] = {}
    for template in plan.templates:
        key = template.key
        required = key in plan.required
        if key in prefetch:
            value = prefetch[key]
            if value is None:
                result.outcomes[key] = KeyOutcome(key, "null", required)
                continue
            if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                raise PrefetchBadRequest(f"prefetch.{key} must be a FHIR resource, a Bundle or null")
            kind = value["resourceType"]
            if kind == "OperationOutcome":
                problem = "the client reported an error fetching it (OperationOutcome)"
                if not outcome_is_error(value):
                    # An informational outcome instead of data still means no data was given.
                    problem = "the client sent an OperationOutcome instead of data"
                result.outcomes[key] = KeyOutcome(key, "failed", required, problem=problem)
                continue
            if kind != "Bundle":
                result.resources.append(value)
                result.outcomes[key] = KeyOutcome(key, "prefetch", required, count=1)
                continue
            resources, problem = bundle_resources(value)
            if problem:
                result.outcomes[key] = KeyOutcome(key, "failed", required, problem=f"in the prefetch sent: {problem}")
                continue
            following = None if template.first_page_only else next_link(value)
            if following is None:
                result.resources.extend(resources)
                result.outcomes[key] = KeyOutcome(key, "prefetch", required, count=len(resources))
                continue
            url = within_base(following, fhir_server) if fhir_server else None
            if url is None:
                reason = ("the Bundle has more pages but there is no fhirServer to fetch them from"
                          if not fhir_server else "the Bundle's next link points outside fhirServer")
                result.outcomes[key] = KeyOutcome(key, "failed", required, problem=reason)
                continue
            jobs[key] = FetchJob(url, initial=tuple(resources))
            continue
        query = template.render(context)
        if query is None:
            result.outcomes[key] = KeyOutcome(key, "skipped", required)
            continue
        if not fhir_server or client is None:
            result.outcomes[key] = KeyOutcome(
                key, "failed", required, problem="not in prefetch, and no fhirServer to fetch it from")
            continue
        jobs[key] = FetchJob(fhir_server.rstrip("/") + "/" + query.lstrip("/"), is_read="?" not in query,
                             follow_next=not template.first_page_only)

    if jobs:
        assert client is not None and fhir_server is not None
        fetched = client.fetch_all(fhir_server, access_token, jobs, deadline)
        for key, outcome in fetched.items():
            required = key in plan.required
            if outcome.ok:
                result.resources.extend(outcome.resources)
                result.outcomes[key] = KeyOutcome(key, "fetched", required, count=len(outcome.resources))
            else:
                result.outcomes[key] = KeyOutcome(key, "failed", required, problem=outcome.problem)
    result.resources = _dedupe(result.resources)
    resolve_medications(result, fhir_server=fhir_server, access_token=access_token, client=client,
                        deadline=deadline, drafts=draft_orders(context))
    return result


def draft_orders(context: HookContext) -> list[dict]:
    """The resources of ``context.draftOrders`` (order hooks), or none."""
    drafts = getattr(context, "draftOrders", None)
    return drafts.resources() if drafts is not None else []


# Resources whose medicine may be a reference to a Medication resource.
_MEDICATION_HOLDERS = frozenset({"MedicationRequest", "MedicationStatement", "MedicationDispense",
                                 "MedicationAdministration"})
MAX_MEDICATION_READS = 50


def _medication_references(resources: Sequence[dict]) -> tuple[set[Any], list[str]]:
    """(ids of the Medications among the resources, the non-contained references to
    Medications that the resources' medicines make)."""
    have = {r.get("id") for r in resources if r.get("resourceType") == "Medication"}
    references: list[str] = []
    for resource in resources:
        if resource.get("resourceType") not in _MEDICATION_HOLDERS:
            continue
        ref = resource.get("medicationReference")
        text = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(text, str) and not text.startswith("#"):
            references.append(text)
    return have, references


def referenced_medications(resources: Sequence[dict], fhir_server: str | None = None) -> list[str]:
    """Ids of Medications referenced by the resources but not among them (nor contained)."""
    have, references = _medication_references(resources)
    wanted: list[str] = []
    for text in references:
        if fhir_server and text.startswith(fhir_server.rstrip("/") + "/"):
            text = text[len(fhir_server.rstrip("/")) + 1:]
        kind, _, rid = text.partition("/")
        if kind == "Medication" and FHIR_ID.match(rid) and rid not in have and rid not in wanted:
            wanted.append(rid)
    return wanted


def foreign_medication_references(resources: Sequence[dict], fhir_server: str | None = None) -> list[str]:
    """Absolute references to Medications on another server whose id isn't among the resources."""
    have, references = _medication_references(resources)
    base = fhir_server.rstrip("/") + "/" if fhir_server else None
    foreign: list[str] = []
    for text in references:
        if "://" not in text or (base and text.startswith(base)):
            continue
        head, _, rid = text.rpartition("/")
        if head.endswith("/Medication") and rid not in have and text not in foreign:
            foreign.append(text)
    return foreign


def resolve_medications(result: GatherResult, *, fhir_server: str | None, access_token: str | None,
                        client: FhirClient | None, deadline: float, drafts: Sequence[dict] = ()) -> None:
    """Read the Medications that the gathered resources or the draft orders reference from
    ``fhir_server``, in parallel, into the gathered resources.

    Draft orders count too: a vitamin K2 order given as ``medicationReference``
    is as invisible to the rules as an active warfarin order given that way.
    The drafts stay out of the data (the rules see them as a parameter); the
    Medications they reference go in, where the rules' retrieves find them.
    """
    # A Medication inside the draft bundle isn't in the evaluated data, so it mustn't
    # count as present: only the drafts' references are added.
    holders = [r for r in drafts if r.get("resourceType") in _MEDICATION_HOLDERS]
    # Medications on other servers are never fetched (no requests to addresses a caller
    # picks), so unless present they stay unknown: that is missing data, not "no medicine".
    foreign = foreign_medication_references([*result.resources, *holders], fhir_server)
    wanted = referenced_medications([*result.resources, *holders], fhir_server)
    if not wanted:
        result.medications_unresolved = foreign
        return
    if not fhir_server or client is None:
        result.medications_unresolved = wanted + foreign
        return
    wanted, beyond = wanted[:MAX_MEDICATION_READS], wanted[MAX_MEDICATION_READS:]
    base = fhir_server.rstrip("/")
    jobs = {rid: FetchJob(f"{base}/Medication/{rid}", is_read=True) for rid in wanted}
    fetched = client.fetch_all(fhir_server, access_token, jobs, deadline)
    result.medications_unresolved = list(beyond) + foreign
    for rid, outcome in fetched.items():
        found = [r for r in outcome.resources if r.get("resourceType") == "Medication"]
        if outcome.ok and found:
            result.resources.extend(found[:1])
            result.medications_fetched += 1
        else:
            result.medications_unresolved.append(rid)


def _dedupe(resources: list[dict]) -> list[dict]:
    # Keys overlap (a Patient read and a search that includes the Patient); the
    # engine should see each resource once.
    seen: set[tuple[str, str]] = set()
    out = []
    for resource in resources:
        rid = resource.get("id")
        if isinstance(rid, str):
            ident = (resource["resourceType"], rid)
            if ident in seen:
                continue
            seen.add(ident)
        out.append(resource)
    return out


def deadline_after(seconds: float) -> float:
    """A ``time.monotonic()`` deadline ``seconds`` from now."""
    return time.monotonic() + seconds


def fill_prefetch(prefetch: Mapping[str, str], context: Mapping[str, Any], resources: Sequence[dict],
                  hook: str = "patient-view", valuesets: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Prefetch values as a client with ``resources`` on its FHIR server would send them.

    A read gives the resource or ``null``; a search gives a searchset Bundle
    (maybe empty). Keys whose tokens have no value in ``context`` are left
    out, as a client would skip them. ``valuesets`` serve ``:in`` searches.
    Used by ``cds-hooks example`` and the benchmark; raises
    ``fhir_search.UnsupportedSearch`` for a query outside the prefetch subset.
    """
    from .fhir_search import parse_query, search
    from .models import parse_context

    parsed_context = parse_context(hook, context)
    values: dict[str, Any] = {}
    for key, text in prefetch.items():
        query = PrefetchTemplate.compile(key, text).render(parsed_context)
        if query is None:
            continue
        parsed = parse_query(query)
        found = search(resources, parsed, valuesets)
        if parsed.resource_id is not None:
            values[key] = found[0] if found else None
        else:
            values[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                           "entry": [{"resource": r} for r in found]}
    return values
