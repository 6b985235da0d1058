"""The FHIR R4 data model for the compiler (``using FHIR version '4.0.1'``).

Implements the model hooks the compiler calls (see :class:`cql.types.Model`):
type names and subtyping from the ModelInfo, element types and accessors over
the caller's JSON, run-time types of FHIR values, the implicit FHIRHelpers
conversions, retrieves, the ``Patient`` definition of the Patient context, the
built-in FHIRHelpers library, and the per-evaluation data index.

Medication references: on MedicationRequest, MedicationStatement,
MedicationAdministration and MedicationDispense, a ``medicationReference``
that resolves (a contained ``#id`` Medication, or a Medication in the
evaluation's data by ``Medication/id``, absolute URL or fullUrl) stands for the
Medication: retrieves by code match the Medication's ``code``, and reading
``.medication`` gives that ``code`` (a CodeableConcept; null when the
Medication has no code). A reference that does not resolve reads as the
Reference itself, and matches no code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import CqlSemanticError, CqlUnsupportedError
from ..types import ANY, SYSTEM_TYPES, ChoiceType, CqlType, ListType, NamedType, TypeSystem
from . import values as fv
from .data import MEDICATION_HOLDERS, FhirData
from .modelinfo import MODEL, ModelInfo, TypeInfo, load
from .values import FhirElement, FhirPrimitive

if TYPE_CHECKING:
    from ..compiler import Compiled, LibraryCompiler, Scope
    from ..library import LibraryLoader
    from ..runtime import Context

Reader = Callable[[Any], Any]

# FHIRHelpers function name -> implementation, per source type where it matters.
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "ToString": fv.to_string,
    "ToBoolean": fv.to_boolean,
    "ToInteger": fv.to_integer,
    "ToDecimal": fv.to_decimal,
    "ToDate": fv.to_date,
    "ToDateTime": fv.to_datetime,
    "ToTime": fv.to_time,
    "ToQuantity": fv.to_quantity,
    "ToRatio": fv.to_ratio,
    "ToCode": fv.to_code,
    "ToConcept": fv.to_concept,
}
_INTERVAL_CONVERTERS = {"Period": fv.period_to_interval, "Range": fv.range_to_interval}
# Cost of a FHIRHelpers implicit conversion (cheaper than the System ones, 3-6).
CONVERSION_COST = 2


def _json_of(value: Any) -> dict[str, Any] | None:
    t = type(value)
    if t is dict:
        return value
    if t is FhirElement:
        return value.data
    return None


class FhirModel:
    """FHIR R4 for CQL. One instance per process; immutable after creation except for
    compile-time caches of accessors (filled idempotently)."""

    name = MODEL

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.version = info.version
        self._readers: dict[tuple[str, str], Reader | None] = {}
        # target type -> FHIR type name -> conversion into it (None: no conversion)
        self._conversions: dict[CqlType, dict[str, Callable[[Any], Any]]] = {}
        for src, dst, fn_name in info.conversions:
            fn = _INTERVAL_CONVERTERS[src] if fn_name == "ToInterval" else _CONVERTERS[fn_name]
            self._conversions.setdefault(dst, {})[src] = fn

    # ------------------------------------------------------------ types

    def type_info(self, t: CqlType) -> TypeInfo | None:
        if isinstance(t, NamedType) and t.model == MODEL:
            return self.info.types.get(t.name)
        return None

    def resolve_type(self, name: str) -> CqlType | None:
        info = self.info.types.get(name)
        return info.type if info is not None else None

    def supertype(self, t: NamedType) -> CqlType | None:
        info = self.info.types.get(t.name)
        if info is None or info.base is None:
            return None
        return info.base.type

    def member_type(self, t: NamedType, name: str) -> CqlType | None:
        info = self.info.types.get(t.name)
        return info.elements.get(name) if info is not None else None

    def member_accessor(self, t: NamedType, name: str) -> Reader | None:
        info = self.info.types.get(t.name)
        return self.reader(info, name) if info is not None else None

    def runtime_type(self, value: Any) -> CqlType | None:
        info = self.info_of(value)
        return info.type if info is not None else None

    def info_of(self, value: Any) -> TypeInfo | None:
        t = type(value)
        if t is FhirElement or t is FhirPrimitive:
            return value.info  # type: ignore[no-any-return]
        if t is dict:
            resource_type = value.get("resourceType")
            if type(resource_type) is str:
                return self.info.types.get(resource_type)
        return None

    def is_instance(self, value: Any, t: NamedType) -> bool:
        info = self.info_of(value)
        return info is not None and t.name in info.ancestors

    # ------------------------------------------------------------ element access

    def reader(self, owner: TypeInfo, name: str) -> Reader | None:
        """A function reading element ``name`` of a value of type ``owner`` (cached)."""
        key = (owner.name, name)
        if key in self._readers:
            return self._readers[key]
        found = self._make_reader(owner, name)
        self._readers[key] = found
        return found

    def _make_reader(self, owner: TypeInfo, name: str) -> Reader | None:
        element = owner.elements.get(name)
        if element is None:
            return None
        if owner.primitive is not None:
            return self._primitive_part(owner, name)
        wrap = self._wrapper(element)
        if isinstance(element, ChoiceType):
            alternatives = []
            for alt in element.choices:
                alt_info = self.type_info(alt)
                if alt_info is None:
                    continue
                key = name + alt_info.choice_suffix
                alternatives.append((key, "_" + key if alt_info.primitive is not None else None,
                                     self._wrapper(alt)))

            def read_choice(value: Any) -> Any:
                data = _json_of(value)
                if data is None:
                    return None
                for key, ext_key, wrap_alt in alternatives:
                    raw = data.get(key)
                    ext = data.get(ext_key) if ext_key is not None else None
                    if raw is not None or ext is not None:
                        return wrap_alt(raw, ext)
                return None
            return read_choice
        is_primitive = isinstance(element, NamedType) and element.model == MODEL \
            and self.info.types[element.name].primitive is not None
        is_primitive_list = isinstance(element, ListType) and isinstance(element.element, NamedType) \
            and element.element.model == MODEL and self.info.types[element.element.name].primitive is not None
        ext_key = "_" + name
        if isinstance(element, ListType):
            wrap_item = self._wrapper(element.element)

            def read_list(value: Any) -> Any:
                data = _json_of(value)
                if data is None:
                    return None
                raw = data.get(name)
                exts = data.get(ext_key) if is_primitive_list else None
                if raw is None and exts is None:
                    return []
                if not isinstance(raw, list):
                    raw = [raw] if raw is not None else []
                if is_primitive_list:
                    if not isinstance(exts, list):
                        exts = []
                    count = max(len(raw), len(exts))
                    out = []
                    for i in range(count):
                        item = wrap_item(raw[i] if i < len(raw) else None, exts[i] if i < len(exts) else None)
                        if item is not None:
                            out.append(item)
                    return out
                out = []
                for item in raw:
                    wrapped = wrap_item(item, None)
                    if wrapped is not None:
                        out.append(wrapped)
                return out
            return read_list
        if is_primitive:
            info = self.info.types[element.name]  # type: ignore[union-attr]

            def read_primitive(value: Any) -> Any:
                t = type(value)
                if t is dict:
                    data = value
                elif t is FhirElement:
                    data = value.data
                else:
                    return None
                raw = data.get(name)
                ext = data.get(ext_key)
                if raw is None:
                    return None if ext is None else FhirPrimitive(info, None, ext)
                if type(raw) is dict or type(raw) is list:
                    return None
                return FhirPrimitive(info, raw, ext)
            return read_primitive
        element_info = self.type_info(element)
        if element_info is not None and not element_info.is_resource:
            def read_element(value: Any) -> Any:
                t = type(value)
                if t is dict:
                    raw = value.get(name)
                elif t is FhirElement:
                    raw = value.data.get(name)
                else:
                    return None
                return FhirElement(element_info, raw) if type(raw) is dict else None
            return read_element

        def read(value: Any) -> Any:
            data = _json_of(value)
            if data is None:
                return None
            raw = data.get(name)
            return None if raw is None else wrap(raw, None)
        return read

    def _wrapper(self, t: CqlType) -> Callable[[Any, Any], Any]:
        """(raw JSON, _element JSON) -> run-time value of type ``t``."""
        if isinstance(t, NamedType) and t.model == MODEL:
            info = self.info.types[t.name]
            if info.primitive is not None:
                def wrap_primitive(raw: Any, ext: Any) -> Any:
                    if raw is None and ext is None:
                        return None
                    if isinstance(raw, dict | list):
                        return None
                    return FhirPrimitive(info, raw, ext)
                return wrap_primitive
            if info.is_resource:
                return lambda raw, ext: raw if type(raw) is dict else None

            def wrap_element(raw: Any, ext: Any) -> Any:
                return FhirElement(info, raw) if type(raw) is dict else None
            return wrap_element
        if t in SYSTEM_TYPES.values():
            kind = t

            def wrap_system(raw: Any, ext: Any) -> Any:
                return _system_from_json(kind, raw)
            return wrap_system
        return lambda raw, ext: None

    def _primitive_part(self, owner: TypeInfo, name: str) -> Reader | None:
        if name == "value":
            def read_value(value: Any) -> Any:
                if type(value) is not FhirPrimitive:
                    return None
                return fv.system_value(value.info, value.value)
            return read_value
        if name == "id":
            def read_id(value: Any) -> Any:
                element = value.element if type(value) is FhirPrimitive else None
                ident = element.get("id") if element is not None else None
                return ident if type(ident) is str else None
            return read_id
        if name == "extension":
            extension = self.info.types["Extension"]

            def read_extension(value: Any) -> Any:
                element = value.element if type(value) is FhirPrimitive else None
                items = element.get("extension") if element is not None else None
                if not isinstance(items, list):
                    return []
                return [FhirElement(extension, item) for item in items if type(item) is dict]
            return read_extension
        return None

    # ------------------------------------------------------------ medication references

    def medication_reader(self, holder: TypeInfo) -> Callable[[Any, Any], Any]:
        """``.medication`` of a medication resource, a referenced Medication read as its code."""
        concept = self.info.types["CodeableConcept"]
        reference = self.info.types["Reference"]

        def read_medication(value: Any, data: FhirData | None) -> Any:
            if type(value) is not dict:
                return None
            raw_concept = value.get("medicationCodeableConcept")
            if type(raw_concept) is dict:
                return FhirElement(concept, raw_concept)
            raw_ref = value.get("medicationReference")
            if type(raw_ref) is not dict:
                return None
            target = raw_ref.get("reference")
            medication = None
            if isinstance(target, str):
                if data is not None:
                    medication = data.medication_of(value)
                elif target.startswith("#"):
                    for item in value.get("contained") or []:
                        if type(item) is dict and item.get("id") == target[1:] \
                                and item.get("resourceType") == "Medication":
                            medication = item
            if medication is None:
                return FhirElement(reference, raw_ref)
            code = medication.get("code")
            return FhirElement(concept, code) if type(code) is dict else None
        return read_medication

    def compile_member(self, compiler: LibraryCompiler, source: Compiled, name: str) -> Compiled | None:
        """Member access that needs the evaluation's data (medication references), and
        dynamic access to FHIR values; None to let the compiler handle it."""
        from ..compiler import Compiled

        t = source.type
        fn = source.fn
        holder = self.type_info(t)
        if holder is not None and name == "medication" and holder.name in MEDICATION_HOLDERS:
            read = self.medication_reader(holder)
            result = holder.elements[name]

            def medication(ctx: Context) -> Any:
                value = fn(ctx)
                return None if value is None else read(value, _data_or_none(ctx))
            return Compiled(medication, result)
        if isinstance(t, ListType):
            holder = self.type_info(t.element)
            if holder is not None and name == "medication" and holder.name in MEDICATION_HOLDERS:
                read = self.medication_reader(holder)
                result = holder.elements[name]

                def medications(ctx: Context) -> Any:
                    values = fn(ctx)
                    if values is None:
                        return None
                    data = _data_or_none(ctx)
                    out = []
                    for value in values:
                        got = read(value, data) if value is not None else None
                        if got is not None:
                            out.append(got)
                    return out
                return Compiled(medications, ListType(result))
            return None
        if t == ANY or (isinstance(t, ChoiceType) and any(self.type_info(c) for c in t.choices)):
            result_type = self._choice_member_type(t, name)

            def dynamic(ctx: Context) -> Any:
                value = fn(ctx)
                return None if value is None else self.read_dynamic(value, name, _data_or_none(ctx))
            return Compiled(dynamic, result_type)
        return None

    def _choice_member_type(self, t: CqlType, name: str) -> CqlType:
        if not isinstance(t, ChoiceType):
            return ANY
        found: list[CqlType] = []
        fhir_only = True
        for choice in t.choices:
            info = self.type_info(choice)
            if info is None:
                fhir_only = False
                continue
            element = info.elements.get(name)
            if element is not None and element not in found:
                found.append(element)
        if fhir_only and not found:
            raise CqlSemanticError(f"none of the types of {t} has an element '{name}'")
        return found[0] if len(found) == 1 and fhir_only else ANY

    def read_dynamic(self, value: Any, name: str, data: FhirData | None) -> Any:
        """Element ``name`` of a value whose type is known only at run time."""
        if type(value) is list:
            out = []
            for item in value:
                got = self.read_dynamic(item, name, data) if item is not None else None
                if type(got) is list:
                    out.extend(x for x in got if x is not None)
                elif got is not None:
                    out.append(got)
            return out
        info = self.info_of(value)
        if info is None:
            from ..compiler import _dynamic_member

            return _dynamic_member(value, name, [self])
        if name == "medication" and info.name in MEDICATION_HOLDERS:
            return self.medication_reader(info)(value, data)
        read = self.reader(info, name)
        return read(value) if read is not None else None

    def dynamic_member(self, value: Any, name: str) -> tuple[bool, Any]:
        """Hook for the compiler's dynamic member access: (handled, value)."""
        info = self.info_of(value)
        if info is None:
            return False, None
        if name == "medication" and info.name in MEDICATION_HOLDERS:
            return True, self.medication_reader(info)(value, None)
        read = self.reader(info, name)
        return True, read(value) if read is not None else None

    # ------------------------------------------------------------ conversions and casts

    def register_conversions(self, ts: TypeSystem) -> None:
        """The implicit conversions of the ModelInfo (FHIRHelpers), and their
        compositions with the System ones (FHIR.integer -> Decimal, FHIR.date -> DateTime, ...)."""
        direct: list[tuple[CqlType, CqlType, Callable[[Any], Any]]] = []
        for dst, by_source in self._conversions.items():
            for src_name, fn in by_source.items():
                src = NamedType(MODEL, src_name)
                ts.add_conversion(src, dst, CONVERSION_COST, fn)
                direct.append((src, dst, fn))
        system = [(a, b, cost, fn) for (a, b), (cost, fn) in list(ts.conversions.items())
                  if not (isinstance(a, NamedType) and a.model == MODEL)]
        for src, dst, fn in direct:
            for a, b, cost, fn2 in system:
                if a == dst and (src, b) not in ts.conversions:
                    ts.add_conversion(src, b, CONVERSION_COST + cost, _chain(fn, fn2))

    def converter_to(self, target: CqlType) -> Callable[[Any], Any] | None:
        """Run-time conversion of any FHIR value into ``target`` (a System type or
        interval), by the value's type: None when the value's type does not convert."""
        by_source = self._conversions.get(target)
        if not by_source:
            return None
        types = self.info.types

        def convert(value: Any) -> Any:
            info = self.info_of(value)
            while info is not None:
                fn = by_source.get(info.name)
                if fn is not None:
                    return fn(value)
                info = info.base
            return None
        convert.sources = frozenset(  # type: ignore[attr-defined]
            name for name, info in types.items() if any(a in by_source for a in info.ancestors))
        return convert

    def _could_be_fhir(self, t: CqlType) -> bool:
        if t == ANY:
            return True
        if isinstance(t, ChoiceType):
            return any(self._could_be_fhir(c) for c in t.choices)
        return self.type_info(t) is not None

    def cast_function(self, source: CqlType, target: CqlType) -> Callable[[Any], Any] | None:
        """``X as T`` where T is a System type (or interval) and X may be a FHIR value:
        the FHIR value converted as FHIRHelpers does, a value already of type T as is,
        anything else null. None when the model has nothing to add."""
        if not self._could_be_fhir(source):
            return None
        convert = self.converter_to(target)
        if convert is None:
            return None
        from ..types import TypeSystem as _TS

        already = _TS().instance_test(target)

        def cast(value: Any) -> Any:
            if already(value):
                return value
            return convert(value)
        return cast

    def type_test(self, source: CqlType, target: CqlType) -> Callable[[Any], bool] | None:
        """``X is T`` for a System type T: true for a FHIR value that converts to T (a
        primitive only when it has a value)."""
        if not self._could_be_fhir(source):
            return None
        convert = self.converter_to(target)
        if convert is None:
            return None
        sources = convert.sources  # type: ignore[attr-defined]
        from ..types import TypeSystem as _TS

        already = _TS().instance_test(target)

        def test(value: Any) -> bool:
            if already(value):
                return True
            info = self.info_of(value)
            if info is None or info.name not in sources:
                return False
            if info.primitive is not None:
                return convert(value) is not None
            return True
        return test

    # ------------------------------------------------------------ compiler hooks

    def compile_retrieve(self, compiler: LibraryCompiler, node: Any, scope: Scope) -> Compiled:
        from .retrieve import compile_retrieve

        return compile_retrieve(self, compiler, node, scope)

    def implicit_identifier(self, compiler: LibraryCompiler, name: str) -> Compiled | None:
        """``Patient`` in a library with a Patient context: the context patient's resource."""
        from ..ast import ContextDef
        from ..compiler import Compiled

        if name != "Patient":
            return None
        if not any(isinstance(s, ContextDef) and s.name == "Patient" for s in compiler.library.statements):
            return None

        def patient(ctx: Context) -> Any:
            data = ctx.data
            return data.patient if isinstance(data, FhirData) else None
        return Compiled(patient, self.info.types["Patient"].type)

    def builtin_library(self, path: str, version: str | None, loader: LibraryLoader) -> LibraryCompiler | None:
        if path != "FHIRHelpers" or version not in (None, self.version):
            return None
        from .helpers import fhirhelpers_library

        return fhirhelpers_library(self, loader)

    def prepare_context(self, ctx: Context, data: Any, patient_id: str | None, valuesets: Any) -> None:
        ctx.data = FhirData(self.info, data, patient_id)

    def parameter_value(self, value: Any, t: NamedType, name: str) -> Any:
        """A parameter value given as JSON for a FHIR type: a resource must be a resource
        of that type; a data type's JSON object or a primitive's JSON value is typed."""
        from ..errors import CqlRuntimeError

        info = self.info.types.get(t.name)
        if info is None or self.info_of(value) is not None:
            return value
        if info.is_resource:
            raise CqlRuntimeError(f"parameter '{name}' needs FHIR.{info.name} resources (JSON objects with "
                                  f"a resourceType), not {type(value).__name__}")
        if info.primitive is not None:
            if isinstance(value, str | int | float | bool) or type(value).__name__ == "Decimal":
                return FhirPrimitive(info, value, None)
            return value
        if type(value) is dict:
            return FhirElement(info, value)
        return value

    def compile_instance(self, compiler: LibraryCompiler, type_: NamedType, parts: dict[str, Compiled]) -> Compiled:
        raise CqlUnsupportedError(f"instance selectors of FHIR types (FHIR.{type_.name}) are not supported")


def _chain(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def chained(value: Any) -> Any:
        mid = first(value)
        return None if mid is None else second(mid)
    return chained


def _data_or_none(ctx: Any) -> FhirData | None:
    data = getattr(ctx, "data", None)
    return data if isinstance(data, FhirData) else None


def _system_from_json(kind: CqlType, raw: Any) -> Any:
    from ..types import STRING

    if kind is STRING:
        return raw if type(raw) is str else None
    return None


_model: FhirModel | None = None


def create_model() -> FhirModel:
    """The FHIR R4 4.0.1 model (one per process)."""
    global _model
    if _model is None:
        _model = FhirModel(load("4.0.1"))
    return _model


__all__ = ["FhirModel", "create_model"]
