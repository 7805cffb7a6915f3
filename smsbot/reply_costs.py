"""What a company's SMS cost it, in segments, and its one lever on that: transliteration.

A company pays per segment: a Cyrillic reply holds 70 characters per SMS, the same reply in
Latin letters 160. The admin's page shows the average segments per reply over the last 30
days (one aggregate query over a covering index, migration 0012) next to the switch, so the
effect of the choice can be seen a month later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from smsbot.models import (
    KIND_DISPATCHER,
    KIND_NOTICE,
    KIND_REPLY,
    OUT_CANCELED,
    OUT_FAILED,
    OUTBOUND,
    Company,
    Message,
)

WINDOW = timedelta(days=30)
"""How far back the average looks: a month of replies, long enough to be a fair figure."""

KINDS = (KIND_REPLY, KIND_DISPATCHER, KIND_NOTICE)
"""What the page breaks the figure down by: the bot's replies, dispatchers' answers, notices."""


@dataclass(frozen=True)
class Cost:
    """One kind of SMS over the window: how many were sent and how many segments they took."""

    kind: str
    messages: int
    segments: int

    @property
    def average(self) -> float | None:
        return self.segments / self.messages if self.messages else None


def costs(session: Session, company_id: int, now: datetime) -> dict[str, Cost]:
    """Messages and segments per kind over the last 30 days, for one company only.

    Cancelled and failed messages were never paid for, so they do not count.
    """
    rows = session.exec(
        select(Message.kind, func.count(), func.coalesce(func.sum(Message.num_segments), 0))
        .where(
            Message.company_id == company_id,
            Message.created_at >= now - WINDOW,
            Message.direction == OUTBOUND,
            Message.kind.in_(KINDS),
            Message.status.not_in((OUT_CANCELED, OUT_FAILED)),
        )
        .group_by(Message.kind)
    ).all()
    found = {kind: Cost(kind, int(n), int(segments)) for kind, n, segments in rows}
    return {kind: found.get(kind, Cost(kind, 0, 0)) for kind in KINDS}


def set_transliterate(session: Session, company: Company, on: bool) -> None:
    """Bot replies in Latin letters (GSM-7) from now on, or back in Cyrillic.

    Only the bot's own replies change: a dispatcher's words and a notice go out as written.
    """
    company.transliterate = on
    session.add(company)
