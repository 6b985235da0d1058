"""Interval operator phrases (``starts same day as``, ``3 days or less before``,
``properly within 2 hours of``, ``meets``, ...) compiled to the interval and
date/time operators, as the CQL specification defines each phrase."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import ast
from .errors import CqlSemanticError
from .runtime import Context
from .types import BOOLEAN, QUANTITY, IntervalType

if TYPE_CHECKING:
    from .compiler import Compiled, LibraryCompiler, Scope


def compile_timing(c: LibraryCompiler, node: ast.Timing, scope: Scope) -> Compiled:
    from .compiler import Compiled, constant, new_slot

    phrase = node.phrase
    left = c.compile(node.left, scope)
    right = c.compile(node.right, scope)
    options = {"precision": phrase.precision} if phrase.precision else None

    if phrase.prefix in ("starts", "ends"):
        left = c.call("Start" if phrase.prefix == "starts" else "End", [left])
    if phrase.suffix in ("start", "end"):
        right = c.call("Start" if phrase.suffix == "start" else "End", [right])

    kind = phrase.kind
    if kind == "same":
        name = {"as": "SameAs", "before": "SameOrBefore", "after": "SameOrAfter"}[phrase.relation or "as"]
        return c.call(name, [left, right], options)
    if kind == "includes":
        return c.call("ProperIncludes" if phrase.properly else "Includes", [left, right], options)
    if kind == "included_in":
        return c.call("ProperIncludedIn" if phrase.properly else "IncludedIn", [left, right], options)
    if kind in ("meets", "overlaps"):
        base = "Meets" if kind == "meets" else "Overlaps"
        suffix = {"before": "Before", "after": "After"}.get(phrase.relation or "", "")
        return c.call(base + suffix, [left, right], options)
    if kind in ("starts", "ends"):
        return c.call("Starts" if kind == "starts" else "Ends", [left, right], options)

    # Offsets and 'within' compare points: reduce interval operands to the relevant boundary.
    def held(compiled: Compiled) -> tuple[int, Compiled]:
        slot = new_slot()
        return slot, Compiled(lambda ctx: ctx.vars.get(slot), compiled.type)

    def with_held(pairs: list[tuple[int, Compiled]], body: Compiled) -> Compiled:
        setters = [(slot, compiled.fn) for slot, compiled in pairs]
        body_fn = body.fn

        def run(ctx: Context) -> Any:
            variables = ctx.vars
            for slot, fn in setters:
                variables[slot] = fn(ctx)
            return body_fn(ctx)
        return Compiled(run, BOOLEAN)

    if kind == "before_after":
        before = phrase.relation == "before"
        if phrase.quantity is None:
            if phrase.inclusive:
                return c.call("SameOrBefore" if before else "SameOrAfter", [left, right], options)
            return c.call("Before" if before else "After", [left, right], options)
        quantity = constant(c.quantity_value(phrase.quantity), QUANTITY)
        if isinstance(left.type, IntervalType) and phrase.prefix is None:
            left = c.call("End" if before else "Start", [left])
        if isinstance(right.type, IntervalType) and phrase.suffix is None:
            right = c.call("Start" if before else "End", [right])
        right_slot, right_held = held(right)
        left_slot, left_held = held(left)
        # The boundary the offset measures from: B - q (before) or B + q (after).
        boundary = c.call("Subtract" if before else "Add", [right_held, quantity])
        precision = phrase.precision or _unit_precision(phrase.quantity)
        point_options = {"precision": precision} if precision else None
        qualifier = phrase.offset_qualifier
        if qualifier is None:
            body = c.call("SameAs", [left_held, boundary], point_options)
        elif qualifier == "or more":
            body = c.call("SameOrBefore" if before else "SameOrAfter", [left_held, boundary], point_options)
        elif qualifier == "more than":
            body = c.call("Before" if before else "After", [left_held, boundary], point_options)
        else:
            # 'or less' / 'less than': between the boundary and B, B itself excluded.
            closed = qualifier == "or less"
            interval = _interval(c, boundary, right_held, closed, False) if before else \
                _interval(c, right_held, boundary, False, closed)
            body = c.call("In", [left_held, interval], point_options)
        return with_held([(right_slot, right), (left_slot, left)], _null_if_any(body, [right_held, left_held]))

    if kind == "within":
        assert phrase.quantity is not None
        quantity = constant(c.quantity_value(phrase.quantity), QUANTITY)
        right_slot, right_held = held(right)
        if isinstance(right.type, IntervalType):
            low_base = c.call("Start", [right_held])
            high_base = c.call("End", [right_held])
        else:
            low_base = high_base = right_held
        low = c.call("Subtract", [low_base, quantity])
        high = c.call("Add", [high_base, quantity])
        interval = _interval(c, low, high, not phrase.properly, not phrase.properly)
        precision = phrase.precision or _unit_precision(phrase.quantity)
        point_options = {"precision": precision} if precision else None
        name = "IncludedIn" if isinstance(left.type, IntervalType) else "In"
        body = c.call(name, [left, interval], point_options)
        return with_held([(right_slot, right)], _null_if_any(body, [right_held]))

    raise CqlSemanticError(f"unknown interval operator phrase '{kind}'")


def _interval(c: LibraryCompiler, low: Compiled, high: Compiled, low_closed: bool, high_closed: bool) -> Compiled:
    from .compiler import Compiled
    from .values import Interval

    point = low.type if low.type == high.type else c._unify([low, high], "interval bounds")
    lf, hf = c.coerce_loose(low, point).fn, c.coerce_loose(high, point).fn
    point_name = getattr(point, "name", None)

    def build(ctx: Context) -> Any:
        lo, hi = lf(ctx), hf(ctx)
        if lo is None or hi is None:
            return None
        return Interval(lo, hi, low_closed, high_closed, point_name)
    return Compiled(build, IntervalType(point))


def _null_if_any(body: Compiled, operands: list[Compiled]) -> Compiled:
    """The phrase is unknown when an operand is null."""
    from .compiler import Compiled

    fns: list[Callable[[Context], Any]] = [o.fn for o in operands]
    body_fn = body.fn

    def run(ctx: Context) -> Any:
        for fn in fns:
            if fn(ctx) is None:
                return None
        return body_fn(ctx)
    return Compiled(run, BOOLEAN)


def _unit_precision(quantity: ast.QuantityLiteral) -> str | None:
    unit = quantity.unit or ""
    unit = {"a": "year", "mo": "month", "wk": "week", "d": "day", "h": "hour", "min": "minute", "s": "second",
            "ms": "millisecond"}.get(unit, unit)
    unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _PRECISIONS else unit
    return unit if unit in _PRECISIONS else None


_PRECISIONS = {"year", "month", "week", "day", "hour", "minute", "second", "millisecond"}
