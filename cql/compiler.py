"""Compile a CQL syntax tree into Python closures.

Each expression becomes a :class:`Compiled`: a function of the evaluation
context and the expression's static type. Names are resolved once, at compile
time (aliases and function operands to variable slots, defines to cached
thunks, operators to the chosen overload), so evaluation never looks anything
up by name.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING, Any

from . import ast, operators  # noqa: F401  (importing registers the system operators)
from .errors import CqlError, CqlRuntimeError, CqlSemanticError, CqlUnsupportedError
from .operators.registry import UNCERTAIN_RESULTS, Match, candidates, describe_types, has_operator, is_dynamic
from .runtime import MISSING, Context
from .types import (
    ANY,
    BOOLEAN,
    CODE,
    CODESYSTEM,
    CONCEPT,
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    LONG,
    QUANTITY,
    RATIO,
    STRING,
    SYSTEM_TYPES,
    TIME,
    VALUESET,
    ChoiceType,
    CqlType,
    IntervalType,
    ListType,
    NamedType,
    TupleType,
    TypeSystem,
)
from .values import (
    Code,
    CodeSystemRef,
    Concept,
    Interval,
    Long,
    Quantity,
    Ratio,
    Tuple,
    ValueSetRef,
    temporal,
    uncertainty,
)
from .values.compare import compare
from .values.intervals import max_value, min_value, normalized_bounds
from .values.numbers import (
    DECIMAL_LIMIT,
    INTEGER_MAX,
    INTEGER_MIN,
    LONG_MAX,
    LONG_MIN,
    decimal_places,
    make_decimal,
)

if TYPE_CHECKING:
    from .library import LibraryLoader

Fn = Callable[[Context], Any]


@dataclass(slots=True)
class Compiled:
    fn: Fn
    type: CqlType
    null_literal: bool = False
    # The Integer value may be an uncertainty interval (a duration between imprecise dates).
    uncertain: bool = False


def constant(value: Any, type_: CqlType) -> Compiled:
    return Compiled(lambda ctx, _v=value: _v, type_)


_slot_counter = itertools.count(1)


def new_slot() -> int:
    return next(_slot_counter)


class Scope:
    """Names visible to an expression: aliases, let variables, function operands."""

    __slots__ = ("names", "parent", "this")

    def __init__(self, parent: Scope | None = None, this: tuple[int, CqlType] | None = None) -> None:
        self.names: dict[str, tuple[int, CqlType]] = {}
        self.parent = parent
        self.this = this if this is not None else (parent.this if parent else None)

    def lookup(self, name: str) -> tuple[int, CqlType] | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.names.get(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def child(self) -> Scope:
        return Scope(self)


# ---------------------------------------------------------------- library-level entries


@dataclass(eq=False)
class DefineEntry:
    node: ast.ExpressionDef
    key: int
    compiled: Compiled | None = None
    compiling: bool = False


@dataclass(eq=False)
class FunctionEntry:
    node: ast.FunctionDef
    operand_types: tuple[CqlType, ...]
    slots: tuple[int, ...]
    result_type: CqlType | None = None
    fn: Fn | None = None
    compiling: bool = False


@dataclass(eq=False)
class ParameterEntry:
    node: ast.ParameterDef
    key: int
    type: CqlType | None = None
    default: Compiled | None = None


@dataclass(eq=False)
class LibraryScope:
    """Everything a library declares, by name."""

    name: str | None
    version: str | None
    defines: dict[str, DefineEntry] = field(default_factory=dict)
    functions: dict[str, list[FunctionEntry]] = field(default_factory=dict)
    parameters: dict[str, ParameterEntry] = field(default_factory=dict)
    codesystems: dict[str, ast.CodeSystemDef] = field(default_factory=dict)
    valuesets: dict[str, ast.ValueSetDef] = field(default_factory=dict)
    codes: dict[str, ast.CodeDef] = field(default_factory=dict)
    concepts: dict[str, ast.ConceptDef] = field(default_factory=dict)
    includes: dict[str, LibraryCompiler] = field(default_factory=dict)


_BINARY_OPERATORS = {
    "=": "Equal", "~": "Equivalent", "<": "Less", "<=": "LessOrEqual", ">": "Greater",
    ">=": "GreaterOrEqual", "+": "Add", "-": "Subtract", "*": "Multiply", "/": "Divide",
    "div": "TruncatedDivide", "mod": "Modulo", "^": "Power", "union": "Union", "intersect": "Intersect",
    "except": "Except", "in": "In", "contains": "Contains",
}
_UNARY_OPERATORS = {
    "not": "Not", "exists": "Exists", "negate": "Negate", "distinct": "Distinct", "flatten": "Flatten",
    "start": "Start", "end": "End", "width": "Width", "successor": "Successor",
    "predecessor": "Predecessor", "singleton": "SingletonFrom", "point": "PointFrom",
}
_CONVERT_FUNCTIONS = {
    BOOLEAN: "ToBoolean", INTEGER: "ToInteger", LONG: "ToLong", DECIMAL: "ToDecimal", STRING: "ToString",
    DATE: "ToDate", DATETIME: "ToDateTime", TIME: "ToTime", QUANTITY: "ToQuantity", RATIO: "ToRatio",
    CONCEPT: "ToConcept",
}
_LOGICAL_BINARY = {"and", "or", "xor", "implies"}


class LibraryCompiler:
    """Compiles one library (or a lone expression) against the type system and models."""

    def __init__(self, library: ast.Library, ts: TypeSystem, *, loader: LibraryLoader | None = None,
                 label: str | None = None) -> None:
        self.library = library
        self.ts = ts
        self.loader = loader
        self.label = label or library.name or "expression"
        self.scope = LibraryScope(library.name, library.version)
        self.models = [ts.models[u.model] for u in library.usings if u.model in ts.models]
        # The context (Patient, Unfiltered, ...) of the statement being compiled, for retrieves.
        self.statement_context: str | None = None
        for using in library.usings:
            if using.model not in ts.models and using.model != "System":
                raise CqlUnsupportedError(f"data model '{using.model}' is not supported",
                                          *using.loc, library=self.label)
        self._declare()

    # ------------------------------------------------------------ declarations

    def _declare(self) -> None:
        lib = self.library
        sc = self.scope
        for inc in lib.includes:
            if self.loader is None:
                raise CqlSemanticError(f"cannot include '{inc.path}': no libraries given", *inc.loc,
                                       library=self.label)
            if inc.alias in sc.includes:
                raise CqlSemanticError(f"duplicate include alias '{inc.alias}'", *inc.loc, library=self.label)
            sc.includes[inc.alias] = self.loader.load(inc.path, inc.version, inc.loc, self.label)
        for kind, items in (("codesystem", lib.codesystems), ("valueset", lib.valuesets),
                            ("code", lib.codes), ("concept", lib.concepts)):
            table = getattr(sc, kind + "s")
            for item in items:
                if item.name in table:
                    raise CqlSemanticError(f"duplicate {kind} '{item.name}'", *item.loc, library=self.label)
                table[item.name] = item
        for param in lib.parameters:
            if param.name in sc.parameters:
                raise CqlSemanticError(f"duplicate parameter '{param.name}'", *param.loc, library=self.label)
            sc.parameters[param.name] = ParameterEntry(param, new_slot())
        for stmt in lib.statements:
            if isinstance(stmt, ast.ExpressionDef):
                if stmt.name in sc.defines:
                    raise CqlSemanticError(f"duplicate definition '{stmt.name}'", *stmt.loc, library=self.label)
                for kind in ("parameter", "codesystem", "valueset", "code", "concept"):
                    if stmt.name in getattr(sc, kind + "s"):
                        raise CqlSemanticError(f"'{stmt.name}' is already declared as a {kind}", *stmt.loc,
                                               library=self.label)
                sc.defines[stmt.name] = DefineEntry(stmt, new_slot())
            elif isinstance(stmt, ast.FunctionDef):
                types = tuple(self.resolve_type(spec) for _, spec in stmt.operands)
                entry = FunctionEntry(stmt, types, tuple(new_slot() for _ in stmt.operands))
                for other in sc.functions.get(stmt.name, []):
                    if other.operand_types == types:
                        raise CqlSemanticError(f"duplicate function '{stmt.name}'", *stmt.loc,
                                               library=self.label)
                sc.functions.setdefault(stmt.name, []).append(entry)

    def compile_all(self) -> None:
        """Compile every define, parameter and function body (so errors show at compile time)."""
        for entry in self.scope.parameters.values():
            self.parameter_type(entry)
        for entry in self.scope.defines.values():
            self.define_compiled(entry)
        for entries in self.scope.functions.values():
            for fentry in entries:
                self.function_compiled(fentry)

    # ------------------------------------------------------------ types

    def resolve_type(self, spec: ast.TypeSpec) -> CqlType:
        try:
            return self._resolve_type(spec)
        except CqlError as err:
            raise err.located(*spec.loc, self.label) from None

    def _resolve_type(self, spec: ast.TypeSpec) -> CqlType:
        if isinstance(spec, ast.NamedTypeSpec):
            name = spec.name
            if spec.qualifiers:
                model_name = spec.qualifiers[0]
                if model_name == "System" and len(spec.qualifiers) == 1:
                    if name in SYSTEM_TYPES:
                        return SYSTEM_TYPES[name]
                    raise CqlSemanticError(f"unknown type 'System.{name}'")
                model = self.ts.models.get(model_name)
                if model is not None and len(spec.qualifiers) == 1:
                    found = model.resolve_type(name)
                    if found is not None:
                        return found
                raise CqlSemanticError(f"unknown type '{'.'.join(spec.qualifiers)}.{name}'")
            if name in SYSTEM_TYPES:
                return SYSTEM_TYPES[name]
            for model in self.models:
                found = model.resolve_type(name)
                if found is not None:
                    return found
            raise CqlSemanticError(f"unknown type '{name}'")
        if isinstance(spec, ast.ListTypeSpec):
            return ListType(self._resolve_type(spec.element))
        if isinstance(spec, ast.IntervalTypeSpec):
            return IntervalType(self._resolve_type(spec.point))
        if isinstance(spec, ast.TupleTypeSpec):
            return TupleType(tuple((n, self._resolve_type(t)) for n, t in spec.elements))
        if isinstance(spec, ast.ChoiceTypeSpec):
            return ChoiceType(tuple(self._resolve_type(t) for t in spec.choices))
        raise CqlUnsupportedError(f"type specifier {type(spec).__name__}")

    # ------------------------------------------------------------ defines, parameters, functions

    def define_compiled(self, entry: DefineEntry) -> Compiled:
        if entry.compiled is not None:
            return entry.compiled
        if entry.compiling:
            raise CqlSemanticError(f"definition '{entry.node.name}' refers to itself", *entry.node.loc,
                                   library=self.label)
        entry.compiling = True
        saved_context, self.statement_context = self.statement_context, entry.node.context
        try:
            body = self.compile(entry.node.expr, Scope())
        finally:
            entry.compiling = False
            self.statement_context = saved_context
        key = entry.key
        body_fn = body.fn
        label = self.label
        node = entry.node

        def evaluate_define(ctx: Context) -> Any:
            cache = ctx.cache
            value = cache.get(key, MISSING)
            if value is MISSING:
                try:
                    value = body_fn(ctx)
                except CqlError as err:
                    raise err.located(*node.loc, label) from None
                cache[key] = value
            return value

        entry.compiled = Compiled(evaluate_define, body.type, uncertain=body.uncertain)
        return entry.compiled

    def parameter_type(self, entry: ParameterEntry) -> CqlType:
        if entry.type is None:
            node = entry.node
            if node.default is not None:
                entry.default = self.compile(node.default, Scope())
            if node.type is not None:
                entry.type = self.resolve_type(node.type)
                if entry.default is not None:
                    entry.default = self.coerce(entry.default, entry.type, node.default)
            elif entry.default is not None:
                entry.type = entry.default.type
            else:
                raise CqlSemanticError(f"parameter '{node.name}' needs a type or a default", *node.loc,
                                       library=self.label)
        return entry.type

    def function_compiled(self, entry: FunctionEntry) -> FunctionEntry:
        if entry.fn is not None or entry.compiling:
            return entry
        node = entry.node
        if node.body is None:
            if node.return_type is None:
                raise CqlSemanticError(f"external function '{node.name}' needs a return type", *node.loc,
                                       library=self.label)
            entry.result_type = self.resolve_type(node.return_type)
            name = node.name

            def external(ctx: Context) -> Any:
                raise CqlUnsupportedError(f"external function '{name}' is not available")
            entry.fn = external
            return entry
        entry.compiling = True
        saved_context, self.statement_context = self.statement_context, node.context
        if node.return_type is not None:
            entry.result_type = self.resolve_type(node.return_type)
        try:
            scope = Scope()
            for (name, _), slot, type_ in zip(node.operands, entry.slots, entry.operand_types):
                scope.names[name] = (slot, type_)
            body = self.compile(node.body, scope)
            if entry.result_type is not None:
                body = self.coerce(body, entry.result_type, node.body)
            else:
                entry.result_type = body.type
            entry.fn = body.fn
        finally:
            entry.compiling = False
            self.statement_context = saved_context
        return entry

    # ------------------------------------------------------------ compile dispatch

    def compile(self, node: ast.Expr, scope: Scope) -> Compiled:
        method = _DISPATCH.get(type(node))
        if method is None:
            raise CqlUnsupportedError(f"expression {type(node).__name__} is not supported", *node.loc,
                                      library=self.label)
        try:
            return method(self, node, scope)
        except CqlError as err:
            raise err.located(*node.loc, self.label) from None

    def coerce(self, compiled: Compiled, target: CqlType, node: ast.Node | None = None) -> Compiled:
        """Convert an expression to ``target`` with an implicit conversion, or fail."""
        if compiled.type == target:
            return compiled
        step = self.conversion(compiled.type, target)
        if step is None:
            raise CqlSemanticError(f"expected a value of type {target} but found {compiled.type}")
        fn = step[1]
        if fn is None:
            return Compiled(compiled.fn, target if compiled.type == ANY else compiled.type, compiled.null_literal)
        inner = compiled.fn
        return Compiled(lambda ctx: _apply(fn, inner(ctx)), target)

    def conversion(self, src: CqlType, dst: CqlType) -> tuple[int, Callable[[Any], Any] | None] | None:
        return self.ts.conversion(src, dst)

    # ------------------------------------------------------------ operator calls

    def call(self, name: str, args: Sequence[Compiled], options: dict[str, Any] | None = None) -> Compiled:
        """Compile a call of a system operator/function on already compiled arguments."""
        arg_types = [a.type for a in args]
        matches = candidates(name, arg_types, self.ts)
        if not matches:
            if not has_operator(name):
                raise CqlSemanticError(f"could not resolve call to operator {name}")
            raise CqlSemanticError(f"could not resolve call to operator {name} with arguments of type "
                                   f"({describe_types(arg_types)})")
        if any(a.uncertain for a in args) and name in uncertainty.HANDLERS:
            return self._uncertain_call(name, args, options, matches[0])
        dynamic = any(is_dynamic(a.type) and not a.null_literal for a in args)
        if dynamic and not all(p == ANY for p in matches[0].params):
            result = self._dynamic_call(name, args, options, matches)
        else:
            result = self._bind(matches[0], [a.fn for a in args], options)
        if name in UNCERTAIN_RESULTS:
            result.uncertain = True
        return result

    def _uncertain_call(self, name: str, args: Sequence[Compiled], options: dict[str, Any] | None,
                        match: Match) -> Compiled:
        """An operator on values that may be uncertainty intervals (CQL "Uncertainty")."""
        handler = uncertainty.HANDLERS[name]
        impl = self._impl(match, options)
        fns = [a.fn for a in args]
        converters = match.converters
        sig = match.signature

        def run(ctx: Context) -> Any:
            values = [f(ctx) for f in fns]
            if any(type(v) is Interval for v in values):
                return handler(*values)
            values = [v if c is None or v is None else c(v) for v, c in zip(values, converters)]
            if sig.nulls and any(v is None for v in values):
                return None
            return impl(ctx, *values) if sig.ctx else impl(*values)
        return Compiled(run, match.result, uncertain=name in uncertainty.ARITHMETIC)

    def _impl(self, match: Match, options: dict[str, Any] | None) -> Callable[..., Any]:
        sig = match.signature
        impl = sig.impl
        if sig.options:
            given = options or {}
            impl = partial(impl, **{name: given.get(name) for name in sig.options})
        return impl

    def _bind(self, match: Match, fns: list[Fn], options: dict[str, Any] | None) -> Compiled:
        sig = match.signature
        impl = self._impl(match, options)
        fns = [f if conv is None else _compose(f, conv) for f, conv in zip(fns, match.converters)]
        nulls = sig.nulls
        with_ctx = sig.ctx
        n = len(fns)
        if n == 0:
            run: Fn = (lambda ctx: impl(ctx)) if with_ctx else (lambda ctx: impl())
        elif n == 1:
            f0 = fns[0]
            if with_ctx:
                if nulls:
                    def run(ctx: Context) -> Any:
                        a = f0(ctx)
                        return None if a is None else impl(ctx, a)
                else:
                    def run(ctx: Context) -> Any:
                        return impl(ctx, f0(ctx))
            elif nulls:
                def run(ctx: Context) -> Any:
                    a = f0(ctx)
                    return None if a is None else impl(a)
            else:
                def run(ctx: Context) -> Any:
                    return impl(f0(ctx))
        elif n == 2:
            f0, f1 = fns
            if with_ctx:
                if nulls:
                    def run(ctx: Context) -> Any:
                        a = f0(ctx)
                        b = f1(ctx)
                        return None if a is None or b is None else impl(ctx, a, b)
                else:
                    def run(ctx: Context) -> Any:
                        return impl(ctx, f0(ctx), f1(ctx))
            elif nulls:
                def run(ctx: Context) -> Any:
                    a = f0(ctx)
                    b = f1(ctx)
                    return None if a is None or b is None else impl(a, b)
            else:
                def run(ctx: Context) -> Any:
                    return impl(f0(ctx), f1(ctx))
        else:
            def run(ctx: Context) -> Any:
                values = [f(ctx) for f in fns]
                if nulls and any(v is None for v in values):
                    return None
                return impl(ctx, *values) if with_ctx else impl(*values)
        return Compiled(run, match.result)

    def _dynamic_call(self, name: str, args: Sequence[Compiled], options: dict[str, Any] | None,
                      static_matches: list[Match]) -> Compiled:
        """An overload chosen from the run-time types of the argument values."""
        ts = self.ts
        fns = [a.fn for a in args]
        static_types = [a.type for a in args]
        cache: dict[tuple[Any, ...], tuple[Match, Callable[..., Any]]] = {}
        # A choice argument whose value fits no overload is narrowed as the static
        # overload says (to null when the value is of none of its types).
        best = static_matches[0]
        narrowing = all(conv is not None for a, conv in zip(args, best.converters)
                        if is_dynamic(a.type) and not a.null_literal) \
            and all(isinstance(a.type, ChoiceType) for a in args if is_dynamic(a.type) and not a.null_literal)
        fallback = (best, self._impl(best, options)) if narrowing else None

        def run(ctx: Context) -> Any:
            values = [f(ctx) for f in fns]
            key = tuple(_type_key(v) for v in values)
            found = cache.get(key)
            if found is None:
                types = [ts.runtime_type(v) if v is not None else st for v, st in zip(values, static_types)]
                matches = candidates(name, types, ts)
                if matches:
                    found = (matches[0], self._impl(matches[0], options))
                elif fallback is not None:
                    found = fallback
                else:
                    raise CqlRuntimeError(f"no operator {name} for values of type ({describe_types(types)})")
                cache[key] = found
            match, impl = found
            values = [v if conv is None or v is None else conv(v) for v, conv in zip(values, match.converters)]
            if match.signature.nulls and any(v is None for v in values):
                return None
            return impl(ctx, *values) if match.signature.ctx else impl(*values)

        results = {m.result for m in static_matches}
        result = results.pop() if len(results) == 1 else ANY
        return Compiled(run, result)

    # ------------------------------------------------------------ literals and selectors

    def c_literal(self, node: ast.Literal, scope: Scope) -> Compiled:
        kind, value = node.kind, node.value
        if kind == "null":
            return Compiled(lambda ctx: None, ANY, null_literal=True)
        if kind == "boolean":
            return constant(value, BOOLEAN)
        if kind == "string":
            return constant(value, STRING)
        if kind == "integer":
            number = int(value)
            if not INTEGER_MIN <= number <= INTEGER_MAX:
                raise CqlSemanticError(f"integer literal {value} is outside the range of Integer")
            return constant(number, INTEGER)
        if kind == "long":
            number = int(value)
            if not LONG_MIN <= number <= LONG_MAX:
                raise CqlSemanticError(f"long literal {value}L is outside the range of Long")
            return constant(Long(number), LONG)
        if kind == "decimal":
            return constant(_decimal_literal(value), DECIMAL)
        if kind == "date":
            return constant(temporal.parse_date_literal(value), DATE)
        if kind == "time":
            return constant(temporal.parse_time_literal(value), TIME)
        if kind == "datetime":
            dt = temporal.parse_datetime_literal(value)
            if dt.tz_offset is not None:
                return constant(dt, DATETIME)
            return Compiled(lambda ctx: dt.with_default_offset(ctx.offset), DATETIME)
        raise CqlUnsupportedError(f"literal kind {kind}")

    def c_quantity(self, node: ast.QuantityLiteral, scope: Scope) -> Compiled:
        return constant(self.quantity_value(node), QUANTITY)

    def quantity_value(self, node: ast.QuantityLiteral) -> Quantity:
        from . import ucum

        # A quantity's value is a Decimal rounded to 8 places (unlike a bare decimal
        # literal, where more places are an error), as the conformance suite expects.
        try:
            value = make_decimal(Decimal(node.value))
        except InvalidOperation:
            raise CqlSemanticError(f"invalid number '{node.value}'") from None
        unit = node.unit if node.unit is not None else "1"
        if unit not in ucum.CALENDAR_UNITS and not ucum.is_valid_unit(unit):
            raise CqlSemanticError(f"'{unit}' is not a valid UCUM unit")
        return Quantity(value, unit)

    def c_ratio(self, node: ast.RatioLiteral, scope: Scope) -> Compiled:
        return constant(Ratio(self.quantity_value(node.numerator), self.quantity_value(node.denominator)), RATIO)

    def c_interval(self, node: ast.IntervalSelector, scope: Scope) -> Compiled:
        low = self.compile(node.low, scope)
        high = self.compile(node.high, scope)
        point = self._unify([low, high], "interval bounds")
        low, high = self.coerce(low, point), self.coerce(high, point)
        point_name = point.name if isinstance(point, NamedType) and point.model == "System" else None
        if point != ANY and point not in (INTEGER, LONG, DECIMAL, QUANTITY, DATE, DATETIME, TIME, STRING) \
                and isinstance(point, NamedType) and point.model == "System":
            raise CqlSemanticError(f"an interval of {point} is not allowed")
        lf, hf, lc, hc = low.fn, high.fn, node.low_closed, node.high_closed

        def build(ctx: Context) -> Interval:
            interval = Interval(lf(ctx), hf(ctx), lc, hc, point_name)
            if interval.low is not None and interval.high is not None:
                lo, hi = normalized_bounds(interval)
                order = compare(lo, hi)
                if order is not None and order > 0:
                    raise CqlRuntimeError("invalid interval: the low bound is after the high bound")
            return interval
        return Compiled(build, IntervalType(point))

    def _unify(self, items: Sequence[Compiled], what: str) -> CqlType:
        types = [c.type for c in items]
        concrete = [t for t in types if t != ANY]
        if not concrete:
            return ANY
        from .operators.registry import unify

        found = unify(concrete, self.ts)
        if found is None:
            return self.ts.common_type(concrete)
        return found

    def c_list(self, node: ast.ListSelector, scope: Scope) -> Compiled:
        items = [self.compile(item, scope) for item in node.items]
        if node.element_type is not None:
            element = self.resolve_type(node.element_type)
        else:
            element = self._unify(items, "list elements")
        items = [self.coerce(c, element) if self.conversion(c.type, element) is not None else c for c in items]
        fns = [c.fn for c in items]
        if not fns:
            return Compiled(lambda ctx: [], ListType(element))
        return Compiled(lambda ctx: [f(ctx) for f in fns], ListType(element))

    def c_tuple(self, node: ast.TupleSelector, scope: Scope) -> Compiled:
        names = [name for name, _ in node.elements]
        if len(set(names)) != len(names):
            raise CqlSemanticError("duplicate element name in tuple")
        parts = [(name, self.compile(expr, scope)) for name, expr in node.elements]
        fns = [(name, c.fn) for name, c in parts]
        return Compiled(lambda ctx: Tuple({name: f(ctx) for name, f in fns}),
                        TupleType(tuple((name, c.type) for name, c in parts)))

    def c_instance(self, node: ast.InstanceSelector, scope: Scope) -> Compiled:
        type_ = self.resolve_type(node.type)
        parts = {name: self.compile(expr, scope) for name, expr in node.elements}
        if type_ == CODE:
            allowed = {"code": STRING, "system": STRING, "version": STRING, "display": STRING}
            fns = self._instance_parts(parts, allowed)
            return Compiled(lambda ctx: Code(**{k: f(ctx) for k, f in fns}), CODE)
        if type_ == CONCEPT:
            fns = self._instance_parts(parts, {"codes": ListType(CODE), "display": STRING})
            return Compiled(lambda ctx: _concept(**{k: f(ctx) for k, f in fns}), CONCEPT)
        if type_ == QUANTITY:
            fns = self._instance_parts(parts, {"value": DECIMAL, "unit": STRING})
            return Compiled(lambda ctx: _quantity(**{k: f(ctx) for k, f in fns}), QUANTITY)
        if type_ == RATIO:
            fns = self._instance_parts(parts, {"numerator": QUANTITY, "denominator": QUANTITY})
            return Compiled(lambda ctx: Ratio(**{k: f(ctx) for k, f in fns}), RATIO)
        if type_ in (VALUESET, CODESYSTEM):
            fns = self._instance_parts(parts, {"id": STRING, "version": STRING, "name": STRING})
            cls = ValueSetRef if type_ == VALUESET else CodeSystemRef
            return Compiled(lambda ctx: cls(**{k: f(ctx) for k, f in fns}), type_)
        if isinstance(type_, NamedType) and type_.model in self.ts.models:
            model = self.ts.models[type_.model]
            build = getattr(model, "compile_instance", None)
            if build is not None:
                return build(self, type_, parts)
        raise CqlUnsupportedError(f"instance selector for type {type_} is not supported")

    def _instance_parts(self, parts: dict[str, Compiled],
                        allowed: dict[str, CqlType]) -> list[tuple[str, Fn]]:
        out = []
        for name, compiled in parts.items():
            if name not in allowed:
                raise CqlSemanticError(f"unknown element '{name}'")
            want = allowed[name]
            if isinstance(want, ListType) and not isinstance(compiled.type, ListType) \
                    and compiled.type != ANY and self.conversion(compiled.type, want.element) is not None:
                # List promotion: a single value given for a list element.
                item = self.coerce(compiled, want.element).fn
                out.append((name, lambda ctx, _f=item: None if (v := _f(ctx)) is None else [v]))
                continue
            out.append((name, self.coerce(compiled, want).fn))
        return out

    def c_code(self, node: ast.CodeSelector, scope: Scope) -> Compiled:
        system = self.codesystem_ref(node.system)
        return constant(Code(node.code, system.id, system.version, node.display), CODE)

    def c_concept(self, node: ast.ConceptSelector, scope: Scope) -> Compiled:
        codes = []
        for code_node in node.codes:
            system = self.codesystem_ref(code_node.system)
            codes.append(Code(code_node.code, system.id, system.version, code_node.display))
        return constant(Concept(tuple(codes), node.display), CONCEPT)

    # ------------------------------------------------------------ names

    def library_for(self, alias: str | None) -> LibraryCompiler:
        if alias is None:
            return self
        lib = self.scope.includes.get(alias)
        if lib is None:
            raise CqlSemanticError(f"unknown library '{alias}'")
        return lib

    def codesystem_ref(self, name: tuple[str | None, str]) -> CodeSystemRef:
        lib = self.library_for(name[0])
        node = lib.scope.codesystems.get(name[1])
        if node is None or (lib is not self and node.access == "private"):
            raise CqlSemanticError(f"unknown code system '{name[1]}'")
        return CodeSystemRef(node.id, node.version, node.name)

    def code_value(self, lib: LibraryCompiler, node: ast.CodeDef) -> Code:
        system = lib.codesystem_ref(node.system)
        return Code(node.code, system.id, system.version, node.display)

    def resolve_library_name(self, lib: LibraryCompiler, name: str, external: bool) -> Compiled | None:
        sc = lib.scope

        def visible(access: str) -> bool:
            return not external or access != "private"
        entry = sc.defines.get(name)
        if entry is not None and visible(entry.node.access):
            return lib.define_compiled(entry)
        param = sc.parameters.get(name)
        if param is not None and visible(param.node.access):
            return lib.parameter_ref(param)
        node = sc.codesystems.get(name)
        if node is not None and visible(node.access):
            return constant(CodeSystemRef(node.id, node.version, node.name), CODESYSTEM)
        vs = sc.valuesets.get(name)
        if vs is not None and visible(vs.access):
            systems = tuple(lib.codesystem_ref(s) for s in vs.codesystems)
            return constant(ValueSetRef(vs.id, vs.version, vs.name, systems), VALUESET)
        code = sc.codes.get(name)
        if code is not None and visible(code.access):
            return constant(lib.code_value(lib, code), CODE)
        concept = sc.concepts.get(name)
        if concept is not None and visible(concept.access):
            codes = []
            for ref in concept.codes:
                code_lib = lib.library_for(ref[0])
                code_node = code_lib.scope.codes.get(ref[1])
                if code_node is None:
                    raise CqlSemanticError(f"unknown code '{ref[1]}'")
                codes.append(lib.code_value(code_lib, code_node))
            return constant(Concept(tuple(codes), concept.display), CONCEPT)
        return None

    def parameter_ref(self, entry: ParameterEntry) -> Compiled:
        type_ = self.parameter_type(entry)
        key = ("param", entry.key)
        name = entry.node.name
        default_fn = entry.default.fn if entry.default is not None else None
        is_main = self.loader is None or self.loader.main is self
        ts = self.ts

        def value(ctx: Context) -> Any:
            cache = ctx.cache
            found = cache.get(key, MISSING)
            if found is MISSING:
                if is_main and name in ctx.parameters:
                    found = _coerce_parameter(ctx.parameters[name], type_, ts, name)
                else:
                    found = default_fn(ctx) if default_fn is not None else None
                cache[key] = found
            return found
        return Compiled(value, type_)

    def c_identifier(self, node: ast.Identifier, scope: Scope) -> Compiled:
        name = node.name
        found = scope.lookup(name)
        if found is not None:
            slot, type_ = found
            return Compiled(lambda ctx: ctx.vars.get(slot), type_)
        if scope.this is not None:
            # In `sort by`, a property of the element wins over a library name.
            this = self._this(scope)
            try:
                return self.member_access(this, name)
            except CqlSemanticError:
                pass
        resolved = self.resolve_library_name(self, name, external=False)
        if resolved is not None:
            return resolved
        for model in self.models:
            implicit = getattr(model, "implicit_identifier", None)
            if implicit is not None:
                compiled = implicit(self, name)
                if compiled is not None:
                    return compiled
        raise CqlSemanticError(f"could not resolve identifier '{name}'")

    def _this(self, scope: Scope) -> Compiled:
        assert scope.this is not None
        slot, type_ = scope.this
        return Compiled(lambda ctx: ctx.vars.get(slot), type_)

    def c_special(self, node: ast.Special, scope: Scope) -> Compiled:
        if node.name == "$this" and scope.this is not None:
            return self._this(scope)
        raise CqlUnsupportedError(f"{node.name} is not supported here")

    def c_member(self, node: ast.Member, scope: Scope) -> Compiled:
        src = node.source
        if isinstance(src, ast.Identifier) and scope.lookup(src.name) is None \
                and src.name in self.scope.includes:
            lib = self.scope.includes[src.name]
            resolved = self.resolve_library_name(lib, node.name, external=True)
            if resolved is None:
                raise CqlSemanticError(f"could not resolve '{node.name}' in library '{src.name}'")
            return resolved
        return self.member_access(self.compile(src, scope), node.name)

    def member_access(self, source: Compiled, name: str) -> Compiled:
        for model in self.ts.models.values():
            hook = getattr(model, "compile_member", None)
            if hook is not None:
                found = hook(self, source, name)
                if found is not None:
                    return found
        type_ = source.type
        result, accessor = self.member_accessor(type_, name)
        fn = source.fn

        def access(ctx: Context) -> Any:
            value = fn(ctx)
            return None if value is None else accessor(value)
        return Compiled(access, result)

    def member_accessor(self, type_: CqlType, name: str) -> tuple[CqlType, Callable[[Any], Any]]:
        if isinstance(type_, TupleType):
            element = type_.element(name)
            if element is None:
                raise CqlSemanticError(f"tuple has no element '{name}'")
            return element, lambda v: v.elements.get(name) if isinstance(v, Tuple) else _dynamic_member(v, name)
        if isinstance(type_, IntervalType):
            if name in ("low", "high"):
                return type_.point, lambda v: getattr(v, name)
            if name in ("lowClosed", "highClosed"):
                attr = "low_closed" if name == "lowClosed" else "high_closed"
                return BOOLEAN, lambda v: getattr(v, attr)
            raise CqlSemanticError(f"interval has no element '{name}'")
        system = _SYSTEM_MEMBERS.get(type_)
        if system is not None:
            if name not in system:
                raise CqlSemanticError(f"{type_} has no element '{name}'")
            member_type, attr = system[name]
            if attr == "codes":
                return member_type, lambda v: list(v.codes)
            return member_type, lambda v: getattr(v, attr)
        if isinstance(type_, ListType):
            element_type, accessor = self.member_accessor(type_.element, name)
            flat = element_type.element if isinstance(element_type, ListType) else element_type

            def each(values: list[Any]) -> list[Any]:
                out: list[Any] = []
                for item in values:
                    if item is None:
                        continue
                    got = accessor(item)
                    if got is None:
                        continue
                    if isinstance(got, list):
                        out.extend(x for x in got if x is not None)
                    else:
                        out.append(got)
                return out
            return ListType(flat), each
        if isinstance(type_, NamedType) and type_.model in self.ts.models:
            model = self.ts.models[type_.model]
            member_type = model.member_type(type_, name)
            accessor = model.member_accessor(type_, name)
            if member_type is None or accessor is None:
                raise CqlSemanticError(f"{type_} has no element '{name}'")
            return member_type, accessor
        if type_ == ANY or isinstance(type_, ChoiceType):
            models = list(self.ts.models.values())
            return ANY, lambda v: _dynamic_member(v, name, models)
        raise CqlSemanticError(f"{type_} has no element '{name}'")

    # ------------------------------------------------------------ calls

    def c_call(self, node: ast.Call, scope: Scope) -> Compiled:
        src = node.source
        if src is not None and isinstance(src, ast.Identifier) and scope.lookup(src.name) is None \
                and src.name in self.scope.includes:
            lib = self.scope.includes[src.name]
            args = [self.compile(a, scope) for a in node.args]
            found = self.user_function(lib, node.name, args, external=True, fluent=False)
            if found is None:
                raise CqlSemanticError(f"could not resolve function '{node.name}' in library '{src.name}'")
            return found
        if src is not None:
            args = [self.compile(src, scope)] + [self.compile(a, scope) for a in node.args]
            for lib in [self, *self.scope.includes.values()]:
                found = self.user_function(lib, node.name, args, external=lib is not self, fluent=True)
                if found is not None:
                    return found
            raise CqlSemanticError(f"could not resolve fluent function '{node.name}'")
        special = _SPECIAL_FUNCTIONS.get(node.name)
        if special is not None:
            return special(self, node, scope)
        args = [self.compile(a, scope) for a in node.args]
        found = self.user_function(self, node.name, args, external=False, fluent=None)
        if found is not None:
            return found
        if has_operator(node.name):
            return self.call(node.name, args)
        if node.name in ("distinct", "flatten") and len(args) == 1:
            # 'distinct(X)' / 'flatten(X)': the keyword operator applied to a parenthesized operand.
            return self.call(_UNARY_OPERATORS[node.name], args)
        raise CqlSemanticError(f"could not resolve call to function '{node.name}' with arguments of type "
                               f"({describe_types([a.type for a in args])})")

    def user_function(self, lib: LibraryCompiler, name: str, args: list[Compiled], *, external: bool,
                      fluent: bool | None) -> Compiled | None:
        entries = lib.scope.functions.get(name)
        if not entries:
            return None
        best: tuple[int, FunctionEntry, list[Callable[[Any], Any] | None]] | None = None
        for entry in entries:
            if external and entry.node.access == "private":
                continue
            if fluent and not entry.node.fluent:
                continue
            if len(entry.operand_types) != len(args):
                continue
            cost = 0
            convs: list[Callable[[Any], Any] | None] = []
            for arg, want in zip(args, entry.operand_types):
                step = self.conversion(arg.type, want)
                if step is None:
                    break
                cost += step[0]
                convs.append(step[1])
            else:
                if best is None or cost < best[0]:
                    best = (cost, entry, convs)
        if best is None:
            return None
        _, entry, convs = best
        lib.function_compiled(entry)
        fns = [a.fn if c is None else _compose(a.fn, c) for a, c in zip(args, convs)]
        slots = entry.slots
        if entry.result_type is None:
            raise CqlSemanticError(f"function '{name}' is recursive and needs a declared return type")
        native = getattr(entry.fn, "native", None)
        if native is not None and len(fns) == 1:
            # A function implemented in Python (a model's built-in library): no operand slots.
            arg_fn = fns[0]

            def call_native(ctx: Context) -> Any:
                value = arg_fn(ctx)
                return None if value is None else native(value)
            return Compiled(call_native, entry.result_type)
        if len(slots) == 1:
            slot0, arg0 = slots[0], fns[0]

            def invoke1(ctx: Context) -> Any:
                value = arg0(ctx)
                variables = ctx.vars
                saved = variables.get(slot0, MISSING)
                variables[slot0] = value
                try:
                    return entry.fn(ctx)  # type: ignore[misc]
                finally:
                    if saved is MISSING:
                        variables.pop(slot0, None)
                    else:
                        variables[slot0] = saved
            return Compiled(invoke1, entry.result_type)

        def invoke(ctx: Context) -> Any:
            values = [f(ctx) for f in fns]
            variables = ctx.vars
            saved = [variables.get(s, MISSING) for s in slots]
            for s, v in zip(slots, values):
                variables[s] = v
            try:
                body = entry.fn
                assert body is not None
                return body(ctx)
            finally:
                for s, old in zip(slots, saved):
                    if old is MISSING:
                        variables.pop(s, None)
                    else:
                        variables[s] = old
        return Compiled(invoke, entry.result_type)

    # ------------------------------------------------------------ operators

    def c_unary(self, node: ast.Unary, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        if node.op == "plus":
            numeric = (INTEGER, LONG, DECIMAL, QUANTITY, ANY)
            choices = operand.type.choices if isinstance(operand.type, ChoiceType) else (operand.type,)
            if not all(t in numeric for t in choices):
                raise CqlSemanticError(f"unary plus is not defined for {operand.type}")
            return operand
        return self.call(_UNARY_OPERATORS[node.op], [operand])

    def c_binary(self, node: ast.Binary, scope: Scope) -> Compiled:
        op = node.op
        left = self.compile(node.left, scope)
        right = self.compile(node.right, scope)
        if op in _LOGICAL_BINARY:
            return self.logical(op, left, right)
        if op == "!=":
            return self.call("Not", [self.call("Equal", [left, right])])
        if op == "!~":
            return self.call("Not", [self.call("Equivalent", [left, right])])
        if op == "&":
            left, right = self.coerce(left, STRING), self.coerce(right, STRING)
            lf, rf = left.fn, right.fn
            return Compiled(lambda ctx: (lf(ctx) or "") + (rf(ctx) or ""), STRING)
        options = {"precision": node.precision} if node.precision else None
        if op in ("in", "contains") and right.type == VALUESET or (op == "in" and _is_terminology(right.type)):
            if op == "in" and right.type == CODESYSTEM:
                return self.call("InCodeSystem", [left, right], options)
            return self.call("InValueSet" if op == "in" else "Contains", [left, right], options)
        return self.call(_BINARY_OPERATORS[op], [left, right], options)

    def logical(self, op: str, left: Compiled, right: Compiled) -> Compiled:
        left = self.coerce(left, BOOLEAN)
        right = self.coerce(right, BOOLEAN)
        lf, rf = left.fn, right.fn
        if op == "and":
            def run(ctx: Context) -> bool | None:
                a = lf(ctx)
                if a is False:
                    return False
                b = rf(ctx)
                if b is False:
                    return False
                return None if a is None or b is None else True
        elif op == "or":
            def run(ctx: Context) -> bool | None:
                a = lf(ctx)
                if a is True:
                    return True
                b = rf(ctx)
                if b is True:
                    return True
                return None if a is None or b is None else False
        elif op == "implies":
            def run(ctx: Context) -> bool | None:
                a = lf(ctx)
                if a is False:
                    return True
                b = rf(ctx)
                if b is True:
                    return True
                return None if a is None or b is None else False
        else:
            def run(ctx: Context) -> bool | None:
                a = lf(ctx)
                b = rf(ctx)
                return None if a is None or b is None else a is not b
        return Compiled(run, BOOLEAN)

    def c_boolean_test(self, node: ast.BooleanTest, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        fn = operand.fn
        if node.test == "null":
            test: Callable[[Any], bool] = lambda v: v is None  # noqa: E731
        else:
            if operand.type not in (BOOLEAN, ANY) and not isinstance(operand.type, ChoiceType):
                raise CqlSemanticError(f"'is {node.test}' needs a Boolean, not {operand.type}")
            want = node.test == "true"
            test = lambda v: v is want  # noqa: E731
        if node.negated:
            return Compiled(lambda ctx: not test(fn(ctx)), BOOLEAN)
        return Compiled(lambda ctx: test(fn(ctx)), BOOLEAN)

    def c_type_test(self, node: ast.TypeTest, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        target = self.resolve_type(node.type)
        test = self.ts.instance_test(target)
        for model in self.models:
            hook = getattr(model, "type_test", None)
            model_test = hook(operand.type, target) if hook is not None else None
            if model_test is not None:
                test = model_test
                break
        fn = operand.fn

        def is_type(ctx: Context) -> bool:
            value = fn(ctx)
            return value is not None and test(value)
        return Compiled(is_type, BOOLEAN)

    def c_as(self, node: ast.As, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        target = self.resolve_type(node.type)
        return self.cast(operand, target, node.strict)

    def cast(self, operand: Compiled, target: CqlType, strict: bool) -> Compiled:
        source = operand.type
        if operand.null_literal or self.ts.is_subtype(source, target):
            return Compiled(operand.fn, target)
        dynamic = is_dynamic(source)
        if dynamic or not self.ts.is_subtype(target, source):
            cast_fn = None
            for model in self.models:
                hook = getattr(model, "cast_function", None)
                if hook is not None:
                    cast_fn = hook(source, target)
                    if cast_fn is not None:
                        break
            if cast_fn is None and not dynamic:
                raise CqlSemanticError(f"a value of type {source} cannot be cast as {target}")
            if cast_fn is not None:
                inner = operand.fn
                if strict:
                    def strict_cast(ctx: Context, _cast=cast_fn) -> Any:
                        value = inner(ctx)
                        if value is None:
                            return None
                        result = _cast(value)
                        if result is None:
                            raise CqlRuntimeError(f"cannot cast a value of type {self.ts.runtime_type(value)} "
                                                  f"as {target}")
                        return result
                    return Compiled(strict_cast, target)
                return Compiled(lambda ctx, _cast=cast_fn: _apply(_cast, inner(ctx)), target)
        test = self.ts.instance_test(target)
        fn = operand.fn
        target_text = str(target)
        if strict:
            def run(ctx: Context) -> Any:
                value = fn(ctx)
                if value is None or test(value):
                    return value
                raise CqlRuntimeError(f"cannot cast a value of type {self.ts.runtime_type(value)} as {target_text}")
        else:
            def run(ctx: Context) -> Any:
                value = fn(ctx)
                return value if value is not None and test(value) else None
        return Compiled(run, target)

    def c_convert(self, node: ast.Convert, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        if node.unit is not None:
            return self.call("ConvertQuantity", [operand, constant(node.unit, STRING)])
        assert node.type is not None
        target = self.resolve_type(node.type)
        if operand.type == target:
            return operand
        name = _CONVERT_FUNCTIONS.get(target)
        if name is None:
            raise CqlSemanticError(f"cannot convert to {target}")
        return self.call(name, [operand])

    def c_between(self, node: ast.Between, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        slot = new_slot()
        held = Compiled(lambda ctx: ctx.vars.get(slot), operand.type)
        low = self.compile(node.low, scope)
        high = self.compile(node.high, scope)
        lower = self.call("Greater" if node.properly else "GreaterOrEqual", [held, low])
        upper = self.call("Less" if node.properly else "LessOrEqual", [held, high])
        both = self.logical("and", lower, upper)
        ofn, bfn = operand.fn, both.fn

        def run(ctx: Context) -> Any:
            ctx.vars[slot] = ofn(ctx)
            return bfn(ctx)
        return Compiled(run, BOOLEAN)

    def c_duration_between(self, node: ast.DurationBetween, scope: Scope) -> Compiled:
        low = self.compile(node.low, scope)
        high = self.compile(node.high, scope)
        name = "DurationBetween" if node.kind == "duration" else "DifferenceBetween"
        result = self.call(name, [low, high], {"precision": node.precision})
        result.uncertain = True
        return result

    def c_duration_of(self, node: ast.DurationOf, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        slot = new_slot()
        held = Compiled(lambda ctx: ctx.vars.get(slot), operand.type)
        name = "DurationBetween" if node.kind == "duration" else "DifferenceBetween"
        inner = self.call(name, [self.call("Start", [held]), self.call("End", [held])],
                          {"precision": node.precision})
        ofn, ifn = operand.fn, inner.fn

        def run(ctx: Context) -> Any:
            value = ofn(ctx)
            if value is None:
                return None
            ctx.vars[slot] = value
            return ifn(ctx)
        return Compiled(run, inner.type)

    def c_component(self, node: ast.ComponentFrom, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        if node.component == "date":
            return self.call("DateFrom", [operand])
        if node.component == "time":
            return self.call("TimeFrom", [operand])
        if node.component == "timezoneoffset":
            return self.call("TimezoneOffsetFrom", [operand])
        return self.call("DateTimeComponentFrom", [operand], {"precision": node.component})

    def c_type_extent(self, node: ast.TypeExtent, scope: Scope) -> Compiled:
        type_ = self.resolve_type(node.type)
        if not isinstance(type_, NamedType) or type_.model != "System":
            raise CqlSemanticError(f"{node.kind} is not defined for {type_}")
        try:
            value = min_value(type_.name) if node.kind == "minimum" else max_value(type_.name)
        except CqlRuntimeError as err:
            raise CqlSemanticError(err.message) from None
        return constant(value, type_)

    def c_if(self, node: ast.If, scope: Scope) -> Compiled:
        condition = self.coerce(self.compile(node.condition, scope), BOOLEAN)
        then = self.compile(node.then, scope)
        otherwise = self.compile(node.otherwise, scope)
        result = self._unify([then, otherwise], "if branches")
        cf, tf, of = condition.fn, self.coerce_loose(then, result).fn, self.coerce_loose(otherwise, result).fn
        return Compiled(lambda ctx: tf(ctx) if cf(ctx) is True else of(ctx), result)

    def coerce_loose(self, compiled: Compiled, target: CqlType) -> Compiled:
        """Coerce when a conversion exists; otherwise keep the value (choice results)."""
        if self.conversion(compiled.type, target) is None:
            return compiled
        return self.coerce(compiled, target)

    def c_case(self, node: ast.Case, scope: Scope) -> Compiled:
        branches = [(self.compile(w, scope), self.compile(t, scope)) for w, t in node.items]
        otherwise = self.compile(node.otherwise, scope)
        result = self._unify([t for _, t in branches] + [otherwise], "case branches")
        thens = [self.coerce_loose(t, result).fn for _, t in branches]
        of = self.coerce_loose(otherwise, result).fn
        if node.comparand is None:
            whens = [self.coerce(w, BOOLEAN).fn for w, _ in branches]
            pairs = list(zip(whens, thens))

            def run(ctx: Context) -> Any:
                for when, then in pairs:
                    if when(ctx) is True:
                        return then(ctx)
                return of(ctx)
            return Compiled(run, result)
        comparand = self.compile(node.comparand, scope)
        slot = new_slot()
        held = Compiled(lambda ctx: ctx.vars.get(slot), comparand.type)
        tests = [self.call("Equal", [held, w]).fn for w, _ in branches]
        pairs = list(zip(tests, thens))
        cfn = comparand.fn

        def run_comparand(ctx: Context) -> Any:
            ctx.vars[slot] = cfn(ctx)
            for test, then in pairs:
                if test(ctx) is True:
                    return then(ctx)
            return of(ctx)
        return Compiled(run_comparand, result)

    def c_expand_collapse(self, node: ast.ExpandCollapse, scope: Scope) -> Compiled:
        operand = self.compile(node.operand, scope)
        name = "Expand" if node.op == "expand" else "Collapse"
        if node.per is None:
            return self.call(name, [operand, Compiled(lambda ctx: None, QUANTITY, null_literal=True)])
        if isinstance(node.per, str):
            return self.call(name, [operand, constant(Quantity(Decimal(1), node.per), QUANTITY)])
        return self.call(name, [operand, self.compile(node.per, scope)])

    def c_timing(self, node: ast.Timing, scope: Scope) -> Compiled:
        from .timing import compile_timing

        return compile_timing(self, node, scope)

    # ------------------------------------------------------------ retrieve and queries

    def c_retrieve(self, node: ast.Retrieve, scope: Scope) -> Compiled:
        for model in self.models:
            hook = getattr(model, "compile_retrieve", None)
            if hook is not None:
                return hook(self, node, scope)
        raise CqlUnsupportedError("retrieve needs a data model ('using FHIR version ...')")

    def c_query(self, node: ast.Query, scope: Scope) -> Compiled:
        from .query import compile_query

        return compile_query(self, node, scope)


def _apply(fn: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else fn(value)


def _compose(f: Fn, conv: Callable[[Any], Any]) -> Fn:
    def converted(ctx: Context) -> Any:
        value = f(ctx)
        return None if value is None else conv(value)
    return converted


def _type_key(value: Any) -> Any:
    t = type(value)
    if t is list:
        return (list, tuple(_type_key(x) for x in value[:1]) if value else ())
    if t is Interval:
        return (Interval, type(value.low), type(value.high), value.point_type)
    if t is Tuple:
        return (Tuple, tuple((k, _type_key(v)) for k, v in value.elements.items()))
    if t is dict:
        return (dict, value.get("resourceType"))
    type_key = getattr(t, "cql_type_key", None)  # model values that carry their own type
    if type_key is not None:
        return (t, type_key(value))
    return t


def _decimal_literal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CqlSemanticError(f"invalid number '{text}'") from None
    if decimal_places(value) > 8:
        raise CqlSemanticError(f"decimal literal {text} has more than 8 digits after the point")
    if abs(value) >= DECIMAL_LIMIT:
        raise CqlSemanticError(f"decimal literal {text} is outside the range of Decimal")
    return value


def _concept(codes: list[Code] | None = None, display: str | None = None) -> Concept:
    return Concept(tuple(c for c in (codes or []) if c is not None), display)


def _quantity(value: Decimal | None = None, unit: str | None = None) -> Quantity | None:
    if value is None:
        return None
    return Quantity(value, unit or "1")


def _is_terminology(t: CqlType) -> bool:
    return t in (VALUESET, CODESYSTEM)


def _dynamic_member(value: Any, name: str, models: Sequence[Any] = ()) -> Any:
    """Member access when the static type doesn't tell the kind of value."""
    if value is None:
        return None
    if isinstance(value, Tuple):
        return value.elements.get(name)
    if isinstance(value, list):
        out = []
        for item in value:
            got = _dynamic_member(item, name, models)
            if isinstance(got, list):
                out.extend(x for x in got if x is not None)
            elif got is not None:
                out.append(got)
        return out
    if isinstance(value, Interval):
        return {"low": value.low, "high": value.high, "lowClosed": value.low_closed,
                "highClosed": value.high_closed}.get(name)
    for type_, members in _SYSTEM_MEMBERS_BY_CLASS.items():
        if isinstance(value, type_):
            found = members.get(name)
            if found is None:
                return None
            got = getattr(value, found)
            return list(got) if isinstance(got, tuple) else got
    for model in models:
        dynamic = getattr(model, "dynamic_member", None)
        if dynamic is not None:
            handled, got = dynamic(value, name)
            if handled:
                return got
    raise CqlRuntimeError(f"a value of type {type(value).__name__} has no element '{name}'")


def _coerce_parameter(value: Any, type_: CqlType, ts: TypeSystem, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, list) and isinstance(type_, ListType):
        return [_coerce_parameter(v, type_.element, ts, name) for v in value]
    if isinstance(type_, NamedType) and type_.model in ts.models:
        hook = getattr(ts.models[type_.model], "parameter_value", None)
        if hook is not None:
            value = hook(value, type_, name)
    actual = ts.runtime_type(value)
    if actual in (type_, ANY) or ts.is_subtype(actual, type_):
        return value
    step = ts.conversion(actual, type_)
    if step is None:
        raise CqlRuntimeError(f"parameter '{name}' needs a value of type {type_}, not {actual}")
    return value if step[1] is None else step[1](value)


_SYSTEM_MEMBERS: dict[CqlType, dict[str, tuple[CqlType, str]]] = {
    QUANTITY: {"value": (DECIMAL, "value"), "unit": (STRING, "unit")},
    RATIO: {"numerator": (QUANTITY, "numerator"), "denominator": (QUANTITY, "denominator")},
    CODE: {"code": (STRING, "code"), "system": (STRING, "system"), "version": (STRING, "version"),
           "display": (STRING, "display")},
    CONCEPT: {"codes": (ListType(CODE), "codes"), "display": (STRING, "display")},
    VALUESET: {"id": (STRING, "id"), "version": (STRING, "version"), "name": (STRING, "name")},
    CODESYSTEM: {"id": (STRING, "id"), "version": (STRING, "version"), "name": (STRING, "name")},
}
_SYSTEM_MEMBERS_BY_CLASS: dict[type, dict[str, str]] = {
    Quantity: {"value": "value", "unit": "unit"},
    Ratio: {"numerator": "numerator", "denominator": "denominator"},
    Code: {"code": "code", "system": "system", "version": "version", "display": "display"},
    Concept: {"codes": "codes", "display": "display"},
    ValueSetRef: {"id": "id", "version": "version", "name": "name"},
    CodeSystemRef: {"id": "id", "version": "version", "name": "name"},
}


# ---------------------------------------------------------------- special functions


def _f_coalesce(self: LibraryCompiler, node: ast.Call, scope: Scope) -> Compiled:
    args = [self.compile(a, scope) for a in node.args]
    if not args:
        raise CqlSemanticError("Coalesce needs at least one argument")
    if len(args) == 1 and isinstance(args[0].type, ListType):
        fn = args[0].fn
        element = args[0].type.element

        def first_of_list(ctx: Context) -> Any:
            values = fn(ctx)
            if values is None:
                return None
            return next((v for v in values if v is not None), None)
        return Compiled(first_of_list, element)
    result = self._unify(args, "Coalesce arguments")
    fns = [self.coerce_loose(a, result).fn for a in args]

    def first_non_null(ctx: Context) -> Any:
        for f in fns:
            value = f(ctx)
            if value is not None:
                return value
        return None
    return Compiled(first_non_null, result)


def _f_message(self: LibraryCompiler, node: ast.Call, scope: Scope) -> Compiled:
    if len(node.args) != 5:
        raise CqlSemanticError("Message needs 5 arguments: source, condition, code, severity, message")
    source = self.compile(node.args[0], scope)
    condition = self.coerce(self.compile(node.args[1], scope), BOOLEAN)
    code, severity, message = (self.coerce(self.compile(a, scope), STRING) for a in node.args[2:])
    sf, cf, codef, sevf, mf = source.fn, condition.fn, code.fn, severity.fn, message.fn

    def run(ctx: Context) -> Any:
        value = sf(ctx)
        if cf(ctx) is True:
            sev = sevf(ctx) or "Message"
            text = mf(ctx) or ""
            code_text = codef(ctx) or ""
            if sev.lower() == "error":
                raise CqlRuntimeError(f"{code_text}: {text}" if code_text else text)
            ctx.messages.append((sev, code_text, text))
        return value
    return Compiled(run, source.type)


_SPECIAL_FUNCTIONS: dict[str, Callable[[LibraryCompiler, ast.Call, Scope], Compiled]] = {
    "Coalesce": _f_coalesce,
    "Message": _f_message,
}

_DISPATCH: dict[type, Callable[[LibraryCompiler, Any, Scope], Compiled]] = {
    ast.Literal: LibraryCompiler.c_literal,
    ast.QuantityLiteral: LibraryCompiler.c_quantity,
    ast.RatioLiteral: LibraryCompiler.c_ratio,
    ast.IntervalSelector: LibraryCompiler.c_interval,
    ast.ListSelector: LibraryCompiler.c_list,
    ast.TupleSelector: LibraryCompiler.c_tuple,
    ast.InstanceSelector: LibraryCompiler.c_instance,
    ast.CodeSelector: LibraryCompiler.c_code,
    ast.ConceptSelector: LibraryCompiler.c_concept,
    ast.Identifier: LibraryCompiler.c_identifier,
    ast.Special: LibraryCompiler.c_special,
    ast.Member: LibraryCompiler.c_member,
    ast.Call: LibraryCompiler.c_call,
    ast.Index: lambda self, node, scope: self.call(
        "Indexer", [self.compile(node.source, scope), self.compile(node.index, scope)]),
    ast.Unary: LibraryCompiler.c_unary,
    ast.Binary: LibraryCompiler.c_binary,
    ast.BooleanTest: LibraryCompiler.c_boolean_test,
    ast.TypeTest: LibraryCompiler.c_type_test,
    ast.As: LibraryCompiler.c_as,
    ast.Convert: LibraryCompiler.c_convert,
    ast.Between: LibraryCompiler.c_between,
    ast.DurationBetween: LibraryCompiler.c_duration_between,
    ast.DurationOf: LibraryCompiler.c_duration_of,
    ast.ComponentFrom: LibraryCompiler.c_component,
    ast.TypeExtent: LibraryCompiler.c_type_extent,
    ast.If: LibraryCompiler.c_if,
    ast.Case: LibraryCompiler.c_case,
    ast.ExpandCollapse: LibraryCompiler.c_expand_collapse,
    ast.Timing: LibraryCompiler.c_timing,
    ast.Retrieve: LibraryCompiler.c_retrieve,
    ast.Query: LibraryCompiler.c_query,
}

__all__ = ["Compiled", "LibraryCompiler", "Scope", "constant", "new_slot"]
