"""Render any CQL value as CQL literal text (``to_cql``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .numbers import Long
from .quantity import Quantity, Ratio
from .structures import Code, CodeSystemRef, Concept, Interval, Tuple, ValueSetRef
from .temporal import Date, DateTime, Time

_STRING_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def string_literal(text: str) -> str:
    """A CQL string literal with escapes."""
    return "'" + "".join(_STRING_ESCAPES.get(ch, ch) for ch in text) + "'"


def decimal_text(value: Decimal) -> str:
    """A Decimal as written in CQL: positional notation, never an exponent."""
    text = format(value, "f")
    return "0" if text == "-0" else text


def to_cql(value: Any) -> str:
    """Render a run-time value as CQL text: ``@2014-01-01``, ``5 'mg'``,
    ``Interval[1, 10)``, ``{ 1, 2 }``, ``Tuple { a: 1 }``, ``null``."""
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is Long:
        return f"{int(value)}L"
    if t is Decimal:
        return decimal_text(value)
    if t is str:
        return string_literal(value)
    if t in (Date, DateTime, Time, Quantity, Ratio):
        return value.to_cql()
    if t is list:
        if not value:
            return "{}"
        return "{ " + ", ".join(to_cql(v) for v in value) + " }"
    if t is Interval:
        return ("Interval" + ("[" if value.low_closed else "(") + to_cql(value.low) + ", "
                + to_cql(value.high) + ("]" if value.high_closed else ")"))
    if t is Tuple:
        if not value.elements:
            return "Tuple { : }"
        return "Tuple { " + ", ".join(f"{_name(k)}: {to_cql(v)}" for k, v in value.elements.items()) + " }"
    if t is Code:
        parts = [f"code: {string_literal(value.code or '')}"]
        for key in ("system", "version", "display"):
            part = getattr(value, key)
            if part is not None:
                parts.append(f"{key}: {string_literal(part)}")
        return "Code { " + ", ".join(parts) + " }"
    if t is Concept:
        inner = f"codes: {to_cql(list(value.codes))}"
        if value.display is not None:
            inner += f", display: {string_literal(value.display)}"
        return "Concept { " + inner + " }"
    if t is ValueSetRef:
        return "ValueSet { id: " + string_literal(value.id) + (
            f", version: {string_literal(value.version)}" if value.version else "") + " }"
    if t is CodeSystemRef:
        return "CodeSystem { id: " + string_literal(value.id) + (
            f", version: {string_literal(value.version)}" if value.version else "") + " }"
    if t is dict:
        resource_type = value.get("resourceType")
        if isinstance(resource_type, str):
            ident = value.get("id")
            inner = f" {{ id: {string_literal(ident)} }}" if isinstance(ident, str) else " { }"
            return f"FHIR.{resource_type}{inner}"
        return "Tuple { " + ", ".join(f"{_name(k)}: {_json(v)}" for k, v in value.items()) + " }"
    render = getattr(value, "to_cql", None)
    if callable(render):
        return str(render())
    raise TypeError(f"not a CQL value: {t.__name__}")


def _json(value: Any) -> str:
    if isinstance(value, dict):
        return to_cql(value)
    if isinstance(value, list):
        return "{ " + ", ".join(_json(v) for v in value) + " }" if value else "{}"
    if isinstance(value, float):
        return decimal_text(Decimal(repr(value)))
    return to_cql(value)


def _name(name: str) -> str:
    if name.isidentifier():
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
