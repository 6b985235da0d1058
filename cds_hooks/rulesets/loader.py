"""Validate and load a rule-set version.

One pass does both: it checks everything it can and reports every problem with
its file and line (not only the first), and when there is no error it returns
the :class:`CompiledRuleSet`. Checked: the manifest's YAML and schema; the
semantic version and folder names; that the CQL compiles and its library name
and version match; that every define a card names exists, is public and has a
usable type (conditions Boolean); that every value set the CQL names is
provided; prefetch templates; card and service ids; summary length;
suggestions; suppression; parameters; and the structure of the test files.
Running the tests is :mod:`cds_hooks.rulesets.testing`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from types import MappingProxyType, ModuleType
from typing import Any

import pydantic

import cql

from .compiled import (
    DRAFT_ORDERS_PARAMETER,
    HOOK_PARAMETER,
    SUMMARY_LIMIT,
    CardDefinition,
    CompiledRuleSet,
    ServiceDefinition,
)
from .content import ContentError, RuleSetContent, resolve_relative
from .manifest import SEMVER_PATTERN, CqlValue, Manifest
from .prefetch import check_prefetch_template
from .problems import Problem, RuleSetInvalid
from .templates import Template, TemplateError
from .testcases import TestFile
from .yamlsrc import YamlDocument, YamlSyntaxError, load_yaml

log = logging.getLogger(__name__)

MANIFEST = "manifest.yaml"
BOOLEAN = "System.Boolean"

_LIBRARY_HEADER = re.compile(r'^\s*library\s+("(?:[^"\\]|\\.)+"|[A-Za-z_][A-Za-z0-9_]*)', re.MULTILINE)
_HTML_TAG = re.compile(r"<[A-Za-z/!]")


@dataclass
class ValidationResult:
    """Every problem found, and the loaded rule set when there was no error."""

    problems: list[Problem] = field(default_factory=list)
    ruleset: CompiledRuleSet | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


# --- CQL types as the engine reports them ("System.Boolean", "List<FHIR.Observation>") ---

def _inner(type_text: str, wrapper: str) -> str | None:
    prefix = wrapper + "<"
    if type_text.startswith(prefix) and type_text.endswith(">"):
        return type_text[len(prefix):-1].strip()
    return None


def _is_any(type_text: str) -> bool:
    return type_text in ("System.Any", "Any", "")


_RENDERABLE_FHIR = {"FHIR.Quantity", "FHIR.Coding", "FHIR.CodeableConcept", "FHIR.Period", "FHIR.SimpleQuantity",
                    "FHIR.Age", "FHIR.Duration"}


def _is_renderable(type_text: str) -> bool:
    """Types that have a text form for people (see :mod:`humanize`)."""
    if _is_any(type_text) or type_text.startswith("System."):
        return True
    for wrapper in ("List", "Interval"):
        inner = _inner(type_text, wrapper)
        if inner is not None:
            return _is_renderable(inner)
    if type_text.startswith("FHIR."):
        name = type_text[5:]
        # FHIR primitives (lower case: FHIR.dateTime, FHIR.string) convert to System types.
        return name[:1].islower() or type_text in _RENDERABLE_FHIR
    return False


def _is_string_list(type_text: str) -> bool:
    inner = _inner(type_text, "List")
    return inner is not None and (inner in ("System.String", "FHIR.string") or _is_any(inner))


class _Builder:
    """Collects problems while building; one instance per validation."""

    def __init__(self, content: RuleSetContent, engine: Any, expected_id: str | None) -> None:
        self.content = content
        self.engine = engine
        self.expected_id = expected_id
        self.problems: list[Problem] = []
        self.doc: YamlDocument | None = None

    # -- reporting ---------------------------------------------------------------------------
    def error(self, file: str, line: int | None, message: str, column: int | None = None) -> None:
        self.problems.append(Problem(file, line, message, "error", column))

    def warning(self, file: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message, "warning"))

    def at(self, *path: str | int) -> int | None:
        return self.doc.line_of(path) if self.doc else None

    def merror(self, path: Iterable[str | int], message: str) -> None:
        """An error in the manifest at a value's path."""
        self.error(MANIFEST, self.at(*path), message)

    # -- steps -------------------------------------------------------------------------------
    def run(self) -> CompiledRuleSet | None:
        manifest = self.read_manifest()
        library = self.compile_library(manifest)
        valuesets = self.read_valuesets(manifest)
        if manifest is None:
            return None
        self.check_names(manifest)
        defines = self.check_library(manifest, library)
        self.check_valuesets(library, valuesets)
        parameters = self.check_parameters(manifest, library)
        services = self.check_services(manifest)
        templates = self.check_cards(manifest, defines)
        order = self.check_suppression(manifest)
        self.check_tests(manifest)
        if any(p.is_error for p in self.problems) or library is None:
            return None
        cards = {card.id: CardDefinition.from_manifest(card, templates[card.id]) for card in manifest.cards}
        return CompiledRuleSet(
            id=manifest.id,
            version=manifest.version,
            sha256=self.content.sha256,
            url=manifest.url,
            title=manifest.title,
            manifest=manifest,
            content=self.content,
            library=library,
            valuesets=tuple(vs for _, vs in valuesets),
            parameters=MappingProxyType(parameters),
            services=services,
            cards=MappingProxyType(cards),
            suppression_order=order,
        )

    def read_manifest(self) -> Manifest | None:
        if MANIFEST not in self.content:
            self.error(MANIFEST, None, "the version folder has no manifest.yaml")
            return None
        try:
            self.doc = load_yaml(self.content.text(MANIFEST))
        except UnicodeDecodeError:
            self.error(MANIFEST, None, "manifest.yaml is not UTF-8 text")
            return None
        except YamlSyntaxError as exc:
            self.error(MANIFEST, exc.line, f"YAML syntax error: {exc.message}", exc.column)
            return None
        for path, line in self.doc.duplicates:
            self.error(MANIFEST, line, f"duplicate key {'.'.join(map(str, path))}")
        if not isinstance(self.doc.data, dict):
            self.error(MANIFEST, 1, "the manifest must be a mapping of keys to values")
            return None
        try:
            return Manifest.model_validate(self.doc.data)
        except pydantic.ValidationError as exc:
            # A value that fits no alternative of a union gives one error per
            # alternative: report them as one problem at the value.
            grouped: dict[tuple, list[Mapping[str, Any]]] = {}
            for err in exc.errors(include_url=False):
                grouped.setdefault(_data_path(self.doc.data, err), []).append(err)
            for path, errs in grouped.items():
                self.schema_error(list(path), errs)
            return None

    def schema_error(self, loc: list[str | int], errs: list[Mapping[str, Any]]) -> None:
        err = errs[0]
        where = ".".join(str(p) for p in loc) or "manifest"
        message = " or ".join(dict.fromkeys(e["msg"] for e in errs))
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
            where = ".".join(str(p) for p in loc[:-1]) or "manifest"
        elif err["type"] == "missing":
            message = f"missing required key {loc[-1]!r}" if loc else message
            where = ".".join(str(p) for p in loc[:-1]) or "manifest"
        elif err["type"] == "string_pattern_mismatch" and loc and loc[-1] == "version":
            message = "not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)"
        elif err["type"] == "string_type" and loc and loc[-1] == "version":
            message = "the version must be a string such as 1.0.0 (quote it in YAML)"
        self.error(MANIFEST, self.doc.line_of(loc) if self.doc else None, f"{where}: {message}")

    def check_names(self, m: Manifest) -> None:
        folder = self.content.folder_name
        if folder and re.match(SEMVER_PATTERN, folder) and folder != m.version:
            self.merror(["version"], f"version {m.version} does not match the folder name {folder}")
        if self.expected_id and self.expected_id != m.id:
            self.merror(["id"], f"id {m.id!r} does not match the rule-set folder {self.expected_id!r}")

    def compile_library(self, m: Manifest | None) -> Any:
        if m is None:
            # Without a manifest, still compile a lone .cql file so its errors show too.
            candidates = [p for p in self.content if p.endswith(".cql") and "/" not in p]
            if len(candidates) != 1:
                return None
            library_file = candidates[0]
        else:
            library_file = m.library
        if library_file not in self.content:
            if m is not None:
                self.merror(["library"], f"library file {library_file} does not exist")
            return None
        try:
            text = self.content.text(library_file)
        except UnicodeDecodeError:
            self.error(library_file, None, "not UTF-8 text")
            return None
        others = {}
        for path in self.content:
            if path.endswith(".cql") and path != library_file and "/" not in path:
                other = self.content.text(path)
                match = _LIBRARY_HEADER.search(other)
                if match:
                    others[match.group(1).strip('"')] = other
        try:
            return self.engine.compile_library(text, libraries=others)
        except cql.CqlError as exc:
            file = library_file
            if exc.library and exc.library in others:
                file = next(p for p in self.content if p.endswith(".cql") and
                            self.content.text(p) == others[exc.library])
            self.error(file, exc.line, f"CQL: {exc.message}", exc.column)
            return None
        except Exception as exc:  # an engine defect must refuse the version, not crash validation
            log.exception("the CQL engine failed on %s", library_file)
            self.error(library_file, None, f"the CQL engine failed: {type(exc).__name__}: {exc}")
            return None

    def check_library(self, m: Manifest, library: Any) -> Mapping[str, Any] | None:
        if library is None:
            return None
        stem = PurePosixPath(m.library).stem
        if library.name != stem:
            self.merror(["library"], f"the library in {m.library} is named {library.name!r}; "
                                     f"the file and the library must have the same name")
        if library.version != m.version:
            self.error(m.library, 1, f"library version {library.version!r} does not match the rule-set "
                                     f"version {m.version!r}")
        return library.defines

    def read_valuesets(self, m: Manifest | None) -> list[tuple[str, dict]]:
        if m is None or m.valuesets is None:
            return []
        files: list[str] = []
        entries = [m.valuesets] if isinstance(m.valuesets, str) else list(m.valuesets)
        for index, entry in enumerate(entries):
            path = ["valuesets"] if isinstance(m.valuesets, str) else ["valuesets", index]
            try:
                entry = resolve_relative(MANIFEST, entry)
            except ContentError as exc:
                self.merror(path, str(exc))
                continue
            if entry in self.content:
                files.append(entry)
            else:
                found = [p for p in self.content.under(entry) if p.endswith(".json")]
                if not found:
                    self.merror(path, f"no value set files at {entry}")
                files.extend(found)
        out = []
        seen: dict[tuple[str, str | None], str] = {}
        for file in files:
            try:
                data = json.loads(self.content.text(file))
            except UnicodeDecodeError:
                self.error(file, None, "not UTF-8 text")
                continue
            except json.JSONDecodeError as exc:
                self.error(file, exc.lineno, f"invalid JSON: {exc.msg}", exc.colno)
                continue
            if not isinstance(data, dict) or data.get("resourceType") != "ValueSet":
                self.error(file, 1, "not a FHIR ValueSet resource")
                continue
            url = data.get("url")
            if not isinstance(url, str) or not url:
                self.error(file, 1, "ValueSet has no url")
                continue
            key = (url, data.get("version"))
            if key in seen:
                self.error(file, 1, f"value set {url} is also defined in {seen[key]}")
                continue
            seen[key] = file
            out.append((file, data))
        return out

    def check_valuesets(self, library: Any, valuesets: list[tuple[str, dict]]) -> None:
        if library is None:
            return
        provided: dict[str, set[str | None]] = {}
        for _, vs in valuesets:
            provided.setdefault(vs["url"], set()).add(vs.get("version"))
        file = self.library_file
        for name, info in (getattr(library, "valuesets", {}) or {}).items():
            versions = provided.get(info.id)
            if versions is None:
                self.error(file, info.line, f"value set {name!r} ({info.id}) is not provided by the rule set's "
                                            f"valuesets")
            elif info.version is not None and info.version not in versions:
                self.error(file, info.line, f"value set {name!r} needs version {info.version} of {info.id}; "
                                            f"provided: {', '.join(sorted(str(v) for v in versions))}")

    @property
    def library_file(self) -> str:
        data = self.doc.data if self.doc else None
        return str(data.get("library")) if isinstance(data, dict) else "library"

    def check_parameters(self, m: Manifest, library: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        declared = (getattr(library, "parameters", {}) or {}) if library is not None else None
        for name, raw in m.parameters.items():
            path = ["parameters", name]
            if name in (HOOK_PARAMETER, DRAFT_ORDERS_PARAMETER):
                self.merror(path, f"parameter {name!r} is supplied by the service on every call")
                continue
            info = declared.get(name) if declared is not None else None
            if declared is not None and info is None:
                self.merror(path, f"the library declares no parameter {name!r}")
                continue
            type_text = getattr(info, "type", "") if info is not None else ""
            if isinstance(raw, CqlValue):
                try:
                    values[name] = self.engine.evaluate_expression(raw.cql)
                except cql.CqlError as exc:
                    self.merror(path, f"CQL: {exc}")
                continue
            converted = _convert_parameter(raw, type_text)
            if converted is _MISMATCH:
                self.merror(path, f"value {raw!r} does not fit the parameter type {type_text}; "
                                  f"write other types as {{cql: \"...\"}}")
                continue
            values[name] = converted
        if declared is not None:
            for name, info in declared.items():
                if name == HOOK_PARAMETER and info.type not in ("System.String", "String"):
                    self.error(self.library_file, info.line, f"parameter {name!r} must be a String")
                elif name == DRAFT_ORDERS_PARAMETER and not (_inner(info.type, "List") or "").endswith(
                        "MedicationRequest"):
                    self.error(self.library_file, info.line,
                               f"parameter {name!r} must be a List<FHIR.MedicationRequest>")
                elif (name not in (HOOK_PARAMETER, DRAFT_ORDERS_PARAMETER) and not info.has_default
                      and name not in values):
                    self.warning(self.library_file, info.line,
                                 f"parameter {name!r} has no default and no value in the manifest: it is null")
        return values

    def check_services(self, m: Manifest) -> tuple[ServiceDefinition, ...]:
        card_ids = {card.id for card in m.cards}
        seen: set[str] = set()
        out = []
        used: set[str] = set()
        for si, service in enumerate(m.services):
            if service.id in seen:
                self.merror(["services", si, "id"], f"service id {service.id!r} is used twice")
            seen.add(service.id)
            for key, template in service.prefetch.items():
                messages = check_prefetch_template(template, service.hook)
                for message in messages:
                    self.merror(["services", si, "prefetch", key], f"prefetch {key}: {message}")
                if not messages:
                    limit = _search_subset_problem(template)
                    if limit:
                        self.warning(MANIFEST, self.at("services", si, "prefetch", key),
                                     f"prefetch {key}: the rule-set test runner and the local FHIR test server "
                                     f"can't run this query: {limit}")
            required = tuple(service.required) if service.required is not None else tuple(service.prefetch)
            for ri, key in enumerate(required):
                if key not in service.prefetch:
                    self.merror(["services", si, "required", ri], f"required key {key!r} is not a prefetch key")
            listed: set[str] = set()
            for ci, card_id in enumerate(service.cards):
                if card_id not in card_ids:
                    self.merror(["services", si, "cards", ci], f"no card with id {card_id!r}")
                if card_id in listed:
                    self.merror(["services", si, "cards", ci], f"card {card_id!r} is listed twice")
                listed.add(card_id)
            used |= listed
            out.append(ServiceDefinition(
                id=service.id, hook=service.hook, title=service.title, description=service.description,
                prefetch=MappingProxyType(dict(service.prefetch)), required=required,
                usage_requirements=service.usageRequirements, card_ids=tuple(service.cards)))
        for ci, card in enumerate(m.cards):
            if card.id not in used:
                self.warning(MANIFEST, self.at("cards", ci, "id"), f"card {card.id!r} is in no service's cards")
        return tuple(out)

    def parse_template(self, card_index: int, path: tuple, text: str,
                       defines: Mapping[str, Any] | None, store: dict[tuple, Template]) -> Template | None:
        full = ("cards", card_index, *path)
        try:
            template = Template(text)
        except TemplateError as exc:
            line = self.doc.text_line(full, exc.line, exc.text) if self.doc else None
            self.error(MANIFEST, line, f"{'.'.join(map(str, full))}: template: {exc.message}")
            return None
        store[path] = template
        if defines is None:
            return template
        for tag in template.tags:
            line = self.doc.text_line(full, tag.line, tag.text) if self.doc else None
            info = defines.get(tag.name)
            where = ".".join(map(str, full))
            if info is None:
                self.error(MANIFEST, line, f"{where}: no define named {tag.name!r} in the library"
                                           + _suggest(tag.name, defines))
            elif not getattr(info, "public", True):
                self.error(MANIFEST, line, f"{where}: define {tag.name!r} is private")
            elif tag.kind in ("section", "inverted"):
                if not (info.type == BOOLEAN or _inner(info.type, "List") is not None or _is_any(info.type)):
                    self.error(MANIFEST, line, f"{where}: section {{{{#{tag.name}}}}} needs a Boolean or a "
                                               f"List, but the define is {info.type}")
            elif not _is_renderable(info.type):
                self.error(MANIFEST, line, f"{where}: define {tag.name!r} is {info.type}, which has no text "
                                           f"form; return a System value (String, Quantity, Date, ...)")
        return template

    def check_define(self, path: list, name: str, defines: Mapping[str, Any] | None, what: str,
                     accept: Any) -> None:
        if defines is None:
            return
        info = defines.get(name)
        if info is None:
            self.merror(path, f"no define named {name!r} in the library" + _suggest(name, defines))
        elif not getattr(info, "public", True):
            self.merror(path, f"define {name!r} is private")
        elif not accept(info.type):
            self.merror(path, f"define {name!r} must be {what}, but it is {info.type}")

    def check_cards(self, m: Manifest, defines: Mapping[str, Any] | None) -> dict[str, dict[tuple, Template]]:
        """Check every card; returns each card's parsed templates keyed by their path in the card."""
        stores: dict[str, dict[tuple, Template]] = {}
        all_ids = {c.id for c in m.cards}
        for ci, card in enumerate(m.cards):
            base = ["cards", ci]
            if card.id in stores:
                self.merror([*base, "id"], f"card id {card.id!r} is used twice")
            self.check_define([*base, "when"], card.when, defines, "a Boolean",
                              lambda t: t == BOOLEAN)
            store: dict[tuple, Template] = {}
            summary = self.parse_template(ci, ("summary",), card.summary, defines, store)
            if summary is not None and len(" ".join(summary.static_text.split())) > SUMMARY_LIMIT:
                self.merror([*base, "summary"], f"summary is longer than {SUMMARY_LIMIT} characters "
                                                f"({len(summary.static_text)}) without its values")
            if card.detail is not None:
                detail = self.parse_template(ci, ("detail",), card.detail, defines, store)
                if detail is not None and _HTML_TAG.search(detail.static_text):
                    self.warning(MANIFEST, self.at(*base, "detail"), "detail contains raw HTML; use Markdown")
            for li, link in enumerate(card.links):
                self.parse_template(ci, ("links", li, "label"), link.label, defines, store)
                if link.appContext is not None and link.type != "smart":
                    self.merror([*base, "links", li, "appContext"], "appContext is only for smart links")
            if card.suggestions and card.selectionBehavior is None:
                self.merror([*base, "suggestions"], "a card with suggestions needs selectionBehavior "
                                                    "(at-most-one or any)")
            recommended = sum(1 for s in card.suggestions if s.isRecommended)
            if card.selectionBehavior == "at-most-one" and recommended > 1:
                self.merror([*base, "suggestions"], "at most one suggestion may be recommended with at-most-one")
            for si, suggestion in enumerate(card.suggestions):
                spath = ("suggestions", si)
                self.parse_template(ci, (*spath, "label"), suggestion.label, defines, store)
                if suggestion.when is not None:
                    self.check_define([*base, *spath, "when"], suggestion.when, defines, "a Boolean",
                                      lambda t: t == BOOLEAN)
                for ai, action in enumerate(suggestion.actions):
                    self.check_action(ci, (*spath, "actions", ai), action, defines, store)
            for si, other in enumerate(card.suppressedBy):
                if other == card.id:
                    self.merror([*base, "suppressedBy", si], "a card can't suppress itself")
                elif other not in all_ids:
                    self.merror([*base, "suppressedBy", si], f"no card with id {other!r}")
            stores.setdefault(card.id, store)
        return stores

    def check_action(self, ci: int, path: tuple, action: Any, defines: Mapping[str, Any] | None,
                     store: dict[tuple, Template]) -> None:
        full = ["cards", ci, *path]
        self.parse_template(ci, (*path, "description"), action.description, defines, store)
        if action.type == "delete":
            if (action.resourceId is None) == (action.resourceIds is None):
                self.merror(full, "a delete action needs exactly one of resourceId or resourceIds")
            if action.resource is not None:
                self.merror([*full, "resource"], "a delete action takes no resource")
            if action.resourceId is not None:
                self.parse_template(ci, (*path, "resourceId"), action.resourceId, defines, store)
            if action.resourceIds is not None:
                self.check_define([*full, "resourceIds"], action.resourceIds, defines, "a List<String>",
                                  _is_string_list)
        else:
            if action.resource is None or not isinstance(action.resource.get("resourceType"), str):
                self.merror(full, f"a {action.type} action needs a resource with a resourceType")
            if action.resourceId is not None or action.resourceIds is not None:
                self.merror(full, f"a {action.type} action takes a resource, not resourceId(s)")
            if action.resource is not None:
                self._resource_templates(ci, (*path, "resource"), action.resource, defines, store)

    def _resource_templates(self, ci: int, path: tuple, value: Any, defines: Mapping[str, Any] | None,
                            store: dict[tuple, Template]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._resource_templates(ci, (*path, key), item, defines, store)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._resource_templates(ci, (*path, index), item, defines, store)
        elif isinstance(value, str):
            self.parse_template(ci, path, value, defines, store)

    def check_suppression(self, m: Manifest) -> tuple[str, ...]:
        """Order cards so that suppressors come first; a cycle is an error."""
        graph = {card.id: [o for o in card.suppressedBy if o != card.id] for card in m.cards}
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(card_id: str, trail: list[str]) -> None:
            if state.get(card_id) == 2:
                return
            if state.get(card_id) == 1:
                cycle = trail[trail.index(card_id):] + [card_id]
                index = next(i for i, c in enumerate(m.cards) if c.id == card_id)
                self.merror(["cards", index, "suppressedBy"], f"suppression cycle: {' -> '.join(cycle)}")
                return
            state[card_id] = 1
            for other in graph.get(card_id, []):
                if other in graph:
                    visit(other, [*trail, card_id])
            state[card_id] = 2
            order.append(card_id)

        for card in m.cards:
            visit(card.id, [])
        return tuple(order)

    def check_tests(self, m: Manifest) -> None:
        files = [p for p in self.content.under("tests") if p.endswith((".yaml", ".yml"))
                 and p.count("/") == 1]
        if not files:
            self.warning("tests", None, "the rule set has no tests (tests/*.yaml)")
        services = {s.id: s for s in m.services}
        hooks = {s.hook for s in m.services}
        card_ids = {c.id for c in m.cards}
        for file in files:
            loaded = load_test_file(self.content, file)
            if isinstance(loaded, Problem):
                self.problems.append(loaded)
                continue
            doc, tests = loaded
            for problem in check_test_references(self.content, file, doc, tests, services, hooks, card_ids):
                self.problems.append(problem)


# --- tests: parsing and reference checks (shared with the test runner) ---------------------

def load_test_file(content: RuleSetContent, file: str) -> tuple[YamlDocument, TestFile] | Problem:
    """Parse one test file, or return the (first) problem that stops it."""
    try:
        doc = load_yaml(content.text(file))
    except UnicodeDecodeError:
        return Problem(file, None, "not UTF-8 text")
    except YamlSyntaxError as exc:
        return Problem(file, exc.line, f"YAML syntax error: {exc.message}", column=exc.column)
    try:
        return doc, TestFile.model_validate(doc.data)
    except pydantic.ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return Problem(file, doc.line_of(err["loc"]), f"{where}: {err['msg']}{more}")


def check_test_references(content: RuleSetContent, file: str, doc: YamlDocument, tests: TestFile,
                          services: Mapping[str, Any], hooks: set[str], card_ids: set[str]) -> list[Problem]:
    """Problems with what the cases of a test file refer to (files, services, card ids)."""
    problems: list[Problem] = []
    for index, case in enumerate(tests.cases):
        for key in ("patient", "request"):
            ref = getattr(case, key)
            if ref is None:
                continue
            try:
                resolved = resolve_relative(file, ref)
            except ContentError as exc:
                problems.append(Problem(file, doc.line_of(["cases", index, key]), str(exc)))
                continue
            if resolved not in content:
                problems.append(Problem(file, doc.line_of(["cases", index, key]), f"{key} file {ref} not found"))
        if case.service is not None and case.service not in services:
            problems.append(Problem(file, doc.line_of(["cases", index, "service"]),
                                    f"no service {case.service!r} in the manifest"))
        for key in ("expect", "absent"):
            for ci, card_id in enumerate(getattr(case, key)):
                if card_id not in card_ids:
                    problems.append(Problem(file, doc.line_of(["cases", index, key, ci]),
                                            f"no card with id {card_id!r}"))
        both = set(case.expect) & set(case.absent)
        if both:
            problems.append(Problem(file, doc.line_of(["cases", index]),
                                    f"cards both expected and absent: {', '.join(sorted(both))}"))
    return problems


# --- helpers ---------------------------------------------------------------------------------

def _search_subset_problem(template: str) -> str | None:
    """Why the project's in-memory FHIR search (tests, local test server) can't run a
    template that is otherwise valid, or None."""
    from cds_hooks.fhir_search import UnsupportedSearch, parse_query
    from cds_hooks.models import parse_context
    from cds_hooks.prefetch import PrefetchTemplate, PrefetchTemplateError

    try:
        query = PrefetchTemplate.compile("key", template).render(parse_context("patient-view", _SAMPLE_CONTEXT))
        parse_query(query or "")
    except (UnsupportedSearch, PrefetchTemplateError) as exc:
        return str(exc)
    return None


_SAMPLE_CONTEXT = {"patientId": "example", "userId": "Practitioner/example", "encounterId": "example"}
def _data_path(data: Any, err: Mapping[str, Any]) -> tuple:
    """An error's location with pydantic's union-alternative tags left out: only
    the keys and indexes that exist in the data (and a missing key itself)."""
    path: list[str | int] = []
    current = data
    loc = err["loc"]
    for index, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            current = current[part]
        elif err["type"] == "missing" and index == len(loc) - 1:
            pass
        else:
            continue  # a union tag such as 'str' or 'list[constrained-str]'
        path.append(part)
    return tuple(path)


_MISMATCH = object()


def _convert_parameter(raw: Any, type_text: str) -> Any:
    if not type_text or _is_any(type_text):
        return Decimal(repr(raw)) if isinstance(raw, float) else raw
    name = type_text.removeprefix("System.")
    if name == "Boolean":
        return raw if isinstance(raw, bool) else _MISMATCH
    if isinstance(raw, bool):
        return _MISMATCH
    if name == "Integer":
        return raw if isinstance(raw, int) else _MISMATCH
    if name == "Decimal":
        return Decimal(repr(raw)) if isinstance(raw, int | float) else _MISMATCH
    if name == "String":
        return raw if isinstance(raw, str) else _MISMATCH
    return _MISMATCH


def _suggest(name: str, defines: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(defines), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def default_engine() -> Any:
    """The CQL engine used when none is passed (the ``cql`` package)."""
    return cql


def check_content(content: RuleSetContent, *, engine: ModuleType | Any = None,
                  expected_id: str | None = None) -> ValidationResult:
    """Validate a version's content; the result holds every problem and, when
    there is no error, the compiled rule set."""
    builder = _Builder(content, engine or default_engine(), expected_id)
    ruleset = builder.run()
    return ValidationResult(builder.problems, ruleset)


def expected_ruleset_id(path: Path) -> str | None:
    """The rule-set id a version folder's parent name implies (rules/<id>/<version>)."""
    parent = path.resolve().parent.name
    return parent if re.match(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", parent) else None


def check_path(path: str | Path, *, engine: Any = None) -> ValidationResult:
    """Validate a version folder on disk (links followed)."""
    path = Path(path)
    try:
        content = RuleSetContent.from_folder(path)
    except ContentError as exc:
        return ValidationResult([Problem(str(path), None, str(exc))])
    return check_content(content, engine=engine, expected_id=expected_ruleset_id(path))


def load_content(content: RuleSetContent, *, engine: Any = None, expected_id: str | None = None) -> CompiledRuleSet:
    """Load a version's content; raises :class:`RuleSetInvalid` with every problem."""
    result = check_content(content, engine=engine, expected_id=expected_id)
    if result.ruleset is None:
        raise RuleSetInvalid(result.problems)
    return result.ruleset


def load_ruleset(path: Path, *, engine: Any = None) -> CompiledRuleSet:
    """Load a version folder; raises :class:`RuleSetInvalid` with every problem."""
    result = check_path(path, engine=engine)
    if result.ruleset is None:
        raise RuleSetInvalid(result.problems)
    return result.ruleset
