"""A company's own deadline rules: its working-hours option, when it is warned, and its
overrides of the reference table (smsbot.deadlines.DEFAULT_RULES).

Changes apply to tickets filed from then on: a ticket keeps the deadline it was given when
it was filed, so nobody can move a deadline that has already been missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from smsbot import categories, deadlines
from smsbot.exceptions import Refused
from smsbot.models import Company, DeadlineOverride

WARN_PERCENT_RANGE = (50, 95)
"""A warning earlier than half-way is noise; later than 95% leaves no time to act."""
MAX_OVERRIDE_MINUTES = 30 * 24 * 60
"""No deadline longer than 30 days: the inspectorate's own norms are far shorter."""


@dataclass(frozen=True)
class RuleRow:
    """One problem's deadline as the company's page shows it."""

    problem: str
    category: str
    emergency: bool
    default_minutes: int
    minutes: int
    """In force: the override, or the default."""
    overridden: bool
    hours: tuple[int, int] | None
    """Local hours the clock runs for this problem by the reference table (rubbish chute)."""


def rules(session: Session, company: Company) -> list[RuleRow]:
    """Every problem with its default and its deadline in force at the company."""
    overrides = {
        o.problem: o
        for o in session.exec(
            select(DeadlineOverride).where(DeadlineOverride.company_id == company.id)
        )
    }
    rows = []
    for key, problem in categories.PROBLEMS.items():
        default = deadlines.rule_for(key)
        override = overrides.get(key)
        rows.append(
            RuleRow(
                problem=key,
                category=problem.category,
                emergency=problem.emergency,
                default_minutes=_minutes(default.contain),
                minutes=override.minutes if override else _minutes(default.contain),
                overridden=override is not None,
                hours=default.hours,
            )
        )
    return rows


def set_options(
    session: Session,
    company: Company,
    *,
    working_hours: bool,
    workday_start: int,
    workday_end: int,
    warn_percent: int,
) -> None:
    """Store the company's clock options, refusing ones that make no sense."""
    if not 0 <= workday_start < workday_end <= 24:
        raise Refused("The working day must start before it ends, between 0 and 24 hours.")
    low, high = WARN_PERCENT_RANGE
    if not low <= warn_percent <= high:
        raise Refused("Warn between {low}% and {high}% of a ticket's time.", low=low, high=high)
    company.working_hours_deadlines = working_hours
    company.workday_start, company.workday_end = workday_start, workday_end
    company.warn_percent = warn_percent
    session.add(company)


def set_override(session: Session, company: Company, problem: str, minutes: int | None) -> None:
    """Give a problem the company's own deadline, or (None) go back to the reference table."""
    if problem not in categories.PROBLEMS:
        raise Refused("Unknown problem.")
    session.execute(
        delete(DeadlineOverride).where(
            DeadlineOverride.company_id == company.id, DeadlineOverride.problem == problem
        )
    )
    if minutes is None:
        return
    if not 1 <= minutes <= MAX_OVERRIDE_MINUTES:
        raise Refused("A deadline is between 1 minute and 30 days.")
    default = deadlines.rule_for(problem)
    repair = _minutes(default.repair) if default.repair else None
    session.add(
        DeadlineOverride(
            company_id=company.id, problem=problem, minutes=minutes, repair_minutes=repair
        )
    )


def parse_duration(text: str) -> int | None:
    """'30' (minutes), '2 ч', '3 д', '90m', '1d' → minutes; '' → None (the default).

    Pure. Dispatchers write durations the way they say them; a bare number is minutes.
    """
    cleaned = text.strip().lower().replace(",", ".").rstrip(".").strip()
    if not cleaned:
        return None
    units = {"м": 1, "m": 1, "мин": 1, "min": 1, "ч": 60, "h": 60, "д": 1440, "d": 1440, "дн": 1440}
    number, unit = cleaned, "m"
    for suffix in sorted(units, key=len, reverse=True):
        if cleaned.endswith(suffix):
            number, unit = cleaned[: -len(suffix)].strip(), suffix
            break
    try:
        value = float(number)
    except ValueError:
        raise Refused("Write a duration like 30, 2 h or 3 d.") from None
    return round(value * units[unit])


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
