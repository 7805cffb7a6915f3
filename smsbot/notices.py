"""Notices: one text from a company to the residents of some or all of its buildings.

A notice reaches every phone known for its buildings: phones linked to an account there,
and phones the billing export lists for those accounts (their residents are created on the
way, so opting out works for them too). Opted-out phones are skipped. Every copy is a
Message row stored with the notice in one transaction, so a notice is never half-created;
the copies are sent from the notices queue, which workers take last, so replies to residents
never wait behind a notice to a thousand flats.

A notice may announce an outage: what is off and until when (smsbot.outage_notices).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from smsbot import outage_notices, outgoing
from smsbot.clock import utcnow
from smsbot.conversations import clean_text, sms_text
from smsbot.exceptions import Refused
from smsbot.models import (
    KIND_NOTICE,
    OUT_QUEUED,
    Account,
    AccountLink,
    AccountPhone,
    Building,
    Company,
    Conversation,
    Message,
    Notice,
    Resident,
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
    outage_notices.check(outage, outage_until, now)
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
    broken = outage_notices.overrun_of(session, notice)
    if broken is not None:
        outage_notices.flag_to_admins(session, notice, broken, company, via)
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
