"""Nullological operators (CQL reference, "Nullological Operators").
``Coalesce`` is compiled directly (cql.compiler) because it is lazy."""

from __future__ import annotations

from typing import Any

from ..types import BOOLEAN
from .registry import T, operator


@operator("IsNull", [T], BOOLEAN, nulls=False)
def is_null(a: Any) -> bool:
    return a is None


@operator("IsTrue", [BOOLEAN], BOOLEAN, nulls=False)
def is_true(a: bool | None) -> bool:
    return a is True


@operator("IsFalse", [BOOLEAN], BOOLEAN, nulls=False)
def is_false(a: bool | None) -> bool:
    return a is False
