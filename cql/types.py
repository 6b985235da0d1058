"""Static CQL types: named (System and model) types, List, Interval, Tuple, Choice.

The compiler gives every expression a static type, chooses operator overloads
from them and inserts implicit conversions (Integer → Long → Decimal, Integer
→ Quantity, Date → DateTime, Code → Concept, and those a data model declares).
Where a static type is Any or a Choice, operators dispatch on the run-time
type of the value instead (:func:`runtime_type`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from .values import (
    Code,
    CodeSystemRef,
    Concept,
    Date,
    DateTime,
    Interval,
    Long,
    Quantity,
    Ratio,
    Time,
    Tuple,
    ValueSetRef,
)


class CqlType:
    """Base of all static types."""

    __slots__ = ()

    def is_list(self) -> bool:
        return False

    def is_interval(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class NamedType(CqlType):
    """A named type such as ``System.Integer`` or ``FHIR.Observation``."""

    model: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.model}.{self.name}"

    def __str__(self) -> str:
        return self.qualified


@dataclass(frozen=True, slots=True)
class ListType(CqlType):
    element: CqlType

    def is_list(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"List<{self.element}>"


@dataclass(frozen=True, slots=True)
class IntervalType(CqlType):
    point: CqlType

    def is_interval(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"Interval<{self.point}>"


@dataclass(frozen=True, slots=True)
class TupleType(CqlType):
    elements: tuple[tuple[str, CqlType], ...]

    def element(self, name: str) -> CqlType | None:
        for key, value in self.elements:
            if key == name:
                return value
        return None

    def __str__(self) -> str:
        inner = ", ".join(f"{k} {v}" for k, v in self.elements)
        return f"Tuple {{ {inner} }}"


@dataclass(frozen=True, slots=True)
class ChoiceType(CqlType):
    choices: tuple[CqlType, ...]

    def __str__(self) -> str:
        return "Choice<" + ", ".join(str(c) for c in self.choices) + ">"


def _system(name: str) -> NamedType:
    return NamedType("System", name)


ANY = _system("Any")
BOOLEAN = _system("Boolean")
INTEGER = _system("Integer")
LONG = _system("Long")
DECIMAL = _system("Decimal")
STRING = _system("String")
DATE = _system("Date")
DATETIME = _system("DateTime")
TIME = _system("Time")
QUANTITY = _system("Quantity")
RATIO = _system("Ratio")
CODE = _system("Code")
CONCEPT = _system("Concept")
VOCABULARY = _system("Vocabulary")
VALUESET = _system("ValueSet")
CODESYSTEM = _system("CodeSystem")

SYSTEM_TYPES: dict[str, NamedType] = {
    t.name: t for t in (ANY, BOOLEAN, INTEGER, LONG, DECIMAL, STRING, DATE, DATETIME, TIME, QUANTITY,
                        RATIO, CODE, CONCEPT, VOCABULARY, VALUESET, CODESYSTEM)
}
_SYSTEM_SUPERTYPES = {VALUESET: VOCABULARY, CODESYSTEM: VOCABULARY}

# Point types for which successor/predecessor and interval arithmetic are defined.
ORDERED_TYPES = frozenset({INTEGER, LONG, DECIMAL, STRING, DATE, DATETIME, TIME, QUANTITY})
NUMERIC_TYPES = frozenset({INTEGER, LONG, DECIMAL})
TEMPORAL_TYPES = frozenset({DATE, DATETIME, TIME})


def list_of(t: CqlType) -> ListType:
    return ListType(t)


def interval_of(t: CqlType) -> IntervalType:
    return IntervalType(t)


class Model(Protocol):
    """A data model (such as FHIR R4) plugged into the compiler.

    The compiler asks the models named in ``using`` to resolve type names,
    give the types of members, check run-time types, and supply implicit
    conversions (for FHIR, those of FHIRHelpers).
    """

    name: str

    def resolve_type(self, name: str) -> CqlType | None: ...

    def supertype(self, t: NamedType) -> CqlType | None: ...

    def member_type(self, t: NamedType, name: str) -> CqlType | None: ...

    def member_accessor(self, t: NamedType, name: str) -> Callable[[Any], Any] | None: ...

    def runtime_type(self, value: Any) -> CqlType | None: ...

    def is_instance(self, value: Any, t: NamedType) -> bool: ...


class TypeSystem:
    """Subtyping and implicit conversions, extended by the models in use.

    Conversion costs rank overload candidates: exact match 0, subtype 1,
    choice narrowing 2, then implicit conversions by cost.
    """

    def __init__(self, models: Iterable[Model] = ()) -> None:
        self.models: dict[str, Model] = {m.name: m for m in models}
        # (from, to) -> (cost, function(value) -> value)
        self.conversions: dict[tuple[CqlType, CqlType], tuple[int, Callable[[Any], Any]]] = {}
        for src, dst, cost, fn in _SYSTEM_CONVERSIONS:
            self.conversions[(src, dst)] = (cost, fn)

    def add_conversion(self, src: CqlType, dst: CqlType, cost: int, fn: Callable[[Any], Any]) -> None:
        self.conversions[(src, dst)] = (cost, fn)

    def supertype(self, t: NamedType) -> CqlType | None:
        if t.model == "System":
            if t == ANY:
                return None
            return _SYSTEM_SUPERTYPES.get(t, ANY)
        model = self.models.get(t.model)
        sup = model.supertype(t) if model else None
        return sup if sup is not None else ANY

    def is_subtype(self, a: CqlType, b: CqlType) -> bool:
        """True when every value of ``a`` is a value of ``b``."""
        if a == b or b == ANY:
            return True
        if isinstance(b, ChoiceType):
            if isinstance(a, ChoiceType):
                return all(self.is_subtype(x, b) for x in a.choices)
            return any(self.is_subtype(a, c) for c in b.choices)
        if isinstance(a, ChoiceType):
            return all(self.is_subtype(x, b) for x in a.choices)
        if isinstance(a, NamedType) and isinstance(b, NamedType):
            sup = self.supertype(a)
            while sup is not None:
                if sup == b:
                    return True
                sup = self.supertype(sup) if isinstance(sup, NamedType) else None
            return False
        if isinstance(a, ListType) and isinstance(b, ListType):
            return self.is_subtype(a.element, b.element)
        if isinstance(a, IntervalType) and isinstance(b, IntervalType):
            return self.is_subtype(a.point, b.point)
        if isinstance(a, TupleType) and isinstance(b, TupleType):
            if len(a.elements) != len(b.elements):
                return False
            bt = dict(b.elements)
            return all(k in bt and self.is_subtype(v, bt[k]) for k, v in a.elements)
        return False

    def conversion(self, src: CqlType, dst: CqlType) -> tuple[int, Callable[[Any], Any] | None] | None:
        """How to pass a value of static type ``src`` where ``dst`` is wanted.

        Returns (cost, converter) — converter None means no run-time work — or
        None when not possible. Any converts to anything (a null literal, or a
        value whose type is only known at run time: checked by the operator).
        """
        if src == dst:
            return 0, None
        if self.is_subtype(src, dst):
            return 1, None
        if src == ANY:
            return 1, None
        direct = self.conversions.get((src, dst))
        if direct is not None:
            return direct
        if isinstance(src, ChoiceType):
            # Narrowing a choice: the value is used when it has the wanted type, else null.
            best = None
            for choice in src.choices:
                step = self.conversion(choice, dst)
                if step is not None and (best is None or step[0] < best[0]):
                    best = step
            if best is not None:
                inner = best[1]
                test = self.instance_test(dst)

                def narrow(value: Any, _inner=inner, _test=test) -> Any:
                    if value is None:
                        return None
                    if _test(value):
                        return value
                    return _inner(value) if _inner is not None else None
                return 2 + best[0], narrow
            return None
        if isinstance(src, ListType) and isinstance(dst, ListType):
            step = self.conversion(src.element, dst.element)
            if step is None:
                return None
            cost, fn = step
            if fn is None:
                return cost, None
            return cost, lambda v, _fn=fn: None if v is None else [None if x is None else _fn(x) for x in v]
        if isinstance(src, IntervalType) and isinstance(dst, IntervalType):
            step = self.conversion(src.point, dst.point)
            if step is None:
                return None
            cost, fn = step
            if fn is None:
                return cost, None
            point_name = dst.point.name if isinstance(dst.point, NamedType) else None

            def convert_interval(v: Any, _fn=fn, _p=point_name) -> Any:
                if v is None:
                    return None
                return Interval(None if v.low is None else _fn(v.low), None if v.high is None else _fn(v.high),
                                v.low_closed, v.high_closed, _p)
            return cost, convert_interval
        if isinstance(src, NamedType):
            # A model type may convert to a System type through its supertype chain.
            sup = self.supertype(src)
            if sup is not None and sup != ANY:
                step = self.conversion(sup, dst)
                if step is not None:
                    return step[0] + 1, step[1]
        return None

    def instance_test(self, t: CqlType) -> Callable[[Any], bool]:
        """A run-time test: is this (non-null) value of type ``t``?"""
        if t == ANY:
            return lambda v: True
        if isinstance(t, NamedType):
            if t.model == "System":
                test = _SYSTEM_TESTS.get(t)
                if test is None:
                    return lambda v: False
                return test
            model = self.models.get(t.model)
            if model is None:
                return lambda v: False
            return lambda v, _m=model, _t=t: _m.is_instance(v, _t)
        if isinstance(t, ListType):
            elem = self.instance_test(t.element)
            return lambda v, _e=elem: isinstance(v, list) and all(x is None or _e(x) for x in v)
        if isinstance(t, IntervalType):
            point = self.instance_test(t.point)
            return lambda v, _p=point: isinstance(v, Interval) and all(
                b is None or _p(b) for b in (v.low, v.high))
        if isinstance(t, TupleType):
            names = {k for k, _ in t.elements}
            tests = {k: self.instance_test(v) for k, v in t.elements}

            def is_tuple(v: Any) -> bool:
                if not isinstance(v, Tuple) or not set(v.elements) <= names:
                    return False
                return all(x is None or tests[k](x) for k, x in v.elements.items())
            return is_tuple
        if isinstance(t, ChoiceType):
            tests = [self.instance_test(c) for c in t.choices]
            return lambda v, _ts=tests: any(f(v) for f in _ts)
        return lambda v: False

    def runtime_type(self, value: Any) -> CqlType:
        """The most specific type of a run-time value (Any for null)."""
        if value is None:
            return ANY
        simple = _RUNTIME_TYPES.get(type(value))
        if simple is not None:
            return simple
        if isinstance(value, list):
            return ListType(self.common_type([self.runtime_type(x) for x in value if x is not None]))
        if isinstance(value, Interval):
            if value.point_type in SYSTEM_TYPES:
                return IntervalType(SYSTEM_TYPES[value.point_type])
            bound = value.low if value.low is not None else value.high
            return IntervalType(self.runtime_type(bound))
        if isinstance(value, Tuple):
            return TupleType(tuple((k, self.runtime_type(v)) for k, v in value.elements.items()))
        for model in self.models.values():
            t = model.runtime_type(value)
            if t is not None:
                return t
        return ANY

    def common_type(self, types: list[CqlType]) -> CqlType:
        """The narrowest type all of ``types`` convert to (Any if none)."""
        types = [t for t in types if t != ANY]
        if not types:
            return ANY
        first = types[0]
        if all(t == first for t in types):
            return first
        for candidate in types:
            if all(self.conversion(t, candidate) is not None for t in types):
                return candidate
        unique: list[CqlType] = []
        for t in types:
            if t not in unique:
                unique.append(t)
        return ChoiceType(tuple(unique))


def _int_to_decimal(v: Any) -> Decimal:
    return Decimal(int(v))


_SYSTEM_CONVERSIONS: list[tuple[CqlType, CqlType, int, Callable[[Any], Any]]] = [
    (INTEGER, LONG, 3, lambda v: Long(v)),
    (INTEGER, DECIMAL, 4, _int_to_decimal),
    (LONG, DECIMAL, 4, _int_to_decimal),
    (INTEGER, QUANTITY, 5, lambda v: Quantity(Decimal(int(v)), "1")),
    (LONG, QUANTITY, 5, lambda v: Quantity(Decimal(int(v)), "1")),
    (DECIMAL, QUANTITY, 5, lambda v: Quantity(v, "1")),
    (CODE, CONCEPT, 5, lambda v: Concept((v,))),
    (ListType(CODE), CONCEPT, 6, lambda v: Concept(tuple(c for c in v if c is not None))),
]


def _date_to_datetime(v: Any) -> Any:
    from .values import temporal

    # The offset stays unspecified: a date-precision DateTime compares on its date.
    return temporal.to_datetime(v, None)


_SYSTEM_CONVERSIONS.append((DATE, DATETIME, 4, _date_to_datetime))

_RUNTIME_TYPES: dict[type, CqlType] = {
    bool: BOOLEAN, int: INTEGER, Long: LONG, Decimal: DECIMAL, str: STRING, Date: DATE, DateTime: DATETIME,
    Time: TIME, Quantity: QUANTITY, Ratio: RATIO, Code: CODE, Concept: CONCEPT, ValueSetRef: VALUESET,
    CodeSystemRef: CODESYSTEM,
}

_SYSTEM_TESTS: dict[CqlType, Callable[[Any], bool]] = {
    BOOLEAN: lambda v: type(v) is bool,
    INTEGER: lambda v: type(v) is int,
    LONG: lambda v: type(v) is Long,
    DECIMAL: lambda v: type(v) is Decimal,
    STRING: lambda v: type(v) is str,
    DATE: lambda v: type(v) is Date,
    DATETIME: lambda v: type(v) is DateTime,
    TIME: lambda v: type(v) is Time,
    QUANTITY: lambda v: type(v) is Quantity,
    RATIO: lambda v: type(v) is Ratio,
    CODE: lambda v: type(v) is Code,
    CONCEPT: lambda v: type(v) is Concept,
    VALUESET: lambda v: type(v) is ValueSetRef,
    CODESYSTEM: lambda v: type(v) is CodeSystemRef,
    VOCABULARY: lambda v: type(v) in (ValueSetRef, CodeSystemRef),
}


def type_text(t: CqlType) -> str:
    """CQL text of a type (``System.Integer``, ``List<FHIR.Observation>``)."""
    return str(t)
