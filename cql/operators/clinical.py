"""Clinical operators (CQL reference, "Clinical Operators"): ages, terminology
membership (``in`` a value set or code system, AnyIn..., ExpandValueSet) and
equality/equivalence of codes and concepts.

Ages count whole periods between the birth date and the as-of date, as
``duration in <precision>s between`` does (so an imprecise birth date gives an
uncertain result). ``AgeIn...()`` use the context patient's birth date (from the
data model: FHIR ``Patient.birthDate``) and ``Today()`` (years to days) or
``Now()`` (hours to seconds).

Value sets come from the FHIR ValueSet resources given to the evaluation (see
:mod:`cql.fhir.terminology`). A null code is not in any value set (false); a
String is matched on the code alone, which a value set with several code
systems makes ambiguous (an error). Code system membership is decided on the
system (and, when both state one, the version): no code system content is
available to check the code itself.
"""

from __future__ import annotations

from typing import Any

from ..errors import CqlRuntimeError, CqlUnsupportedError
from ..types import BOOLEAN, CODE, CODESYSTEM, CONCEPT, DATE, DATETIME, INTEGER, STRING, VALUESET, ListType
from ..values import Code, CodeSystemRef, Concept, Date, DateTime, ValueSetRef, temporal
from ..values.compare import equal, equivalent
from .registry import UNCERTAIN_RESULTS, operator

_DATE_PRECISIONS = ("Years", "Months", "Weeks", "Days")
_TIME_PRECISIONS = ("Hours", "Minutes", "Seconds")
_PRECISION = {"Years": "year", "Months": "month", "Weeks": "week", "Days": "day", "Hours": "hour",
              "Minutes": "minute", "Seconds": "second"}


# ---------------------------------------------------------------- ages


def _birth_date(ctx: Any, what: str) -> Date | DateTime | None:
    data = getattr(ctx, "data", None)
    get = getattr(data, "birth_date", None)
    if get is None:
        raise CqlRuntimeError(f"{what} needs patient data (a data model with a Patient context)")
    return get()  # type: ignore[no-any-return]


def _age(birth: Any, as_of: Any, precision: str, ctx: Any) -> Any:
    if birth is None or as_of is None:
        return None
    if type(birth) is Date and type(as_of) is DateTime:
        birth = temporal.to_datetime(birth, None)
    elif type(birth) is DateTime and type(as_of) is Date:
        as_of = temporal.to_datetime(as_of, None)
    return temporal.duration_between(birth, as_of, precision, offset=ctx.offset)


def _register_ages() -> None:
    for unit in _DATE_PRECISIONS + _TIME_PRECISIONS:
        precision = _PRECISION[unit]
        date_level = unit in _DATE_PRECISIONS

        def age(ctx: Any, _p: str = precision, _date: bool = date_level, _name: str = f"AgeIn{unit}") -> Any:
            birth = _birth_date(ctx, _name + "()")
            if birth is None:
                return None
            if _date:
                return _age(birth, temporal.today(ctx.now), _p, ctx)
            if type(birth) is Date:
                birth = temporal.to_datetime(birth, None)
            return _age(birth, ctx.now, _p, ctx)
        operator(f"AgeIn{unit}", [], INTEGER, ctx=True)(age)

        def age_at(ctx: Any, as_of: Any, _p: str = precision, _name: str = f"AgeIn{unit}At") -> Any:
            return _age(_birth_date(ctx, _name), as_of, _p, ctx)
        at_types = (DATE, DATETIME) if date_level else (DATETIME,)
        for t in at_types:
            operator(f"AgeIn{unit}At", [t], INTEGER, ctx=True, nulls=False)(age_at)

        def calculate(ctx: Any, birth: Any, _p: str = precision) -> Any:
            as_of = temporal.today(ctx.now) if type(birth) is Date else ctx.now
            return _age(birth, as_of, _p, ctx)

        def calculate_at(ctx: Any, birth: Any, as_of: Any, _p: str = precision) -> Any:
            return _age(birth, as_of, _p, ctx)
        for t in at_types:
            operator(f"CalculateAgeIn{unit}", [t], INTEGER, ctx=True)(calculate)
            operator(f"CalculateAgeIn{unit}At", [t, t], INTEGER, ctx=True)(calculate_at)


_register_ages()
UNCERTAIN_RESULTS.update(name for unit in _DATE_PRECISIONS + _TIME_PRECISIONS
                         for name in (f"AgeIn{unit}", f"AgeIn{unit}At", f"CalculateAgeIn{unit}",
                                      f"CalculateAgeIn{unit}At"))


# ---------------------------------------------------------------- value sets


def _valueset(ctx: Any, ref: ValueSetRef) -> Any:
    terminology = ctx.terminology
    if terminology is None:
        raise CqlRuntimeError(f"value set {ref.id} is not available: no value sets were given")
    found = terminology.resolved.get((ref.id, ref.version))
    return found if found is not None else terminology.valueset(ref)


def _pins(ref: ValueSetRef) -> dict[str, str] | None:
    pins = {cs.id: cs.version for cs in ref.codesystems if cs.version}
    return pins or None


def _codes(value: Any) -> list[Code]:
    if isinstance(value, Code):
        return [value]
    if isinstance(value, Concept):
        return list(value.codes)
    if isinstance(value, list):
        out: list[Code] = []
        for item in value:
            if item is not None:
                out.extend(_codes(item))
        return out
    return []


def _in_valueset(ctx: Any, code: Any, ref: Any) -> bool | None:
    if code is None:
        return False
    if ref is None:
        return None
    vs = _valueset(ctx, ref)
    t = type(code)
    pins = _pins(ref) if ref.codesystems else None
    if t is Concept:
        has = vs.has
        for c in code.codes:  # noqa: SIM110 - a loop is faster than any() here
            if has(c.system, c.code, pins):
                return True
        return False
    if t is Code:
        return vs.has(code.system, code.code, pins)
    if t is str:
        return vs.has_code_string(code)
    return any(vs.has(c.system, c.code, pins) for c in _codes(code))


def _any_in_valueset(ctx: Any, codes: Any, ref: Any) -> bool | None:
    if codes is None:
        return False
    if ref is None:
        return None
    vs = _valueset(ctx, ref)
    pins = _pins(ref)
    for item in codes:
        if item is None:
            continue
        if isinstance(item, str):
            if vs.has_code_string(item):
                return True
        elif any(vs.has(c.system, c.code, pins) for c in _codes(item)):
            return True
    return False


for _t in (STRING, CODE, CONCEPT, ListType(CODE), ListType(CONCEPT)):
    operator("InValueSet", [_t, VALUESET], BOOLEAN, nulls=False, ctx=True)(_in_valueset)
for _t in (ListType(STRING), ListType(CODE), ListType(CONCEPT)):
    operator("AnyInValueSet", [_t, VALUESET], BOOLEAN, nulls=False, ctx=True)(_any_in_valueset)


@operator("ExpandValueSet", [VALUESET], ListType(CODE), ctx=True)
def expand_valueset(ctx: Any, ref: ValueSetRef) -> list[Code]:
    return list(_valueset(ctx, ref).entries)


# ---------------------------------------------------------------- code systems


def _code_in_system(code: Code, system: CodeSystemRef) -> bool:
    if code.system != system.id:
        return False
    return not (system.version and code.version and system.version != code.version)


def _in_codesystem(code: Any, system: Any) -> bool | None:
    if code is None:
        return False
    if system is None:
        return None
    if isinstance(code, str):
        raise CqlUnsupportedError(f"'{code}' in code system {system.id}: membership of a code without its "
                                  "system cannot be decided without the code system's content")
    return any(_code_in_system(c, system) for c in _codes(code))


def _any_in_codesystem(codes: Any, system: Any) -> bool | None:
    if codes is None:
        return False
    if system is None:
        return None
    return any(_in_codesystem(item, system) is True for item in codes if item is not None)


for _t in (STRING, CODE, CONCEPT, ListType(CODE), ListType(CONCEPT)):
    operator("InCodeSystem", [_t, CODESYSTEM], BOOLEAN, nulls=False)(_in_codesystem)
for _t in (ListType(STRING), ListType(CODE), ListType(CONCEPT)):
    operator("AnyInCodeSystem", [_t, CODESYSTEM], BOOLEAN, nulls=False)(_any_in_codesystem)


# ---------------------------------------------------------------- code and concept comparison

# Concrete overloads next to the generic ones, so that values which only meet in
# Concept (a FHIR CodeableConcept and a Code) compare.
for _t in (CODE, CONCEPT):
    operator("Equal", [_t, _t], BOOLEAN, nulls=False)(equal)
    operator("Equivalent", [_t, _t], BOOLEAN, nulls=False)(equivalent)
