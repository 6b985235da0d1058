"""Equality (``=``), equivalence (``~``) and ordering of any CQL values.

Three-valued: :func:`equal` and :func:`compare` return None when the answer is
unknown. Inside lists and tuples, two nulls in the same position count as
equal and one null makes the result unknown; elements are compared in order
and the first element that is not equal decides (as the reference engine and
the conformance suite do).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .numbers import Long, decimal_places
from .quantity import Quantity, Ratio
from .structures import Code, CodeSystemRef, Concept, Interval, Tuple, ValueSetRef
from .temporal import Date, DateTime, Time

_NUMBER_TYPES = (int, Long, Decimal)
_OWN_SEMANTICS = (Date, DateTime, Time, Quantity, Ratio)
_WHITESPACE = re.compile(r"\s+")


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool)


def equal(a: Any, b: Any) -> bool | None:
    """CQL ``=``: True, False, or None when either side is null or the answer is uncertain."""
    if a is None or b is None:
        return None
    ta = type(a)
    if ta is type(b):
        if ta in (int, str, bool, Long, Decimal):
            return a == b
        if ta in _OWN_SEMANTICS:
            return a.cql_equal(b)
        if ta is list:
            return _equal_sequence(a, b)
        if ta is Interval:
            return _equal_interval(a, b)
        if ta is Tuple:
            if a.elements.keys() != b.elements.keys():
                return False
            return _equal_sequence(list(a.elements.values()), [b.elements[k] for k in a.elements])
        if ta is Code:
            return a.code == b.code and a.system == b.system and a.version == b.version \
                and a.display == b.display
        if ta is Concept:
            if len(a.codes) != len(b.codes):
                return False
            result = _equal_sequence(list(a.codes), list(b.codes))
            return result if result is not True else a.display == b.display
        if ta in (ValueSetRef, CodeSystemRef):
            return a.id == b.id and a.version == b.version
        if ta is dict:
            return a == b
        return a == b
    if _is_number(a) and _is_number(b):
        return a == b
    return False


def _equal_sequence(a: list[Any], b: list[Any]) -> bool | None:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is None and y is None:
            continue
        r = equal(x, y)
        if r is not True:
            return r
    return True


def _equal_interval(a: Interval, b: Interval) -> bool | None:
    from .intervals import normalized_bounds

    la, ha = normalized_bounds(a)
    lb, hb = normalized_bounds(b)
    # Start and End are compared with =: an unknown (open null) bound makes
    # that comparison unknown, even against another unknown bound.
    low, high = equal(la, lb), equal(ha, hb)
    if low is False or high is False:
        return False
    return None if low is None or high is None else True


def equivalent(a: Any, b: Any) -> bool:
    """CQL ``~``: never null; null ~ null is true."""
    if a is None or b is None:
        return a is None and b is None
    ta = type(a)
    if ta is type(b):
        if ta is str:
            return _WHITESPACE.sub(" ", a).casefold() == _WHITESPACE.sub(" ", b).casefold()
        if ta in (int, bool, Long):
            return a == b
        if ta is Decimal:
            return _equivalent_decimal(a, b)
        if ta in _OWN_SEMANTICS:
            return bool(a.cql_equivalent(b))
        if ta is list:
            return len(a) == len(b) and all(equivalent(x, y) for x, y in zip(a, b))
        if ta is Interval:
            from .intervals import normalized_bounds

            la, ha = normalized_bounds(a)
            lb, hb = normalized_bounds(b)
            return equivalent(la, lb) and equivalent(ha, hb)
        if ta is Tuple:
            if a.elements.keys() != b.elements.keys():
                return False
            return all(equivalent(a.elements[k], b.elements[k]) for k in a.elements)
        if ta is Code:
            return a.code == b.code and a.system == b.system
        if ta is Concept:
            return any(equivalent(x, y) for x in a.codes for y in b.codes)
        if ta in (ValueSetRef, CodeSystemRef):
            return a.id == b.id and a.version == b.version
        return a == b
    if _is_number(a) and _is_number(b):
        if isinstance(a, Decimal) or isinstance(b, Decimal):
            return _equivalent_decimal(Decimal(a), Decimal(b))
        return a == b
    if ta is Code and type(b) is Concept:
        return any(equivalent(a, y) for y in b.codes)
    if ta is Concept and type(b) is Code:
        return any(equivalent(x, b) for x in a.codes)
    return False


def _equivalent_decimal(a: Decimal, b: Decimal) -> bool:
    # Compared at the precision of the less precise operand; trailing zeros
    # don't add precision (1.000 ~ 1.001, as the conformance suite expects).
    places = min(decimal_places(a.normalize()), decimal_places(b.normalize()))
    step = Decimal(1).scaleb(-places)
    return a.quantize(step) == b.quantize(step) if places < 28 else a == b


def compare(a: Any, b: Any) -> int | None:
    """Ordering of two non-null values of an ordered type: -1, 0, 1, or None if unknown."""
    if a is None or b is None:
        return None
    ta = type(a)
    if ta in (int, Long, Decimal, str) and (ta is type(b) or (_is_number(a) and _is_number(b))):
        return (a > b) - (a < b)
    if ta in _OWN_SEMANTICS and ta is type(b):
        return a.cql_compare(b)
    if ta is bool and type(b) is bool:
        return (a > b) - (a < b)
    return None
