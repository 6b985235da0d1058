"""The structure of rule-set test files (``tests/*.yaml``)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class TestCase(BaseModel):
    """One hook request and the card ids that must and must not appear."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    __test__ = False  # not a pytest test class

    name: str = Field(min_length=1)
    patient: str | None = Field(None, description="FHIR R4 Bundle of the patient's data, relative to the test file")
    request: str = Field(description="CDS Hooks request (hook, hookInstance, context), relative to the test file")
    service: str | None = Field(None, description="default: the rule set's service for the request's hook")
    expect: list[str] = Field(default_factory=list, description="card ids that must appear")
    absent: list[str] = Field(default_factory=list, description="card ids that must not appear")


class TestFile(BaseModel):
    """A test file: optional date anchor and a list of cases."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    __test__ = False

    shiftDatesFrom: date | None = Field(
        None, description="FHIR dates in patients and requests move by (today - this date)")
    cases: list[TestCase] = Field(min_length=1)
