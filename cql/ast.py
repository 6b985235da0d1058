"""Syntax tree of a CQL library or expression, as produced by :mod:`cql.parser`.

Nodes are plain dataclasses; every node carries ``loc`` (line, column) of its
first token so that compile-time errors can say where they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Loc = tuple[int, int]


@dataclass(slots=True, eq=False)
class Node:
    loc: Loc = field(default=(0, 0), kw_only=True)


# ---------------------------------------------------------------- type specifiers


@dataclass(slots=True, eq=False)
class NamedTypeSpec(Node):
    qualifiers: tuple[str, ...]  # e.g. ("FHIR",) for FHIR.Observation
    name: str


@dataclass(slots=True, eq=False)
class ListTypeSpec(Node):
    element: TypeSpec


@dataclass(slots=True, eq=False)
class IntervalTypeSpec(Node):
    point: TypeSpec


@dataclass(slots=True, eq=False)
class TupleTypeSpec(Node):
    elements: list[tuple[str, TypeSpec]]


@dataclass(slots=True, eq=False)
class ChoiceTypeSpec(Node):
    choices: list[TypeSpec]


TypeSpec = NamedTypeSpec | ListTypeSpec | IntervalTypeSpec | TupleTypeSpec | ChoiceTypeSpec


# ---------------------------------------------------------------- expressions


@dataclass(slots=True, eq=False)
class Expr(Node):
    pass


@dataclass(slots=True, eq=False)
class Literal(Expr):
    """kind: null, boolean, string, integer, long, decimal, date, datetime, time.

    Numbers keep their source text (range checks happen in the compiler);
    temporal literals keep the text after '@'.
    """

    kind: str
    value: Any


@dataclass(slots=True, eq=False)
class QuantityLiteral(Expr):
    value: str  # the number as written, sign included
    unit: str | None  # UCUM string or calendar keyword; None for no unit


@dataclass(slots=True, eq=False)
class RatioLiteral(Expr):
    numerator: QuantityLiteral
    denominator: QuantityLiteral


@dataclass(slots=True, eq=False)
class Identifier(Expr):
    name: str


@dataclass(slots=True, eq=False)
class Special(Expr):
    """$this, $index or $total."""

    name: str


@dataclass(slots=True, eq=False)
class Member(Expr):
    source: Expr
    name: str


@dataclass(slots=True, eq=False)
class Call(Expr):
    """``name(args)``, or ``source.name(args)`` (a fluent call, or a call of a
    function of an included library when ``source`` names the library)."""

    name: str
    args: list[Expr]
    source: Expr | None = None


@dataclass(slots=True, eq=False)
class Index(Expr):
    source: Expr
    index: Expr


@dataclass(slots=True, eq=False)
class Unary(Expr):
    """op: not, exists, negate, plus, distinct, flatten, start, end, width,
    successor, predecessor, singleton, point."""

    op: str
    operand: Expr


@dataclass(slots=True, eq=False)
class Binary(Expr):
    """op: and, or, xor, implies, =, !=, ~, !~, <, <=, >, >=, +, -, *, /, div,
    mod, ^, &, union, intersect, except, in, contains.

    ``precision`` is set for ``in day of`` / ``contains day of``."""

    op: str
    left: Expr
    right: Expr
    precision: str | None = None


@dataclass(slots=True, eq=False)
class BooleanTest(Expr):
    """``X is [not] null|true|false``."""

    operand: Expr
    test: str
    negated: bool


@dataclass(slots=True, eq=False)
class TypeTest(Expr):
    operand: Expr
    type: TypeSpec


@dataclass(slots=True, eq=False)
class As(Expr):
    """``X as T`` (strict=False) or ``cast X as T`` (strict=True)."""

    operand: Expr
    type: TypeSpec
    strict: bool


@dataclass(slots=True, eq=False)
class Convert(Expr):
    """``convert X to T`` (type) or ``convert X to 'unit'`` (unit)."""

    operand: Expr
    type: TypeSpec | None
    unit: str | None


@dataclass(slots=True, eq=False)
class Between(Expr):
    operand: Expr
    low: Expr
    high: Expr
    properly: bool


@dataclass(slots=True, eq=False)
class DurationBetween(Expr):
    """``[duration in] years between A and B`` (kind='duration') or
    ``difference in years between A and B`` (kind='difference')."""

    kind: str
    precision: str
    low: Expr
    high: Expr


@dataclass(slots=True, eq=False)
class DurationOf(Expr):
    """``duration in days of X`` / ``difference in days of X`` (X an interval)."""

    kind: str
    precision: str
    operand: Expr


@dataclass(slots=True, eq=False)
class ComponentFrom(Expr):
    """``year from X``, ``date from X``, ``time from X``, ``timezoneoffset from X``."""

    component: str
    operand: Expr


@dataclass(slots=True, eq=False)
class TypeExtent(Expr):
    """``minimum T`` / ``maximum T``."""

    kind: str
    type: NamedTypeSpec


@dataclass(slots=True, eq=False)
class If(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(slots=True, eq=False)
class Case(Expr):
    comparand: Expr | None
    items: list[tuple[Expr, Expr]]
    otherwise: Expr


@dataclass(slots=True, eq=False)
class ExpandCollapse(Expr):
    """``expand X [per P]`` / ``collapse X [per P]``; ``per`` is a precision
    keyword (str) or an expression."""

    op: str
    operand: Expr
    per: str | Expr | None


@dataclass(slots=True, eq=False)
class TimingPhrase(Node):
    """An interval operator phrase between two expressions.

    kind: same, includes, included_in, before_after, within, meets, overlaps,
    starts, ends.
    """

    kind: str
    prefix: str | None = None  # starts | ends | occurs (applies to the left operand)
    suffix: str | None = None  # start | end (applies to the right operand)
    properly: bool = False
    precision: str | None = None
    relation: str | None = None  # same: as|before|after; before_after: before|after; meets/overlaps: before|after
    inclusive: bool = False  # before_after: 'on or before' / 'before or on'
    quantity: QuantityLiteral | None = None  # before_after offset, within
    offset_qualifier: str | None = None  # 'or more' | 'or less' | 'less than' | 'more than'


@dataclass(slots=True, eq=False)
class Timing(Expr):
    left: Expr
    phrase: TimingPhrase
    right: Expr


@dataclass(slots=True, eq=False)
class IntervalSelector(Expr):
    low: Expr
    high: Expr
    low_closed: bool
    high_closed: bool


@dataclass(slots=True, eq=False)
class ListSelector(Expr):
    element_type: TypeSpec | None
    items: list[Expr]


@dataclass(slots=True, eq=False)
class TupleSelector(Expr):
    elements: list[tuple[str, Expr]]


@dataclass(slots=True, eq=False)
class InstanceSelector(Expr):
    type: NamedTypeSpec
    elements: list[tuple[str, Expr]]


@dataclass(slots=True, eq=False)
class CodeSelector(Expr):
    code: str
    system: tuple[str | None, str]  # (library alias, code system name)
    display: str | None


@dataclass(slots=True, eq=False)
class ConceptSelector(Expr):
    codes: list[CodeSelector]
    display: str | None


@dataclass(slots=True, eq=False)
class Retrieve(Expr):
    type: NamedTypeSpec
    context: Expr | None = None
    code_path: str | None = None
    comparator: str | None = None  # in | = | ~
    terminology: Expr | None = None


@dataclass(slots=True, eq=False)
class AliasedSource(Node):
    expr: Expr
    alias: str


@dataclass(slots=True, eq=False)
class Relationship(Node):
    kind: str  # with | without
    source: AliasedSource
    such_that: Expr


@dataclass(slots=True, eq=False)
class Aggregate(Node):
    name: str
    expr: Expr
    starting: Expr | None
    distinct: bool


@dataclass(slots=True, eq=False)
class SortItem(Node):
    expr: Expr | None  # None: sort by the elements themselves
    descending: bool


@dataclass(slots=True, eq=False)
class Query(Expr):
    sources: list[AliasedSource]
    lets: list[tuple[str, Expr]]
    relationships: list[Relationship]
    where: Expr | None
    return_expr: Expr | None
    return_distinct: bool  # 'return distinct' (default for multi-valued queries) vs 'return all'
    aggregate: Aggregate | None
    sort: list[SortItem] | None


# ---------------------------------------------------------------- library


@dataclass(slots=True, eq=False)
class UsingDef(Node):
    model: str
    version: str | None


@dataclass(slots=True, eq=False)
class IncludeDef(Node):
    path: str
    version: str | None
    alias: str


@dataclass(slots=True, eq=False)
class CodeSystemDef(Node):
    name: str
    id: str
    version: str | None
    access: str


@dataclass(slots=True, eq=False)
class ValueSetDef(Node):
    name: str
    id: str
    version: str | None
    codesystems: list[tuple[str | None, str]]
    access: str


@dataclass(slots=True, eq=False)
class CodeDef(Node):
    name: str
    code: str
    system: tuple[str | None, str]
    display: str | None
    access: str


@dataclass(slots=True, eq=False)
class ConceptDef(Node):
    name: str
    codes: list[tuple[str | None, str]]
    display: str | None
    access: str


@dataclass(slots=True, eq=False)
class ParameterDef(Node):
    name: str
    type: TypeSpec | None
    default: Expr | None
    access: str


@dataclass(slots=True, eq=False)
class ExpressionDef(Node):
    name: str
    expr: Expr
    access: str
    context: str | None


@dataclass(slots=True, eq=False)
class FunctionDef(Node):
    name: str
    operands: list[tuple[str, TypeSpec]]
    return_type: TypeSpec | None
    body: Expr | None  # None for 'external'
    fluent: bool
    access: str
    context: str | None


@dataclass(slots=True, eq=False)
class ContextDef(Node):
    model: str | None
    name: str


@dataclass(slots=True, eq=False)
class Library(Node):
    name: str | None = None
    version: str | None = None
    usings: list[UsingDef] = field(default_factory=list)
    includes: list[IncludeDef] = field(default_factory=list)
    codesystems: list[CodeSystemDef] = field(default_factory=list)
    valuesets: list[ValueSetDef] = field(default_factory=list)
    codes: list[CodeDef] = field(default_factory=list)
    concepts: list[ConceptDef] = field(default_factory=list)
    parameters: list[ParameterDef] = field(default_factory=list)
    statements: list[ExpressionDef | FunctionDef | ContextDef] = field(default_factory=list)
