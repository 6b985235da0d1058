"""Limits on what a caller may send: JSON nesting depth, prefetch size.

Every limit is a clear 4xx with an OperationOutcome (the body size is a 413,
from Flask's ``MAX_CONTENT_LENGTH``); none is discovered as a 500, a
``RecursionError`` deep in the rules, or a worker that never answers.

The nesting depth is measured on the raw JSON text, after a successful parse,
without walking the parsed objects: string contents are dropped, everything
but brackets is deleted, and innermost bracket pairs are removed one level at
a time. All of it runs in C (``re``, ``bytes.translate``, ``bytes.replace``),
so a typical hook request costs microseconds and a 5 MiB one a few
milliseconds.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .http import ApiError

# A JSON string literal, as an unrolled loop (no alternation to backtrack over).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Objects and arrays both become "[" ... "]" (valid JSON pairs them properly);
# every other byte is deleted.
_TO_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# For the linear fallback: "[" counts 2 and "]" 0, so the running sum minus the
# position is the depth at that position.
_DEPTH_WEIGHTS = bytes.maketrans(b"[]", bytes([2, 0]))
_PASSES_BEFORE_LINEAR = 8


def _max_depth_linear(brackets: bytes) -> int:
    return max(map(operator.sub, itertools.accumulate(brackets.translate(_DEPTH_WEIGHTS)), itertools.count(1)),
               default=0)


def json_depth_exceeds(data: bytes, max_depth: int) -> bool:
    """True when the (valid) JSON text ``data`` nests objects and arrays deeper than ``max_depth``."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    brackets = _JSON_STRING.sub(b"", data).translate(_TO_BRACKETS, _NOT_BRACKETS)
    # Each pass removes the innermost pairs: one level of the whole tree. Typical
    # data is shallow and shrinks fast; a long, deep remainder is measured in one
    # linear scan instead of up to max_depth passes over it.
    for passes in range(max_depth):
        if not brackets:
            return False
        if passes >= _PASSES_BEFORE_LINEAR and len(brackets) > 4096:
            return passes + _max_depth_linear(brackets) > max_depth
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def check_json_depth(data: bytes, max_depth: int) -> None:
    """``ApiError`` 422 when ``data`` nests deeper than ``max_depth``."""
    if json_depth_exceeds(data, max_depth):
        raise ApiError(422, "too-costly", f"the JSON body nests objects and arrays more than {max_depth} deep")


def count_resources(value: Any) -> int:
    """The resources in a prefetch value: a Bundle's entries, or one resource."""
    if not isinstance(value, Mapping):
        return 0
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry")
        return len(entries) if isinstance(entries, list) else 0
    return 1


def check_prefetch_limits(body: Mapping[str, Any], *, max_keys: int, max_resources: int) -> None:
    """``ApiError`` 422 when a hook request's prefetch has too many keys or, with the draft
    orders, too many resources for one evaluation."""
    prefetch = body.get("prefetch")
    total = 0
    if isinstance(prefetch, Mapping):
        if len(prefetch) > max_keys:
            raise ApiError(422, "too-costly", f"prefetch has {len(prefetch)} keys; at most {max_keys} are accepted")
        total = sum(count_resources(value) for value in prefetch.values())
    context = body.get("context")
    if isinstance(context, Mapping):
        total += count_resources(context.get("draftOrders"))
    if total > max_resources:
        raise ApiError(422, "too-costly",
                       f"the request holds {total} resources; at most {max_resources} are accepted per call")


def _fhir_resource_types() -> frozenset[str]:
    from cql.fhir.modelinfo import load

    return frozenset(name for name, info in load().types.items() if info.is_resource)


def check_resource_types(resources: Iterable[Any]) -> None:
    """``ApiError`` 422 when a resource the rules would see is not a FHIR R4 resource type.

    The CQL engine refuses such data (it can't tell what the rules would make of
    it); refusing it here says whose mistake it is, instead of a 500.
    """
    known = _resource_types()
    for resource in resources:
        kind = resource.get("resourceType") if isinstance(resource, Mapping) else None
        if not isinstance(kind, str) or kind not in known:
            shown = kind[:64] if isinstance(kind, str) else type(kind).__name__
            raise ApiError(422, "invalid", f"the patient data holds a resource that is not FHIR R4 "
                                           f"(resourceType {shown!r})")


_resource_types = functools.cache(_fhir_resource_types)
