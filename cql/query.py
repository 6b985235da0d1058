"""Compile CQL queries: sources, let, with/without, where, return, aggregate, sort."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

from . import ast
from .errors import CqlSemanticError
from .runtime import MISSING, Context
from .types import ANY, BOOLEAN, CqlType, ListType, TupleType
from .values import Tuple
from .values.compare import distinct, sort_key_compare

if TYPE_CHECKING:
    from .compiler import Compiled, LibraryCompiler, Scope


def compile_query(c: LibraryCompiler, node: ast.Query, scope: Scope) -> Compiled:
    from .compiler import Compiled, Scope, new_slot

    qscope = scope.child()
    sources: list[tuple[int, Callable[[Context], Any], bool | None, str]] = []
    element_types: list[tuple[str, CqlType]] = []
    for src in node.sources:
        compiled = c.compile(src.expr, scope)
        if isinstance(compiled.type, ListType):
            element, is_list = compiled.type.element, True
        elif compiled.type == ANY:
            element, is_list = ANY, None  # decided at run time
        else:
            element, is_list = compiled.type, False
        if src.alias in qscope.names:
            raise CqlSemanticError(f"duplicate alias '{src.alias}'", *src.loc)
        slot = new_slot()
        qscope.names[src.alias] = (slot, element)
        sources.append((slot, compiled.fn, is_list, src.alias))
        element_types.append((src.alias, element))
    multi = len(sources) > 1

    lets: list[tuple[int, Callable[[Context], Any]]] = []
    for name, expr in node.lets:
        compiled = c.compile(expr, qscope)
        slot = new_slot()
        qscope.names[name] = (slot, compiled.type)
        lets.append((slot, compiled.fn))

    relationships: list[tuple[bool, int, Callable[[Context], Any], Callable[[Context], Any]]] = []
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
    if node.return_expr is not None:
        returned = c.compile(node.return_expr, qscope)
        ret_fn: Callable[[Context], Any] | None = returned.fn
        result_element = returned.type
    else:
        ret_fn = None
        result_element = row_type
    aggregate = None
    if node.aggregate is not None:
        agg = node.aggregate
        starting = c.compile(agg.starting, qscope) if agg.starting is not None else None
        acc_slot = new_slot()
        agg_scope = qscope.child()
        agg_scope.names[agg.name] = (acc_slot, starting.type if starting else ANY)
        expr = c.compile(agg.expr, agg_scope)
        if starting is None or starting.type == ANY:
            agg_scope.names[agg.name] = (acc_slot, expr.type)
            expr = c.compile(agg.expr, agg_scope)
        aggregate = (acc_slot, starting.fn if starting else None, expr.fn, agg.distinct)
        result_element = expr.type

    sort_items: list[tuple[Callable[[Context], Any] | None, bool]] | None = None
    this_slot = new_slot()
    if node.sort is not None:
        sort_scope = Scope(scope, this=(this_slot, result_element))
        sort_items = []
        for item in node.sort:
            key_fn = c.compile(item.expr, sort_scope).fn if item.expr is not None else None
            sort_items.append((key_fn, item.descending))

    all_slots = [s[0] for s in sources] + [s for s, _ in lets] + [r[1] for r in relationships] + [this_slot]
    if aggregate is not None:
        all_slots.append(aggregate[0])
    return_distinct = node.return_expr is not None and node.return_distinct
    let_slots = [s for s, _ in lets]
    aliases = [s[3] for s in sources]

    def evaluate_row(ctx: Context, variables: dict[int, Any]) -> bool:
        """Lets, relationships and where for the current row; True when the row is kept."""
        for slot, fn in lets:
            variables[slot] = fn(ctx)
        for is_with, rel_slot, rel_fn, such_fn in relationships:
            related = rel_fn(ctx)
            if related is None:
                related = []
            elif not isinstance(related, list):
                related = [related]
            found = False
            for other in related:
                variables[rel_slot] = other
                if such_fn(ctx) is True:
                    found = True
                    break
            if found is not is_with:
                return False
        return where is None or where(ctx) is True

    def run(ctx: Context) -> Any:
        variables = ctx.vars
        saved = [variables.get(s, MISSING) for s in all_slots]
        try:
            return _run(ctx, variables)
        finally:
            for s, old in zip(all_slots, saved):
                if old is MISSING:
                    variables.pop(s, None)
                else:
                    variables[s] = old

    def _run(ctx: Context, variables: dict[int, Any]) -> Any:
        lists: list[list[Any]] = []
        single_value = True
        for _slot, fn, is_list, _alias in sources:
            value = fn(ctx)
            if value is None:
                return None
            if is_list or (is_list is None and isinstance(value, list)):
                single_value = False
                lists.append(value)
            else:
                lists.append([value])
        single_value = single_value and not multi
        rows: list[Any] = []
        let_values: list[list[Any]] = []
        if not multi:
            slot = sources[0][0]
            for item in lists[0]:
                ctx.check_deadline()
                variables[slot] = item
                if evaluate_row(ctx, variables):
                    rows.append(item)
                    if let_slots:
                        let_values.append([variables[s] for s in let_slots])
        else:
            slots = [s[0] for s in sources]
            for combo in itertools.product(*lists):
                ctx.check_deadline()
                for slot, item in zip(slots, combo):
                    variables[slot] = item
                if evaluate_row(ctx, variables):
                    rows.append(combo)
                    if let_slots:
                        let_values.append([variables[s] for s in let_slots])

        if aggregate is not None:
            acc_slot, start_fn, step_fn, agg_distinct = aggregate
            pairs = list(zip(rows, let_values)) if let_slots else [(r, None) for r in rows]
            if agg_distinct:
                kept = distinct([Tuple(dict(zip(aliases, r))) for r in rows] if multi else rows)
                pairs = [(tuple(t.elements[a] for a in aliases) if multi else t, None) for t in kept]
            acc = start_fn(ctx) if start_fn is not None else None
            for row, lv in pairs:
                _bind_row(variables, row, lv)
                variables[acc_slot] = acc
                acc = step_fn(ctx)
            return acc

        if ret_fn is not None:
            results = []
            for i, row in enumerate(rows):
                _bind_row(variables, row, let_values[i] if let_slots else None)
                results.append(ret_fn(ctx))
        elif multi:
            results = [Tuple(dict(zip(aliases, row))) for row in rows]
        else:
            results = rows
        if return_distinct:
            results = distinct(results)
        if sort_items is not None and len(results) > 1:
            results = _sort(ctx, variables, results)
        if single_value:
            return results[0] if results else None
        return results

    def _bind_row(variables: dict[int, Any], row: Any, lets_of_row: list[Any] | None) -> None:
        if multi:
            for (slot, _fn, _l, _a), item in zip(sources, row):
                variables[slot] = item
        else:
            variables[sources[0][0]] = row
        if lets_of_row is not None:
            for slot, value in zip(let_slots, lets_of_row):
                variables[slot] = value

    def _sort(ctx: Context, variables: dict[int, Any], results: list[Any]) -> list[Any]:
        assert sort_items is not None
        keyed: list[tuple[list[Any], Any]] = []
        for item in results:
            variables[this_slot] = item
            keys = [item if fn is None else fn(ctx) for fn, _ in sort_items]
            keyed.append((keys, item))
        directions = [desc for _, desc in sort_items]

        def cmp(a: tuple[list[Any], Any], b: tuple[list[Any], Any]) -> int:
            for ka, kb, desc in zip(a[0], b[0], directions):
                r = sort_key_compare(ka, kb)
                if r:
                    return -r if desc else r
            return 0
        keyed.sort(key=cmp_to_key(cmp))
        return [item for _, item in keyed]

    result_type: CqlType
    if aggregate is not None or all(s[2] is False for s in sources) and not multi:
        result_type = result_element
    else:
        result_type = ListType(result_element)
    return Compiled(run, result_type)
