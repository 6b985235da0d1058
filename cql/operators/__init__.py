"""System operators and functions, one module per chapter of the CQL reference.
Importing this package registers them all in :data:`registry.REGISTRY`."""

from . import (  # noqa: F401
    aggregate,
    arithmetic,
    clinical,
    comparison,
    conversion,
    datetime,
    interval,
    list,
    logical,
    nullological,
    string,
)
from .registry import REGISTRY, operator

__all__ = ["REGISTRY", "operator"]
