"""Value sets from FHIR ValueSet resources, and code membership.

A value set is read from its ``expansion`` (``contains``, nested ``contains``
included; abstract entries are not members) or, without an expansion, from
``compose.include`` with enumerated ``concept`` lists (minus enumerated
``compose.exclude``, plus imported ``valueSet``s given in the same call).
Intensional definitions (``filter``, or a whole code system) cannot be
expanded here and raise :class:`~cql.CqlUnsupportedError`.

Membership is by code system and code. Code system versions are ignored unless
the library's ``valueset`` declaration names code systems with a version; then
entries of those systems count only when their version matches (or is not
stated). A value set declared with a version must be given in that version.

Every value set the library and its included libraries declare must be given
when evaluation starts, else :class:`~cql.CqlRuntimeError`: an unknown value
set never gives an empty answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import CqlRuntimeError, CqlUnsupportedError
from ..values import Code, ValueSetRef


class ValueSet:
    """The members of one value set (immutable once built)."""

    __slots__ = ("url", "version", "codes", "versions", "entries", "systems")

    def __init__(self, url: str, version: str | None, entries: list[Code]) -> None:
        self.url = url
        self.version = version
        codes: dict[str, set[str]] = {}
        versions: dict[tuple[str, str], set[str | None]] = {}
        unique: list[Code] = []
        for entry in entries:
            if entry.code is None or entry.system is None:
                continue
            bucket = codes.setdefault(entry.system, set())
            key = (entry.system, entry.code)
            if entry.code not in bucket:
                bucket.add(entry.code)
                unique.append(entry)
            versions.setdefault(key, set()).add(entry.version)
        self.codes: dict[str, frozenset[str]] = {s: frozenset(c) for s, c in codes.items()}
        self.versions = versions
        self.entries: tuple[Code, ...] = tuple(unique)
        self.systems = frozenset(self.codes)

    def __len__(self) -> int:
        return len(self.entries)

    def has(self, system: str | None, code: str | None, pins: Mapping[str, str] | None = None) -> bool:
        """Is (system, code) a member? ``pins``: code system url -> required version."""
        if system is None or code is None:
            return False
        bucket = self.codes.get(system)
        if bucket is None or code not in bucket:
            return False
        if pins:
            wanted = pins.get(system)
            if wanted is not None:
                found = self.versions.get((system, code), set())
                return wanted in found or None in found
        return True

    def has_code_string(self, code: str) -> bool:
        """``String in ValueSet``: the code alone, which needs a single-system value set."""
        if len(self.systems) > 1:
            raise CqlRuntimeError(f"'{code}' in value set {self.url}: the value set has codes from several code "
                                  "systems, so a code without its system is ambiguous")
        return any(code in codes for codes in self.codes.values())


# ---------------------------------------------------------------- reading ValueSet resources

_cache_lock = threading.Lock()
_parsed: dict[int, tuple[Mapping[str, Any], ValueSet]] = {}
_CACHE_LIMIT = 2048


def _walk_contains(items: Any, out: list[Code]) -> None:
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if not item.get("abstract") and isinstance(item.get("code"), str):
            out.append(Code(item.get("code"), _text(item.get("system")), _text(item.get("version")),
                            _text(item.get("display"))))
        _walk_contains(item.get("contains"), out)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _enumerated(part: Mapping[str, Any], url: str, what: str) -> list[Code]:
    if part.get("filter"):
        raise CqlUnsupportedError(f"value set {url}: compose.{what} with a filter cannot be expanded here; "
                                  "give the value set with an expansion")
    system = _text(part.get("system"))
    concepts = part.get("concept")
    if system is None:
        return []
    if not isinstance(concepts, list):
        raise CqlUnsupportedError(f"value set {url}: compose.{what} of a whole code system ({system}) cannot be "
                                  "expanded here; give the value set with an expansion")
    version = _text(part.get("version"))
    return [Code(c.get("code"), system, version, _text(c.get("display")))
            for c in concepts if isinstance(c, Mapping) and isinstance(c.get("code"), str)]


def parse_valueset(resource: Mapping[str, Any], imports: Terminology | None = None,
                   seen: frozenset[str] = frozenset()) -> ValueSet:
    """Build a :class:`ValueSet` from a FHIR ValueSet resource (as a dict)."""
    url = _text(resource.get("url")) or _text(resource.get("id")) or "(no url)"
    version = _text(resource.get("version"))
    expansion = resource.get("expansion")
    if isinstance(expansion, Mapping) and "contains" in expansion:
        entries: list[Code] = []
        _walk_contains(expansion.get("contains"), entries)
        return ValueSet(url, version, entries)
    compose = resource.get("compose")
    if not isinstance(compose, Mapping):
        if isinstance(expansion, Mapping):
            return ValueSet(url, version, [])  # an expansion with no codes
        raise CqlUnsupportedError(f"value set {url} has neither an expansion nor a compose")
    included: list[Code] = []
    for part in compose.get("include") or []:
        if not isinstance(part, Mapping):
            continue
        imported = part.get("valueSet")
        own = _enumerated(part, url, "include")
        if imported:
            if part.get("system") is not None:
                raise CqlUnsupportedError(f"value set {url}: compose.include combining a system with valueSet "
                                          "imports cannot be expanded here")
            for ref in imported:
                included.extend(_imported(ref, url, imports, seen | {url}))
        included.extend(own)
    excluded: set[tuple[str | None, str | None]] = set()
    for part in compose.get("exclude") or []:
        if not isinstance(part, Mapping):
            continue
        if part.get("valueSet"):
            raise CqlUnsupportedError(f"value set {url}: compose.exclude of value sets cannot be expanded here")
        excluded.update((c.system, c.code) for c in _enumerated(part, url, "exclude"))
    return ValueSet(url, version, [c for c in included if (c.system, c.code) not in excluded])


def _imported(ref: Any, url: str, imports: Terminology | None, seen: frozenset[str]) -> list[Code]:
    if not isinstance(ref, str):
        return []
    target, _, version = ref.partition("|")
    if target in seen:
        raise CqlRuntimeError(f"value set {url} imports itself through {target}")
    if imports is None:
        raise CqlRuntimeError(f"value set {url} imports {ref}, which was not given")
    resource = imports.find(target, version or None)
    if resource is None:
        raise CqlRuntimeError(f"value set {url} imports {ref}, which was not given")
    return list(parse_valueset(resource, imports, seen).entries)


def _cached_parse(resource: Mapping[str, Any], terminology: Terminology) -> ValueSet:
    key = id(resource)
    found = _parsed.get(key)
    if found is not None and found[0] is resource:
        return found[1]
    compose = resource.get("compose")
    has_imports = not (isinstance(resource.get("expansion"), Mapping) and "contains" in resource["expansion"]) \
        and isinstance(compose, Mapping) \
        and any(isinstance(p, Mapping) and p.get("valueSet") for p in compose.get("include") or [])
    parsed = parse_valueset(resource, terminology)
    if not has_imports:
        with _cache_lock:
            if len(_parsed) >= _CACHE_LIMIT:
                _parsed.clear()
            # The entry keeps the resource alive, so its id cannot be reused while cached.
            _parsed[key] = (resource, parsed)
    return parsed


class Terminology:
    """The value sets of one evaluation.

    ``valuesets``: FHIR ValueSet resources (dicts); ``required``: the (id,
    version) of every value set the library declares — each must be among them.
    Parsed value sets are cached by the identity of their resource dicts, so the
    caller must not modify a ValueSet dict after using it.
    """

    __slots__ = ("by_url", "resolved")

    def __init__(self, valuesets: Iterable[Mapping[str, Any]] = (),
                 required: Iterable[tuple[str, str | None]] = ()) -> None:
        by_url: dict[str, list[Mapping[str, Any]]] = {}
        for resource in valuesets:
            if isinstance(resource, Mapping) and resource.get("resourceType") == "Bundle":
                for entry in resource.get("entry") or []:
                    inner = entry.get("resource") if isinstance(entry, Mapping) else None
                    if isinstance(inner, Mapping) and inner.get("resourceType") == "ValueSet":
                        self._add(by_url, inner)
                continue
            if not isinstance(resource, Mapping) or resource.get("resourceType") != "ValueSet":
                raise CqlRuntimeError("a value set must be a FHIR ValueSet resource, not "
                                      f"{_describe(resource)}")
            self._add(by_url, resource)
        self.by_url = by_url
        self.resolved: dict[tuple[str, str | None], ValueSet] = {}
        missing = []
        for ident, version in required:
            if self.find(ident, version) is None:
                missing.append(ident + (f" version '{version}'" if version else ""))
        if missing:
            err = CqlRuntimeError("value sets referenced by the library were not given: " + ", ".join(missing))
            err.missing = [(i, v) for i, v in required if self.find(i, v) is None]  # type: ignore[attr-defined]
            raise err
        for ident, version in required:
            self.get(ident, version)

    @staticmethod
    def _add(by_url: dict[str, list[Mapping[str, Any]]], resource: Mapping[str, Any]) -> None:
        for key in {_text(resource.get("url")), _text(resource.get("id"))} - {None}:
            by_url.setdefault(key, []).append(resource)  # type: ignore[arg-type]

    def find(self, ident: str, version: str | None) -> Mapping[str, Any] | None:
        """The ValueSet resource with this url (or id) and, when given, version."""
        candidates = self.by_url.get(ident)
        if not candidates:
            return None
        by_url = [c for c in candidates if c.get("url") == ident] or candidates
        if version is not None:
            matching = [c for c in by_url if c.get("version") == version]
            return matching[0] if matching else None
        versions = {c.get("version") for c in by_url}
        if len(versions) > 1:
            raise CqlRuntimeError(f"value set {ident} was given in several versions "
                                  f"({', '.join(sorted(str(v) for v in versions))}); declare the one to use")
        return by_url[0]

    def get(self, ident: str, version: str | None) -> ValueSet:
        key = (ident, version)
        found = self.resolved.get(key)
        if found is None:
            resource = self.find(ident, version)
            if resource is None:
                raise CqlRuntimeError(f"value set {ident}" + (f" version '{version}'" if version else "")
                                      + " was not given")
            found = _cached_parse(resource, self)
            self.resolved[key] = found
        return found

    def valueset(self, ref: ValueSetRef) -> ValueSet:
        return self.get(ref.id, ref.version)


def pins_of(ref: ValueSetRef) -> dict[str, str] | None:
    """Code system versions a value set declaration pins (codesystems with a version)."""
    pins = {cs.id: cs.version for cs in ref.codesystems if cs.version}
    return pins or None


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"a {value.get('resourceType') or 'JSON object without resourceType'}"
    return type(value).__name__


def terminology_of(ctx: Any) -> Terminology:
    term = getattr(ctx, "terminology", None)
    if term is None:
        raise CqlRuntimeError("no value sets are available in this evaluation")
    return term
