"""A pure-Python engine for HL7 Clinical Quality Language (CQL) 1.5."""

from .errors import (
    CqlError,
    CqlRuntimeError,
    CqlSemanticError,
    CqlSyntaxError,
    CqlTimeoutError,
    CqlUnsupportedError,
)
from .library import DefineInfo, Library, ParameterInfo, ValueSetInfo, compile_library, evaluate_expression
from .values.render import to_cql

__all__ = [
    "DefineInfo", "Library", "ParameterInfo", "ValueSetInfo", "compile_library", "evaluate_expression", "to_cql",
    "CqlError", "CqlRuntimeError", "CqlSemanticError", "CqlSyntaxError", "CqlTimeoutError",
    "CqlUnsupportedError",
]
