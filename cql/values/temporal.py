"""Placeholder: Date, DateTime and Time are being written (see the engine notes)."""

from enum import IntEnum


class Precision(IntEnum):
    YEAR = 0
    MONTH = 1
    WEEK = 2
    DAY = 3
    HOUR = 4
    MINUTE = 5
    SECOND = 6
    MILLISECOND = 7


class Date:  # replaced by the temporal module
    pass


class DateTime:  # replaced by the temporal module
    pass


class Time:  # replaced by the temporal module
    pass
