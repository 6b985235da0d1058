"""Problems found in a rule-set version, each located by file and line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``error``) or suspicious (``warning``) in a rule-set version.

    ``file`` is relative to the version folder (POSIX); ``line`` and ``column``
    are 1-based when known.
    """

    file: str
    line: int | None
    message: str
    severity: str = "error"
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self) -> str:
        """``file:line:column`` with the parts that are known."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        return f"{self.location()}: {self.severity}: {self.message}"

    def to_json(self) -> dict:
        """JSON-ready form (for the admin API and ``--json`` output)."""
        out: dict = {"file": self.file, "severity": self.severity, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        if self.column is not None:
            out["column"] = self.column
        return out


class RuleSetInvalid(Exception):
    """A rule-set version that cannot be loaded, published or activated.

    ``problems`` lists every error found (and warnings alongside), not only the first.
    """

    def __init__(self, problems: Iterable[Problem], summary: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = [p for p in self.problems if p.is_error]
        self.summary = summary or f"{len(errors)} problem(s) in the rule set"
        super().__init__(self.summary + "".join(f"\n  {p}" for p in errors[:20]))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)
