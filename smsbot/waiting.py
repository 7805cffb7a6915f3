"""When a thread "waiting for the resident" comes back by itself: the morning of the day
the dispatcher picked, in the company's time zone. Pure.

A dispatcher who asks a resident for a meter photo picks "by Friday"; on Friday at the
start of the working day the thread is in the open list again, answered or not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

BACK_AT = time(9, 0)
"""The local time a waiting thread returns on its day: when the dispatch desk fills up."""
MAX_DAYS = 366
"""Further than a year is a typing slip, not a plan."""


def until(raw: str, tz: str) -> datetime:
    """The UTC moment a thread waiting until the day `raw` (YYYY-MM-DD) comes back.

    ValueError for anything that is not such a date.
    """
    day = date.fromisoformat(raw.strip())
    local = datetime.combine(day, BACK_AT, tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)
