"""When a ticket must be dealt with, from its problem and the moment it was filed.

Defaults follow the reference table in DESIGN.md: decree 416 §13 (emergencies contained
within 30 minutes), Госстрой decree 170 annex 2 (repairs of common property) and ЕДС МО
practice (routine work within 24 hours). Each company may override any row; the override
replaces the row's durations. A company may also count routine deadlines in working hours
(smsbot.workdays); emergencies always run on the clock. Pure: times in, times out (the
company's time zone only matters for rules whose clock runs within some hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from smsbot import workdays

HEATING_SEASON_MONTHS = frozenset({10, 11, 12, 1, 2, 3, 4})
"""Months the heating is on in the Moscow region (it starts late September or early October
and ends late April or early May); "winter" for the rules that depend on the season."""

WARN_PERCENT = 80
"""How far into its time a ticket's company is warned that the deadline is near."""

ROUTINE = timedelta(hours=24)
"""Deadline of anything the table does not name (cleaning, intercom, other): ЕДС МО practice."""


def in_heating_season(day: date) -> bool:
    """Whether `day` falls in the heating season (no heating is then an emergency)."""
    return day.month in HEATING_SEASON_MONTHS


@dataclass(frozen=True)
class Rule:
    """How long a problem may take.

    contain: until the danger is contained or, for routine work, the work is done.
    repair: until the repair is done after containment (floods: 3 days), if the table says.
    off_season: `contain` outside the heating season, if it differs (broken glass: 3 days
    in summer, 1 in winter).
    hours: local hours the clock runs (rubbish chute: 08:00–23:00), or all day.
    """

    contain: timedelta
    repair: timedelta | None = None
    off_season: timedelta | None = None
    hours: tuple[int, int] | None = None


_MIN = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

DEFAULT_RULES: dict[str, Rule] = {
    "gas_smell": Rule(30 * _MIN),
    "fire": Rule(30 * _MIN),
    "lift_stuck": Rule(30 * _MIN),
    "flood": Rule(30 * _MIN, repair=3 * _DAY),
    "sparking": Rule(30 * _MIN),
    "power_out": Rule(30 * _MIN),
    "heating_out": Rule(30 * _MIN, repair=16 * _HOUR),
    "sewer_blockage": Rule(2 * _HOUR),
    "chute_blockage": Rule(2 * _HOUR, hours=(8, 23)),
    "roof_leak": Rule(_DAY),
    "lift_stopped": Rule(_DAY),
    "door_lock": Rule(_DAY),
    "broken_glass": Rule(_DAY, off_season=3 * _DAY),
    "common_tap_leak": Rule(_DAY),
    "stair_lighting": Rule(7 * _DAY),
    "roof_facade": Rule(5 * _DAY),
}
"""Problems whose deadline is not the routine 24 hours (keys of smsbot.categories.PROBLEMS)."""


@dataclass(frozen=True)
class Override:
    """A company's own deadline for a problem, in minutes (repair: none keeps no repair
    deadline)."""

    minutes: int
    repair_minutes: int | None = None


@dataclass(frozen=True)
class Deadline:
    """When the ticket must be contained (or done), and repaired where the rule says."""

    due_at: datetime
    repair_due_at: datetime | None = None
    warn_at: datetime | None = None
    """When the company is warned: `warn_percent` of the way from filing to `due_at`, counted
    on the same clock as the deadline (working hours when it runs in working hours)."""


def rule_for(problem: str, overrides: Mapping[str, Override] | None = None) -> Rule:
    """The rule in force for a problem at a company."""
    override = (overrides or {}).get(problem)
    if override is not None:
        repair = timedelta(minutes=override.repair_minutes) if override.repair_minutes else None
        return Rule(timedelta(minutes=override.minutes), repair=repair)
    return DEFAULT_RULES.get(problem, Rule(ROUTINE))


def compute(
    problem: str,
    filed_at: datetime,
    *,
    tz: str = "Europe/Moscow",
    overrides: Mapping[str, Override] | None = None,
    working_hours: tuple[int, int] | None = None,
    warn_percent: int = WARN_PERCENT,
) -> Deadline:
    """The deadline of a ticket about `problem` filed at `filed_at` (aware) at a company in
    time zone `tz` with its `overrides`.

    `working_hours` (local opening and closing hour) makes the clock run only in those hours
    of working days; the caller passes it for routine tickets of companies that chose it.
    """
    rule = rule_for(problem, overrides)
    local = filed_at.astimezone(ZoneInfo(tz))
    contain = rule.contain
    if rule.off_season is not None and not in_heating_season(local.date()):
        contain = rule.off_season
    share = min(max(warn_percent, 1), 99) / 100
    if working_hours is not None:
        work = workdays.working_duration(contain, working_hours)
        due = workdays.add_working_time(local, work, working_hours)
        warn = workdays.add_working_time(local, work * share, working_hours)
    elif rule.hours is not None:
        due = _within_hours(local, contain, rule.hours)
        warn = _within_hours(local, contain * share, rule.hours)
    else:
        due, warn = filed_at + contain, filed_at + contain * share
    repair = filed_at + rule.repair if rule.repair is not None else None
    return Deadline(
        due.astimezone(UTC),
        repair.astimezone(UTC) if repair else None,
        warn.astimezone(UTC),
    )


def _within_hours(start: datetime, duration: timedelta, hours: tuple[int, int]) -> datetime:
    """`start + duration` counting only the local hours [opens, closes) of each day."""
    opens, closes = hours
    t, remaining = start, duration
    while True:
        day_open = t.replace(hour=opens, minute=0, second=0, microsecond=0)
        day_close = t.replace(hour=closes, minute=0, second=0, microsecond=0)
        if t < day_open:
            t = day_open
        if t >= day_close:
            t = day_open + _DAY
            continue
        available = day_close - t
        if remaining <= available:
            return t + remaining
        remaining -= available
        t = day_open + _DAY
