"""Example data whose dates stay current.

Example patients and hook requests are written against a fixed anchor date.
Before use, every FHIR date, dateTime and instant in them is moved by the
number of days between the anchor and today, so "a B12 result 3 months ago"
stays 3 months ago whenever the examples are run. Precision and timezone of
each value are kept as written.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# FHIR date / dateTime / instant: YYYY, YYYY-MM, YYYY-MM-DD, optionally with a time.
_FHIR_DATE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})(?P<rest>T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$"
)
_YEAR_MONTH = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})$")

# Keys whose string values are identifiers or codes, never dates to move.
_SKIP_KEYS = frozenset({"id", "reference", "code", "system", "value", "url", "fullUrl", "hookInstance"})


def shift_date_string(text: str, days: int) -> str:
    """Move one FHIR date/dateTime/instant string by ``days``; other strings unchanged.

    Year-month values move by whole months (rounded to the nearest); year-only
    values are left alone (a birth year shouldn't jump for a few days' shift,
    and a year has no finer position to keep).
    """
    match = _FHIR_DATE.match(text)
    if match:
        moved = date.fromisoformat(match["date"]) + timedelta(days=days)
        return moved.isoformat() + (match["rest"] or "")
    match = _YEAR_MONTH.match(text)
    if match:
        months = round(days / 30.4375)
        index = int(match["year"]) * 12 + int(match["month"]) - 1 + months
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    return text


def shift_dates(value: Any, days: int, _key: str | None = None) -> Any:
    """Return a copy of a JSON value with every FHIR date string moved by ``days``."""
    if days == 0:
        return value
    if isinstance(value, dict):
        return {k: shift_dates(v, days, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days, _key) for v in value]
    if isinstance(value, str) and _key not in _SKIP_KEYS:
        return shift_date_string(value, days)
    return value


def days_since(anchor: date | str, today: date | None = None) -> int:
    """Days from ``anchor`` to ``today`` (default: today in UTC)."""
    if isinstance(anchor, str):
        anchor = date.fromisoformat(anchor)
    today = today or datetime.now(UTC).date()
    return (today - anchor).days


def load_example(path: str | Path, anchor: date | str, today: date | None = None) -> Any:
    """Read a JSON example written against ``anchor`` and move its dates to ``today``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return shift_dates(data, days_since(anchor, today))
