"""CQL values rendered for people, for card text.

A Quantity reads ``115 pmol/L``, a Date ``2026-03-04``, a DateTime
``2026-03-04 10:30``, a Decimal as computed (round it in the CQL), a list
joined with ``, ``, null as ``unknown``. Temporal values are read from the
engine's own CQL literal text (``to_cql()``, part of the engine's value
protocol), so precision is kept as the engine has it: a DateTime known only to
the day renders as a date.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import cql
from cql.values import Code, Concept, Date, DateTime, Interval, Quantity, Ratio, Time, Tuple

UNKNOWN = "unknown"

_CALENDAR_WORDS = {
    "year": "year", "years": "year", "a": "year",
    "month": "month", "months": "month", "mo": "month",
    "week": "week", "weeks": "week", "wk": "week",
    "day": "day", "days": "day", "d": "day",
    "hour": "hour", "hours": "hour", "h": "hour",
    "minute": "minute", "minutes": "minute", "min": "minute",
    "second": "second", "seconds": "second", "s": "second",
    "millisecond": "millisecond", "milliseconds": "millisecond", "ms": "millisecond",
}
_ANNOTATION = re.compile(r"\{([^}]*)\}")
_QUANTITY_TEXT = re.compile(r"^(?P<value>[-+]?[0-9.]+)\s*(?:'(?P<unit>[^']*)'|(?P<word>[A-Za-z]+))?$")
_DATETIME_TEXT = re.compile(
    r"^@(?P<date>\d{4}(?:-\d{2}(?:-\d{2})?)?)(?:T(?P<h>\d{2})?(?::(?P<m>\d{2}))?[^+\-Z]*)?(?P<tz>Z|[+-]\d{2}:\d{2})?$")
_TIME_TEXT = re.compile(r"^@T(?P<h>\d{2})(?::(?P<m>\d{2}))?")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|~])")


class ValueRenderError(TypeError):
    """A value that has no readable text form (a FHIR resource, an unknown object)."""


def format_decimal(value: Decimal) -> str:
    """A Decimal as written, without exponent; ``-0`` reads ``0``."""
    text = format(value, "f")
    return "0" + text[2:] if text.startswith("-0") and Decimal(text) == 0 else text


def format_unit(unit: str | None, amount: Any = None) -> str:
    """A UCUM unit for people: ``1`` disappears, calendar units become words,
    annotations lose their braces (``mL/min/{1.73_m2}`` → ``mL/min/1.73 m2``)."""
    if unit is None or unit in ("", "1"):
        return ""
    word = _CALENDAR_WORDS.get(unit)
    if word:
        plural = amount is None or not (isinstance(amount, int | Decimal) and abs(amount) == 1)
        return word + ("s" if plural else "")
    return _ANNOTATION.sub(lambda m: m.group(1).replace("_", " "), unit)


def _quantity(value_part: Any, unit: str | None) -> str:
    amount = format_decimal(value_part) if isinstance(value_part, Decimal) else humanize(value_part)
    text_unit = format_unit(unit, value_part)
    return f"{amount} {text_unit}" if text_unit else amount


def _quantity_from_cql(text: str) -> str:
    match = _QUANTITY_TEXT.match(text.strip())
    if not match:
        raise ValueRenderError(f"cannot read the quantity {text!r}")
    number = Decimal(match["value"])
    return _quantity(number, match["unit"] if match["unit"] is not None else match["word"])


def _temporal(text: str) -> str:
    if text.startswith("@T"):
        match = _TIME_TEXT.match(text)
        if not match:
            raise ValueRenderError(f"cannot read the time {text!r}")
        return f"{match['h']}:{match['m'] or '00'}"
    match = _DATETIME_TEXT.match(text)
    if not match:
        raise ValueRenderError(f"cannot read the date {text!r}")
    out = match["date"]
    if match["h"] is not None:
        out += f" {match['h']}:{match['m'] or '00'}"
    return out


def _fhir_element(value: dict) -> str:
    # FHIR data types that arrive as JSON when a define returns a FHIR element.
    if "value" in value and ("unit" in value or "code" in value or set(value) <= {"value", "system"}):
        return _quantity(Decimal(str(value["value"])) if value["value"] is not None else None,
                         value.get("unit") or value.get("code"))
    if "coding" in value or "text" in value:
        if value.get("text"):
            return str(value["text"])
        codings = value.get("coding") or []
        return ", ".join(_fhir_element(c) for c in codings) or UNKNOWN
    if "code" in value and "system" in value:
        return str(value.get("display") or value["code"])
    if "start" in value or "end" in value:
        return f"{humanize(value.get('start'))} to {humanize(value.get('end'))}"
    if "resourceType" in value:
        raise ValueRenderError(f"a {value['resourceType']} resource has no text form; return a value from the CQL")
    raise ValueRenderError("this FHIR element has no text form; return a System value from the CQL")


def humanize(value: Any) -> str:
    """Render one CQL value as text for a clinician."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, float):
        return format_decimal(Decimal(repr(value)))
    if isinstance(value, list | tuple):
        return ", ".join(humanize(item) for item in value) if value else "none"
    if isinstance(value, Code):
        return value.display or value.code or UNKNOWN
    if isinstance(value, Concept):
        if value.display:
            return value.display
        return ", ".join(humanize(code) for code in value.codes) or UNKNOWN
    if isinstance(value, Interval):
        return f"{humanize(value.low)} to {humanize(value.high)}"
    if isinstance(value, Tuple):
        return ", ".join(f"{k}: {humanize(v)}" for k, v in value.elements.items())
    if isinstance(value, Ratio):
        numerator, denominator = getattr(value, "numerator", None), getattr(value, "denominator", None)
        if numerator is not None and denominator is not None:
            return f"{humanize(numerator)} : {humanize(denominator)}"
        return " : ".join(_quantity_from_cql(part) for part in cql.to_cql(value).split(":"))
    if isinstance(value, Quantity):
        if hasattr(value, "value") and hasattr(value, "unit"):
            return _quantity(value.value, value.unit)
        return _quantity_from_cql(cql.to_cql(value))
    if isinstance(value, Date | DateTime | Time):
        return _temporal(value.to_cql() if hasattr(value, "to_cql") else cql.to_cql(value))
    if isinstance(value, dict):
        return _fhir_element(value)
    raise ValueRenderError(f"no text form for a value of type {type(value).__name__}")


def markdown_escape(text: str) -> str:
    """Escape characters that Markdown would read as markup, so that a value
    (which may come from patient data) can't add links, emphasis or HTML."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
