"""Public entry points: compile a library once, evaluate it many times.

A :class:`Library` is immutable after compilation; :meth:`Library.evaluate`
creates a fresh :class:`~cql.runtime.Context` for every call, so one compiled
library can serve many threads at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import ast
from .compiler import Compiled, LibraryCompiler, Scope
from .errors import CqlRuntimeError, CqlSemanticError, CqlUnsupportedError
from .fhir.terminology import Terminology
from .parser import parse_expression, parse_library
from .runtime import Context
from .types import Model, TypeSystem, type_text
from .values import DateTime, temporal

# Data models a library can name in `using`, loaded on first use: name -> "module:factory".
MODEL_FACTORIES: dict[str, str] = {"FHIR": "cql.fhir:create_model"}
_models: dict[str, Model] = {}


def get_model(name: str) -> Model:
    """The data model named in a `using` declaration (created once, shared)."""
    model = _models.get(name)
    if model is None:
        target = MODEL_FACTORIES.get(name)
        if target is None:
            raise CqlUnsupportedError(f"data model '{name}' is not supported")
        module_name, factory = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise CqlUnsupportedError(f"data model '{name}' is not available: {err}") from None
        model = getattr(module, factory)()
        _models[name] = model
    return model


@dataclass(frozen=True, slots=True)
class DefineInfo:
    name: str
    type: str
    public: bool
    line: int


@dataclass(frozen=True, slots=True)
class ValueSetInfo:
    name: str
    id: str
    version: str | None
    line: int


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    name: str
    type: str
    has_default: bool
    line: int


class LibraryLoader:
    """Resolves `include` declarations against the library texts given to
    :func:`compile_library`, and built-in libraries of the models (FHIRHelpers)."""

    def __init__(self, texts: Mapping[str, str], ts: TypeSystem) -> None:
        self.texts = dict(texts)
        self.ts = ts
        self.loaded: dict[tuple[str, str | None], LibraryCompiler] = {}
        self.loading: set[str] = set()
        self.main: LibraryCompiler | None = None

    def load(self, path: str, version: str | None, loc: ast.Loc, requester: str) -> LibraryCompiler:
        key = (path, version)
        if key in self.loaded:
            return self.loaded[key]
        if path in self.loading:
            raise CqlSemanticError(f"circular include of library '{path}'", *loc, library=requester)
        text = self._find_text(path, version)
        if text is None:
            for model in self.ts.models.values():
                builtin = getattr(model, "builtin_library", None)
                if builtin is not None:
                    compiled = builtin(path, version, self)
                    if compiled is not None:
                        self.loaded[key] = compiled
                        return compiled
            raise CqlSemanticError(f"library '{path}'" + (f" version '{version}'" if version else "")
                                   + " was not given", *loc, library=requester)
        self.loading.add(path)
        try:
            tree = parse_library(text)
            if tree.name is not None and tree.name != path:
                raise CqlSemanticError(f"library text given for '{path}' declares '{tree.name}'", *loc,
                                       library=requester)
            if version is not None and tree.version is not None and tree.version != version:
                raise CqlSemanticError(f"library '{path}' is version '{tree.version}', not '{version}'",
                                       *loc, library=requester)
            self._add_models(tree)
            compiler = LibraryCompiler(tree, self.ts, loader=self, label=path)
            compiler.compile_all()
        finally:
            self.loading.discard(path)
        self.loaded[key] = compiler
        return compiler

    def _find_text(self, path: str, version: str | None) -> str | None:
        for candidate in (f"{path}|{version}" if version else None, path):
            if candidate is not None and candidate in self.texts:
                return self.texts[candidate]
        return None

    def _add_models(self, tree: ast.Library) -> None:
        for using in tree.usings:
            if using.model == "System":
                continue
            if using.model not in self.ts.models:
                try:
                    model = get_model(using.model)
                except CqlUnsupportedError as err:
                    raise err.located(*using.loc, tree.name) from None
                self.ts.models[model.name] = model
                register = getattr(model, "register_conversions", None)
                if register is not None:
                    register(self.ts)
            version = getattr(self.ts.models[using.model], "version", None)
            if using.version is not None and version is not None and using.version != version:
                raise CqlUnsupportedError(f"{using.model} version '{using.version}' is not supported "
                                          f"(this engine has {using.model} '{version}')", *using.loc,
                                          library=tree.name)


class Library:
    """A compiled CQL library. Immutable; :meth:`evaluate` is safe to call from many threads."""

    def __init__(self, compiler: LibraryCompiler, models: Iterable[Model]) -> None:
        self._compiler = compiler
        self._models = list(models)
        scope = compiler.scope
        self.name = scope.name
        self.version = scope.version
        self.defines: dict[str, DefineInfo] = {}
        self._define_fns: dict[str, Any] = {}
        for name, entry in scope.defines.items():
            compiled = compiler.define_compiled(entry)
            public = entry.node.access != "private"
            self.defines[name] = DefineInfo(name, type_text(compiled.type), public, entry.node.loc[0])
            self._define_fns[name] = compiled.fn
        self.valuesets = {name: ValueSetInfo(name, node.id, node.version, node.loc[0])
                          for name, node in scope.valuesets.items()}
        self.parameters = {name: ParameterInfo(name, type_text(compiler.parameter_type(entry)),
                                               entry.node.default is not None, entry.node.loc[0])
                           for name, entry in scope.parameters.items()}
        self._included_valuesets = _all_valuesets(compiler)
        self._valueset_locations = _valueset_locations(compiler)

    @property
    def referenced_valuesets(self) -> list[tuple[str, str | None]]:
        """(id, version) of every value set declared here or in included libraries."""
        return list(self._included_valuesets)

    def evaluate(self, data: Any = None, patient_id: str | None = None, valuesets: Iterable[Mapping] = (),
                 parameters: Mapping[str, Any] | None = None, now: str | datetime | None = None,
                 deadline: float | None = None, defines: Iterable[str] | None = None) -> dict[str, Any]:
        """Evaluate the public defines (or the ones named) for one patient.

        ``data``: a FHIR Bundle or a list of resources (dicts); ``patient_id``
        picks the context patient (default: the only Patient in the data);
        ``valuesets``: FHIR ValueSet resources; ``parameters``: values for the
        library's parameters; ``now``: the evaluation time (ISO string or
        datetime; default: the current time); ``deadline``: a
        ``time.monotonic()`` value after which evaluation stops with
        :class:`~cql.CqlTimeoutError`.
        """
        ctx = self.new_context(data, patient_id, valuesets, parameters, now, deadline)
        names = list(defines) if defines is not None else [n for n, d in self.defines.items() if d.public]
        result: dict[str, Any] = {}
        for name in names:
            fn = self._define_fns.get(name)
            if fn is None:
                raise CqlSemanticError(f"library has no definition '{name}'")
            result[name] = fn(ctx)
        return result

    def new_context(self, data: Any, patient_id: str | None, valuesets: Iterable[Mapping],
                    parameters: Mapping[str, Any] | None, now: str | datetime | None,
                    deadline: float | None) -> Context:
        ctx = Context(_now(now), parameters=dict(parameters or {}), deadline=deadline)
        valuesets = valuesets if isinstance(valuesets, Terminology) else list(valuesets or ())
        try:
            ctx.terminology = valuesets if isinstance(valuesets, Terminology) \
                else Terminology(valuesets, self._included_valuesets)
        except CqlRuntimeError as err:
            missing = getattr(err, "missing", None)
            if missing:
                label, loc = self._valueset_locations.get(missing[0], (None, (None, None)))
                raise err.located(*loc, label) from None
            raise
        for model in self._models:
            setup = getattr(model, "prepare_context", None)
            if setup is not None:
                setup(ctx, data, patient_id, valuesets)
        return ctx


def _libraries(compiler: LibraryCompiler) -> Iterator[LibraryCompiler]:
    """The library and everything it includes, directly or not, each once."""
    stack = [compiler]
    visited: set[int] = set()
    while stack:
        lib = stack.pop()
        if id(lib) in visited:
            continue
        visited.add(id(lib))
        yield lib
        stack.extend(lib.scope.includes.values())


def _all_valuesets(compiler: LibraryCompiler) -> list[tuple[str, str | None]]:
    return list(_valueset_locations(compiler))


def _valueset_locations(compiler: LibraryCompiler) -> dict[tuple[str, str | None], tuple[str, ast.Loc]]:
    """Where each value set is first declared: (id, version) -> (library label, (line, column))."""
    found: dict[tuple[str, str | None], tuple[str, ast.Loc]] = {}
    for lib in _libraries(compiler):
        for node in lib.scope.valuesets.values():
            found.setdefault((node.id, node.version), (lib.label, node.loc))
    return found


def _now(now: str | datetime | None) -> DateTime:
    if now is None:
        return temporal.from_python(datetime.now().astimezone())
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.astimezone()
        return temporal.from_python(now)
    parsed = temporal.parse_iso_datetime(now)
    if parsed is None:
        raise CqlSemanticError(f"'now' is not an ISO date/time: {now!r}")
    if parsed.tz_offset is None:
        local = datetime.now().astimezone().utcoffset()
        seconds = local.total_seconds() if local is not None else 0
        parsed = parsed.with_default_offset(Decimal(int(seconds)) / Decimal(3600))
    return parsed


def compile_library(text: str, libraries: Mapping[str, str] | None = None) -> Library:
    """Compile the text of a CQL library.

    ``libraries`` maps the names (``"Name"`` or ``"Name|version"``) of libraries
    it includes to their CQL text; ``FHIRHelpers`` 4.0.1 is built in.
    Raises a :class:`~cql.CqlError` subclass with line and column on failure.
    """
    tree = parse_library(text)
    ts = TypeSystem()
    loader = LibraryLoader(libraries or {}, ts)
    loader._add_models(tree)
    compiler = LibraryCompiler(tree, ts, loader=loader, label=tree.name)
    loader.main = compiler
    compiler.compile_all()
    return Library(compiler, ts.models.values())


def compile_expression(text: str) -> tuple[Compiled, LibraryCompiler]:
    """Compile one expression with no data model (used by the conformance runner)."""
    tree = parse_expression(text)
    ts = TypeSystem()
    compiler = LibraryCompiler(ast.Library(), ts)
    return compiler.compile(tree, Scope()), compiler


def evaluate_expression(text: str, now: str | datetime | None = None) -> Any:
    """Evaluate one CQL expression that needs no data (e.g. ``1 + 1``, ``Today()``)."""
    compiled, _ = compile_expression(text)
    return compiled.fn(Context(_now(now)))


__all__ = ["DefineInfo", "Library", "ParameterInfo", "ValueSetInfo", "compile_expression", "compile_library",
           "evaluate_expression", "get_model"]
