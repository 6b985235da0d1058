"""Interval operator phrases (``starts same day as``, ``3 days or less before``,
``properly within 2 hours of``, ``meets``, ...) compiled to the interval and
date/time operators, as the CQL specification defines each phrase."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .errors import CqlRuntimeError, CqlSemanticError
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
        # With an offset, interval operands stand for one of their boundaries:
        # A ... before B compares the end of A with the start of B, A ... after B
        # the start of A with the end of B.
        quantity = constant(c.quantity_value(phrase.quantity), QUANTITY)
        if isinstance(left.type, IntervalType):
            left = c.call("End" if before else "Start", [left])
        if isinstance(right.type, IntervalType):
            right = c.call("Start" if before else "End", [right])
        qualifier = phrase.offset_qualifier
        if qualifier in (None, "or more", "more than"):
            # A 3 days before B: A same as B - 3 days; or more: same or before; more than: before.
            boundary = _shift(c, right, quantity, before)
            if qualifier is None:
                name = "SameAs"
            elif qualifier == "or more":
                name = "SameOrBefore" if before else "SameOrAfter"
            else:
                name = "Before" if before else "After"
            return c.call(name, [left, boundary], options)
        # 'or less' / 'less than': A in [B - 3 days, B) (before) or (B, B + 3 days] (after),
        # B itself included with 'on or'; false when B is null.
        right_slot, right_held = held(right)
        offset_closed = qualifier == "or less"
        if before:
            interval = _interval(c, _shift(c, right_held, quantity, True), right_held, offset_closed,
                                 phrase.inclusive)
        else:
            interval = _interval(c, right_held, _shift(c, right_held, quantity, False), phrase.inclusive,
                                 offset_closed)
        body = c.call("In", [left, interval], options)
        return with_held([(right_slot, right)], _false_if_null(body, right_held))

    if kind == "within":
        # A within 3 days of B: A in [start of B - 3 days, end of B + 3 days], false when B is null;
        # 'properly within' uses an open interval.
        assert phrase.quantity is not None
        quantity = constant(c.quantity_value(phrase.quantity), QUANTITY)
        right_slot, right_held = held(right)
        if isinstance(right.type, IntervalType):
            low_base = c.call("Start", [right_held])
            high_base = c.call("End", [right_held])
        else:
            low_base = high_base = right_held
        low = _shift(c, low_base, quantity, True)
        high = _shift(c, high_base, quantity, False)
        interval = _interval(c, low, high, not phrase.properly, not phrase.properly)
        name = "IncludedIn" if isinstance(left.type, IntervalType) else "In"
        body = c.call(name, [left, interval], options)
        if phrase.properly:
            return with_held([(right_slot, right)], body)
        return with_held([(right_slot, right)], _false_if_null(body, right_held))

    raise CqlSemanticError(f"unknown interval operator phrase '{kind}'")


def _interval(c: LibraryCompiler, low: Compiled, high: Compiled, low_closed: bool, high_closed: bool) -> Compiled:
    """An interval built from two computed boundaries; a boundary that comes out
    null is unknown (an open null bound), never the minimum or maximum."""
    from .compiler import Compiled
    from .values import Interval

    point = low.type if low.type == high.type else c._unify([low, high], "interval bounds")
    lf, hf = c.coerce_loose(low, point).fn, c.coerce_loose(high, point).fn
    point_name = getattr(point, "name", None)

    def build(ctx: Context) -> Any:
        lo, hi = lf(ctx), hf(ctx)
        return Interval(lo, hi, low_closed and lo is not None, high_closed and hi is not None, point_name)
    return Compiled(build, IntervalType(point))


def _shift(c: LibraryCompiler, base: Compiled, quantity: Compiled, subtract: bool) -> Compiled:
    """``base - quantity`` or ``base + quantity``, except that the minimum (for
    -) or maximum (for +) of the point type stays where it is: the closed null
    end of an ongoing interval is the end of time, and so is that end plus 3 days."""
    from .compiler import Compiled, new_slot
    from .values.intervals import max_value, min_value

    slot = new_slot()
    held_base = Compiled(lambda ctx: ctx.vars.get(slot), base.type)
    shifted = c.call("Subtract" if subtract else "Add", [held_base, quantity])
    base_fn, shifted_fn = base.fn, shifted.fn
    type_name = getattr(base.type, "name", None)
    try:
        extreme = (min_value if subtract else max_value)(type_name) if type_name else None
    except CqlRuntimeError:
        extreme = None

    def run(ctx: Context) -> Any:
        value = base_fn(ctx)
        if value is None:
            return None
        if extreme is not None and value == extreme:
            return value
        ctx.vars[slot] = value
        return shifted_fn(ctx)
    return Compiled(run, shifted.type)


def _false_if_null(body: Compiled, operand: Compiled) -> Compiled:
    """``body and operand is not null`` (the null test of the spec's translations)."""
    from .compiler import Compiled

    operand_fn = operand.fn
    body_fn = body.fn

    def run(ctx: Context) -> Any:
        if operand_fn(ctx) is None:
            return False
        return body_fn(ctx)
    return Compiled(run, BOOLEAN)
