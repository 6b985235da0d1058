"""UCUM units for CQL quantities: parsing, validation, conversion and unit algebra.

CQL quantities carry units of the Unified Code for Units of Measure (UCUM,
https://ucum.org/ucum, case-sensitive form) or one of the CQL calendar duration
keywords (``year``/``years`` ... ``millisecond``/``milliseconds``).

Why this module is written by hand: no package on PyPI fits. ``pyucum``
(last released 2019) calls a web service; ``ucumvert`` (0.x) translates UCUM
into ``pint`` units, and ``pint`` converts in binary floating point and has
no notion of CQL's calendar durations. CQL needs exact decimal results and
its own calendar rules, and the engine should not depend on a young package
for a safety-relevant core. Here every
factor is an exact :class:`~fractions.Fraction`, and numbers are converted
with :class:`decimal.Decimal` arithmetic at 60 digits before being rounded to
CQL's Decimal scale by :func:`~cql.values.numbers.make_decimal`.

What is implemented
-------------------
* The UCUM grammar: prefixes (on metric atoms only), integer exponents with
  optional sign, the ``.`` and ``/`` operators (left-associative, equal
  precedence), a leading ``/``, parentheses, annotations ``{...}`` (unity),
  integer factors such as ``100`` in ``/100``, the unity ``1`` and the atoms
  ``10*``/``10^`` (``10*3/uL``).
* The full UCUM table of atoms (base units and derived units), with the
  values and definitions of the UCUM specification (``ucum-essence.xml``,
  version 2.1). Arbitrary units (``[IU]``, ``[arb'U]``, ``[CFU]``...) each get a
  dimension of their own: they convert only to themselves, with prefixes
  (``m[IU]/mL`` to ``[IU]/L``), never to anything else.
* Special (non-linear) units: ``Cel``, ``[degF]`` and ``[degRe]`` convert
  correctly (affine conversion through kelvin). Every other special unit
  (``[pH]``, ``B``, ``Np``, ``[p'diop]``..., and prefixed ones such as
  ``dB``) is valid and can be compared with itself, but converting it to a
  different unit raises :class:`~cql.errors.CqlUnsupportedError` rather than
  applying a wrong linear factor. As in UCUM, a special unit cannot be part
  of a compound unit or take an exponent (``Cel/h`` is invalid).
* CQL calendar durations (see :data:`CALENDAR_UNITS`) and the rules of the
  CQL specification for relating them to UCUM definite durations.

Calendar durations
------------------
``week``, ``day``, ``hour``, ``minute``, ``second`` and ``millisecond`` are
equal to the UCUM units ``wk``, ``d``, ``h``, ``min``, ``s`` and ``ms``.
``year`` and ``month`` are calendar durations of variable length: they
convert to each other (1 year = 12 months) but, for equality, ordering,
arithmetic and conversion, not to any definite duration (``1 year = 1 'a'``
and ``1 year = 365 days`` are null). For equivalence (``~``) only, a year or
month is equivalent to its UCUM counterpart (``1 year ~ 1 'a'``,
``1 month ~ 1 'mo'``) and, against the calendar keywords from week down,
counts as 365 days or 30 days (``1 year ~ 365 days``, ``1 month ~ 30 days``),
as the CQL specification states.

Errors: an invalid or unknown unit raises :class:`UcumError` (a
:class:`~cql.errors.CqlRuntimeError`); it is never treated as dimensionless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from .errors import CqlRuntimeError, CqlUnsupportedError
from .values.numbers import CONTEXT, make_decimal

__all__ = [
    "CALENDAR_PLURALS", "CALENDAR_UNITS", "Conversion", "UcumError", "Unit", "apply_conversion",
    "calendar_keyword", "canonical", "commensurable", "conversion", "convert", "divide_units", "is_valid_unit",
    "multiply_units", "parse_unit", "product", "quotient",
]


class UcumError(CqlRuntimeError):
    """A unit string that is not a valid UCUM unit or CQL calendar duration keyword."""


# ---------------------------------------------------------------------------
# Calendar duration keywords
# ---------------------------------------------------------------------------

#: CQL calendar duration keyword (singular or plural) -> (singular keyword,
#: UCUM counterpart). Source: CQL 1.5 Author's Guide, "Quantities" table.
CALENDAR_UNITS: dict[str, tuple[str, str]] = {}
#: Singular calendar keyword -> plural keyword.
CALENDAR_PLURALS: dict[str, str] = {}
for _singular, _ucum in (("year", "a"), ("month", "mo"), ("week", "wk"), ("day", "d"), ("hour", "h"),
                         ("minute", "min"), ("second", "s"), ("millisecond", "ms")):
    CALENDAR_UNITS[_singular] = CALENDAR_UNITS[_singular + "s"] = (_singular, _ucum)
    CALENDAR_PLURALS[_singular] = _singular + "s"

# Calendar durations of variable length, and the definite length CQL assigns
# them when compared for equivalence with calendar keywords from week down
# ("1 year ~ 365 days", "1 month ~ 30 days"), in seconds.
_VARIABLE_CALENDAR = {"year": Fraction(365 * 86400), "month": Fraction(30 * 86400)}


def calendar_keyword(unit: str) -> str | None:
    """The singular calendar keyword for ``unit`` (``'days'`` -> ``'day'``), or
    None when ``unit`` is not a calendar duration keyword."""
    entry = CALENDAR_UNITS.get(unit)
    return entry[0] if entry else None


# ---------------------------------------------------------------------------
# The UCUM tables
# ---------------------------------------------------------------------------

# Prefixes. Source: UCUM specification, table 1 (and ucum-essence.xml 2.1).
_PREFIXES: dict[str, Fraction] = {
    "Y": Fraction(10) ** 24, "Z": Fraction(10) ** 21, "E": Fraction(10) ** 18, "P": Fraction(10) ** 15,
    "T": Fraction(10) ** 12, "G": Fraction(10) ** 9, "M": Fraction(10) ** 6, "k": Fraction(10) ** 3,
    "h": Fraction(10) ** 2, "da": Fraction(10), "d": Fraction(1, 10), "c": Fraction(1, 10**2),
    "m": Fraction(1, 10**3), "u": Fraction(1, 10**6), "n": Fraction(1, 10**9), "p": Fraction(1, 10**12),
    "f": Fraction(1, 10**15), "a": Fraction(1, 10**18), "z": Fraction(1, 10**21), "y": Fraction(1, 10**24),
    "Ki": Fraction(1024), "Mi": Fraction(1024) ** 2, "Gi": Fraction(1024) ** 3, "Ti": Fraction(1024) ** 4,
}
_TWO_LETTER_PREFIXES = tuple(p for p in _PREFIXES if len(p) == 2)

# Base units and their dimensions. Source: UCUM specification, table 2.
_BASE_UNITS = ("m", "s", "g", "rad", "K", "C", "cd")

# Derived atoms: (code, metric, value, definition). The unit is ``value``
# times ``definition``. Source: UCUM specification tables 3-20, as published
# in ucum-essence.xml (version 2.1); values are copied exactly.
_ATOMS: tuple[tuple[str, bool, str, str], ...] = (
    # dimensionless
    ("10*", False, "10", "1"),
    ("10^", False, "10", "1"),
    ("[pi]", False, "3.1415926535897932384626433832795028841971693993751058209749445923", "1"),
    ("%", False, "1", "10*-2"),
    ("[ppth]", False, "1", "10*-3"),
    ("[ppm]", False, "1", "10*-6"),
    ("[ppb]", False, "1", "10*-9"),
    ("[pptr]", False, "1", "10*-12"),
    # SI units
    ("mol", True, "6.0221367", "10*23"),
    ("sr", True, "1", "rad2"),
    ("Hz", True, "1", "s-1"),
    ("N", True, "1", "kg.m/s2"),
    ("Pa", True, "1", "N/m2"),
    ("J", True, "1", "N.m"),
    ("W", True, "1", "J/s"),
    ("A", True, "1", "C/s"),
    ("V", True, "1", "J/C"),
    ("F", True, "1", "C/V"),
    ("Ohm", True, "1", "V/A"),
    ("S", True, "1", "Ohm-1"),
    ("Wb", True, "1", "V.s"),
    ("T", True, "1", "Wb/m2"),
    ("H", True, "1", "Wb/A"),
    ("lm", True, "1", "cd.sr"),
    ("lx", True, "1", "lm/m2"),
    ("Bq", True, "1", "s-1"),
    ("Gy", True, "1", "J/kg"),
    ("Sv", True, "1", "J/kg"),
    # other units from ISO 1000, ISO 2955 and ANSI X3.50
    ("gon", False, "0.9", "deg"),
    ("deg", False, "2", "[pi].rad/360"),
    ("'", False, "1", "deg/60"),
    ("''", False, "1", "'/60"),
    ("l", True, "1", "dm3"),
    ("L", True, "1", "l"),
    ("ar", True, "100", "m2"),
    ("min", False, "60", "s"),
    ("h", False, "60", "min"),
    ("d", False, "24", "h"),
    ("a_t", False, "365.24219", "d"),
    ("a_j", False, "365.25", "d"),
    ("a_g", False, "365.2425", "d"),
    ("a", False, "1", "a_j"),
    ("wk", False, "7", "d"),
    ("mo_s", False, "29.53059", "d"),
    ("mo_j", False, "1", "a_j/12"),
    ("mo_g", False, "1", "a_g/12"),
    ("mo", False, "1", "mo_j"),
    ("t", True, "1e3", "kg"),
    ("bar", True, "1e5", "Pa"),
    ("u", True, "1.6605402e-24", "g"),
    ("eV", True, "1", "[e].V"),
    ("AU", False, "149597.870691", "Mm"),
    ("pc", True, "3.085678e16", "m"),
    # natural units
    ("[c]", True, "299792458", "m/s"),
    ("[h]", True, "6.6260755e-34", "J.s"),
    ("[k]", True, "1.380658e-23", "J/K"),
    ("[eps_0]", True, "8.854187817e-12", "F/m"),
    ("[mu_0]", True, "1", "4.[pi].10*-7.N/A2"),
    ("[e]", True, "1.60217733e-19", "C"),
    ("[m_e]", True, "9.1093897e-28", "g"),
    ("[m_p]", True, "1.6726231e-24", "g"),
    ("[G]", True, "6.67259e-11", "m3.kg-1.s-2"),
    ("[g]", True, "9.80665", "m/s2"),
    ("Torr", False, "133.322", "Pa"),
    ("atm", False, "101325", "Pa"),
    ("[ly]", True, "1", "[c].a_j"),
    ("gf", True, "1", "g.[g]"),
    ("[lbf_av]", False, "1", "[lb_av].[g]"),
    # CGS units
    ("Ky", True, "1", "cm-1"),
    ("Gal", True, "1", "cm/s2"),
    ("dyn", True, "1", "g.cm/s2"),
    ("erg", True, "1", "dyn.cm"),
    ("P", True, "1", "dyn.s/cm2"),
    ("Bi", True, "10", "A"),
    ("St", True, "1", "cm2/s"),
    ("Mx", True, "1e-8", "Wb"),
    ("G", True, "1e-4", "T"),
    ("Oe", True, "250", "/[pi].A/m"),
    ("Gb", True, "1", "Oe.cm"),
    ("sb", True, "1", "cd/cm2"),
    ("Lmb", True, "1", "cd/cm2/[pi]"),
    ("ph", True, "1e-4", "lx"),
    ("Ci", True, "37e9", "Bq"),
    ("R", True, "2.58e-4", "C/kg"),
    ("RAD", True, "100", "erg/g"),
    ("REM", True, "1", "RAD"),
    # international customary units
    ("[in_i]", False, "2.54", "cm"),
    ("[ft_i]", False, "12", "[in_i]"),
    ("[yd_i]", False, "3", "[ft_i]"),
    ("[mi_i]", False, "5280", "[ft_i]"),
    ("[fth_i]", False, "6", "[ft_i]"),
    ("[nmi_i]", False, "1852", "m"),
    ("[kn_i]", False, "1", "[nmi_i]/h"),
    ("[sin_i]", False, "1", "[in_i]2"),
    ("[sft_i]", False, "1", "[ft_i]2"),
    ("[syd_i]", False, "1", "[yd_i]2"),
    ("[cin_i]", False, "1", "[in_i]3"),
    ("[cft_i]", False, "1", "[ft_i]3"),
    ("[cyd_i]", False, "1", "[yd_i]3"),
    ("[bf_i]", False, "144", "[in_i]3"),
    ("[cr_i]", False, "128", "[ft_i]3"),
    ("[mil_i]", False, "1e-3", "[in_i]"),
    ("[cml_i]", False, "1", "[pi]/4.[mil_i]2"),
    ("[hd_i]", False, "4", "[in_i]"),
    # U.S. survey lengths
    ("[ft_us]", False, "1200", "m/3937"),
    ("[yd_us]", False, "3", "[ft_us]"),
    ("[in_us]", False, "1", "[ft_us]/12"),
    ("[rd_us]", False, "16.5", "[ft_us]"),
    ("[ch_us]", False, "4", "[rd_us]"),
    ("[lk_us]", False, "1", "[ch_us]/100"),
    ("[rch_us]", False, "100", "[ft_us]"),
    ("[rlk_us]", False, "1", "[rch_us]/100"),
    ("[fth_us]", False, "6", "[ft_us]"),
    ("[fur_us]", False, "40", "[rd_us]"),
    ("[mi_us]", False, "8", "[fur_us]"),
    ("[acr_us]", False, "160", "[rd_us]2"),
    ("[srd_us]", False, "1", "[rd_us]2"),
    ("[smi_us]", False, "1", "[mi_us]2"),
    ("[sct]", False, "1", "[mi_us]2"),
    ("[twp]", False, "36", "[sct]"),
    ("[mil_us]", False, "1e-3", "[in_us]"),
    # British imperial lengths
    ("[in_br]", False, "2.539998", "cm"),
    ("[ft_br]", False, "12", "[in_br]"),
    ("[rd_br]", False, "16.5", "[ft_br]"),
    ("[ch_br]", False, "4", "[rd_br]"),
    ("[lk_br]", False, "1", "[ch_br]/100"),
    ("[fth_br]", False, "6", "[ft_br]"),
    ("[pc_br]", False, "2.5", "[ft_br]"),
    ("[yd_br]", False, "3", "[ft_br]"),
    ("[mi_br]", False, "5280", "[ft_br]"),
    ("[nmi_br]", False, "6080", "[ft_br]"),
    ("[kn_br]", False, "1", "[nmi_br]/h"),
    ("[acr_br]", False, "4840", "[yd_br]2"),
    # U.S. volumes
    ("[gal_us]", False, "231", "[in_i]3"),
    ("[bbl_us]", False, "42", "[gal_us]"),
    ("[qt_us]", False, "1", "[gal_us]/4"),
    ("[pt_us]", False, "1", "[qt_us]/2"),
    ("[gil_us]", False, "1", "[pt_us]/4"),
    ("[foz_us]", False, "1", "[gil_us]/4"),
    ("[fdr_us]", False, "1", "[foz_us]/8"),
    ("[min_us]", False, "1", "[fdr_us]/60"),
    ("[crd_us]", False, "128", "[ft_i]3"),
    ("[bu_us]", False, "2150.42", "[in_i]3"),
    ("[gal_wi]", False, "1", "[bu_us]/8"),
    ("[pk_us]", False, "1", "[bu_us]/4"),
    ("[dqt_us]", False, "1", "[pk_us]/8"),
    ("[dpt_us]", False, "1", "[dqt_us]/2"),
    ("[tbs_us]", False, "1", "[foz_us]/2"),
    ("[tsp_us]", False, "1", "[tbs_us]/3"),
    ("[cup_us]", False, "16", "[tbs_us]"),
    ("[foz_m]", False, "30", "mL"),
    ("[cup_m]", False, "240", "mL"),
    ("[tsp_m]", False, "5", "mL"),
    ("[tbs_m]", False, "15", "mL"),
    # British imperial volumes
    ("[gal_br]", False, "4.54609", "l"),
    ("[pk_br]", False, "2", "[gal_br]"),
    ("[bu_br]", False, "4", "[pk_br]"),
    ("[qt_br]", False, "1", "[gal_br]/4"),
    ("[pt_br]", False, "1", "[qt_br]/2"),
    ("[gil_br]", False, "1", "[pt_br]/4"),
    ("[foz_br]", False, "1", "[gil_br]/5"),
    ("[fdr_br]", False, "1", "[foz_br]/8"),
    ("[min_br]", False, "1", "[fdr_br]/60"),
    # avoirdupois, troy and apothecaries' weights
    ("[gr]", False, "64.79891", "mg"),
    ("[lb_av]", False, "7000", "[gr]"),
    ("[oz_av]", False, "1", "[lb_av]/16"),
    ("[dr_av]", False, "1", "[oz_av]/16"),
    ("[scwt_av]", False, "100", "[lb_av]"),
    ("[lcwt_av]", False, "112", "[lb_av]"),
    ("[ston_av]", False, "20", "[scwt_av]"),
    ("[lton_av]", False, "20", "[lcwt_av]"),
    ("[stone_av]", False, "14", "[lb_av]"),
    ("[pwt_tr]", False, "24", "[gr]"),
    ("[oz_tr]", False, "20", "[pwt_tr]"),
    ("[lb_tr]", False, "12", "[oz_tr]"),
    ("[sc_ap]", False, "20", "[gr]"),
    ("[dr_ap]", False, "3", "[sc_ap]"),
    ("[oz_ap]", False, "8", "[dr_ap]"),
    ("[lb_ap]", False, "12", "[oz_ap]"),
    ("[oz_m]", False, "28", "g"),
    # typesetter's lengths
    ("[lne]", False, "1", "[in_i]/12"),
    ("[pnt]", False, "1", "[lne]/6"),
    ("[pca]", False, "12", "[pnt]"),
    ("[pnt_pr]", False, "0.013837", "[in_i]"),
    ("[pca_pr]", False, "12", "[pnt_pr]"),
    ("[pied]", False, "32.48", "cm"),
    ("[pouce]", False, "1", "[pied]/12"),
    ("[ligne]", False, "1", "[pouce]/12"),
    ("[didot]", False, "1", "[ligne]/6"),
    ("[cicero]", False, "12", "[didot]"),
    # heat
    ("[degR]", False, "5", "K/9"),
    ("cal_[15]", True, "4.18580", "J"),
    ("cal_[20]", True, "4.18190", "J"),
    ("cal_m", True, "4.19002", "J"),
    ("cal_IT", True, "4.1868", "J"),
    ("cal_th", True, "4.184", "J"),
    ("cal", True, "1", "cal_th"),
    ("[Cal]", False, "1", "kcal_th"),
    ("[Btu_39]", False, "1.05967", "kJ"),
    ("[Btu_59]", False, "1.05480", "kJ"),
    ("[Btu_60]", False, "1.05468", "kJ"),
    ("[Btu_m]", False, "1.05587", "kJ"),
    ("[Btu_IT]", False, "1.05505585262", "kJ"),
    ("[Btu_th]", False, "1.054350", "kJ"),
    ("[Btu]", False, "1", "[Btu_th]"),
    ("[HP]", False, "550", "[ft_i].[lbf_av]/s"),
    ("tex", True, "1", "g/km"),
    ("[den]", False, "1", "g/9/km"),
    # units used in clinical medicine
    ("m[H2O]", True, "9.80665", "kPa"),
    ("m[Hg]", True, "133.3220", "kPa"),
    ("[in_i'H2O]", False, "1", "m[H2O].[in_i]/m"),
    ("[in_i'Hg]", False, "1", "m[Hg].[in_i]/m"),
    ("[PRU]", False, "1", "mm[Hg].s/ml"),
    ("[wood'U]", False, "1", "mm[Hg].min/L"),
    ("[Ch]", False, "1", "mm/3"),
    ("[drp]", False, "1", "ml/20"),
    ("[hnsf'U]", False, "1", "1"),
    ("[MET]", False, "3.5", "mL/min/kg"),
    # chemical and biochemical units
    ("eq", True, "1", "mol"),
    ("osm", True, "1", "mol"),
    ("g%", True, "1", "g/dl"),
    ("[S]", False, "1", "10*-13.s"),
    ("[HPF]", False, "1", "1"),
    ("[LPF]", False, "100", "1"),
    ("kat", True, "1", "mol/s"),
    ("U", True, "1", "umol/min"),
    ("[IU]", True, "1", "[iU]"),
    # miscellaneous
    ("st", True, "1", "m3"),
    ("Ao", False, "0.1", "nm"),
    ("b", False, "100", "fm2"),
    ("att", False, "1", "kgf/cm2"),
    ("mho", True, "1", "S"),
    ("[psi]", False, "1", "[lbf_av]/[in_i]2"),
    ("circ", False, "2", "[pi].rad"),
    ("sph", False, "4", "[pi].sr"),
    ("[car_m]", False, "2e-1", "g"),
    ("[car_Au]", False, "1", "/24"),
    ("[smoot]", False, "67", "[in_i]"),
    ("bit", True, "1", "1"),
    ("By", True, "8", "bit"),
)

# Arbitrary units: not defined in terms of other units, so each is a
# dimension of its own. Source: UCUM specification, "arbitrary units"
# (atoms flagged isArbitrary in ucum-essence.xml 2.1); the bool is "metric".
_ARBITRARY: dict[str, bool] = {
    "[iU]": True, "[hp_X]": False, "[hp_C]": False, "[hp_M]": False, "[hp_Q]": False, "[kp_X]": False,
    "[kp_C]": False, "[kp_M]": False, "[kp_Q]": False, "[arb'U]": False, "[USP'U]": False,
    "[GPL'U]": False, "[MPL'U]": False, "[APL'U]": False, "[beth'U]": False, "[anti'Xa'U]": False,
    "[todd'U]": False, "[dye'U]": False, "[smgy'U]": False, "[bdsk'U]": False, "[ka'U]": False,
    "[knk'U]": False, "[mclg'U]": False, "[tb'U]": False, "[CCID_50]": False, "[TCID_50]": False,
    "[EID_50]": False, "[PFU]": False, "[FFU]": False, "[CFU]": False, "[IR]": False, "[BAU]": False,
    "[AU]": False, "[Amb'a'1'U]": False, "[PNU]": False, "[Lf]": False, "[D'ag'U]": False,
    "[FEU]": False, "[ELU]": False, "[EU]": False,
}

# Special (non-linear) units: code -> (metric, the unit their conversion
# function maps to, whose dimension they take; None for a dimension of their
# own). Source: UCUM specification, "special units" (the units with a
# function in ucum-essence.xml 2.1; [diop], [mesh_i] and Bd use the inverse).
_SPECIAL: dict[str, tuple[bool, str | None]] = {
    "Cel": (True, "K"), "[degF]": (False, "K"), "[degRe]": (False, "K"),
    "[pH]": (False, "mol/l"), "Np": (True, "1"), "B": (True, "1"), "B[SPL]": (True, "Pa"),
    "B[V]": (True, "V"), "B[mV]": (True, "mV"), "B[uV]": (True, "uV"), "B[10.nV]": (True, "nV"),
    "B[W]": (True, "W"), "B[kW]": (True, "kW"), "[p'diop]": (False, "rad"), "%[slope]": (False, "deg"),
    "[hp'_X]": (False, "1"), "[hp'_C]": (False, "1"), "[hp'_M]": (False, "1"), "[hp'_Q]": (False, "1"),
    "bit_s": (False, "1"), "[diop]": (False, "m"), "[mesh_i]": (False, "[in_i]"), "Bd": (True, "s"),
    "[m/s2/Hz^(1/2)]": (False, None),
}

# Affine temperature scales: kelvin = value * scale + offset.
# Source: UCUM specification, Cel = cel(1 K), [degF] = degf(5 K/9),
# [degRe] = degre(5 K/4); i.e. K = C + 273.15, K = (F + 459.67) * 5/9,
# K = Re * 5/4 + 273.15.
_AFFINE: dict[str, tuple[Fraction, Fraction]] = {
    "Cel": (Fraction(1), Fraction("273.15")),
    "[degF]": (Fraction(5, 9), Fraction("459.67") * Fraction(5, 9)),
    "[degRe]": (Fraction(5, 4), Fraction("273.15")),
}

_ATOM_ROWS = {code: (metric, value, definition) for code, metric, value, definition in _ATOMS}

Dims = tuple[tuple[str, int], ...]
Term = tuple[str, str, int]  # (simple unit as written, annotation, exponent)

_TIME: Dims = (("s", 1),)


@dataclass(frozen=True, slots=True)
class _Atom:
    factor: Fraction
    dims: Dims
    metric: bool
    special: bool


_ATOM_CACHE: dict[str, _Atom] = {}


def _atom(code: str) -> _Atom | None:
    """Factor and dimension of an atom (no prefix), or None if unknown."""
    cached = _ATOM_CACHE.get(code)
    if cached is not None:
        return cached
    if code in _BASE_UNITS:
        atom = _Atom(Fraction(1), ((code, 1),), True, False)
    elif code in _ARBITRARY:
        atom = _Atom(Fraction(1), ((code, 1),), _ARBITRARY[code], False)
    elif code in _SPECIAL:
        metric, base = _SPECIAL[code]
        if base is None:
            atom = _Atom(Fraction(1), ((code, 1),), metric, True)
        else:
            parsed = _Parser(base).parse()
            scale = _AFFINE[code][0] if code in _AFFINE else parsed.factor
            atom = _Atom(scale, parsed.dims, metric, True)
    elif code in _ATOM_ROWS:
        metric, value, definition = _ATOM_ROWS[code]
        parsed = _Parser(definition).parse()
        atom = _Atom(Fraction(Decimal(value)) * parsed.factor, parsed.dims, metric, False)
    else:
        return None
    _ATOM_CACHE[code] = atom
    return atom


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

def _dims_combine(a: Dims, b: Dims, sign: int) -> Dims:
    if not b:
        return a
    out = dict(a)
    for key, exp in b:
        out[key] = out.get(key, 0) + sign * exp
    return tuple(sorted((k, v) for k, v in out.items() if v))


def _dims_power(a: Dims, exp: int) -> Dims:
    return tuple((k, v * exp) for k, v in a) if exp else ()


@dataclass(slots=True)
class _Parsed:
    factor: Fraction
    dims: Dims
    terms: list[Term]
    multiplier: Fraction
    specials: list[str]

    def combine(self, other: _Parsed, sign: int) -> _Parsed:
        """Multiply (sign 1) or divide (sign -1) by ``other``, in place."""
        if sign > 0:
            self.factor *= other.factor
            self.multiplier *= other.multiplier
            self.terms.extend(other.terms)
        else:
            self.factor /= other.factor
            self.multiplier /= other.multiplier
            self.terms.extend((s, a, -e) for s, a, e in other.terms)
        self.dims = _dims_combine(self.dims, other.dims, sign)
        self.specials.extend(other.specials)
        return self


_DIGITS = re.compile(r"[0-9]+")
# Limits that keep hostile unit strings (from data) cheap to reject. UCUM sets
# none; real units stay far below them.
_MAX_NESTING = 32
_MAX_FACTOR_DIGITS = 30
_MAX_EXPONENT = 100


class _Parser:
    """Recursive-descent parser for the UCUM grammar (c/s form)."""

    __slots__ = ("text", "pos", "depth")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, reason: str) -> UcumError:
        return UcumError(f"Invalid UCUM unit '{self.text}': {reason}")

    def parse(self) -> _Parsed:
        # A leading solidus divides the unity by the first component only:
        # '/[pi].A/m' is ((1/[pi]).A)/m.
        result = self.term(_unity() if self.text.startswith("/") else None)
        if self.pos != len(self.text):
            raise self.error(f"unexpected '{self.text[self.pos]}' at position {self.pos + 1}")
        return result

    def term(self, first: _Parsed | None = None) -> _Parsed:
        result = self.component() if first is None else first
        text = self.text
        while self.pos < len(text) and text[self.pos] in "./":
            sign = 1 if text[self.pos] == "." else -1
            self.pos += 1
            result = result.combine(self.component(), sign)
        return result

    def component(self) -> _Parsed:
        text, start = self.text, self.pos
        if start >= len(text):
            raise self.error("a unit is missing at the end")
        ch = text[start]
        if ch == "(":
            self.depth += 1
            if self.depth > _MAX_NESTING:
                raise self.error("parentheses nested too deeply")
            self.pos += 1
            inner = self.term()
            self.depth -= 1
            if self.pos >= len(text) or text[self.pos] != ")":
                raise self.error("missing ')'")
            self.pos += 1
            return inner
        if ch in "./)":
            raise self.error(f"a unit is missing before '{ch}' at position {start + 1}")
        # Read one component: up to the next top-level operator or parenthesis;
        # brackets and braces are read whole.
        pos, annotation_at = start, -1
        while pos < len(text) and text[pos] not in "./()":
            c = text[pos]
            if c == "[":
                end = text.find("]", pos)
                if end < 0:
                    raise self.error("missing ']'")
                pos = end + 1
            elif c == "{":
                end = text.find("}", pos)
                if end < 0:
                    raise self.error("missing '}'")
                annotation_at, pos = pos, end + 1
                break
            elif c in "]}":
                raise self.error(f"unexpected '{c}' at position {pos + 1}")
            else:
                pos += 1
        self.pos = pos
        if pos < len(text) and text[pos] not in "./)":
            raise self.error(f"unexpected '{text[pos]}' at position {pos + 1}")
        if annotation_at >= 0:
            body, annotation = text[start:annotation_at], text[annotation_at:pos]
            if any(not 33 <= ord(c) <= 126 or c in "{}" for c in annotation[1:-1]):
                raise self.error(f"invalid character in annotation {annotation}")
        else:
            body, annotation = text[start:pos], ""
        return self.simple(body, annotation)

    def simple(self, body: str, annotation: str) -> _Parsed:
        if not body:  # an annotation on its own stands for the unity
            return _Parsed(Fraction(1), (), [("", annotation, 1)], Fraction(1), [])
        if _DIGITS.fullmatch(body):
            if annotation:
                raise self.error(f"a number cannot carry an annotation: {body}{annotation}")
            if len(body) > _MAX_FACTOR_DIGITS:
                raise self.error(f"the factor {body[:20]}... is too large")
            return _Parsed(Fraction(int(body)), (), [], Fraction(int(body)), [])
        # The exponent is the trailing run of digits with an optional sign (no
        # UCUM atom ends with a digit outside brackets: '10*3' is 10* cubed).
        cut = len(body)
        while cut > 0 and body[cut - 1] in "0123456789":
            cut -= 1
        if cut < len(body) and cut > 0 and body[cut - 1] in "+-":
            cut -= 1
        symbol, exp_text = body[:cut], body[cut:]
        if not symbol:
            raise self.error(f"invalid component '{body}'")
        if any(not 33 <= ord(c) <= 126 for c in symbol):
            raise self.error(f"invalid character in '{symbol}'")
        if len(exp_text.lstrip("+-")) > 3 or (exp_text and abs(int(exp_text)) > _MAX_EXPONENT):
            raise self.error(f"the exponent of '{symbol}' is too large")
        exp = int(exp_text) if exp_text else 1
        factor, atom_code, atom = _resolve_symbol(symbol)
        if atom is None:
            raise self.error(f"unknown unit '{symbol}'")
        return _Parsed(factor**exp, _dims_power(atom.dims, exp), [(symbol, annotation, exp)], Fraction(1),
                       [atom_code] if atom.special else [])


def _unity() -> _Parsed:
    return _Parsed(Fraction(1), (), [], Fraction(1), [])


def _resolve_symbol(symbol: str) -> tuple[Fraction, str, _Atom | None]:
    """An atom, or a prefix followed by a metric atom."""
    atom = _atom(symbol)
    if atom is not None:
        return atom.factor, symbol, atom
    if len(symbol) > 1:
        for prefix in _TWO_LETTER_PREFIXES:
            if symbol.startswith(prefix) and len(symbol) > 2:
                atom = _atom(symbol[2:])
                if atom is not None and atom.metric:
                    return _PREFIXES[prefix] * atom.factor, symbol[2:], atom
        prefix_factor = _PREFIXES.get(symbol[0])
        if prefix_factor is not None:
            atom = _atom(symbol[1:])
            if atom is not None and atom.metric:
                return prefix_factor * atom.factor, symbol[1:], atom
    return Fraction(1), symbol, None


# ---------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Unit:
    """A parsed unit.

    ``factor`` is the magnitude of one unit in canonical base units and
    ``dims`` its dimension: sorted ``(base, exponent)`` pairs over the UCUM
    base units (``m s g rad K C cd``) plus one dimension per arbitrary unit.
    ``terms`` and ``multiplier`` keep the unit as written (used to build
    product and quotient units). ``special`` names a non-linear atom the unit
    contains; ``affine`` is set when the unit is a lone ``Cel``, ``[degF]`` or
    ``[degRe]`` (kelvin = value * scale + offset). ``calendar`` is the
    singular keyword of a CQL calendar duration (its factor and dimension are
    those of the UCUM counterpart).
    """

    code: str
    factor: Fraction
    dims: Dims
    terms: tuple[Term, ...] = ()
    multiplier: Fraction = Fraction(1)
    special: str | None = None
    affine: tuple[Fraction, Fraction] | None = None
    calendar: str | None = None

    @property
    def variable_calendar(self) -> bool:
        """True for the calendar durations of variable length (years, months)."""
        return self.calendar in _VARIABLE_CALENDAR

    @property
    def is_unity(self) -> bool:
        """True for the unity ``'1'`` (and the empty unit)."""
        return not self.terms and self.multiplier == 1 and self.calendar is None


@lru_cache(maxsize=4096)
def parse_unit(unit: str) -> Unit:
    """Parse a UCUM unit (case-sensitive form) or CQL calendar keyword.

    Raises :class:`UcumError` when the unit is not valid. The empty string is
    taken as the unity ``'1'`` (a quantity without unit).
    """
    if not isinstance(unit, str):
        raise UcumError(f"Invalid unit {unit!r}: not a string")
    if unit in ("1", ""):
        return Unit(unit, Fraction(1), ())
    keyword = CALENDAR_UNITS.get(unit)
    if keyword is not None:
        counterpart = parse_unit(keyword[1])
        return Unit(unit, counterpart.factor, counterpart.dims, counterpart.terms, calendar=keyword[0])
    parsed = _Parser(unit).parse()
    special = parsed.specials[0] if parsed.specials else None
    if special is not None and (len(parsed.terms) != 1 or parsed.terms[0][2] != 1 or parsed.multiplier != 1):
        raise UcumError(f"Invalid UCUM unit '{unit}': the special unit {special} cannot be combined "
                        "with other units or exponents")
    affine = None
    if special in _AFFINE and len(parsed.terms) == 1 and parsed.terms[0] == (special, "", 1) \
            and parsed.multiplier == 1:
        affine = _AFFINE[special]
    return Unit(unit, parsed.factor, parsed.dims, tuple(parsed.terms), parsed.multiplier, special, affine)


def is_valid_unit(unit: str) -> bool:
    """True for a valid UCUM unit or CQL calendar duration keyword."""
    try:
        parse_unit(unit)
    except UcumError:
        return False
    return True


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

#: A conversion: value_in_target = value * scale + offset.
Conversion = tuple[Fraction, Fraction]

_ZERO = Fraction(0)


@lru_cache(maxsize=4096)
def conversion(from_unit: str, to_unit: str, equivalence: bool = False) -> Conversion | None:
    """The conversion from ``from_unit`` to ``to_unit``, or None when the units
    are not commensurable under CQL's rules.

    With ``equivalence`` the relaxed calendar rules of CQL equivalence apply
    (``1 year ~ 1 'a'``, ``1 year ~ 365 days``). Raises :class:`UcumError` for
    an invalid unit and :class:`~cql.errors.CqlUnsupportedError` for a
    conversion involving a non-linear unit other than a lone ``Cel``,
    ``[degF]`` or ``[degRe]``.
    """
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    if from_unit == to_unit:
        return Fraction(1), _ZERO
    f_source, f_target = source.factor, target.factor
    if source.variable_calendar != target.variable_calendar:
        # A year or month against another unit: never commensurable, except
        # for equivalence with another duration.
        if not equivalence:
            return None
        variable, other = (source, target) if source.variable_calendar else (target, source)
        if other.dims != _TIME or other.special:
            return None
        if other.calendar is not None:
            # Calendar semantics: 1 year ~ 365 days, 1 month ~ 30 days.
            exact = _VARIABLE_CALENDAR[variable.calendar or ""]
            if variable is source:
                f_source = exact
            else:
                f_target = exact
        # Against a UCUM duration: its UCUM counterpart ('a', 'mo').
    if source.dims != target.dims:
        return None
    if source.special or target.special:
        if source.special and target.special and source.terms == target.terms \
                and source.multiplier == target.multiplier:
            return Fraction(1), _ZERO  # the same unit spelled differently
        if (source.special and source.affine is None) or (target.special and target.affine is None):
            raise CqlUnsupportedError(
                f"Conversion from '{from_unit}' to '{to_unit}' is not supported: "
                f"{source.special or target.special} is a non-linear unit")
        # Affine temperature scales: go through kelvin.
        s_scale, s_offset = source.affine or (f_source, _ZERO)
        t_scale, t_offset = target.affine or (f_target, _ZERO)
        return s_scale / t_scale, (s_offset - t_offset) / t_scale
    return f_source / f_target, _ZERO


def commensurable(u1: str, u2: str) -> bool:
    """True when a quantity in ``u1`` can be converted to ``u2`` (CQL rules:
    years and months convert only to each other). False as well when the
    conversion needs a non-linear unit this module does not convert. Raises
    :class:`UcumError` for an invalid unit."""
    try:
        return conversion(u1, u2) is not None
    except CqlUnsupportedError:
        return False


def _apply(value: Decimal, conv: Conversion) -> Decimal:
    """value * scale + offset, exact where the result terminates, else to 60 digits."""
    scale, offset = conv
    result = value
    if scale != 1:
        result = CONTEXT.multiply(result, Decimal(scale.numerator))
        if scale.denominator != 1:
            result = CONTEXT.divide(result, Decimal(scale.denominator))
    if offset:
        result = CONTEXT.add(result, CONTEXT.divide(Decimal(offset.numerator), Decimal(offset.denominator)))
    return result


def apply_conversion(value: Decimal, conv: Conversion) -> Decimal:
    """Convert ``value`` with a :func:`conversion`, unrounded (60 digits)."""
    return _apply(value, conv)


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal | None:
    """Convert ``value`` from ``from_unit`` to ``to_unit``; None when the units
    are not commensurable. The result is rounded to CQL's Decimal scale."""
    conv = conversion(from_unit, to_unit)
    if conv is None:
        return None
    return make_decimal(_apply(value, conv))


def canonical(unit: str) -> tuple[Fraction, str]:
    """The magnitude of ``unit`` in base units and the base units as a UCUM
    string: ``canonical('mg/dL') == (Fraction(10), 'g.m-3')``."""
    parsed = parse_unit(unit)
    if parsed.special and parsed.affine is None:
        raise CqlUnsupportedError(f"'{unit}' is a non-linear unit and has no canonical form")
    factor = parsed.affine[0] if parsed.affine else parsed.factor
    text = ".".join(f"{base}{exp if exp != 1 else ''}" for base, exp in parsed.dims) or "1"
    return factor, text


# ---------------------------------------------------------------------------
# Unit algebra
# ---------------------------------------------------------------------------

def _combine(u1: Unit, u2: Unit, sign: int) -> tuple[Fraction, str]:
    """Product (sign 1) or quotient (sign -1) of two units: the number to
    multiply the value by and the unit of the result."""
    if u2.is_unity:
        return Fraction(1), u1.code if u1.code else "1"
    if u1.is_unity and sign > 0:
        return Fraction(1), u2.code
    if sign < 0 and (u1.code == u2.code or (u1.calendar is not None and u1.calendar == u2.calendar)):
        return Fraction(1), "1"
    if u1.variable_calendar or u2.variable_calendar:
        if sign < 0 and u1.variable_calendar and u2.variable_calendar:
            return u1.factor / u2.factor, "1"  # years per month
        raise CqlUnsupportedError(
            f"Cannot {'multiply' if sign > 0 else 'divide'} '{u1.code}' and '{u2.code}': calendar durations "
            "of years and months only combine with dimensionless quantities")
    if u1.special or u2.special:
        raise CqlUnsupportedError(
            f"Cannot {'multiply' if sign > 0 else 'divide'} '{u1.code}' and '{u2.code}': "
            f"{u1.special or u2.special} is a non-linear unit")
    exponents: dict[tuple[str, str], int] = {}
    for symbol, annotation, exp in u1.terms:
        exponents[symbol, annotation] = exponents.get((symbol, annotation), 0) + exp
    for symbol, annotation, exp in u2.terms:
        exponents[symbol, annotation] = exponents.get((symbol, annotation), 0) + sign * exp
    multiplier = u1.multiplier * u2.multiplier if sign > 0 else u1.multiplier / u2.multiplier
    numerator: list[str] = []
    denominator: list[str] = []
    if multiplier.numerator != 1:
        numerator.append(str(multiplier.numerator))
    if multiplier.denominator != 1:
        denominator.append(str(multiplier.denominator))
    for (symbol, annotation), exp in exponents.items():
        if exp == 0:
            continue
        side = numerator if exp > 0 else denominator
        if symbol:
            side.append(f"{symbol}{abs(exp) if abs(exp) != 1 else ''}{annotation}")
        else:  # a lone annotation takes no exponent: repeat it
            side.extend([annotation] * abs(exp))
    text = ".".join(numerator)
    if denominator:
        text += "/" + "/".join(denominator)
    return Fraction(1), text or "1"


def multiply_units(u1: str, u2: str) -> str:
    """UCUM unit of the product of quantities in ``u1`` and ``u2``: equal
    symbols are merged (``'cm' * 'cm'`` -> ``'cm2'``), nothing is converted
    (``'m' * 'cm'`` -> ``'m.cm'``). Calendar keywords from week down become
    their UCUM units. Raises :class:`~cql.errors.CqlUnsupportedError` for
    years, months and non-linear units combined with other units."""
    factor, unit = _combine(parse_unit(u1), parse_unit(u2), 1)
    if factor != 1:  # pragma: no cover - products never need a factor
        raise CqlUnsupportedError(f"Cannot multiply '{u1}' and '{u2}'")
    return unit


def divide_units(u1: str, u2: str) -> str:
    """UCUM unit of the quotient of quantities in ``u1`` and ``u2``
    (``'g' / 'g'`` -> ``'1'``, ``'cm2' / 'cm'`` -> ``'cm'``,
    ``'mg' / 'dL'`` -> ``'mg/dL'``). Raises
    :class:`~cql.errors.CqlUnsupportedError` where :func:`multiply_units`
    does, and for a year/month quotient (which needs a factor: use
    :func:`quotient`)."""
    factor, unit = _combine(parse_unit(u1), parse_unit(u2), -1)
    if factor != 1:
        raise CqlUnsupportedError(f"The quotient of '{u1}' and '{u2}' needs a conversion factor")
    return unit


def product(u1: str, u2: str) -> tuple[Fraction, str]:
    """Like :func:`multiply_units`, with the factor to apply to the value."""
    return _combine(parse_unit(u1), parse_unit(u2), 1)


def quotient(u1: str, u2: str) -> tuple[Fraction, str]:
    """Like :func:`divide_units`, with the factor to apply to the value
    (12 for years per month)."""
    return _combine(parse_unit(u1), parse_unit(u2), -1)
