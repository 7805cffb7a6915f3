"""Whether a meter reading can be accepted: kinds and units, the submission window and
plausibility. Pure: the caller looks up the last reading and the company's window.

Water is read in m³ (the black digits; the red ones are litres), electricity in kWh (day T1
07–23, night T2 23–07, or a single-rate meter), heating in Гкал, gas in m³. Readings received
by the 25th count for the month; companies use windows like 15–25, 20–25 or 19–23.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

COLD = "cold"
HOT = "hot"
ELECTRICITY = "electricity"
"""A single-rate electricity meter."""
DAY = "electricity_day"
"""Day rate T1 of a two-rate electricity meter."""
NIGHT = "electricity_night"
"""Night rate T2 of a two-rate electricity meter."""
HEAT = "heating"
GAS = "gas"

KINDS = (COLD, HOT, ELECTRICITY, DAY, NIGHT, HEAT, GAS)

UNITS = {
    COLD: "m3",
    HOT: "m3",
    ELECTRICITY: "kwh",
    DAY: "kwh",
    NIGHT: "kwh",
    HEAT: "gcal",
    GAS: "m3",
}
"""Unit codes; templates name them (м³, кВт·ч, Гкал)."""

MONTHLY_MAX = {
    COLD: Decimal(40),
    HOT: Decimal(25),
    ELECTRICITY: Decimal(3000),
    DAY: Decimal(2500),
    NIGHT: Decimal(1500),
    HEAT: Decimal(6),
    GAS: Decimal(200),
}
"""The most one flat can plausibly use in a month; a larger jump is a typo (an extra digit,
the red litre digits read as whole m³) and is refused, to be sent again or given to the
dispatcher."""

MAX_VALUE = Decimal("99999999.999")
"""Meter drums have at most eight whole digits; readings keep at most three decimals."""

DEFAULT_WINDOW = (15, 25)
"""Days of the month readings are taken when the company sets nothing else."""

LOWER = "lower"
"""Lower than the last accepted reading of an earlier month."""
TOO_HIGH = "too_high"
"""More than the plausible use since the last reading."""
MALFORMED = "malformed"
"""Too many digits or decimals to be read off a meter."""


@dataclass(frozen=True)
class Window:
    """The days of each month (inclusive) readings are accepted."""

    start: int = DEFAULT_WINDOW[0]
    end: int = DEFAULT_WINDOW[1]

    def __post_init__(self) -> None:
        if not (1 <= self.start <= self.end <= 31):
            raise ValueError(
                f"window days must satisfy 1 <= start <= end <= 31, got {self.start}-{self.end}"
            )

    def bounds(self, day: date) -> tuple[date, date]:
        """This month's first and last day of the window (clamped to the month's length)."""
        last = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=min(self.start, last)), day.replace(day=min(self.end, last))

    def is_open(self, day: date) -> bool:
        first, last = self.bounds(day)
        return first <= day <= last

    def next_opening(self, day: date) -> tuple[date, date]:
        """The window that is open on `day` or the next one to open: (first, last day)."""
        first, last = self.bounds(day)
        if day <= last:
            return first, last
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return self.bounds(following)


def period_of(day: date) -> date:
    """The month a reading taken on `day` counts for, as its first day."""
    return day.replace(day=1)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def check(
    kind: str,
    value: Decimal,
    *,
    previous: Decimal | None,
    previous_period: date | None,
    period: date,
) -> str | None:
    """Why a reading for `period` cannot be accepted, or None when it can.

    previous: the last accepted reading of an earlier month (None for a new meter), taken
    in `previous_period`.
    """
    if value < 0 or value > MAX_VALUE or value.as_tuple().exponent < -3:
        return MALFORMED
    if previous is None:
        return None
    if value < previous:
        return LOWER
    months = max(1, months_between(previous_period, period)) if previous_period else 1
    if value - previous > MONTHLY_MAX[kind] * months:
        return TOO_HIGH
    return None
