"""Retrieve: ``[Type]``, ``[Type: "Value Set"]``, ``[Type: path in "VS"]``, ``[Type: ~ "Code"]``.

A retrieve returns the context patient's resources of the type (all of them in
a statement of ``context Unfiltered``; resource types that are not patient data,
such as Medication, are never filtered), in a fixed order (by id).

With terminology, it keeps the resources whose codes at the code path (the
type's primary code path unless one is named) match: membership for a value
set (``in``), equivalence (same system and code) for a Code, a Concept or a
list of them (``~`` or ``=``), the system for a code system. The code path
must hold CodeableConcepts or Codings (or a choice or list of them); for
MedicationRequest/Statement/Administration/Dispense, ``medication`` also
matches the code of a referenced Medication (contained or in the data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import CqlRuntimeError, CqlSemanticError, CqlUnsupportedError
from ..types import CODE, CODESYSTEM, CONCEPT, VALUESET, ChoiceType, CqlType, ListType, NamedType
from ..values import Code, CodeSystemRef, Concept, ValueSetRef
from .data import MEDICATION_HOLDERS, CodeKey, FhirData
from .modelinfo import TypeInfo
from .terminology import pins_of, terminology_of

if TYPE_CHECKING:
    from ..compiler import Compiled, LibraryCompiler, Scope
    from ..runtime import Context
    from .model import FhirModel

Extractor = Callable[[FhirData, dict[str, Any]], list[CodeKey]]


def data_of(ctx: Context) -> FhirData:
    data = ctx.data
    if not isinstance(data, FhirData):
        raise CqlRuntimeError("this evaluation has no FHIR data")
    return data


def compile_retrieve(model: FhirModel, compiler: LibraryCompiler, node: Any, scope: Scope) -> Compiled:
    from ..compiler import Compiled

    target = compiler.resolve_type(node.type)
    info = model.type_info(target)
    if info is None or not info.retrievable:
        raise CqlSemanticError(f"{target} is not a FHIR resource type that can be retrieved")
    if node.context is not None:
        raise CqlUnsupportedError("retrieves with a context expression ([Context -> Type]) are not supported")
    unfiltered = getattr(compiler, "statement_context", None) == "Unfiltered"
    type_name = info.name
    result = ListType(info.type)
    if node.terminology is None:
        if node.code_path is not None:
            raise CqlSemanticError("a retrieve with a code path needs a terminology")

        def retrieve_all(ctx: Context) -> Any:
            return data_of(ctx).resources(type_name, unfiltered)
        return Compiled(retrieve_all, result)

    path = node.code_path or info.code_path
    if path is None:
        raise CqlSemanticError(f"FHIR.{type_name} has no primary code path: name the code element "
                               f"([{type_name}: element in ...])")
    extract = code_extractor(model, info, path)
    terminology = compiler.compile(node.terminology, scope)
    matcher = _matcher(terminology.type, node.comparator)
    term_fn = terminology.fn

    def retrieve_by_code(ctx: Context) -> Any:
        data = data_of(ctx)
        wanted = term_fn(ctx)
        if wanted is None:
            return []
        index, resources = data.code_index(type_name, path, unfiltered, extract)
        if not index:
            return []
        positions = matcher(ctx, wanted, index)
        if not positions:
            return []
        return [resources[i] for i in sorted(positions)]
    return Compiled(retrieve_by_code, result)


Matcher = Callable[[Any, Any, dict[CodeKey, list[int]]], set[int]]


def _matcher(t: CqlType, comparator: str | None) -> Matcher:
    if t == VALUESET:
        if comparator not in (None, "in"):
            raise CqlSemanticError(f"a value set is matched with 'in', not '{comparator}'")
        return _match_valueset
    if t == CODESYSTEM:
        if comparator not in (None, "in"):
            raise CqlSemanticError(f"a code system is matched with 'in', not '{comparator}'")
        return _match_codesystem
    codes_of = _codes_getter(t)
    if codes_of is None:
        raise CqlSemanticError(f"a retrieve cannot match codes against a value of type {t}")
    if comparator not in (None, "~", "=", "in"):
        raise CqlSemanticError(f"unsupported code comparator '{comparator}' in a retrieve")

    def match_codes(ctx: Any, wanted: Any, index: dict[CodeKey, list[int]]) -> set[int]:
        found: set[int] = set()
        for code in codes_of(wanted):
            positions = index.get((code.system, code.code))
            if positions:
                found.update(positions)
        return found
    return match_codes


def _codes_getter(t: CqlType) -> Callable[[Any], list[Code]] | None:
    if t == CODE:
        return lambda v: [v] if isinstance(v, Code) else []
    if t == CONCEPT:
        return lambda v: list(v.codes) if isinstance(v, Concept) else []
    if isinstance(t, ListType) and t.element in (CODE, CONCEPT):
        def flatten(values: Any) -> list[Code]:
            out: list[Code] = []
            for v in values or ():
                if isinstance(v, Code):
                    out.append(v)
                elif isinstance(v, Concept):
                    out.extend(v.codes)
            return out
        return flatten
    return None


def _match_valueset(ctx: Any, wanted: Any, index: dict[CodeKey, list[int]]) -> set[int]:
    if not isinstance(wanted, ValueSetRef):
        raise CqlRuntimeError("a retrieve by value set needs a value set")
    vs = terminology_of(ctx).valueset(wanted)
    pins = pins_of(wanted)
    found: set[int] = set()
    if len(index) <= len(vs):
        for (system, code), positions in index.items():
            if vs.has(system, code, pins):
                found.update(positions)
    else:
        for system, codes in vs.codes.items():
            for code in codes:
                positions = index.get((system, code))
                if positions and vs.has(system, code, pins):
                    found.update(positions)
    return found


def _match_codesystem(ctx: Any, wanted: Any, index: dict[CodeKey, list[int]]) -> set[int]:
    if not isinstance(wanted, CodeSystemRef):
        raise CqlRuntimeError("a retrieve by code system needs a code system")
    found: set[int] = set()
    for (system, _code), positions in index.items():
        if system == wanted.id:
            found.update(positions)
    return found


# ---------------------------------------------------------------- codes of resources


def _codings(raw: Any, out: list[CodeKey]) -> None:
    """(system, code) of the codings of a CodeableConcept's JSON."""
    if type(raw) is not dict:
        return
    codings = raw.get("coding")
    if type(codings) is not list:
        return
    for coding in codings:
        if type(coding) is dict:
            code = coding.get("code")
            system = coding.get("system")
            if type(code) is str and type(system) is str:
                out.append((system, code))


def _coding(raw: Any, out: list[CodeKey]) -> None:
    if type(raw) is dict:
        code = raw.get("code")
        system = raw.get("system")
        if type(code) is str and type(system) is str:
            out.append((system, code))


def code_extractor(model: FhirModel, info: TypeInfo, path: str) -> Extractor:
    """A function giving the (system, code) pairs of a resource at ``path``."""
    if "." in path:
        raise CqlUnsupportedError(f"retrieving FHIR.{info.name} by the code path '{path}' is not supported")
    element = info.elements.get(path)
    if element is None:
        raise CqlSemanticError(f"FHIR.{info.name} has no element '{path}'")
    if info.name in MEDICATION_HOLDERS and path == "medication":
        def medication_codes(data: FhirData, resource: dict[str, Any]) -> list[CodeKey]:
            out: list[CodeKey] = []
            concept = resource.get("medicationCodeableConcept")
            if concept is not None:
                _codings(concept, out)
            else:
                medication = data.medication_of(resource)
                if medication is not None:
                    _codings(medication.get("code"), out)
            return out
        return medication_codes
    keys: list[tuple[str, Callable[[Any, list[CodeKey]], None], bool]] = []
    alternatives = element.choices if isinstance(element, ChoiceType) else (element,)
    for alt in alternatives:
        is_list = isinstance(alt, ListType)
        named = alt.element if isinstance(alt, ListType) else alt
        reader = _code_reader(model, named)
        if reader is None:
            continue
        key = path if not isinstance(element, ChoiceType) else path + model.info.types[named.name].choice_suffix
        keys.append((key, reader, is_list))
    if not keys:
        raise CqlUnsupportedError(f"retrieving by code needs CodeableConcept or Coding values; "
                                  f"FHIR.{info.name}.{path} is {element}")

    def extract(data: FhirData, resource: dict[str, Any]) -> list[CodeKey]:
        out: list[CodeKey] = []
        for key, reader, is_list in keys:
            raw = resource.get(key)
            if raw is None:
                continue
            if is_list and type(raw) is list:
                for item in raw:
                    reader(item, out)
            else:
                reader(raw, out)
        return out
    return extract


def _code_reader(model: FhirModel, t: CqlType) -> Callable[[Any, list[CodeKey]], None] | None:
    if not isinstance(t, NamedType):
        return None
    info = model.type_info(t)
    if info is None:
        return None
    if "CodeableConcept" in info.ancestors:
        return _codings
    if "Coding" in info.ancestors:
        return _coding
    return None
