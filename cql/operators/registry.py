"""The table of system operators and functions, and overload resolution.

Each operator module registers its overloads with :func:`operator`:

.. code-block:: python

    @operator("Add", [INTEGER, INTEGER], INTEGER)
    def add_integer(a: int, b: int) -> int:
        return make_integer(a + b)

    @operator("First", [ListType(T)], T, nulls=False)
    def first(items): ...

- ``params`` are types, possibly with the type variable :data:`T` (alone or
  inside ``ListType``/``IntervalType``); ``result`` is a type, a pattern in
  ``T``, or a function of the (converted) argument types.
- ``nulls=True`` (default): the result is null when any argument is null, and
  the implementation never sees a null argument. ``nulls=False``: the
  implementation handles nulls itself.
- ``ctx=True``: the implementation receives the evaluation context first.
- ``options``: names of compile-time keyword arguments the compiler passes
  (``precision`` for ``same day as``, ``before day of``, ...). An option the
  call doesn't set is passed as None.

The compiler picks the overload with the lowest total conversion cost
(:meth:`cql.types.TypeSystem.conversion`), inserts the conversions, and raises
a semantic error when nothing matches. When an argument's static type is only
known at run time (Any or a Choice), it resolves again on the run-time types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..types import ANY, ChoiceType, CqlType, IntervalType, ListType, NamedType, TupleType, TypeSystem


class TypeVar(CqlType):
    """A type variable in an operator signature."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


T = TypeVar("T")

ResultSpec = CqlType | Callable[[list[CqlType]], CqlType]


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    params: tuple[CqlType, ...]
    result: ResultSpec
    impl: Callable[..., Any]
    nulls: bool
    ctx: bool
    options: tuple[str, ...]


REGISTRY: dict[str, list[Signature]] = {}
# Operators whose Integer result may be an uncertainty interval (ages of imprecise dates),
# as the compiler marks ``duration between``.
UNCERTAIN_RESULTS: set[str] = set()


def operator(name: str, params: Sequence[CqlType], result: ResultSpec, *, nulls: bool = True,
             ctx: bool = False, options: Sequence[str] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an overload of a system operator or function (a decorator)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.setdefault(name, []).append(
            Signature(name, tuple(params), result, fn, nulls, ctx, tuple(options)))
        return fn
    return register


def has_operator(name: str) -> bool:
    return name in REGISTRY


# ---------------------------------------------------------------- matching


def _contains_var(pattern: CqlType) -> bool:
    if isinstance(pattern, TypeVar):
        return True
    if isinstance(pattern, ListType):
        return _contains_var(pattern.element)
    if isinstance(pattern, IntervalType):
        return _contains_var(pattern.point)
    return False


def _collect(pattern: CqlType, arg: CqlType, found: list[CqlType]) -> bool:
    """Collect what T would be bound to from one argument; False if the shapes can't match."""
    if isinstance(pattern, TypeVar):
        found.append(arg)
        return True
    if isinstance(pattern, ListType):
        if isinstance(arg, ListType):
            return _collect(pattern.element, arg.element, found)
        return arg == ANY
    if isinstance(pattern, IntervalType):
        if isinstance(arg, IntervalType):
            return _collect(pattern.point, arg.point, found)
        return arg == ANY
    return True


def _substitute(pattern: CqlType, binding: CqlType) -> CqlType:
    if isinstance(pattern, TypeVar):
        return binding
    if isinstance(pattern, ListType):
        return ListType(_substitute(pattern.element, binding))
    if isinstance(pattern, IntervalType):
        return IntervalType(_substitute(pattern.point, binding))
    return pattern


def unify(types: list[CqlType], ts: TypeSystem) -> CqlType | None:
    """The one type every type in ``types`` converts to, if there is one (Any ignored)."""
    concrete = [t for t in types if t != ANY]
    if not concrete:
        return ANY
    best: tuple[int, CqlType] | None = None
    for candidate in concrete:
        total = 0
        for t in concrete:
            step = ts.conversion(t, candidate)
            if step is None:
                break
            total += step[0]
        else:
            if best is None or total < best[0]:
                best = (total, candidate)
    return best[1] if best else None


@dataclass(slots=True)
class Match:
    signature: Signature
    cost: int
    params: tuple[CqlType, ...]  # concrete parameter types after binding T
    converters: tuple[Callable[[Any], Any] | None, ...]
    result: CqlType


def _shaped(pattern: CqlType, arg: CqlType, ts: TypeSystem) -> CqlType:
    """For binding T: a model type that converts implicitly to a list or an interval
    (FHIR.Period -> Interval<DateTime>) stands for that type."""
    if isinstance(pattern, ListType | IntervalType):
        if isinstance(arg, NamedType) and arg.model != "System":
            for src, dst in ts.conversions:
                if src == arg and type(dst) is type(pattern):
                    return dst
        elif isinstance(arg, ChoiceType):
            # A choice with an alternative of that shape (FHIR.Period among dateTime, Period, ...).
            for choice in arg.choices:
                shaped = _shaped(pattern, choice, ts)
                if type(shaped) is type(pattern):
                    return shaped
    return arg


def _converted(t: CqlType, ts: TypeSystem) -> CqlType:
    """The type a model type converts to most cheaply (itself if none, or not a model type)."""
    if not isinstance(t, NamedType) or t.model == "System":
        return t
    best: tuple[int, CqlType] | None = None
    for (src, dst), (cost, _fn) in ts.conversions.items():
        if src == t and (best is None or cost < best[0]):
            best = (cost, dst)
    return best[1] if best is not None else t


def match_signature(sig: Signature, args: Sequence[CqlType], ts: TypeSystem) -> Match | None:
    if len(sig.params) != len(args):
        return None
    binding: CqlType | None = None
    if any(_contains_var(p) for p in sig.params):
        found: list[CqlType] = []
        for p, a in zip(sig.params, args):
            if not _collect(p, _shaped(p, a, ts), found):
                return None
        binding = unify(found, ts)
        if binding is None:
            # A model type (FHIR.dateTime) binds T as the System type it converts to (DateTime).
            converted = [_converted(t, ts) for t in found]
            if converted != found:
                binding = unify(converted, ts)
        if binding is None:
            return None
    params = tuple(_substitute(p, binding) if binding is not None else p for p in sig.params)
    cost = 0
    converters: list[Callable[[Any], Any] | None] = []
    for p, a in zip(params, args):
        step = ts.conversion(a, p)
        if step is None:
            return None
        cost += step[0]
        converters.append(step[1])
    if callable(sig.result) and not isinstance(sig.result, CqlType):
        result = sig.result(list(params))
    elif binding is not None:
        result = _substitute(sig.result, binding)
    else:
        result = sig.result
    return Match(sig, cost, params, tuple(converters), result)


def candidates(name: str, args: Sequence[CqlType], ts: TypeSystem) -> list[Match]:
    """All overloads of ``name`` that accept ``args``, cheapest first."""
    matches = [m for sig in REGISTRY.get(name, ()) if (m := match_signature(sig, args, ts)) is not None]
    matches.sort(key=lambda m: m.cost)
    return matches


def is_dynamic(t: CqlType) -> bool:
    """A static type that doesn't fix the run-time type of a value."""
    if t == ANY or isinstance(t, ChoiceType):
        return True
    if isinstance(t, ListType):
        return is_dynamic(t.element)
    if isinstance(t, IntervalType):
        return is_dynamic(t.point)
    if isinstance(t, TupleType):
        return any(is_dynamic(v) for _, v in t.elements)
    return False


def describe_types(types: Sequence[CqlType]) -> str:
    return ", ".join(str(t) for t in types)


__all__ = [
    "REGISTRY", "Match", "NamedType", "Signature", "T", "TypeVar", "candidates", "describe_types",
    "has_operator", "is_dynamic", "match_signature", "operator", "unify",
]
