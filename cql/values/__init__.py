"""Run-time values of the CQL engine.

Representation of each CQL type:

========================  ==============================================
CQL type                  Python value
========================  ==============================================
null                      ``None``
Boolean                   ``bool``
Integer                   ``int`` (never ``bool``, never :class:`Long`)
Long                      :class:`Long` (an ``int`` subclass)
Decimal                   ``decimal.Decimal`` (scale 8, ``|x| < 10**28``)
String                    ``str``
Date, DateTime, Time      :class:`Date`, :class:`DateTime`, :class:`Time`
Quantity, Ratio           :class:`Quantity`, :class:`Ratio`
Interval<T>               :class:`Interval`
List<T>                   ``list`` (treated as immutable)
Tuple                     :class:`Tuple`
Code, Concept             :class:`Code`, :class:`Concept`
ValueSet, CodeSystem      :class:`ValueSetRef`, :class:`CodeSystemRef`
========================  ==============================================

Value protocol. Classes with CQL semantics of their own (temporal values,
Quantity, Ratio) implement, for a non-null ``other`` of the same CQL type:

- ``cql_equal(other) -> bool | None``: CQL ``=`` (``None`` when uncertain);
- ``cql_equivalent(other) -> bool``: CQL ``~``;
- ``cql_compare(other) -> int | None``: ordering (-1, 0, 1), ``None`` when
  the answer is uncertain or the values are not comparable (ordered types only);
- ``to_cql() -> str``: the value as CQL literal text.

Generic equality, equivalence, ordering and rendering of every value,
including lists, tuples, intervals and codes, live in :mod:`cql.values.compare`
and :mod:`cql.values.render`.
"""

from .numbers import Long
from .quantity import Quantity, Ratio
from .structures import Code, CodeSystemRef, Concept, Interval, Tuple, ValueSetRef
from .temporal import Date, DateTime, Precision, Time

__all__ = [
    "Code", "CodeSystemRef", "Concept", "Date", "DateTime", "Interval", "Long", "Precision",
    "Quantity", "Ratio", "Time", "Tuple", "ValueSetRef",
]
