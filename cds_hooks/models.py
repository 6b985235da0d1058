"""CDS Hooks 2.0.1 wire models (pydantic 2) and the one response validator.

Requests are parsed leniently (extra fields kept, ``draftOrders`` without
``type``, MedicationRequests without ``intent``) but strictly where the spec
says REQUIRED. Response models are strict: they describe what this service
may send, and ``validate_http_response`` checks every answer the service gives
against them and against the JSON rules of the spec (no ``null``, ``""``,
``[]`` or ``{}`` values, summaries of at most 139 characters, ...). The tests
run every response they receive through that one function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

# FHIR R4 id: letters, digits, '-' and '.', at most 64 characters. Context ids
# are put into FHIR URLs, so they are held to this exactly.
FHIR_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
FHIR_ID = re.compile(FHIR_ID_PATTERN)
# A relative reference "Type/id".
RELATIVE_REFERENCE = re.compile(r"^(?P<type>[A-Z][A-Za-z]{1,63})/(?P<id>[A-Za-z0-9\-.]{1,64})$")
# hookInstance is a correlation id (and the log's request id): printable, no spaces.
HOOK_INSTANCE_PATTERN = r"^[A-Za-z0-9\-._:]{1,100}$"
# Service ids appear in URLs and metrics labels.
SERVICE_ID_PATTERN = r"^[A-Za-z0-9\-._]{1,100}$"
SERVICE_ID = re.compile(SERVICE_ID_PATTERN)

SUMMARY_MAX_CHARS = 139

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
FhirId = Annotated[str, StringConstraints(pattern=FHIR_ID_PATTERN)]
AbsoluteUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+\S*$")]


class _Lenient(BaseModel):
    """Incoming data: unknown fields are kept, never an error."""

    model_config = ConfigDict(extra="allow")


class _Strict(BaseModel):
    """Outgoing data: only the fields the spec defines."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- requests


class FhirAuthorization(_Lenient):
    """``fhirAuthorization``: an OAuth 2.0 bearer token for the client's FHIR server.

    The token is a ``SecretStr`` so that it never shows in a repr, a log line
    or a validation message.
    """

    access_token: SecretStr
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    @field_validator("access_token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("access_token must not be empty")
        return value

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("token_type must be Bearer")
        return "Bearer"


class HookRequest(_Lenient):
    """The body of ``POST /cds-services/{id}``. ``context`` is parsed per hook afterwards."""

    hook: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    hookInstance: Annotated[str, StringConstraints(pattern=HOOK_INSTANCE_PATTERN)]
    fhirServer: AbsoluteUrl | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    # Values are checked key by key by the prefetch decision table, not here.
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirAuthorization is present but fhirServer is missing")
        return self

    @property
    def access_token(self) -> str | None:
        """The bearer token for fallback FHIR calls, if the client gave one."""
        if self.fhirAuthorization is None:
            return None
        return self.fhirAuthorization.access_token.get_secret_value()


class BundleEntry(_Lenient):
    resource: dict[str, Any]

    @field_validator("resource")
    @classmethod
    def _has_type(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("resourceType"), str):
            raise ValueError("resource needs a resourceType")
        return value


class DraftOrders(_Lenient):
    """``context.draftOrders``: a Bundle; ``type`` is often missing in practice."""

    resourceType: Literal["Bundle"]
    type: str | None = None
    entry: list[BundleEntry] = Field(default_factory=list)

    def resources(self) -> list[dict[str, Any]]:
        """The order resources, in Bundle order."""
        return [entry.resource for entry in self.entry]


class HookContext(_Lenient):
    """Context fields common to the patient and order hooks."""

    userId: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    patientId: FhirId
    encounterId: FhirId | None = None


class PatientViewContext(HookContext):
    pass


class OrderSignContext(HookContext):
    draftOrders: DraftOrders


class OrderSelectContext(OrderSignContext):
    selections: Annotated[list[NonEmptyStr], Field(min_length=1)]


CONTEXT_MODELS: dict[str, type[HookContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}


def parse_context(hook: str, context: Mapping[str, Any]) -> HookContext:
    """Parse ``context`` with the hook's model (the common fields for other hooks)."""
    return CONTEXT_MODELS.get(hook, HookContext).model_validate(context)


# --------------------------------------------------------------------------- responses


class Coding(_Strict):
    system: NonEmptyStr
    code: NonEmptyStr
    display: NonEmptyStr | None = None


class OverrideReason(Coding):
    """A card's override reason: a Coding whose ``display`` is required."""

    display: NonEmptyStr


class Source(_Strict):
    label: NonEmptyStr
    url: AbsoluteUrl | None = None
    icon: AbsoluteUrl | None = None
    topic: Coding | None = None


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: NonEmptyStr
    resource: dict[str, Any] | None = None
    resourceId: NonEmptyStr | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _target(self) -> Action:
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"a {self.type} action needs a resource")
        if self.type == "delete" and not self.resourceId:
            raise ValueError("a delete action needs a resourceId")
        return self


class Suggestion(_Strict):
    label: NonEmptyStr
    uuid: NonEmptyStr | None = None
    isRecommended: bool | None = None
    actions: Annotated[list[Action], Field(min_length=1)] | None = None
    extension: dict[str, Any] | None = None


class Link(_Strict):
    label: NonEmptyStr
    url: AbsoluteUrl
    type: Literal["absolute", "smart"]
    appContext: NonEmptyStr | None = None
    autolaunchable: bool | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links")
        return self


class Card(_Strict):
    uuid: NonEmptyStr | None = None
    summary: NonEmptyStr
    detail: NonEmptyStr | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: Annotated[list[Suggestion], Field(min_length=1)] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: Annotated[list[OverrideReason], Field(min_length=1)] | None = None
    links: Annotated[list[Link], Field(min_length=1)] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("summary")
    @classmethod
    def _summary_length(cls, value: str) -> str:
        # Characters, not bytes: "µ" is one character.
        if len(value) > SUMMARY_MAX_CHARS:
            raise ValueError(f"summary has {len(value)} characters; at most {SUMMARY_MAX_CHARS} allowed")
        return value

    @model_validator(mode="after")
    def _selection(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when there are suggestions")
        if self.selectionBehavior == "at-most-one" and self.suggestions:
            recommended = sum(1 for s in self.suggestions if s.isRecommended)
            if recommended > 1:
                raise ValueError("at most one suggestion may be recommended with selectionBehavior at-most-one")
        return self


class CdsResponse(_Strict):
    cards: list[Card]
    systemActions: Annotated[list[Action], Field(min_length=1)] | None = None


class ServiceEntry(_Strict):
    hook: NonEmptyStr
    id: Annotated[str, StringConstraints(pattern=SERVICE_ID_PATTERN)]
    title: NonEmptyStr | None = None
    description: NonEmptyStr
    prefetch: dict[str, NonEmptyStr] | None = None
    usageRequirements: NonEmptyStr | None = None
    extension: dict[str, Any] | None = None


class DiscoveryResponse(_Strict):
    services: list[ServiceEntry]


# --------------------------------------------------------------------------- feedback


class FeedbackCoding(_Lenient):
    """An override reason as the client sends it back: ``display`` may be missing."""

    system: NonEmptyStr
    code: NonEmptyStr
    display: str | None = None


class FeedbackOverrideReason(_Lenient):
    reason: FeedbackCoding | None = None
    userComment: str | None = None


class AcceptedSuggestion(_Lenient):
    id: NonEmptyStr


class FeedbackEntry(_Lenient):
    card: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: FeedbackOverrideReason | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # RFC 3339 asks for an offset; a naive timestamp is read as UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> FeedbackEntry:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when the outcome is accepted")
        return self


class FeedbackRequest(_Lenient):
    feedback: Annotated[list[FeedbackEntry], Field(min_length=1, max_length=1000)]


# --------------------------------------------------------------------------- OperationOutcome


IssueCode = Literal[
    "invalid", "structure", "required", "value", "security", "login", "forbidden", "not-found",
    "not-supported", "processing", "incomplete", "too-long", "too-costly", "timeout", "exception",
    "conflict", "throttled", "transient",
]


def operation_outcome(code: IssueCode, diagnostics: str | list[str], *, severity: str = "error",
                      expression: list[str] | None = None) -> dict[str, Any]:
    """An OperationOutcome with one issue per diagnostics message (all with the same code)."""
    messages = [diagnostics] if isinstance(diagnostics, str) else list(diagnostics) or ["error"]
    issues = []
    for message in messages:
        issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
        if expression:
            issue["expression"] = expression
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def describe_validation_error(error: ValidationError, prefix: str = "") -> list[str]:
    """Readable problems from a pydantic error: location and message, never the input value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return problems


# --------------------------------------------------------------------------- empty values


def find_empty_values(value: Any, path: str = "$") -> list[str]:
    """JSON paths of ``null``, ``""``, ``[]`` and ``{}`` values (the spec forbids them)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            if item is None or item == "" or item == [] or item == {}:
                found.append(child)
            else:
                found.extend(find_empty_values(item, child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            if item is None or item == "" or item == [] or item == {}:
                found.append(child)
            else:
                found.extend(find_empty_values(item, child))
    return found


# --------------------------------------------------------------------------- the validator


class ResponseViolation(AssertionError):
    """A response breaks the CDS Hooks rules or this service's contract."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_SERVICE_PATH = re.compile(r"^/cds-services/(?P<id>[^/]+)/?$")
_FEEDBACK_PATH = re.compile(r"^/cds-services/(?P<id>[^/]+)/feedback/?$")
_DISCOVERY_PATH = re.compile(r"^/cds-services/?$")


def card_problems(cards: list[Any]) -> list[str]:
    """This service's contract for cards, beyond the spec: a uuid on every card and every
    suggestion (feedback needs them), ``source.topic`` naming the card, and one
    ``extension`` key ending in ``.ruleset`` with id, version and sha256."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, card in enumerate(cards):
        where = f"cards[{index}]"
        if not isinstance(card, dict):
            continue
        uuid = card.get("uuid")
        if not uuid:
            problems.append(f"{where}: no uuid")
        elif uuid in seen:
            problems.append(f"{where}: duplicate uuid")
        else:
            seen.add(uuid)
        for s_index, suggestion in enumerate(card.get("suggestions") or []):
            if isinstance(suggestion, dict) and not suggestion.get("uuid"):
                problems.append(f"{where}.suggestions[{s_index}]: no uuid")
        topic = (card.get("source") or {}).get("topic") if isinstance(card.get("source"), dict) else None
        if not isinstance(topic, dict) or not topic.get("system") or not topic.get("code"):
            problems.append(f"{where}.source.topic: must be a Coding naming the card (system and code)")
        extension = card.get("extension")
        stamps = [v for k, v in extension.items() if k.endswith(".ruleset")] if isinstance(extension, dict) else []
        if len(stamps) != 1:
            problems.append(f"{where}.extension: needs exactly one key ending in '.ruleset'")
        elif not isinstance(stamps[0], dict) or not all(stamps[0].get(k) for k in ("id", "version", "sha256")):
            problems.append(f"{where}.extension: the .ruleset stamp needs id, version and sha256")
    return problems


def validate_http_response(method: str, path: str, status: int, content_type: str | None,
                           body: bytes) -> Any:
    """Check one HTTP answer of this service; raise ``ResponseViolation`` listing every problem.

    Returns the parsed JSON body (or None). Used by every test on every response.
    """
    method = method.upper()
    path = path.split("?", 1)[0]
    problems: list[str] = []
    parsed: Any = None
    is_json = bool(content_type) and "json" in content_type.lower()
    if body and is_json:
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise ResponseViolation([f"body is not valid JSON: {exc}"]) from None

    if status == 401:
        if body:
            problems.append("401 must have an empty body")
    elif status >= 300:
        problems.extend(_operation_outcome_problems(parsed, is_json))
    elif method == "OPTIONS" or method == "HEAD":
        pass
    elif _DISCOVERY_PATH.match(path) and method == "GET":
        problems.extend(_model_problems(DiscoveryResponse, parsed, allowed_empty={"$.services"}))
    elif _FEEDBACK_PATH.match(path) and method == "POST":
        if status != 200:
            problems.append(f"feedback answers 200, not {status}")
    elif _SERVICE_PATH.match(path) and method == "POST":
        problems.extend(_model_problems(CdsResponse, parsed, allowed_empty={"$.cards"}))
        if not problems:
            problems.extend(card_problems(parsed["cards"]))
    elif path in ("/healthz", "/readyz") and (not isinstance(parsed, dict) or "status" not in parsed):
        problems.append(f"{path} answers a JSON object with a status")
    if problems:
        raise ResponseViolation([f"{method} {path} -> {status}: {p}" for p in problems])
    return parsed


def _operation_outcome_problems(parsed: Any, is_json: bool) -> list[str]:
    if not is_json:
        return ["a non-2xx answer (other than 401) carries an OperationOutcome as JSON"]
    if not isinstance(parsed, dict) or parsed.get("resourceType") != "OperationOutcome":
        return ["a non-2xx answer (other than 401) carries an OperationOutcome"]
    issues = parsed.get("issue")
    if not isinstance(issues, list) or not issues:
        return ["OperationOutcome.issue must be a non-empty list"]
    problems = []
    for index, issue in enumerate(issues):
        if not isinstance(issue, dict):
            problems.append(f"issue[{index}] must be an object")
            continue
        if issue.get("severity") not in ("fatal", "error", "warning", "information"):
            problems.append(f"issue[{index}].severity is missing or invalid")
        if not isinstance(issue.get("code"), str) or not issue["code"]:
            problems.append(f"issue[{index}].code is missing")
    problems.extend(f"empty value at {p}" for p in find_empty_values(parsed))
    return problems


def _model_problems(model: type[BaseModel], parsed: Any, allowed_empty: set[str]) -> list[str]:
    if not isinstance(parsed, dict):
        return ["body must be a JSON object"]
    problems = [f"empty value at {p}" for p in find_empty_values(parsed) if p not in allowed_empty]
    try:
        model.model_validate(parsed)
    except ValidationError as exc:
        problems.extend(describe_validation_error(exc))
    return problems
