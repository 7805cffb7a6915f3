"""Working days and working hours of the Russian calendar: weekends, public holidays, the
government's transfers of days off (a Saturday that is worked, a Friday that is not).

The inspectorate judges how companies handle tickets filed on non-working days, and a
company may count its routine deadlines in working hours; both rest on one question, "is
this local date a working day?", answered here from the `holidays` package (its Russian
calendar carries the yearly transfer decrees). Pure: dates and local times in, the same out.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

COUNTRY = "RU"


@lru_cache(maxsize=64)
def _calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(COUNTRY, years=[year], language="ru")


def is_nonworking(day: date) -> bool:
    """A weekend (unless the government made it a working day) or a public holiday."""
    return not _calendar(day.year).is_working_day(day)


def holiday_name(day: date) -> str | None:
    """The holiday's Russian name ('День народного единства'), or None for other days."""
    return _calendar(day.year).get(day)


def add_working_time(start: datetime, duration: timedelta, hours: tuple[int, int]) -> datetime:
    """`start + duration` counting only the local hours [opens, closes) of working days.

    `start` is local (aware, in the company's zone). Time outside working hours does not
    run: a ticket filed on Saturday starts its clock on Monday at opening time. The result
    is local too; daylight-saving changes are not an issue in Russia (no DST since 2014).
    """
    opens, closes = hours
    if not 0 <= opens < closes <= 24:
        raise ValueError(f"working hours {opens}–{closes} are not a range within a day")
    t, remaining = start, duration
    while True:
        if is_nonworking(t.date()):
            t = _next_opening(t, opens)
            continue
        day_open = t.replace(hour=opens, minute=0, second=0, microsecond=0)
        day_close = day_open + timedelta(hours=closes - opens)
        if t < day_open:
            t = day_open
        if t >= day_close:
            t = _next_opening(t, opens)
            continue
        available = day_close - t
        if remaining <= available:
            return t + remaining
        remaining -= available
        t = _next_opening(t, opens)


def working_duration(duration: timedelta, hours: tuple[int, int]) -> timedelta:
    """A deadline written in calendar time, as working time: whole days become working days
    (a 24-hour deadline is one working day, not 24 working hours); shorter ones stay hours."""
    day = timedelta(days=1)
    if duration >= day and duration % day == timedelta(0):
        return (duration // day) * timedelta(hours=hours[1] - hours[0])
    return duration


def _next_opening(t: datetime, opens: int) -> datetime:
    """Opening time of the next day after `t`'s date (working or not: the loop checks)."""
    following = t.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return following.replace(hour=opens)


def at_work(local: datetime, hours: tuple[int, int]) -> bool:
    """Whether `local` falls in the working hours [opens, closes) of a working day.

    0–24 means round the clock, every day (a dispatch that never closes).
    """
    if hours == (0, 24):
        return True
    return not is_nonworking(local.date()) and hours[0] <= local.hour < hours[1]


def next_opening(local: datetime, hours: tuple[int, int]) -> datetime:
    """The moment working hours next begin at or after `local` (local, aware)."""
    return add_working_time(local, timedelta(0), hours)
