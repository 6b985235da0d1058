"""The FHIR search subset of CDS Hooks prefetch templates, run over a list of resources.

CDS Hooks 2.0 recommends that prefetch templates use only: instance reads
(``Patient/123``), type searches with reference parameters
(``patient=123``), token equality (``code=http://loinc.org|4548-4``, optionally
``:in`` a value set), date parameters with the prefixes ``eq lt gt ge le``,
``_count`` and ``_sort``. This module runs exactly that subset over resources
held in memory, with FHIR R4 semantics: comma means OR, a repeated parameter
means AND, date values are ranges at their precision.

Anything outside the subset (another modifier or prefix, ``_include``, an
unknown parameter for the resource type) raises ``UnsupportedSearch`` rather
than being ignored: ignoring a parameter would return more than the real FHIR
server would, silently. The same parser lets rule-set validation reject such
templates up front (``parse_query``).

Used by the local FHIR test server, the rule-set test runner and
``cds-hooks example``; never on the hook-call path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl


class UnsupportedSearch(ValueError):
    """The query uses something outside the CDS Hooks prefetch search subset."""


@dataclass(frozen=True)
class SearchParam:
    name: str
    kind: str  # id | reference | token | date
    paths: tuple[str, ...]
    target: str | None = None  # reference parameters: the type an id-only value means


@dataclass(frozen=True)
class Criterion:
    param: SearchParam
    modifier: str | None
    values: tuple[str, ...]  # OR-ed


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed prefetch query: a read (``resource_id`` set) or a type search."""

    resource_type: str
    resource_id: str | None = None
    criteria: tuple[Criterion, ...] = ()
    count: int | None = None
    sort: tuple[tuple[SearchParam, bool], ...] = ()  # (parameter, descending)


def _p(name: str, kind: str, *paths: str, target: str | None = None) -> SearchParam:
    return SearchParam(name, kind, paths, target)


def _subject(target: str = "Patient", path: str = "subject") -> dict[str, SearchParam]:
    return {"patient": _p("patient", "reference", path, target=target),
            "subject": _p("subject", "reference", path)}


_COMMON = {
    "_id": _p("_id", "id", "id"),
    "_lastUpdated": _p("_lastUpdated", "date", "meta.lastUpdated"),
}

# FHIR R4 search parameters (name -> element paths) for the resources CDS
# services commonly prefetch. Extend here when a template needs another.
PARAMETERS: dict[str, dict[str, SearchParam]] = {
    "Patient": {
        "identifier": _p("identifier", "token", "identifier"),
        "birthdate": _p("birthdate", "date", "birthDate"),
        "gender": _p("gender", "token", "gender"),
        "active": _p("active", "token", "active"),
    },
    "Practitioner": {
        "identifier": _p("identifier", "token", "identifier"),
        "active": _p("active", "token", "active"),
    },
    "PractitionerRole": {
        "identifier": _p("identifier", "token", "identifier"),
        "active": _p("active", "token", "active"),
        "practitioner": _p("practitioner", "reference", "practitioner", target="Practitioner"),
    },
    "Encounter": {
        **_subject(),
        "status": _p("status", "token", "status"),
        "class": _p("class", "token", "class"),
        "type": _p("type", "token", "type"),
        "date": _p("date", "date", "period"),
    },
    "Condition": {
        **_subject(),
        "code": _p("code", "token", "code"),
        "clinical-status": _p("clinical-status", "token", "clinicalStatus"),
        "verification-status": _p("verification-status", "token", "verificationStatus"),
        "category": _p("category", "token", "category"),
        "onset-date": _p("onset-date", "date", "onsetDateTime", "onsetPeriod"),
        "abatement-date": _p("abatement-date", "date", "abatementDateTime", "abatementPeriod"),
        "recorded-date": _p("recorded-date", "date", "recordedDate"),
        "encounter": _p("encounter", "reference", "encounter", target="Encounter"),
    },
    "Observation": {
        **_subject(),
        "code": _p("code", "token", "code"),
        "category": _p("category", "token", "category"),
        "status": _p("status", "token", "status"),
        "date": _p("date", "date", "effectiveDateTime", "effectivePeriod", "effectiveInstant"),
        "encounter": _p("encounter", "reference", "encounter", target="Encounter"),
    },
    "MedicationRequest": {
        **_subject(),
        "status": _p("status", "token", "status"),
        "intent": _p("intent", "token", "intent"),
        "category": _p("category", "token", "category"),
        "code": _p("code", "token", "medicationCodeableConcept"),
        "medication": _p("medication", "reference", "medicationReference", target="Medication"),
        "authoredon": _p("authoredon", "date", "authoredOn"),
        "encounter": _p("encounter", "reference", "encounter", target="Encounter"),
        "requester": _p("requester", "reference", "requester"),
    },
    "MedicationStatement": {
        **_subject(),
        "status": _p("status", "token", "status"),
        "category": _p("category", "token", "category"),
        "code": _p("code", "token", "medicationCodeableConcept"),
        "medication": _p("medication", "reference", "medicationReference", target="Medication"),
        "effective": _p("effective", "date", "effectiveDateTime", "effectivePeriod"),
    },
    "MedicationDispense": {
        **_subject(),
        "status": _p("status", "token", "status"),
        "code": _p("code", "token", "medicationCodeableConcept"),
        "medication": _p("medication", "reference", "medicationReference", target="Medication"),
        "whenhandedover": _p("whenhandedover", "date", "whenHandedOver"),
    },
    "MedicationAdministration": {
        **_subject(),
        "status": _p("status", "token", "status"),
        "code": _p("code", "token", "medicationCodeableConcept"),
        "medication": _p("medication", "reference", "medicationReference", target="Medication"),
        "effective-time": _p("effective-time", "date", "effectiveDateTime", "effectivePeriod"),
    },
    "Medication": {
        "code": _p("code", "token", "code"),
        "status": _p("status", "token", "status"),
    },
    "AllergyIntolerance": {
        "patient": _p("patient", "reference", "patient", target="Patient"),
        "clinical-status": _p("clinical-status", "token", "clinicalStatus"),
        "verification-status": _p("verification-status", "token", "verificationStatus"),
        "code": _p("code", "token", "code"),
        "category": _p("category", "token", "category"),
        "criticality": _p("criticality", "token", "criticality"),
        "date": _p("date", "date", "recordedDate"),
    },
    "Procedure": {
        **_subject(),
        "code": _p("code", "token", "code"),
        "status": _p("status", "token", "status"),
        "date": _p("date", "date", "performedDateTime", "performedPeriod"),
        "encounter": _p("encounter", "reference", "encounter", target="Encounter"),
    },
    "ServiceRequest": {
        **_subject(),
        "code": _p("code", "token", "code"),
        "status": _p("status", "token", "status"),
        "intent": _p("intent", "token", "intent"),
        "authored": _p("authored", "date", "authoredOn"),
        "encounter": _p("encounter", "reference", "encounter", target="Encounter"),
    },
    "DiagnosticReport": {
        **_subject(),
        "code": _p("code", "token", "code"),
        "status": _p("status", "token", "status"),
        "category": _p("category", "token", "category"),
        "date": _p("date", "date", "effectiveDateTime", "effectivePeriod"),
        "encounter": _p("encounter", "reference", "encounter", target="Encounter"),
    },
    "Immunization": {
        "patient": _p("patient", "reference", "patient", target="Patient"),
        "status": _p("status", "token", "status"),
        "vaccine-code": _p("vaccine-code", "token", "vaccineCode"),
        "date": _p("date", "date", "occurrenceDateTime"),
    },
}

_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DATE_PREFIXES = ("eq", "lt", "gt", "ge", "le")


def parse_query(query: str) -> ParsedQuery:
    """Parse a relative FHIR read or search URL; raise ``UnsupportedSearch`` outside the subset."""
    text = query.strip().lstrip("/")
    path, _, query_string = text.partition("?")
    segments = path.split("/")
    resource_type = segments[0]
    if not _TYPE.match(resource_type):
        raise UnsupportedSearch(f"not a FHIR resource type: {resource_type!r}")
    if len(segments) == 2 and not query_string:
        if not _ID.match(segments[1]):
            raise UnsupportedSearch(f"not a FHIR id: {segments[1]!r}")
        return ParsedQuery(resource_type, resource_id=segments[1])
    if len(segments) != 1:
        raise UnsupportedSearch(f"only reads (Type/id) and type searches (Type?...) are supported: {path!r}")
    known = {**_COMMON, **PARAMETERS.get(resource_type, {})}
    criteria: list[Criterion] = []
    count: int | None = None
    sort: list[tuple[SearchParam, bool]] = []
    for raw_name, raw_value in parse_qsl(query_string, keep_blank_values=True, strict_parsing=False):
        name, _, modifier = raw_name.partition(":")
        if name == "_count":
            if not raw_value.isdigit():
                raise UnsupportedSearch(f"_count must be a whole number, not {raw_value!r}")
            count = int(raw_value)
            continue
        if name == "_sort":
            for item in raw_value.split(","):
                descending = item.startswith("-")
                param = known.get(item.lstrip("-"))
                if param is None or param.kind not in ("date", "id"):
                    raise UnsupportedSearch(f"_sort on {item.lstrip('-')!r} is not supported for {resource_type}")
                sort.append((param, descending))
            continue
        param = known.get(name)
        if param is None:
            raise UnsupportedSearch(f"search parameter {name!r} is not supported for {resource_type}")
        if modifier and not (modifier == "in" and param.kind == "token"):
            raise UnsupportedSearch(f"modifier :{modifier} is not supported (only :in on token parameters)")
        values = tuple(v for v in raw_value.split(",") if v != "")
        if not values:
            raise UnsupportedSearch(f"search parameter {name!r} has no value")
        if param.kind == "date":
            for value in values:
                prefix, date_text = _split_prefix(value)
                _parse_range(date_text)  # raises on a malformed date
        criteria.append(Criterion(param, modifier or None, values))
    return ParsedQuery(resource_type, None, tuple(criteria), count, tuple(sort))


def search(resources: Iterable[Mapping[str, Any]], query: str | ParsedQuery,
           valuesets: Sequence[Mapping[str, Any]] = ()) -> list[dict]:
    """Resources matching ``query``, sorted by ``_sort`` and cut to ``_count`` (the first page).

    ``valuesets`` are FHIR ValueSet resources, needed only for ``:in``.
    """
    parsed = parse_query(query) if isinstance(query, str) else query
    found = matching(resources, parsed, valuesets)
    return found if parsed.count is None else found[: parsed.count]


def matching(resources: Iterable[Mapping[str, Any]], parsed: ParsedQuery,
             valuesets: Sequence[Mapping[str, Any]] = ()) -> list[dict]:
    """Every resource matching ``parsed``, sorted, without applying ``_count`` (for paging)."""
    index = _ValueSetIndex(valuesets) if any(c.modifier == "in" for c in parsed.criteria) else None
    out = []
    for resource in resources:
        if resource.get("resourceType") != parsed.resource_type:
            continue
        if parsed.resource_id is not None:
            if resource.get("id") == parsed.resource_id:
                out.append(dict(resource))
            continue
        if all(_matches(resource, criterion, index) for criterion in parsed.criteria):
            out.append(dict(resource))
    for param, descending in reversed(parsed.sort):
        out = _sorted(out, param, descending)
    return out


# --------------------------------------------------------------------------- matching


def _values(resource: Mapping[str, Any], path: str) -> Iterator[Any]:
    current: list[Any] = [resource]
    for part in path.split("."):
        following: list[Any] = []
        for item in current:
            if isinstance(item, Mapping) and part in item:
                value = item[part]
                following.extend(value if isinstance(value, list) else [value])
        current = following
    yield from current


def _matches(resource: Mapping[str, Any], criterion: Criterion, index: _ValueSetIndex | None) -> bool:
    param = criterion.param
    values = [v for path in param.paths for v in _values(resource, path)]
    if param.kind == "id":
        return any(v in criterion.values for v in values)
    if param.kind == "reference":
        return any(_reference_matches(v, wanted, param.target) for v in values for wanted in criterion.values)
    if param.kind == "token":
        codes = [c for v in values for c in _codes(v)]
        if criterion.modifier == "in":
            assert index is not None
            return any(index.contains(url, codes) for url in criterion.values)
        return any(_token_matches(code, wanted) for code in codes for wanted in criterion.values)
    if param.kind == "date":
        ranges = [r for v in values if (r := _value_range(v)) is not None]
        return any(_date_matches(r, wanted) for r in ranges for wanted in criterion.values)
    raise UnsupportedSearch(f"parameter kind {param.kind}")


def _normalize_reference(text: str) -> tuple[str | None, str]:
    parts = [p for p in text.split("?")[0].split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return None, parts[-1] if parts else ""


def _reference_matches(value: Any, wanted: str, target: str | None) -> bool:
    if not isinstance(value, Mapping) or not isinstance(value.get("reference"), str):
        return False
    have_type, have_id = _normalize_reference(value["reference"])
    want_type, want_id = _normalize_reference(wanted)
    want_type = want_type or target
    return have_id == want_id and (want_type is None or have_type is None or have_type == want_type)


def _codes(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, Mapping):
        if "coding" in value:
            return [c for coding in value.get("coding") or [] for c in _codes(coding)]
        if isinstance(value.get("code"), str):
            return [(value.get("system"), value["code"])]
        if isinstance(value.get("value"), str):  # Identifier
            return [(value.get("system"), value["value"])]
        return []
    if isinstance(value, bool):
        return [(None, "true" if value else "false")]
    if isinstance(value, str):
        return [(None, value)]
    return []


def _token_matches(code: tuple[str | None, str], wanted: str) -> bool:
    system, value = code
    if "|" not in wanted:
        return value == wanted
    want_system, want_code = wanted.split("|", 1)
    if want_system == "":
        return system is None and value == want_code
    if want_code == "":
        return system == want_system
    return system == want_system and value == want_code


class _ValueSetIndex:
    def __init__(self, valuesets: Sequence[Mapping[str, Any]]) -> None:
        self._codes: dict[str, set[tuple[str | None, str]]] = {}
        for valueset in valuesets:
            url = valueset.get("url")
            if not isinstance(url, str):
                continue
            codes: set[tuple[str | None, str]] = set()
            self._collect_expansion((valueset.get("expansion") or {}).get("contains") or [], codes)
            for include in (valueset.get("compose") or {}).get("include") or []:
                for concept in include.get("concept") or []:
                    codes.add((include.get("system"), concept.get("code")))
            self._codes[url] = codes

    def _collect_expansion(self, contains: list, codes: set) -> None:
        for item in contains:
            if item.get("code"):
                codes.add((item.get("system"), item["code"]))
            self._collect_expansion(item.get("contains") or [], codes)

    def contains(self, url: str, codes: list[tuple[str | None, str]]) -> bool:
        members = self._codes.get(url.split("|")[0])
        if members is None:
            raise UnsupportedSearch(f"value set {url!r} is not available for :in")
        return any(code in members for code in codes)


# --------------------------------------------------------------------------- dates


_DATETIME = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_NEG_INF = datetime.min.replace(tzinfo=UTC)
_POS_INF = datetime.max.replace(tzinfo=UTC)


def _split_prefix(value: str) -> tuple[str, str]:
    if value[:2].isalpha():
        prefix = value[:2]
        if prefix not in _DATE_PREFIXES:
            raise UnsupportedSearch(f"date prefix {prefix!r} is not supported (only {', '.join(_DATE_PREFIXES)})")
        return prefix, value[2:]
    return "eq", value


def _parse_range(text: str) -> tuple[datetime, datetime]:
    """The half-open range [start, end) a FHIR date/dateTime/instant denotes at its precision.

    A value without a timezone is read as UTC (the server's zone is unknown here).
    """
    match = _DATETIME.match(text)
    if not match:
        raise UnsupportedSearch(f"not a FHIR date: {text!r}")
    try:
        return _range_of(match.groupdict())
    except ValueError:  # month 13, February 30, ...
        raise UnsupportedSearch(f"not a FHIR date: {text!r}") from None


def _range_of(g: dict[str, str | None]) -> tuple[datetime, datetime]:
    tz = UTC
    if g["tz"] and g["tz"] != "Z":
        sign = 1 if g["tz"][0] == "+" else -1
        hours, minutes = int(g["tz"][1:3]), int(g["tz"][4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    year = int(g["year"])
    if g["month"] is None:
        start = datetime(year, 1, 1, tzinfo=tz)
        return start, datetime(year + 1, 1, 1, tzinfo=tz)
    month = int(g["month"])
    if g["day"] is None:
        start = datetime(year, month, 1, tzinfo=tz)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
        return start, end
    day = int(g["day"])
    if g["hour"] is None:
        start = datetime(year, month, day, tzinfo=tz)
        return start, start + timedelta(days=1)
    if g["second"] is None:
        start = datetime(year, month, day, int(g["hour"]), int(g["minute"]), tzinfo=tz)
        return start, start + timedelta(minutes=1)
    fraction = g["fraction"] or ""
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    start = datetime(year, month, day, int(g["hour"]), int(g["minute"]), int(g["second"]), micro, tzinfo=tz)
    step = timedelta(microseconds=10 ** max(0, 6 - (len(fraction) - 1))) if fraction else timedelta(seconds=1)
    return start, start + step


def _value_range(value: Any) -> tuple[datetime, datetime] | None:
    try:
        if isinstance(value, str):
            return _parse_range(value)
        if isinstance(value, Mapping) and ("start" in value or "end" in value):  # Period
            start = _parse_range(value["start"])[0] if value.get("start") else _NEG_INF
            end = _parse_range(value["end"])[1] if value.get("end") else _POS_INF
            return start, end
    except UnsupportedSearch:
        return None  # a malformed date in the data matches nothing
    return None


def _date_matches(target: tuple[datetime, datetime], wanted: str) -> bool:
    prefix, text = _split_prefix(wanted)
    p_start, p_end = _parse_range(text)
    t_start, t_end = target
    contained = p_start <= t_start and t_end <= p_end
    if prefix == "eq":
        return contained
    if prefix == "gt":
        return t_end > p_end
    if prefix == "lt":
        return t_start < p_start
    if prefix == "ge":
        return t_end > p_end or contained
    if prefix == "le":
        return t_start < p_start or contained
    raise UnsupportedSearch(f"date prefix {prefix!r}")


def _sorted(resources: list[dict], param: SearchParam, descending: bool) -> list[dict]:
    def key(resource: dict) -> Any:
        values = [v for path in param.paths for v in _values(resource, path)]
        if param.kind == "id":
            return next((str(v) for v in values), "")
        starts = [r[0] for v in values if (r := _value_range(v)) is not None]
        if not starts:
            return None
        return max(starts) if descending else min(starts)

    with_key = [(key(r), r) for r in resources]
    present = [item for item in with_key if item[0] is not None]
    missing = [r for k, r in with_key if k is None]
    present.sort(key=lambda item: item[0], reverse=descending)
    # Resources without the value come last in either direction.
    return [r for _, r in present] + missing
