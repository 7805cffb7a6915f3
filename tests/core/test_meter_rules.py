"""Meter readings: the submission window and plausibility."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from smsbot import meter_rules as mr
from smsbot.meter_rules import Window, check, period_of

NOV = date(2026, 11, 1)
OCT = date(2026, 10, 1)


def test_default_window_is_the_15th_to_the_25th():
    window = Window()
    assert not window.is_open(date(2026, 11, 14))
    assert window.is_open(date(2026, 11, 15)) and window.is_open(date(2026, 11, 25))
    assert not window.is_open(date(2026, 11, 26))


def test_next_window():
    window = Window(20, 25)
    assert window.next_opening(date(2026, 11, 3)) == (date(2026, 11, 20), date(2026, 11, 25))
    assert window.next_opening(date(2026, 11, 22)) == (date(2026, 11, 20), date(2026, 11, 25))
    assert window.next_opening(date(2026, 12, 28)) == (date(2027, 1, 20), date(2027, 1, 25))


def test_a_window_to_the_31st_closes_with_a_short_month():
    window = Window(25, 31)
    assert window.is_open(date(2026, 2, 28))
    assert window.bounds(date(2026, 2, 10)) == (date(2026, 2, 25), date(2026, 2, 28))


@pytest.mark.parametrize(("start", "end"), [(0, 10), (10, 5), (1, 32)])
def test_nonsense_windows_are_refused(start, end):
    with pytest.raises(ValueError):
        Window(start, end)


def test_period_is_the_first_of_the_month():
    assert period_of(date(2026, 11, 22)) == NOV


@pytest.mark.parametrize(
    ("value", "previous", "previous_period", "reason"),
    [
        ("123.4", None, None, None),  # a new meter takes anything readable
        ("123.4", "120", OCT, None),
        ("120", "120", OCT, None),  # nothing used
        ("119.9", "120", OCT, mr.LOWER),
        ("160.1", "120", OCT, mr.TOO_HIGH),  # 40.1 m³ of cold water in a month
        ("160", "120", OCT, None),
        ("1200", "120", OCT, mr.TOO_HIGH),  # an extra digit
        ("200", "120", date(2026, 8, 1), None),  # three months since the last reading
        ("123.4567", None, None, mr.MALFORMED),
        ("123456789", None, None, mr.MALFORMED),
    ],
)
def test_check_cold_water(value, previous, previous_period, reason):
    prev = Decimal(previous) if previous else None
    assert (
        check(mr.COLD, Decimal(value), previous=prev, previous_period=previous_period, period=NOV)
        == reason
    )


def test_every_kind_has_a_unit_and_a_limit():
    assert set(mr.UNITS) == set(mr.KINDS) == set(mr.MONTHLY_MAX)
