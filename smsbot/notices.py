"""Notices: one text from a company to the residents of some or all of its buildings.

A notice reaches every phone known for its buildings: phones linked to an account there,
and phones the billing export lists for those accounts (their residents are created on the
way, so opting out works for them too). Opted-out phones are skipped. Every copy is a
Message row stored with the notice in one transaction, so a notice is never half-created;
the copies are sent from the notices queue, which workers take last, so replies to residents
never wait behind a notice to a thousand flats.

A notice may announce an outage: what is off and until when (smsbot.outages). While it
lasts, residents of its buildings who ask about it get its facts by return (handlers.outage),
and an outage longer than the law allows is flagged to the company admins by SMS when the
notice is sent, and on its page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from smsbot import outages, outgoing
from smsbot.clock import utcnow
from smsbot.conversations import clean_text, sms_text
from smsbot.exceptions import Refused
from smsbot.models import (
    KIND_ALERT,
    KIND_NOTICE,
    OUT_QUEUED,
    ROLE_COMPANY_ADMIN,
    Account,
    AccountLink,
    AccountPhone,
    Building,
    Company,
    Conversation,
    Message,
    Notice,
    Resident,
    User,
)
from smsbot.segments import measure

PROGRESS_STATES = (
    "queued",
    "sending",
    "accepted",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "canceled",
)
"""The states a notice's copies are counted by on its page, in the order they pass."""


@dataclass(frozen=True)
class Audience:
    """Who a notice would reach."""

    phones: list[str]
    """Distinct phones that will get it, in a stable order."""
    opted_out: int
    """Phones skipped because their resident texted STOP."""


@dataclass(frozen=True)
class Preview:
    """What sending would cost, shown before anything is sent."""

    recipients: int
    opted_out: int
    encoding: str
    segments: int
    characters: int

    @property
    def total_segments(self) -> int:
        return self.recipients * self.segments


def buildings(session: Session, company_id: int) -> list[Building]:
    return list(
        session.exec(
            select(Building).where(Building.company_id == company_id).order_by(Building.address)
        )
    )


def _check_buildings(
    session: Session, company_id: int, building_ids: Sequence[int] | None
) -> list[int] | None:
    if building_ids is None:
        return None
    ids = sorted(set(building_ids))
    if not ids:
        raise Refused("Choose at least one building, or the whole company.")
    owned = set(
        session.exec(
            select(Building.id).where(Building.company_id == company_id, Building.id.in_(ids))
        )
    )
    if owned != set(ids):
        raise Refused("Some of the buildings chosen are not this company's.")
    return ids


def audience(session: Session, company_id: int, building_ids: Sequence[int] | None) -> Audience:
    """The phones of the buildings (None: all the company's buildings), opted-out ones apart."""
    ids = _check_buildings(session, company_id, building_ids)
    accounts = select(Account.id).where(Account.company_id == company_id)
    if ids is not None:
        accounts = accounts.where(Account.building_id.in_(ids))
    linked = (
        select(Resident.phone)
        .join(AccountLink, AccountLink.resident_id == Resident.id)
        .where(AccountLink.account_id.in_(accounts))
    )
    billing = select(AccountPhone.phone).where(AccountPhone.account_id.in_(accounts))
    phones = sorted(set(session.exec(linked)) | set(session.exec(billing)))
    opted_out = set(
        session.exec(select(Resident.phone).where(Resident.phone.in_(phones), Resident.opted_out))
    ) if phones else set()  # fmt: skip
    return Audience([p for p in phones if p not in opted_out], len(opted_out))


def preview(
    session: Session, company_id: int, building_ids: Sequence[int] | None, body: str
) -> Preview:
    who = audience(session, company_id, building_ids)
    text = clean_text(body)
    m = measure(text)
    return Preview(len(who.phones), who.opted_out, m.encoding, m.segments, len(text))


OUTAGE_MAX_AHEAD = timedelta(days=31)
"""An outage announced to last longer is a typo in the date, not a plan."""


def check_outage(kind: str | None, until: datetime | None, now: datetime) -> None:
    """Refuse an outage the notice cannot carry: half given, unknown, over or far ahead."""
    if kind is None and until is None:
        return
    if kind not in outages.KINDS:
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
) -> outages.Overrun | None:
    """How an outage to these buildings breaks decree 354, with the company's earlier outage
    notices of the same local month that reached any of the same buildings (None: all). An
    earlier notice counts until this one begins: a new notice about a running outage (it was
    extended) replaces the old one rather than adding to it."""
    if kind not in outages.ALLOWED or until is None:
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
    return outages.overrun(kind, until - starts, earlier)


def overrun_of(session: Session, notice: Notice) -> outages.Overrun | None:
    """How the outage a sent notice announces breaks decree 354, if it does."""
    return overrun(
        session,
        company=session.get(Company, notice.company_id),
        building_ids=building_ids_of(notice),
        kind=notice.outage,
        starts=notice.created_at,
        until=notice.outage_until,
        before_id=notice.id,
    )


def create(
    session: Session,
    *,
    company_id: int,
    author_id: int | None,
    building_ids: Sequence[int] | None,
    body: str,
    outage: str | None = None,
    outage_until: datetime | None = None,
) -> Notice:
    """Store the notice and one copy per recipient; the copies are queued at the commit."""
    text = sms_text(body, empty="Write the notice first.")
    now = utcnow()
    check_outage(outage, outage_until, now)
    ids = _check_buildings(session, company_id, building_ids)
    who = audience(session, company_id, ids)
    if not who.phones:
        raise Refused("Nobody to send to: no phones are known for these buildings.")
    company = session.get(Company, company_id)
    via = outgoing.route(session, company=company)
    if via.provider is None:
        raise Refused("Not sent: the company has no SMS number to send from.")
    m = measure(text)
    notice = Notice(
        company_id=company_id,
        author_id=author_id,
        body=text,
        building_ids=json.dumps(ids) if ids is not None else None,
        recipients=len(who.phones),
        skipped_opted_out=who.opted_out,
        encoding=m.encoding,
        segments=m.segments,
        outage=outage,
        outage_until=outage_until,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    broken = overrun_of(session, notice)
    if broken is not None:
        _flag_to_admins(session, notice, broken, company, via)
    people = _residents(session, who.phones)
    threads = dict(
        session.exec(
            select(Conversation.resident_id, Conversation.id).where(
                Conversation.company_id == company_id
            )
        ).all()
    )
    outgoing.compose_many(
        session,
        kind=KIND_NOTICE,
        text=text,
        company=company,
        via=via,
        recipients=[
            outgoing.Recipient(phone, resident_id, opted_out, threads.get(resident_id))
            for phone, (resident_id, opted_out) in people.items()
        ],
        author_id=author_id,
        notice_id=notice.id,
    )
    return notice


def _flag_to_admins(
    session: Session,
    notice: Notice,
    broken: outages.Overrun,
    company: Company,
    via: outgoing.Route,
) -> None:
    """Tell the company admins by SMS that the announced outage is longer than the law allows:
    the inspectorate fines for it, and the date may simply be a typo."""
    admins = session.exec(
        select(User).where(
            User.company_id == company.id,
            User.role == ROLE_COMPANY_ADMIN,
            User.active.is_(True),
            User.phone.is_not(None),
        )
    )
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
) -> list[outages.Outage]:
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
        outages.Outage(
            notice_id=notice_id,
            company_id=company_id,
            building_ids=frozenset(json.loads(buildings)) if buildings else None,
            kind=kind,
            starts=starts,
            until=until,
        )
        for notice_id, company_id, buildings, kind, starts, until in rows
    ]


CHUNK = 500
"""Phones per lookup: well inside every database's limit on bound parameters."""


def _residents(session: Session, phones: list[str]) -> dict[str, tuple[int, bool]]:
    """phone → (resident id, opted out) for every phone, creating the residents not yet known
    (as residents.get_or_create does one by one, so opting out works for them too), in a few
    statements per CHUNK phones however many there are."""
    table = Resident.__table__
    dialect = session.get_bind().dialect.name
    add = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).on_conflict_do_nothing(
        index_elements=["phone"]
    )
    found: dict[str, tuple[int, bool]] = {}
    now = utcnow()
    for start in range(0, len(phones), CHUNK):
        chunk = phones[start : start + CHUNK]
        lookup = select(table.c.phone, table.c.id, table.c.opted_out).where(
            table.c.phone.in_(chunk)
        )
        found.update((p, (i, bool(o))) for p, i, o in session.execute(lookup))
        missing = [p for p in chunk if p not in found]
        if missing:
            session.execute(
                add,
                [{"phone": p, "language": "ru", "opted_out": False, "created_at": now}
                 for p in missing],
            )  # fmt: skip
            again = lookup.where(table.c.phone.in_(missing))
            found.update((p, (i, bool(o))) for p, i, o in session.execute(again))
    return {p: found[p] for p in phones}


def queued_copies(session: Session, notice_id: int) -> list[tuple[int, str, str | None]]:
    """(id, kind, provider) of the copies still waiting, for smsbot.outgoing.queue_sends."""
    return [
        tuple(row)
        for row in session.exec(
            select(Message.id, Message.kind, Message.provider)
            .where(Message.notice_id == notice_id, Message.status == OUT_QUEUED)
            .order_by(Message.id)
        )
    ]


def progress(session: Session, notice_id: int) -> dict[str, int]:
    """How many copies are in each state."""
    counts = dict.fromkeys(PROGRESS_STATES, 0)
    for status, count in session.exec(
        select(Message.status, func.count())
        .where(Message.notice_id == notice_id)
        .group_by(Message.status)
    ):
        counts[status] = count
    return counts


def recent(session: Session, company_ids: Sequence[int] | None, limit: int = 50) -> list[Notice]:
    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if company_ids is not None:
        query = query.where(Notice.company_id.in_(list(company_ids)))
    return list(session.exec(query))


def building_ids_of(notice: Notice) -> list[int] | None:
    return json.loads(notice.building_ids) if notice.building_ids else None
