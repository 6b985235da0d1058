"""Compile CQL queries: sources, let, with/without, where, return, aggregate, sort.

Semantics (CQL 1.5 Author's and Developer's Guides, as the reference engine
and the conformance suite read them):

- A query over a list yields a list; when every source is a single value
  (``(4) X``) it yields a single value (null when the row is filtered out).
- Several sources range over their cartesian product; without a return
  clause each row is a tuple of the aliases.
- A null single source gives a null result; in a multi-source query a null
  source has no elements.
- ``let`` values are computed per row, before ``with``/``without`` (whose
  such-that conditions may use them) and ``where``. A null related source
  has no elements.
- ``return`` eliminates duplicates unless ``return all``; without a return
  clause nothing is eliminated.
- ``aggregate`` folds the rows (distinct rows with ``aggregate distinct``)
  starting from the ``starting`` value or null.
- ``sort`` is stable; nulls sort first ascending and last descending;
  ``sort by`` items are evaluated on each result element (its properties
  are in scope, the aliases are not); date/time values that compare as
  uncertain sort by their earliest instant, the less precise first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

from . import ast
from .errors import CqlSemanticError
from .operators.list import distinct_list
from .runtime import MISSING, Context
from .types import ANY, BOOLEAN, CqlType, ListType, TupleType
from .values import Date, DateTime, Long, Time, Tuple, temporal
from .values.compare import compare

if TYPE_CHECKING:
    from .compiler import Compiled, LibraryCompiler, Scope

Fn = Callable[[Context], Any]


def compile_query(c: LibraryCompiler, node: ast.Query, scope: Scope) -> Compiled:
    from .compiler import Compiled, Scope, new_slot

    qscope = scope.child()
    # (slot, source function, is_list: True/False/None = decided at run time, alias)
    sources: list[tuple[int, Fn, bool | None, str]] = []
    element_types: list[tuple[str, CqlType]] = []
    for src in node.sources:
        compiled = c.compile(src.expr, scope)
        if isinstance(compiled.type, ListType):
            element, is_list = compiled.type.element, True
        elif compiled.type == ANY:
            element, is_list = ANY, None
        else:
            element, is_list = compiled.type, False
        if src.alias in qscope.names:
            raise CqlSemanticError(f"duplicate alias '{src.alias}'", *src.loc)
        slot = new_slot()
        qscope.names[src.alias] = (slot, element)
        sources.append((slot, compiled.fn, is_list, src.alias))
        element_types.append((src.alias, element))
    multi = len(sources) > 1
    source_slots = [s[0] for s in sources]
    aliases = [s[3] for s in sources]

    lets: list[tuple[int, Fn]] = []
    for name, expr in node.lets:
        if name in qscope.names:
            raise CqlSemanticError(f"duplicate name '{name}' in query")
        compiled = c.compile(expr, qscope)
        slot = new_slot()
        qscope.names[name] = (slot, compiled.type)
        lets.append((slot, compiled.fn))
    let_slots = [s for s, _ in lets]

    relationships: list[tuple[bool, int, Fn, Fn]] = []
    for rel in node.relationships:
        rel_source = c.compile(rel.source.expr, qscope)
        rel_scope = qscope.child()
        rel_slot = new_slot()
        rel_element = rel_source.type.element if isinstance(rel_source.type, ListType) else rel_source.type
        rel_scope.names[rel.source.alias] = (rel_slot, rel_element)
        such_that = c.coerce(c.compile(rel.such_that, rel_scope), BOOLEAN)
        relationships.append((rel.kind == "with", rel_slot, rel_source.fn, such_that.fn))

    where = c.coerce(c.compile(node.where, qscope), BOOLEAN).fn if node.where is not None else None

    row_type: CqlType = TupleType(tuple(element_types)) if multi else element_types[0][1]
    ret_fn: Fn | None = None
    result_element = row_type
    if node.return_expr is not None:
        returned = c.compile(node.return_expr, qscope)
        ret_fn = returned.fn
        result_element = returned.type

    aggregate: tuple[int, Fn | None, Fn, bool] | None = None
    if node.aggregate is not None:
        agg = node.aggregate
        starting = c.compile(agg.starting, qscope) if agg.starting is not None else None
        acc_slot = new_slot()
        agg_scope = qscope.child()
        agg_scope.names[agg.name] = (acc_slot, starting.type if starting else ANY)
        step = c.compile(agg.expr, agg_scope)
        if starting is None or starting.type == ANY:
            # The accumulator has the type of the step expression.
            agg_scope.names[agg.name] = (acc_slot, step.type)
            step = c.compile(agg.expr, agg_scope)
        aggregate = (acc_slot, starting.fn if starting else None, step.fn, agg.distinct)
        result_element = step.type

    this_slot = new_slot()
    sort_items: list[tuple[Fn | None, bool]] | None = None
    if node.sort is not None:
        sort_scope = Scope(scope, this=(this_slot, result_element))
        sort_items = [(_sort_key(c, item.expr, sort_scope) if item.expr is not None else None, item.descending)
                      for item in node.sort]

    all_slots = source_slots + let_slots + [r[1] for r in relationships] + [this_slot]
    if aggregate is not None:
        all_slots.append(aggregate[0])
    return_distinct = ret_fn is not None and node.return_distinct

    def keep_row(ctx: Context, variables: dict[int, Any]) -> bool:
        """Lets, relationships and where for the row bound in ``variables``."""
        for slot, fn in lets:
            variables[slot] = fn(ctx)
        for is_with, rel_slot, rel_fn, such_fn in relationships:
            related = rel_fn(ctx)
            if related is None:
                related = ()
            elif not isinstance(related, list):
                related = (related,)
            found = False
            for other in related:
                variables[rel_slot] = other
                if such_fn(ctx) is True:
                    found = True
                    break
            if found is not is_with:
                return False
        return where is None or where(ctx) is True

    def bind(variables: dict[int, Any], row: Any, let_values: tuple[Any, ...] | None) -> None:
        if multi:
            for slot, item in zip(source_slots, row):
                variables[slot] = item
        else:
            variables[source_slots[0]] = row
        if let_values is not None:
            for slot, value in zip(let_slots, let_values):
                variables[slot] = value

    def evaluate(ctx: Context) -> Any:
        variables = ctx.vars
        saved = [variables.get(s, MISSING) for s in all_slots]
        try:
            return run(ctx, variables)
        finally:
            for s, old in zip(all_slots, saved):
                if old is MISSING:
                    variables.pop(s, None)
                else:
                    variables[s] = old

    def run(ctx: Context, variables: dict[int, Any]) -> Any:
        # Source values.
        lists: list[list[Any]] = []
        single_value = True
        for _slot, fn, is_list, _alias in sources:
            value = fn(ctx)
            if is_list or (is_list is None and isinstance(value, list)):
                single_value = False
                if value is None:
                    if not multi:
                        return None
                    value = []
                elif not isinstance(value, list):
                    value = [value]
                lists.append(value)
            elif value is None:
                if not multi:
                    return None
                lists.append([])
            else:
                lists.append([value])

        # Rows that pass let/with/without/where, with their let values.
        rows: list[Any] = []
        row_lets: list[tuple[Any, ...]] | None = [] if lets else None
        check_deadline = ctx.check_deadline
        if not multi:
            slot = source_slots[0]
            for item in lists[0]:
                check_deadline()
                variables[slot] = item
                if keep_row(ctx, variables):
                    rows.append(item)
                    if row_lets is not None:
                        row_lets.append(tuple(variables[s] for s in let_slots))
        else:
            for combo in itertools.product(*lists):
                check_deadline()
                for slot, item in zip(source_slots, combo):
                    variables[slot] = item
                if keep_row(ctx, variables):
                    rows.append(combo)
                    if row_lets is not None:
                        row_lets.append(tuple(variables[s] for s in let_slots))

        if aggregate is not None:
            return run_aggregate(ctx, variables, rows, row_lets)

        if ret_fn is not None:
            results = []
            for i, row in enumerate(rows):
                bind(variables, row, row_lets[i] if row_lets is not None else None)
                results.append(ret_fn(ctx))
        elif multi:
            results = [Tuple(dict(zip(aliases, row))) for row in rows]
        else:
            results = rows
        if return_distinct:
            results = distinct_list(results)
        if sort_items is not None and len(results) > 1:
            results = sort_results(ctx, variables, results)
        if single_value:
            return results[0] if results else None
        return results

    def run_aggregate(ctx: Context, variables: dict[int, Any], rows: list[Any],
                      row_lets: list[tuple[Any, ...]] | None) -> Any:
        assert aggregate is not None
        acc_slot, start_fn, step_fn, agg_distinct = aggregate
        indexes = range(len(rows))
        if agg_distinct and len(rows) > 1:
            # Distinct rows (tuples of the aliases for several sources), first of each kept.
            keyed = [Tuple(dict(zip(aliases, row))) for row in rows] if multi else rows
            first_index: dict[int, int] = {}
            for i, value in enumerate(keyed):
                first_index.setdefault(id(value), i)
            kept = distinct_list(keyed)
            indexes = [first_index[id(value)] if value is not None else keyed.index(None) for value in kept]
        acc = start_fn(ctx) if start_fn is not None else None
        for i in indexes:
            bind(variables, rows[i], row_lets[i] if row_lets is not None else None)
            variables[acc_slot] = acc
            acc = step_fn(ctx)
        return acc

    def sort_results(ctx: Context, variables: dict[int, Any], results: list[Any]) -> list[Any]:
        assert sort_items is not None
        order = list(range(len(results)))
        # Stable sorts from the last sort item to the first give the lexicographic order.
        for fn, descending in reversed(sort_items):
            if fn is None:
                keys = results
            else:
                keys = []
                for item in results:
                    variables[this_slot] = item
                    keys.append(fn(ctx))
            key = sort_key_function(keys)
            order.sort(key=lambda i, _k=keys, _f=key: _f(_k[i]), reverse=descending)
        return [results[i] for i in order]

    if aggregate is not None:
        result_type: CqlType = result_element
    elif not any(s[2] is not False for s in sources):
        result_type = result_element
    else:
        result_type = ListType(result_element)
    return Compiled(evaluate, result_type)


# ---------------------------------------------------------------- sort keys


def _sort_key(c: LibraryCompiler, expr: ast.Expr, scope: Scope) -> Fn:
    """A sort key; a data-model value (FHIR.dateTime, FHIR.decimal) sorts by the ordered
    System value it converts to implicitly; a choice (FHIR onset[x]) by that of its first
    alternative that has one (values of the other alternatives sort as null)."""
    from .operators.registry import _converted
    from .types import ORDERED_TYPES, ChoiceType, NamedType

    compiled = c.compile(expr, scope)
    t = compiled.type
    if t in ORDERED_TYPES:
        return compiled.fn
    for option in t.choices if isinstance(t, ChoiceType) else (t,):
        if isinstance(option, NamedType) and option.model != "System":
            target = _converted(option, c.ts)
            if target in ORDERED_TYPES:
                return c.coerce(compiled, target).fn
    return compiled.fn


_NUMBER_TYPES = frozenset({int, Long, Decimal})
_TEMPORAL_TYPES = frozenset({Date, DateTime, Time})


def sort_key_function(values: list[Any]) -> Callable[[Any], Any]:
    """A key function ordering ``values`` ascending, nulls first.

    Numbers, strings and booleans use their natural order; date/time values of
    one type their earliest instant (less precise first on ties); other values
    CQL comparison, values that don't compare keeping their relative order."""
    types = {type(v) for v in values if v is not None}
    if not types:
        return _null_key
    if types <= _NUMBER_TYPES or types == {str} or types == {bool}:
        return _plain_key
    if len(types) == 1 and types <= _TEMPORAL_TYPES:
        return _temporal_key
    return _compare_key


def _null_key(value: Any) -> int:
    return 0


def _plain_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


def _temporal_key(value: Any) -> tuple[int, Any]:
    return (0, (0, 0)) if value is None else (1, temporal.sort_key(value))


def _compare_values(a: Any, b: Any) -> int:
    if a is None:
        return 0 if b is None else -1
    if b is None:
        return 1
    result = compare(a, b)
    if result is None and type(a) is type(b) and type(a) in _TEMPORAL_TYPES:
        ka, kb = temporal.sort_key(a), temporal.sort_key(b)
        return (ka > kb) - (ka < kb)
    return result or 0


_compare_key = cmp_to_key(_compare_values)
