"""The Russian working calendar: weekends, public holidays, the transfers of days off, and
deadlines that count working hours only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbot import workdays
from smsbot.deadlines import compute

MSK = ZoneInfo("Europe/Moscow")
HOURS = (9, 18)


def msk(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


@pytest.mark.parametrize(
    ("day", "nonworking"),
    [
        (date(2026, 12, 2), False),  # a Wednesday
        (date(2026, 12, 5), True),  # Saturday
        (date(2026, 12, 6), True),  # Sunday
        (date(2026, 11, 4), True),  # Unity Day, a Wednesday
        (date(2026, 1, 1), True),
        (date(2026, 1, 8), True),  # New Year holidays run to the 8th
        (date(2026, 1, 9), True),  # a Friday off, moved from Saturday 3 January
        (date(2026, 1, 12), False),
        (date(2026, 12, 31), True),  # moved from Sunday 4 January
        (date(2026, 3, 9), True),  # 8 March fell on a Sunday
        (date(2026, 6, 12), True),  # Russia Day
        (date(2027, 2, 20), False),  # a Saturday the government made a working day
        (date(2027, 2, 22), True),  # the Monday off it was moved to
    ],
)
def test_working_and_nonworking_days(day, nonworking):
    assert workdays.is_nonworking(day) is nonworking


def test_holidays_have_russian_names():
    assert workdays.holiday_name(date(2026, 11, 4)) == "День народного единства"
    assert workdays.holiday_name(date(2026, 12, 2)) is None


def test_whole_days_become_working_days_and_hours_stay_hours():
    assert workdays.working_duration(timedelta(days=1), HOURS) == timedelta(hours=9)
    assert workdays.working_duration(timedelta(days=7), HOURS) == timedelta(hours=63)
    assert workdays.working_duration(timedelta(hours=2), HOURS) == timedelta(hours=2)
    assert workdays.working_duration(timedelta(hours=36), HOURS) == timedelta(hours=36)


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        (msk(2026, 12, 2, 10), timedelta(hours=2), msk(2026, 12, 2, 12)),
        # across the evening: 1 h today, 1 h from 09:00 tomorrow
        (msk(2026, 12, 2, 17), timedelta(hours=2), msk(2026, 12, 3, 10)),
        # filed at night: the clock starts at 09:00
        (msk(2026, 12, 2, 23, 30), timedelta(hours=1), msk(2026, 12, 3, 10)),
        # Friday evening to Monday
        (msk(2026, 12, 4, 17), timedelta(hours=9), msk(2026, 12, 7, 17)),
        # filed on Saturday: starts Monday
        (msk(2026, 12, 5, 11), timedelta(hours=9), msk(2026, 12, 7, 18)),
        # over Unity Day (Wednesday 4 November)
        (msk(2026, 11, 3, 12), timedelta(hours=9), msk(2026, 11, 5, 12)),
        # the change of month
        (msk(2026, 9, 30, 15), timedelta(hours=9), msk(2026, 10, 1, 15)),
        # the New Year holidays: 30 December to 11 January (31 December is a day off too)
        (msk(2026, 12, 30, 17), timedelta(hours=9), msk(2027, 1, 11, 17)),
        # exactly at closing time nothing is left of the day
        (msk(2026, 12, 2, 18), timedelta(minutes=30), msk(2026, 12, 3, 9, 30)),
        (msk(2026, 12, 2, 9), timedelta(hours=9), msk(2026, 12, 2, 18)),
    ],
)
def test_add_working_time(start, duration, end):
    assert workdays.add_working_time(start, duration, HOURS) == end


def test_working_hours_must_be_a_range():
    with pytest.raises(ValueError):
        workdays.add_working_time(msk(2026, 12, 2), timedelta(hours=1), (18, 9))


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 1)),
    st.integers(min_value=1, max_value=60 * 24 * 10),
)
def test_working_time_never_ends_outside_working_hours(start, minutes):
    start = start.replace(tzinfo=MSK)
    end = workdays.add_working_time(start, timedelta(minutes=minutes), HOURS)
    assert end > start
    assert not workdays.is_nonworking(end.date())
    assert HOURS[0] * 60 < end.hour * 60 + end.minute + end.second / 60 <= HOURS[1] * 60


# --- deadlines on the working-hours clock -------------------------------------------------------


def test_routine_ticket_on_working_hours_waits_for_monday():
    filed = msk(2026, 12, 4, 17).astimezone(UTC)  # Friday 17:00
    on_clock = compute("other", filed)
    working = compute("other", filed, working_hours=HOURS)
    assert on_clock.due_at == filed + timedelta(hours=24)
    assert working.due_at == msk(2026, 12, 7, 17).astimezone(UTC)  # Monday 17:00


def test_warning_comes_at_80_percent_of_the_time_on_the_same_clock():
    filed = msk(2026, 12, 2, 12).astimezone(UTC)
    assert compute("other", filed).warn_at == filed + timedelta(hours=24) * 0.8
    assert compute("gas_smell", filed).warn_at == filed + timedelta(minutes=24)
    assert compute("other", filed, warn_percent=50).warn_at == filed + timedelta(hours=12)
    # 9 working hours from Wednesday noon: 80% is 7 h 12 min → Thursday 10:12
    working = compute("other", filed, working_hours=HOURS)
    assert working.warn_at == msk(2026, 12, 3, 10, 12).astimezone(UTC)
    assert working.due_at == msk(2026, 12, 3, 12).astimezone(UTC)


def test_deadline_across_midnight_and_the_change_of_month():
    filed = msk(2026, 11, 30, 23, 50).astimezone(UTC)
    due = compute("sewer_blockage", filed).due_at
    assert due.astimezone(MSK) == msk(2026, 12, 1, 1, 50)
    assert compute("other", filed).due_at.astimezone(MSK) == msk(2026, 12, 1, 23, 50)
