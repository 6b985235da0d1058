"""Clinical operators: ages from the patient's birth date and CalculateAge..."""

from __future__ import annotations

import pytest

import cql
from cql.values import Interval

from .data import patient_resources
from .util import evaluate, one

# p1 was born 1952-05-15; the evaluation is at 2026-01-15T12:00:00Z.


def test_ages_of_the_context_patient() -> None:
    result = evaluate({
        "Years": "AgeInYears()", "Months": "AgeInMonths()", "Weeks": "AgeInWeeks()", "Days": "AgeInDays()",
        "Years at": "AgeInYearsAt(@2022-05-14)", "Years at birthday": "AgeInYearsAt(@2022-05-15)",
        "Months at": "AgeInMonthsAt(@1953-05-14)",
    })
    assert result == {"Years": 73, "Months": 884, "Weeks": 3844, "Days": 26908, "Years at": 69,
                      "Years at birthday": 70, "Months at": 11}


def test_finer_ages_of_a_date_birth_date_are_uncertain() -> None:
    hours = one("AgeInHours()")
    assert isinstance(hours, Interval)
    # Born some time on 1952-05-15: between 26908 days minus 12 hours and 26908 days plus 12 hours.
    assert hours.low == 26908 * 24 - 12 and hours.high == 26908 * 24 + 12


def test_calculate_age() -> None:
    result = evaluate({
        "At": "CalculateAgeInYearsAt(@2000-03-01, @2001-02-28)",
        "At leap": "CalculateAgeInYearsAt(@2000-02-29, @2001-03-01)",
        "Days": "CalculateAgeInDaysAt(@2025-12-31, @2026-01-15)",
        "Hours": "CalculateAgeInHoursAt(@2026-01-15T00:00:00Z, @2026-01-15T11:59:00Z)",
        "Minutes": "CalculateAgeInMinutesAt(@2026-01-15T11:00:00Z, @2026-01-15T12:00:00Z)",
        "Seconds": "CalculateAgeInSecondsAt(@2026-01-15T11:59:00Z, @2026-01-15T12:00:00Z)",
        "Now": "CalculateAgeInYears(@2000-01-16)",
        "Now datetime": "CalculateAgeInMonths(@2025-12-15T12:00:00Z)",
        "Null": "CalculateAgeInYearsAt(null as Date, @2020-01-01)",
    })
    assert result == {"At": 0, "At leap": 1, "Days": 15, "Hours": 11, "Minutes": 60, "Seconds": 60, "Now": 25,
                      "Now datetime": 1, "Null": None}


def test_age_without_a_birth_date_is_null() -> None:
    resources = patient_resources()
    del resources[0]["birthDate"]
    assert one("AgeInYears()", data=resources) is None
    assert one("AgeInYearsAt(@2020-01-01)", data=resources) is None


def test_imprecise_birth_date() -> None:
    # p2 was born in 1990 (year only): at 2026-01-15 the age is 35 or 36.
    age = one("AgeInYears()", patient_id="p2")
    assert age == Interval(35, 36, True, True, "Integer")
    assert one("AgeInYears() >= 18", patient_id="p2") is True
    assert one("AgeInYears() > 35", patient_id="p2") is None
    assert evaluate({"Age": "AgeInYears()", "Adult": "\"Age\" >= 18"}, patient_id="p2")["Adult"] is True


def test_age_needs_patient_data() -> None:
    lib = cql.compile_library("library T version '1' define X: AgeInYears()")
    with pytest.raises(cql.CqlRuntimeError, match="patient"):
        lib.evaluate(None)
