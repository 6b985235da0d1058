"""Logical operators. ``and``, ``or``, ``xor`` and ``implies`` short-circuit and
are compiled directly (cql.compiler); ``not`` is an ordinary operator."""

from __future__ import annotations

from ..types import BOOLEAN
from .registry import operator


@operator("Not", [BOOLEAN], BOOLEAN)
def not_(a: bool) -> bool:
    return not a
