"""FHIRHelpers 4.0.1, built in.

``include FHIRHelpers version '4.0.1' called FHIRHelpers`` works without the
library's source: this module builds a library whose functions (ToString,
ToBoolean, ToInteger, ToDecimal, ToDate, ToDateTime, ToTime, ToQuantity,
ToQuantityIgnoringComparator, ToInterval, ToRatio, ToCode, ToConcept,
ToCalendarUnit) are implemented in Python with the semantics of the published
FHIRHelpers 4.0.1 (see :mod:`cql.fhir.values`). They are the same functions the
implicit conversions of the FHIR model use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import ast
from ..types import STRING, CqlType, IntervalType, NamedType
from . import values as fv

if TYPE_CHECKING:
    from ..compiler import LibraryCompiler
    from ..library import LibraryLoader
    from .model import FhirModel

NAME = "FHIRHelpers"
VERSION = "4.0.1"


def _functions(model: FhirModel) -> list[tuple[str, CqlType, CqlType, Callable[[Any], Any]]]:
    """(name, operand type, result type, implementation) of every FHIRHelpers function."""
    from ..types import BOOLEAN, CODE, CONCEPT, DATE, DATETIME, DECIMAL, INTEGER, QUANTITY, RATIO, TIME

    def fhir(name: str) -> NamedType:
        return model.info.types[name].type

    out: list[tuple[str, CqlType, CqlType, Callable[[Any], Any]]] = []
    string_sources = sorted({src for src, dst, _ in model.info.conversions if dst == STRING}
                            | {"string", "uri", "xhtml", "base64Binary"})
    for src in string_sources:
        out.append(("ToString", fhir(src), STRING, fv.to_string))
    out += [
        ("ToBoolean", fhir("boolean"), BOOLEAN, fv.to_boolean),
        ("ToInteger", fhir("integer"), INTEGER, fv.to_integer),
        ("ToDecimal", fhir("decimal"), DECIMAL, fv.to_decimal),
        ("ToDate", fhir("date"), DATE, fv.to_date),
        ("ToDateTime", fhir("dateTime"), DATETIME, fv.to_datetime),
        ("ToDateTime", fhir("instant"), DATETIME, fv.to_datetime),
        ("ToTime", fhir("time"), TIME, fv.to_time),
        ("ToQuantity", fhir("Quantity"), QUANTITY, fv.to_quantity),
        ("ToQuantityIgnoringComparator", fhir("Quantity"), QUANTITY, fv.to_quantity_ignoring_comparator),
        ("ToInterval", fhir("Quantity"), IntervalType(QUANTITY), fv.quantity_to_interval),
        ("ToInterval", fhir("Period"), IntervalType(DATETIME), fv.period_to_interval),
        ("ToInterval", fhir("Range"), IntervalType(QUANTITY), fv.range_to_interval),
        ("ToRatio", fhir("Ratio"), RATIO, fv.to_ratio),
        ("ToCode", fhir("Coding"), CODE, fv.to_code),
        ("ToConcept", fhir("CodeableConcept"), CONCEPT, fv.to_concept),
        ("ToCalendarUnit", STRING, STRING, fv.to_calendar_unit),
    ]
    return out


def _spec(t: CqlType) -> ast.TypeSpec:
    if isinstance(t, NamedType):
        return ast.NamedTypeSpec((t.model,), t.name)
    if isinstance(t, IntervalType):
        return ast.IntervalTypeSpec(_spec(t.point))
    raise TypeError(t)


def fhirhelpers_library(model: FhirModel, loader: LibraryLoader) -> LibraryCompiler:
    """A compiled FHIRHelpers 4.0.1 whose functions are native."""
    from ..compiler import FunctionEntry, LibraryCompiler, new_slot

    tree = ast.Library(name=NAME, version=VERSION, usings=[ast.UsingDef("FHIR", VERSION)])
    compiler = LibraryCompiler(tree, loader.ts, loader=loader, label=NAME)
    for name, operand, result, impl in _functions(model):
        node = ast.FunctionDef(name, [("value", _spec(operand))], _spec(result), ast.Literal("null", None),
                               False, "public", None)
        slot = new_slot()
        entry = FunctionEntry(node, (operand,), (slot,), result)
        entry.fn = _native(impl, slot)
        compiler.scope.functions.setdefault(name, []).append(entry)
    return compiler


def _native(impl: Callable[[Any], Any], slot: int) -> Callable[[Any], Any]:
    def run(ctx: Any) -> Any:
        value = ctx.vars.get(slot)
        return None if value is None else impl(value)
    run.native = impl  # type: ignore[attr-defined]
    return run
