"""List operators (CQL reference, "List Operators").

Membership, set operations and distinct use CQL equality with nulls equal to
each other. They run in linear time for values with a hashable key consistent
with CQL equality (numbers, strings, booleans, codes, concepts, dates and
times, and lists, tuples and intervals of those); other values (quantities,
ratios, model objects) are compared pairwise within buckets of a coarser key.

Helpers used by queries and aggregates: :func:`distinct_list`,
:func:`list_contains`, :class:`Membership`.

Overload choice for an untyped ``null`` operand (the suite follows the
reference translator): ``includes``/``included in`` take it as a list (the
list–list form, null result); ``properly includes``/``properly included in``
take a null in the element position as an element, and a null in the list
position as a list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from ..errors import CqlRuntimeError
from ..types import ANY, BOOLEAN, INTEGER, ListType
from ..values import (
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
    temporal,
)
from ..values.compare import equal, equivalent
from ..values.intervals import normalized_bounds
from ..values.temporal import Precision
from .registry import T, operator

LIST_T = ListType(T)

# ---------------------------------------------------------------- keys consistent with CQL equality

_NUMBERS = (int, Long, Decimal)
_SCALAR_SETS = (frozenset({str, type(None)}), frozenset({int, Long, Decimal, type(None)}))
_NULL_KEY = ("null",)


def equality_key(value: Any) -> tuple[Any, bool] | None:
    """A hashable key for a non-null value and whether it is exact.

    Values for which CQL ``=`` is true (nulls inside structures equal to each
    other) always get equal keys. An exact key is also sufficient: equal exact
    keys mean equal values. A non-exact key only buckets values, which are then
    compared. None: no key (compare pairwise)."""
    t = type(value)
    if t is str or t is int or t is Long or t is Decimal:
        return value, True
    if t is bool:
        return ("b", value), True
    if t is Date or t is Time:
        return ("t", temporal.equality_key(value)), True
    if t is DateTime:
        if value.tz_offset is None and value.precision >= Precision.HOUR:
            # Compared by local parts with some values and by instant with others.
            return None
        return ("t", temporal.equality_key(value)), True
    if t is Code:
        return ("c", value.code, value.system, value.version, value.display), True
    if t is Concept:
        return ("C", tuple((c.code, c.system, c.version, c.display) for c in value.codes), value.display), True
    if t is Quantity:
        return ("q~",), False
    if t is Ratio:
        return ("r~",), False
    if t is list:
        return _sequence_key("L", value)
    if t is Tuple:
        names = sorted(value.elements)
        key = _sequence_key("T", [value.elements[n] for n in names])
        if key is None:
            return None
        return (tuple(names), key[0]), key[1]
    if t is Interval:
        try:
            low, high = normalized_bounds(value)
        except CqlRuntimeError:
            return None
        return _sequence_key("I", [low, high])
    if t is ValueSetRef or t is CodeSystemRef:
        return ("v", t.__name__, value.id, value.version), True
    if t is dict:
        rt, ident = value.get("resourceType"), value.get("id")
        if type(rt) is str or rt is None:
            if type(ident) is not str:
                ident = None
            return ("d~", rt, ident), False
    return None


def _sequence_key(tag: str, items: Iterable[Any]) -> tuple[Any, bool] | None:
    parts = []
    exact = True
    for item in items:
        if item is None:
            parts.append(_NULL_KEY)
            continue
        k = equality_key(item)
        if k is None:
            return None
        parts.append(k[0])
        exact = exact and k[1]
    return (tag if exact else tag + "~", tuple(parts)), exact


def _is_scalar_list(items: list[Any]) -> bool:
    types = {type(x) for x in items}
    return any(types <= s for s in _SCALAR_SETS)


def distinct_list(items: list[Any]) -> list[Any]:
    """The list without duplicates (CQL equality, nulls equal), first of each kept, in order."""
    if len(items) < 2:
        return list(items)
    if _is_scalar_list(items):
        return list(dict.fromkeys(items))
    out: list[Any] = []
    buckets: dict[Any, list[Any]] = {}
    has_null = False
    for item in items:
        if item is None:
            if not has_null:
                has_null = True
                out.append(None)
            continue
        k = equality_key(item)
        if k is None:
            return _distinct_pairwise(items)
        key, exact = k
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = [item]
            out.append(item)
        elif not exact:
            for other in bucket:
                if equal(item, other) is True:
                    break
            else:
                bucket.append(item)
                out.append(item)
    return out


def _distinct_pairwise(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    has_null = False
    for item in items:
        if item is None:
            if not has_null:
                has_null = True
                out.append(None)
            continue
        for other in out:
            if other is not None and equal(item, other) is True:
                break
        else:
            out.append(item)
    return out


class Membership:
    """Answers "is a value equal (nulls equal) to some element?" for a fixed list."""

    __slots__ = ("buckets", "has_null", "pairwise", "scalars")

    def __init__(self, items: list[Any]) -> None:
        self.has_null = False
        self.scalars: set[Any] | None = None
        self.buckets: dict[Any, tuple[bool, list[Any]]] | None = None
        self.pairwise: list[Any] | None = None
        if _is_scalar_list(items):
            self.scalars = set(items)
            self.has_null = None in self.scalars
            return
        buckets: dict[Any, tuple[bool, list[Any]]] = {}
        for item in items:
            if item is None:
                self.has_null = True
                continue
            k = equality_key(item)
            if k is None:
                self.pairwise = [x for x in items if x is not None]
                return
            entry = buckets.get(k[0])
            if entry is None:
                buckets[k[0]] = (k[1], [item])
            elif not k[1]:
                entry[1].append(item)
        self.buckets = buckets

    def __contains__(self, value: Any) -> bool:
        if value is None:
            return self.has_null
        if self.scalars is not None:
            t = type(value)
            if t is str or t is int or t is Long or t is Decimal:
                return value in self.scalars
            return False
        if self.buckets is not None:
            k = equality_key(value)
            if k is not None:
                entry = self.buckets.get(k[0])
                if entry is None:
                    return False
                exact, members = entry
                return exact or any(equal(value, m) is True for m in members)
            candidates: Iterable[Any] = (m for _, ms in self.buckets.values() for m in ms)
        else:
            assert self.pairwise is not None
            candidates = self.pairwise
        return any(equal(value, m) is True for m in candidates)


def list_contains(items: list[Any], value: Any) -> bool | None:
    """CQL ``contains``/``in`` for a non-null list: equality with nulls equal; None when the
    only candidates compare as unknown (e.g. date/times of different precision)."""
    if value is None:
        return any(e is None for e in items)
    t = type(value)
    if t is str:
        return value in items
    if t is int or t is Long or t is Decimal:
        for e in items:
            te = type(e)
            if (te is int or te is Long or te is Decimal) and e == value:
                return True
        return False
    unknown = False
    for e in items:
        if e is None:
            continue
        r = equal(e, value)
        if r is True:
            return True
        if r is None:
            unknown = True
    return None if unknown else False


def _includes(left: list[Any], right: list[Any]) -> bool | None:
    """Every element of ``right`` is in ``left`` (three-valued)."""
    if not right:
        return True
    if len(right) > 4 and len(left) > 4:
        members = Membership(left)
        pending = [r for r in distinct_list(right) if r not in members]
    else:
        pending = right
    unknown = False
    for r in pending:
        found = list_contains(left, r)
        if found is False:
            return False
        if found is None:
            unknown = True
    return None if unknown else True


def _proper_contains(items: list[Any] | None, value: Any) -> bool | None:
    """The element is in the list and is not its only distinct value."""
    if items is None or len(items) < 2:
        return False
    if value is None:
        return any(e is None for e in items) and any(e is not None for e in items)
    found = other = unknown = False
    for e in items:
        r = equal(e, value)
        if r is True:
            found = True
        elif r is False:
            other = True
        else:
            unknown = True
    if found and other:
        return True
    return None if unknown else False


# ---------------------------------------------------------------- equality of lists of different element types

# Lists whose element types differ only at run time (List<Any>) are compared element by element.


@operator("Equal", [ListType(ANY), ListType(ANY)], BOOLEAN, nulls=False)
def equal_lists(left: list[Any] | None, right: list[Any] | None) -> bool | None:
    return equal(left, right)


@operator("Equivalent", [ListType(ANY), ListType(ANY)], BOOLEAN, nulls=False)
def equivalent_lists(left: list[Any] | None, right: list[Any] | None) -> bool:
    return equivalent(left, right)


# ---------------------------------------------------------------- membership


@operator("Contains", [LIST_T, T], BOOLEAN, nulls=False)
def contains(items: list[Any] | None, value: Any) -> bool | None:
    if items is None:
        return False
    return list_contains(items, value)


@operator("In", [T, LIST_T], BOOLEAN, nulls=False)
def in_(value: Any, items: list[Any] | None) -> bool | None:
    if items is None:
        return False
    return list_contains(items, value)


@operator("Exists", [LIST_T], BOOLEAN, nulls=False)
def exists(items: list[Any] | None) -> bool:
    if not items:
        return False
    return any(e is not None for e in items)


# ---------------------------------------------------------------- inclusion


def _includes_lists(left: list[Any], right: list[Any]) -> bool | None:
    return _includes(left, right)


def _included_in_lists(left: list[Any], right: list[Any]) -> bool | None:
    return _includes(right, left)


def _proper_includes_lists(left: list[Any], right: list[Any]) -> bool | None:
    if len(left) <= len(right):
        return False
    return _includes(left, right)


def _proper_included_in_lists(left: list[Any], right: list[Any]) -> bool | None:
    return _proper_includes_lists(right, left)


def _list_or_null(fn: Callable[[list[Any], list[Any]], bool | None]) -> Callable[[Any, Any], bool | None]:
    """A list–list form taking an untyped argument: null for a null operand."""

    def impl(left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            return None
        if not isinstance(left, list) or not isinstance(right, list):
            raise CqlRuntimeError("expected two lists")
        return fn(left, right)
    return impl


# Includes / IncludedIn: list–list first, so an untyped null is a list.
operator("Includes", [LIST_T, LIST_T], BOOLEAN)(_includes_lists)
operator("Includes", [LIST_T, T], BOOLEAN, nulls=False)(contains)
operator("IncludedIn", [LIST_T, LIST_T], BOOLEAN)(_included_in_lists)
operator("IncludedIn", [T, LIST_T], BOOLEAN, nulls=False)(in_)

# ProperIncludes / ProperIncludedIn: an untyped null in the list position is a list
# (exact match on Any), in the element position an element (registered before list–list).
operator("ProperIncludes", [ANY, LIST_T], BOOLEAN, nulls=False)(_list_or_null(_proper_includes_lists))
operator("ProperIncludes", [LIST_T, T], BOOLEAN, nulls=False)(_proper_contains)
operator("ProperIncludes", [LIST_T, LIST_T], BOOLEAN)(_proper_includes_lists)
operator("ProperIncludedIn", [LIST_T, ANY], BOOLEAN, nulls=False)(_list_or_null(_proper_included_in_lists))
operator("ProperIncludedIn", [T, LIST_T], BOOLEAN, nulls=False)(lambda value, items: _proper_contains(items, value))
operator("ProperIncludedIn", [LIST_T, LIST_T], BOOLEAN)(_proper_included_in_lists)

# ---------------------------------------------------------------- set operations


@operator("Distinct", [LIST_T], LIST_T)
def distinct(items: list[Any]) -> list[Any]:
    return distinct_list(items)


@operator("Union", [LIST_T, LIST_T], LIST_T, nulls=False)
def union(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    return distinct_list((left or []) + (right or []))


@operator("Intersect", [LIST_T, LIST_T], LIST_T)
def intersect(left: list[Any], right: list[Any]) -> list[Any]:
    if not left or not right:
        return []
    members = Membership(right)
    return [e for e in distinct_list(left) if e in members]


@operator("Except", [LIST_T, LIST_T], LIST_T, nulls=False)
def except_(left: list[Any] | None, right: list[Any] | None) -> list[Any] | None:
    if left is None:
        return None
    kept = distinct_list(left)
    if not right:
        return kept
    members = Membership(right)
    return [e for e in kept if e not in members]


@operator("Flatten", [ListType(LIST_T)], LIST_T)
def flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for inner in items:
        if inner is None:
            continue
        if isinstance(inner, list):
            out.extend(inner)
        else:
            out.append(inner)
    return out


# ---------------------------------------------------------------- positions


@operator("First", [LIST_T], T)
def first(items: list[Any]) -> Any:
    return items[0] if items else None


@operator("Last", [LIST_T], T)
def last(items: list[Any]) -> Any:
    return items[-1] if items else None


@operator("Indexer", [LIST_T, INTEGER], T)
def indexer(items: list[Any], index: int) -> Any:
    if 0 <= index < len(items):
        return items[index]
    return None


@operator("IndexOf", [LIST_T, T], INTEGER)
def index_of(items: list[Any], value: Any) -> int | None:
    for i, e in enumerate(items):
        if e is None:
            continue
        r = equal(e, value)
        if r is True:
            return i
        if r is None:
            return None  # an earlier element may or may not be the one
    return -1


@operator("Length", [LIST_T], INTEGER, nulls=False)
def length(items: list[Any] | None) -> int:
    return 0 if items is None else len(items)


@operator("SingletonFrom", [LIST_T], T)
def singleton_from(items: list[Any]) -> Any:
    if len(items) > 1:
        raise CqlRuntimeError(f"singleton from: the list has {len(items)} elements, not one")
    return items[0] if items else None


@operator("Skip", [LIST_T, INTEGER], LIST_T, nulls=False)
def skip(items: list[Any] | None, number: int | None) -> list[Any] | None:
    if items is None:
        return None
    if number is None:
        return list(items)
    if number < 0:
        return []
    return items[number:]


@operator("Take", [LIST_T, INTEGER], LIST_T, nulls=False)
def take(items: list[Any] | None, number: int | None) -> list[Any] | None:
    if items is None:
        return None
    if number is None or number <= 0:
        return []
    return items[:number]


@operator("Tail", [LIST_T], LIST_T)
def tail(items: list[Any]) -> list[Any]:
    return items[1:]


def _slice_index(index: int, count: int) -> int:
    if index < 0:
        return max(0, index + count)
    return min(index, count)


def _slice(items: list[Any] | None, start: int | None = None, end: int | None = None) -> list[Any] | None:
    if items is None:
        return None
    count = len(items)
    lo = 0 if start is None else _slice_index(start, count)
    hi = count if end is None else _slice_index(end, count)
    return items[lo:hi] if hi > lo else []


operator("Slice", [LIST_T], LIST_T, nulls=False)(_slice)
operator("Slice", [LIST_T, INTEGER], LIST_T, nulls=False)(_slice)
operator("Slice", [LIST_T, INTEGER, INTEGER], LIST_T, nulls=False)(_slice)
