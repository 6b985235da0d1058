"""FHIR R4 (4.0.1) for the CQL engine: data model, retrieves, FHIRHelpers, terminology.

``using FHIR version '4.0.1'`` loads :func:`create_model` (see
``cql.library.MODEL_FACTORIES``). FHIR data is evaluated as the caller's JSON
(see :mod:`cql.fhir.values` for the run-time representation, :mod:`cql.fhir.model`
for element access and medication references, :mod:`cql.fhir.data` for the
per-evaluation index and patient filtering, :mod:`cql.fhir.terminology` for
value sets).
"""

from .data import FhirData
from .model import FhirModel, create_model
from .terminology import Terminology, ValueSet, parse_valueset
from .values import FhirElement, FhirPrimitive

__all__ = ["FhirData", "FhirElement", "FhirModel", "FhirPrimitive", "Terminology", "ValueSet", "create_model",
           "parse_valueset"]
