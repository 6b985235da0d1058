"""Run-time representation of FHIR data, and the FHIRHelpers 4.0.1 conversions.

FHIR data stays the caller's JSON (never copied, never modified):

- a **resource** is its JSON object (a ``dict`` with ``resourceType``);
- a value of a FHIR **data type** or **backbone element** (CodeableConcept,
  Quantity, Observation.Component, ...) is a :class:`FhirElement`: the JSON
  object plus its FHIR type, which JSON does not carry (``valueQuantity`` and
  ``valueRange`` are both plain objects);
- a value of a FHIR **primitive** type (string, code, dateTime, decimal,
  ObservationStatus, ...) is a :class:`FhirPrimitive`: the raw JSON value, the
  ``_element`` object that holds its ``id`` and ``extension`` (or None), and
  its FHIR type.

Wrappers are made when an element is read, so every value knows its type at
run time (``O.value is FHIR.Quantity``, choices, dynamic dispatch).

The ``to_*`` functions implement FHIRHelpers 4.0.1 (ToString, ToDate,
ToQuantity, ToConcept, ...) on these values; each returns None for a value of
another type, so they are safe as implicit conversions out of a choice.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ..errors import CqlRuntimeError
from ..types import BOOLEAN, DATE, DATETIME, DECIMAL, INTEGER, STRING, TIME
from ..values import Code, Concept, Interval, Quantity, Ratio
from ..values import temporal as _temporal
from ..values.numbers import make_decimal, make_integer
from ..values.render import decimal_text, string_literal
from .modelinfo import TypeInfo, load

# Parsed FHIR date/time strings (immutable values), shared by all evaluations.
_parse_datetime = lru_cache(maxsize=8192)(_temporal.parse_iso_datetime)
_parse_date = lru_cache(maxsize=8192)(_temporal.parse_iso_date)

UCUM = "http://unitsofmeasure.org"
CALENDAR_UNITS_SYSTEM = "http://hl7.org/fhirpath/CodeSystem/calendar-units"


class FhirElement:
    """A value of a FHIR data type or backbone element: the JSON object and its type."""

    __slots__ = ("info", "data")

    def __init__(self, info: TypeInfo, data: dict[str, Any]) -> None:
        self.info = info
        self.data = data

    @staticmethod
    def cql_type_key(value: FhirElement) -> str:
        """Distinguishes FHIR types for the compiler's run-time dispatch cache."""
        return value.info.name

    def __eq__(self, other: object) -> bool:
        return type(other) is FhirElement and other.info is self.info and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.info.name)

    def __repr__(self) -> str:
        return f"FhirElement(FHIR.{self.info.name}, {self.data!r})"

    def to_cql(self) -> str:
        return render_object(self.info, self.data)


class FhirPrimitive:
    """A value of a FHIR primitive type: raw JSON value, ``_element`` object (id, extension), type."""

    __slots__ = ("info", "value", "element")

    def __init__(self, info: TypeInfo, value: Any, element: Any) -> None:
        self.info = info
        self.value = value
        self.element = element if element is None or type(element) is dict else None

    @staticmethod
    def cql_type_key(value: FhirPrimitive) -> str:
        return value.info.name

    def __eq__(self, other: object) -> bool:
        return type(other) is FhirPrimitive and other.value == self.value and other.element == self.element

    def __hash__(self) -> int:
        return hash(self.value) if isinstance(self.value, str | int | bool) else 0

    def __repr__(self) -> str:
        return f"FhirPrimitive(FHIR.{self.info.name}, {self.value!r})"

    def to_cql(self) -> str:
        parts = []
        if self.value is not None:
            parts.append("value: " + render_system(system_value(self.info, self.value)))
        if self.element is not None:
            if "id" in self.element:
                parts.append(f"id: {render_json(self.element['id'])}")
            extensions = self.element.get("extension")
            if isinstance(extensions, list) and extensions:
                info = load().types["Extension"]
                parts.append("extension: { " + ", ".join(
                    render_object(info, e) if isinstance(e, dict) else render_json(e) for e in extensions) + " }")
        return f"FHIR.{self.info.name} {{ " + ", ".join(parts) + " }" if parts else f"FHIR.{self.info.name} {{ }}"


# ---------------------------------------------------------------- primitive values


def json_decimal(raw: Any) -> Decimal | None:
    """A JSON number as a CQL Decimal, keeping the digits as written (never
    through binary float arithmetic: a float goes through its ``repr``)."""
    t = type(raw)
    try:
        if t is float:
            if not math.isfinite(raw):
                return None
            value = Decimal(repr(raw))
        elif t is int:
            value = Decimal(raw)
        elif t is Decimal:
            value = raw
        elif t is str:
            value = Decimal(raw.strip())
        else:
            return None
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return make_decimal(value)


def _json_integer(raw: Any) -> int | None:
    t = type(raw)
    if t is int:
        return make_integer(raw)
    if t is float and raw.is_integer():
        return make_integer(int(raw))
    if t is Decimal and raw == raw.to_integral_value():
        return make_integer(int(raw))
    return None


def system_value(info: TypeInfo, raw: Any) -> Any:
    """The System value of a FHIR primitive's JSON value (None if absent or malformed)."""
    if raw is None:
        return None
    kind = info.primitive
    if kind is STRING:
        return raw if type(raw) is str else None
    if kind is DATETIME:
        return _parse_datetime(raw) if type(raw) is str else None
    if kind is DATE:
        return _parse_date(raw) if type(raw) is str else None
    if kind is BOOLEAN:
        return raw if type(raw) is bool else None
    if kind is DECIMAL:
        return json_decimal(raw)
    if kind is INTEGER:
        return _json_integer(raw)
    if kind is TIME:
        return _temporal.parse_iso_time(raw) if type(raw) is str else None
    return None


def primitive_of(value: Any, ancestor: str) -> Any:
    """The System value of ``value`` if it is a FHIR primitive of type ``ancestor``
    (or a type derived from it), else None."""
    if type(value) is FhirPrimitive and ancestor in value.info.ancestors:
        return system_value(value.info, value.value)
    return None


def _string_of(value: Any) -> str | None:
    """``.value`` of a primitive given as an element (FhirPrimitive), for strings."""
    if type(value) is FhirPrimitive:
        raw = value.value
        return raw if type(raw) is str else None
    return None


# ---------------------------------------------------------------- FHIRHelpers conversions


def to_string(value: Any) -> str | None:
    """FHIRHelpers.ToString for string-valued primitives (string, code, uri, enums, ...)."""
    if type(value) is FhirPrimitive and value.info.primitive is STRING:
        raw = value.value
        return raw if type(raw) is str else None
    return None


def to_boolean(value: Any) -> bool | None:
    return primitive_of(value, "boolean")


def to_integer(value: Any) -> int | None:
    return primitive_of(value, "integer")


def to_decimal(value: Any) -> Decimal | None:
    return primitive_of(value, "decimal")


def to_date(value: Any) -> Any:
    return primitive_of(value, "date")


def to_datetime(value: Any) -> Any:
    """FHIRHelpers.ToDateTime for dateTime and instant."""
    if type(value) is FhirPrimitive and value.info.primitive is DATETIME:
        raw = value.value
        return _parse_datetime(raw) if type(raw) is str else None
    return None


def to_time(value: Any) -> Any:
    return primitive_of(value, "time")


_CALENDAR_UNITS = {"ms": "millisecond", "s": "second", "min": "minute", "h": "hour", "d": "day", "wk": "week",
                   "mo": "month", "a": "year"}


def to_calendar_unit(unit: str | None) -> str | None:
    """FHIRHelpers.ToCalendarUnit: UCUM definite-duration units to CQL calendar units."""
    if unit is None:
        return None
    return _CALENDAR_UNITS.get(unit, unit)


def _is(value: Any, ancestor: str) -> bool:
    return type(value) is FhirElement and ancestor in value.info.ancestors


def _quantity(data: dict[str, Any], check_comparator: bool) -> Quantity | None:
    value = json_decimal(data.get("value"))
    if value is None:
        return None
    if check_comparator and (data.get("comparator") is not None or data.get("_comparator") is not None):
        raise CqlRuntimeError("FHIRHelpers.ToQuantity.ComparatorQuantityNotSupported: FHIR Quantity value has a "
                              "comparator and cannot be converted to a System.Quantity value.")
    system = data.get("system")
    code = data.get("code")
    unit = data.get("unit")
    if system is None or system in (UCUM, CALENDAR_UNITS_SYSTEM):
        chosen = code if isinstance(code, str) else unit if isinstance(unit, str) else "1"
        return Quantity(value, to_calendar_unit(chosen) or "1")
    raise CqlRuntimeError(f"FHIRHelpers.ToQuantity.InvalidFHIRQuantity: Invalid FHIR Quantity code: {unit} "
                          f"({system}|{code})")


def to_quantity(value: Any) -> Quantity | None:
    """FHIRHelpers.ToQuantity: the UCUM code (or, without one, the unit text) of a
    Quantity whose system is UCUM, calendar units or absent; an error for a
    comparator or another unit system."""
    if not _is(value, "Quantity"):
        return None
    return _quantity(value.data, True)


def to_quantity_ignoring_comparator(value: Any) -> Quantity | None:
    if not _is(value, "Quantity"):
        return None
    return _quantity(value.data, False)


def _sub(value: FhirElement, name: str, type_name: str) -> FhirElement | None:
    raw = value.data.get(name)
    if not isinstance(raw, dict):
        return None
    return FhirElement(load().types[type_name], raw)


def to_ratio(value: Any) -> Ratio | None:
    """FHIRHelpers.ToRatio (null when either quantity is missing)."""
    if not _is(value, "Ratio"):
        return None
    numerator = to_quantity(_sub(value, "numerator", "Quantity"))
    denominator = to_quantity(_sub(value, "denominator", "Quantity"))
    if numerator is None or denominator is None:
        return None
    return Ratio(numerator, denominator)


def _datetime_element(data: dict[str, Any], name: str) -> Any:
    raw = data.get(name)
    return _parse_datetime(raw) if type(raw) is str else None


def period_to_interval(value: Any) -> Interval | None:
    """FHIRHelpers.ToInterval(Period): ``Interval[start, end]``, open at the start when it is missing."""
    if not _is(value, "Period"):
        return None
    start = _datetime_element(value.data, "start")
    end = _datetime_element(value.data, "end")
    return Interval(start, end, start is not None, True, "DateTime")


def range_to_interval(value: Any) -> Interval | None:
    """FHIRHelpers.ToInterval(Range): ``Interval[low, high]``."""
    if not _is(value, "Range"):
        return None
    low = to_quantity(_sub(value, "low", "Quantity"))
    high = to_quantity(_sub(value, "high", "Quantity"))
    return Interval(low, high, True, True, "Quantity")


def quantity_to_interval(value: Any) -> Interval | None:
    """FHIRHelpers.ToInterval(Quantity): the interval a comparator stands for."""
    if not _is(value, "Quantity"):
        return None
    comparator = value.data.get("comparator")
    q = _quantity(value.data, False)
    if comparator == "<":
        return Interval(None, q, True, False, "Quantity")
    if comparator == "<=":
        return Interval(None, q, True, True, "Quantity")
    if comparator == ">=":
        return Interval(q, None, True, True, "Quantity")
    if comparator == ">":
        return Interval(q, None, False, True, "Quantity")
    q = to_quantity(value)
    return Interval(q, q, True, True, "Quantity")


def coding_to_code(data: dict[str, Any]) -> Code:
    code, system, version, display = data.get("code"), data.get("system"), data.get("version"), data.get("display")
    return Code(code if type(code) is str else None, system if type(system) is str else None,
                version if type(version) is str else None, display if type(display) is str else None)


def to_code(value: Any) -> Code | None:
    """FHIRHelpers.ToCode(Coding)."""
    if not _is(value, "Coding"):
        return None
    return coding_to_code(value.data)


def concept_of(data: dict[str, Any]) -> Concept:
    """The Concept of a CodeableConcept's JSON object."""
    codings = data.get("coding")
    codes: tuple[Code, ...] = ()
    if isinstance(codings, list):
        codes = tuple(coding_to_code(c) for c in codings if isinstance(c, dict))
    text = data.get("text")
    return Concept(codes, text if type(text) is str else None)


def to_concept(value: Any) -> Concept | None:
    """FHIRHelpers.ToConcept(CodeableConcept)."""
    if not _is(value, "CodeableConcept"):
        return None
    return concept_of(value.data)


# ---------------------------------------------------------------- rendering


def render_system(value: Any) -> str:
    from ..values.render import to_cql

    return to_cql(value)


def render_json(value: Any) -> str:
    """JSON as CQL-like text (objects as tuples)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, int | float | Decimal):
        number = json_decimal(value)
        return decimal_text(number) if number is not None else "null"
    if isinstance(value, list):
        return "{ " + ", ".join(render_json(v) for v in value) + " }" if value else "{}"
    if isinstance(value, dict):
        resource_type = value.get("resourceType")
        if isinstance(resource_type, str):
            ident = value.get("id")
            return f"FHIR.{resource_type} {{ id: {string_literal(ident)} }}" if isinstance(ident, str) \
                else f"FHIR.{resource_type} {{ }}"
        return "Tuple { " + ", ".join(f"{_name(k)}: {render_json(v)}" for k, v in value.items()) + " }"
    return string_literal(str(value))


def _name(name: str) -> str:
    return name if name.isidentifier() else '"' + name.replace('"', '\\"') + '"'


def render_object(info: TypeInfo, data: dict[str, Any]) -> str:
    """A FHIR element as an instance selector, primitives shown by their values."""
    mi = load()
    types = mi.types
    parts = []
    for key, raw in data.items():
        if key.startswith("_"):
            continue
        element = info.elements.get(key)
        shown = key
        if element is None:
            shown, element = mi.choice_element(info, key)
        text = _render_element(types, element, raw) if element is not None else render_json(raw)
        parts.append(f"{_name(shown)}: {text}")
    return f"FHIR.{info.name} {{ " + ", ".join(parts) + " }" if parts else f"FHIR.{info.name} {{ }}"


def _render_element(types: dict[str, TypeInfo], element: Any, raw: Any) -> str:
    from ..types import ListType, NamedType

    if isinstance(element, ListType):
        if not isinstance(raw, list):
            raw = [raw]
        return "{ " + ", ".join(_render_element(types, element.element, r) for r in raw) + " }" if raw else "{}"
    if isinstance(element, NamedType) and element.model == "FHIR":
        info = types.get(element.name)
        if info is not None:
            if info.primitive is not None:
                return render_system(system_value(info, raw))
            if isinstance(raw, dict) and not info.is_resource:
                return render_object(info, raw)
    return render_json(raw)
