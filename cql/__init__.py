"""A pure-Python engine for HL7 Clinical Quality Language (CQL) 1.5."""

from .errors import (
    CqlError,
    CqlRuntimeError,
    CqlSemanticError,
    CqlSyntaxError,
    CqlTimeoutError,
    CqlUnsupportedError,
)

__all__ = [
    "CqlError", "CqlRuntimeError", "CqlSemanticError", "CqlSyntaxError", "CqlTimeoutError",
    "CqlUnsupportedError",
]
