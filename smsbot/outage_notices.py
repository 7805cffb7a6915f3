"""Outage notices: the database side of smsbot.interruptions.

A notice may say what is off and until when. While it lasts, residents of its buildings who
ask about it get its facts by return (handlers.outage; the inbound batch loads the outages
that last with `active_outages`, once), and an outage longer than decree 354 allows, at once
or with the month's earlier outages, is flagged to the company admins by SMS when the notice
is sent, and on its page. A dispatcher ends an outage early when the service is back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from smsbot import interruptions, outgoing
from smsbot.exceptions import Refused
from smsbot.models import KIND_ALERT, Company, Notice

OUTAGE_MAX_AHEAD = timedelta(days=31)
"""An outage announced to last longer is a typo in the date, not a plan."""


def check(kind: str | None, until: datetime | None, now: datetime) -> None:
    """Refuse an outage the notice cannot carry: half given, unknown, over or far ahead."""
    if kind is None and until is None:
        return
    if kind not in interruptions.KINDS:
        raise Refused("Choose what is off.")
    if until is None:
        raise Refused("Say until when it is off.")
    if until <= now:
        raise Refused("The outage must end in the future.")
    if until - now > OUTAGE_MAX_AHEAD:
        raise Refused("An outage can be announced for at most 31 days.")


def overrun(
    session: Session,
    *,
    company: Company,
    building_ids: Sequence[int] | None,
    kind: str | None,
    starts: datetime,
    until: datetime | None,
    before_id: int | None = None,
) -> interruptions.Overrun | None:
    """How an outage to these buildings breaks decree 354, with the company's earlier outage
    notices of the same local month that reached any of the same buildings (None: all). An
    earlier notice counts until this one begins: a new notice about a running outage (it was
    extended) replaces the old one rather than adding to it."""
    if kind not in interruptions.ALLOWED or until is None:
        return None
    zone = ZoneInfo(company.timezone)
    month = starts.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    query = select(
        Notice.outage, Notice.building_ids, Notice.created_at, Notice.outage_until
    ).where(
        Notice.company_id == company.id,
        Notice.outage.is_not(None),
        Notice.created_at >= month.astimezone(UTC),
        Notice.created_at <= starts,
    )
    if before_id is not None:
        query = query.where(Notice.id < before_id)
    mine = set(building_ids) if building_ids is not None else None
    earlier = [
        (other, min(other_until, starts) - other_start)
        for other, ids, other_start, other_until in session.exec(query)
        if mine is None or ids is None or mine & set(json.loads(ids))
    ]
    return interruptions.overrun(kind, until - starts, earlier)


def overrun_of(session: Session, notice: Notice) -> interruptions.Overrun | None:
    """How the outage a sent notice announces breaks decree 354, if it does."""
    return overrun(
        session,
        company=session.get(Company, notice.company_id),
        building_ids=json.loads(notice.building_ids) if notice.building_ids else None,
        kind=notice.outage,
        starts=notice.created_at,
        until=notice.outage_until,
        before_id=notice.id,
    )


def flag_to_admins(
    session: Session,
    notice: Notice,
    broken: interruptions.Overrun,
    company: Company,
    via: outgoing.Route,
) -> None:
    """Tell the company admins by SMS that the announced outage is longer than the law allows:
    the inspectorate fines for it, and the date may simply be a typo."""
    admins = outgoing.admins_with_phones(session, company)
    hours = (notice.outage_until - notice.created_at).total_seconds() / 3600
    for phone, language in {a.phone: a.language for a in admins}.items():
        outgoing.compose(
            session,
            kind=KIND_ALERT,
            to_phone=phone,
            company=company,
            template="alert_outage",
            params={
                "outage": notice.outage,
                "until": notice.outage_until,
                "hours": round(hours),
                "allowed": broken.allowed_hours,
                "per_month": broken.per_month,
            },
            language=language,
            via=via,
        )


def end_outage(session: Session, notice: Notice, now: datetime) -> None:
    """The service came back before the time announced: from now on residents who ask are
    not told it is still off (a dispatcher presses "It is back")."""
    if notice.outage is None or notice.outage_until is None or notice.outage_until <= now:
        raise Refused("This outage is already over.")
    notice.outage_until = now
    session.add(notice)


def active_outages(
    session: Session, company_ids: Iterable[int], now: datetime
) -> list[interruptions.Outage]:
    """The outages announced by these companies' notices that last at `now` (one query)."""
    ids = sorted(set(company_ids))
    if not ids:
        return []
    rows = session.exec(
        select(
            Notice.id, Notice.company_id, Notice.building_ids, Notice.outage,
            Notice.created_at, Notice.outage_until,
        ).where(
            Notice.company_id.in_(ids),
            Notice.outage.is_not(None),
            Notice.outage_until > now,
            Notice.created_at <= now,
        )
    )  # fmt: skip
    return [
        interruptions.Outage(
            notice_id=notice_id,
            company_id=company_id,
            building_ids=frozenset(json.loads(buildings)) if buildings else None,
            kind=kind,
            starts=starts,
            until=until,
        )
        for notice_id, company_id, buildings, kind, starts, until in rows
    ]
