"""Errors raised by the CQL engine.

Every failure the engine reports is a :class:`CqlError`. The subclasses say at
which stage it happened, so callers (and the conformance runner) can tell a
malformed library from an unsupported construct or a run-time failure.
"""

from __future__ import annotations


class CqlError(Exception):
    """Base class of every error the engine raises.

    ``line`` and ``column`` (1-based) locate the offending construct in the CQL
    text when they are known; ``library`` names the library it came from.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 library: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.library = library

    def located(self, line: int | None, column: int | None, library: str | None = None) -> CqlError:
        """Fill in a position if the error doesn't have one yet; returns self."""
        if self.line is None and line is not None:
            self.line, self.column = line, column
        if self.library is None and library is not None:
            self.library = library
        return self

    def __str__(self) -> str:
        where = []
        if self.library:
            where.append(self.library)
        if self.line is not None:
            where.append(f"line {self.line}" + (f", column {self.column}" if self.column is not None else ""))
        return f"{self.message} ({': '.join(where)})" if where else self.message


class CqlSyntaxError(CqlError):
    """The text is not valid CQL according to the grammar."""


class CqlSemanticError(CqlError):
    """The text parses but is not a valid program: unknown name, type error,
    literal out of range, ambiguous overload, and so on. Raised at compile time."""


class CqlUnsupportedError(CqlError):
    """A valid construct this engine does not implement. Raised instead of
    guessing a value, at compile time whenever possible."""


class CqlRuntimeError(CqlError):
    """A failure during evaluation: arithmetic overflow, value out of range,
    an uncertain result used where a definite one is needed, a ``Message``
    with severity Error, a missing value set, and so on."""


class CqlTimeoutError(CqlRuntimeError):
    """Evaluation ran past the time allowed for it."""
