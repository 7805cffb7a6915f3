"""A company's daily cap on the segments of its bot replies: past it, replies are held.

Why bot replies only: they are what a stranger can make us send (one text in, one reply
out), so they are what runs up a bill overnight. Notices, dispatchers' replies and alerts are
sent by the company's own staff on purpose; they are not held, and do not use up the bot's
allowance either. Why 2000 segments: a company's residents write tens to a few hundred texts
a day, each answered in one or two segments, so a normal day stays far below it, and a
runaway costs at most a known sum. A company admin changes it on the deadline settings page.

Held, not lost: a reply past the cap is stored as 'held' (models.OUT_HELD). The sweep
(`release`) queues held replies again, oldest first, as far as the cap allows: the next
local day, when the counter starts at zero, or as soon as an admin raises the cap. The
reply that first crosses the cap in a day tells the company admins on their phones (the
deadline-alert path: KIND_ALERT, never held itself).

The counters are in Redis (smsbot.limiter); a transaction that rolls back after counting
leaves its replies counted, so a crash can only make a day's count a little high.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, select

from smsbot import abuse, limiter, metrics
from smsbot.models import OUT_HELD, OUT_QUEUED, OUTBOUND, Company, Message

log = logging.getLogger(__name__)

CAP = "daily_cap"
"""The reason a held reply is counted under in smsbot_abuse_stops (beside abuse.STOPS)."""
RELEASE_BATCH = 500
"""Held replies queued again per company and sweep; more follow on the next sweep."""


@dataclass(frozen=True)
class Crossed:
    """A company whose cap a transaction's reply crossed (its admins are told)."""

    company: Company
    used: int


def hold(capped: list[tuple[Message, Company]], now: datetime) -> tuple[set[int], list[Crossed]]:
    """Count the transaction's bot replies; (ids of the objects to hold, caps crossed).

    One Redis round trip for all of them. Returned ids are Python `id()`s of the Message
    objects (not flushed yet, they have no row id).
    """
    keys = [limiter.day_key(c.id, c.timezone, now) for _, c in capped]
    counts = limiter.count_replies(
        [(k, m.num_segments or 1) for k, (m, _) in zip(keys, capped, strict=True)]
    )
    if counts is None:
        return set(), []
    held: set[int] = set()
    crossed: list[Crossed] = []
    for (message, company), after in zip(capped, counts, strict=True):
        over, first = abuse.over_cap(after, message.num_segments or 1, company.daily_cap)
        if over:
            held.add(id(message))
            message.status = OUT_HELD
            metrics.abuse_stop(CAP)
        if first:
            crossed.append(Crossed(company, after - (message.num_segments or 1)))
            log.warning(
                "company %s reached its daily cap of %d segments", company.slug, company.daily_cap
            )
    return held, crossed


def held_counts(session: Session, company_id: int | None = None) -> dict[int, int]:
    """Held replies per company (one company's, when given)."""
    query = (
        select(Message.company_id, func.count())
        .where(Message.direction == OUTBOUND, Message.status == OUT_HELD)
        .group_by(Message.company_id)
    )
    if company_id is not None:
        query = query.where(Message.company_id == company_id)
    return {cid: n for cid, n in session.exec(query) if cid is not None}


def used_today(company: Company, now: datetime) -> int | None:
    """Segments of bot replies the company sent today (its local day); None: Redis is down."""
    values = limiter.used([limiter.day_key(company.id, company.timezone, now)])
    return None if values is None else values[0]


def release(session: Session, now: datetime) -> list[tuple[int, str, str | None]]:
    """Move held replies back to 'queued' as far as each company's cap allows now;
    (id, kind, provider) of those released, for the caller to queue after its commit."""
    waiting = held_counts(session)
    if not waiting:
        return []
    companies = list(session.exec(select(Company).where(Company.id.in_(waiting))))
    keys = [limiter.day_key(c.id, c.timezone, now) for c in companies]
    used = limiter.used(keys)
    if used is None:
        return []
    released: list[tuple[int, str, str | None]] = []
    for company, key, count in zip(companies, keys, used, strict=True):
        rows = session.exec(
            select(Message.id, Message.num_segments)
            .where(
                Message.company_id == company.id,
                Message.direction == OUTBOUND,
                Message.status == OUT_HELD,
            )
            .order_by(Message.id)
            .limit(RELEASE_BATCH)
        ).all()
        fits = abuse.releasable([n or 1 for _, n in rows], count, company.daily_cap)
        if not fits:
            continue
        T = Message.__table__
        # A conditional UPDATE: a second sweep running at once releases (and counts) only
        # the rows its own UPDATE moved.
        moved = session.execute(
            update(T)
            .where(T.c.id.in_([i for i, _ in rows[:fits]]), T.c.status == OUT_HELD)
            .values(status=OUT_QUEUED, updated_at=now)
            .returning(T.c.id, T.c.kind, T.c.provider, T.c.num_segments)
        ).all()
        if moved:
            limiter.count_replies([(key, sum(r.num_segments or 1 for r in moved))])
            released += [(r.id, r.kind, r.provider) for r in moved]
            log.info("company %s: %d held replies queued again", company.slug, len(moved))
    return released
