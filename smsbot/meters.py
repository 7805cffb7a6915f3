"""Meter readings sent by SMS: checked against the company's window and the last readings
(smsbot.meter_rules), stored one per meter and month (a later one that month replaces it,
so a resident can correct a typo while the window is open)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, select

from smsbot import meter_rules
from smsbot.db import insert_ignore
from smsbot.models import Account, Company, Message, Meter, MeterReading, Resident
from smsbot.readings import Reading

NO_METER = "no_meter"
"""The account has no meter of that kind."""
KIND_NEEDED = "kind_needed"
"""A value without a kind, and the account has several meters."""


@dataclass(frozen=True)
class Outcome:
    """One value of the message: accepted, or refused with `reason` (and the last value)."""

    kind: str | None
    value: Decimal
    reason: str | None = None
    previous: Decimal | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None

    def params(self) -> dict:
        return {
            "kind": self.kind,
            "value": self.value,
            "reason": self.reason,
            "previous": self.previous,
        }


@dataclass(frozen=True)
class Submission:
    """What became of a `показания` message; `window` is set when it came outside the window."""

    outcomes: list[Outcome] = field(default_factory=list)
    window: tuple[date, date] | None = None
    kinds: list[str] = field(default_factory=list)
    """The account's meter kinds, for a reply that has to name them."""


def local_day(company: Company, now: datetime) -> date:
    return now.astimezone(ZoneInfo(company.timezone)).date()


def window(company: Company) -> meter_rules.Window:
    return meter_rules.Window(company.meter_window_start, company.meter_window_end)


def meters_of(session: Session, account: Account) -> dict[str, Meter]:
    rows = session.exec(select(Meter).where(Meter.account_id == account.id)).all()
    order = {k: i for i, k in enumerate(meter_rules.KINDS)}
    return {m.kind: m for m in sorted(rows, key=lambda m: order.get(m.kind, len(order)))}


def last_before(session: Session, meter: Meter, period: date) -> MeterReading | None:
    """The latest reading of an earlier month: what a new reading must not be lower than."""
    return session.exec(
        select(MeterReading)
        .where(MeterReading.meter_id == meter.id, MeterReading.period < period)
        .order_by(MeterReading.period.desc())
    ).first()


def submit(
    session: Session,
    *,
    company: Company,
    account: Account,
    readings: tuple[Reading, ...],
    now: datetime,
    resident: Resident | None = None,
    message: Message | None = None,
) -> Submission:
    """Check every value and store the good ones; nothing is stored outside the window."""
    meters = meters_of(session, account)
    today = local_day(company, now)
    if not window(company).is_open(today):
        return Submission(window=window(company).next_opening(today), kinds=list(meters))
    period = meter_rules.period_of(today)
    outcomes = []
    for reading in readings:
        kind = reading.kind
        if kind is None:
            if len(meters) != 1:
                outcomes.append(Outcome(None, reading.value, KIND_NEEDED))
                continue
            kind = next(iter(meters))
        meter = meters.get(kind)
        if meter is None:
            outcomes.append(Outcome(kind, reading.value, NO_METER))
            continue
        last = last_before(session, meter, period)
        previous = last.value if last else None
        reason = meter_rules.check(
            kind,
            reading.value,
            previous=previous,
            previous_period=last.period if last else None,
            period=period,
        )
        if reason is None:
            _store(session, meter, period, reading.value, now, resident, message)
        outcomes.append(Outcome(kind, reading.value, reason, previous))
    return Submission(outcomes, kinds=list(meters))


def _store(
    session: Session,
    meter: Meter,
    period: date,
    value: Decimal,
    now: datetime,
    resident: Resident | None,
    message: Message | None,
) -> None:
    values = {
        "value": value,
        "source": "sms",
        "resident_id": resident.id if resident else None,
        "message_id": message.id if message else None,
        "received_at": now,
    }
    created = insert_ignore(
        session,
        MeterReading.__table__,
        {"meter_id": meter.id, "period": period, **values},
        ["meter_id", "period"],
    )
    if created is None:
        session.execute(
            update(MeterReading)
            .where(MeterReading.meter_id == meter.id, MeterReading.period == period)
            .values(**values)
        )
