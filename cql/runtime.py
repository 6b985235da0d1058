"""Per-evaluation state. A compiled library is immutable; everything that
changes while it runs lives in one :class:`Context`, so several threads can
evaluate the same library at once."""

from __future__ import annotations

import time
from typing import Any

from .errors import CqlTimeoutError
from .values import DateTime

MISSING = object()


class Context:
    """State of one evaluation: variables, define cache, clock, data, terminology."""

    __slots__ = ("vars", "cache", "now", "offset", "data", "parameters", "terminology", "deadline",
                 "messages", "evaluating", "ticks")

    def __init__(self, now: DateTime, *, data: Any = None, parameters: dict[str, Any] | None = None,
                 terminology: Any = None, deadline: float | None = None) -> None:
        self.vars: dict[int, Any] = {}
        self.cache: dict[Any, Any] = {}
        self.now = now
        # The default timezone offset for DateTime values written without one.
        self.offset = now.tz_offset
        self.data = data
        self.parameters = parameters or {}
        self.terminology = terminology
        self.deadline = deadline
        self.messages: list[tuple[str, str, str]] = []
        self.evaluating: set[Any] = set()
        self.ticks = 0

    def check_deadline(self) -> None:
        """Raise if the evaluation has run past its deadline (cheap: checks the clock
        only every 256 calls)."""
        if self.deadline is None:
            return
        self.ticks += 1
        if self.ticks & 255 == 0 and time.monotonic() > self.deadline:
            raise CqlTimeoutError("CQL evaluation took longer than allowed")
