"""Canned replies: ready answers a company's dispatchers insert into the reply box."""

from __future__ import annotations

from sqlmodel import Session, select

from smsbot.conversations import MAX_REPLY_LENGTH, clean_text
from smsbot.exceptions import Refused
from smsbot.models import CannedReply

MAX_TITLE_LENGTH = 100


def for_company(session: Session, company_id: int) -> list[CannedReply]:
    return list(
        session.exec(
            select(CannedReply)
            .where(CannedReply.company_id == company_id)
            .order_by(CannedReply.title)
        )
    )


def add(session: Session, *, company_id: int, title: str, body: str) -> CannedReply:
    title, body = (title or "").strip(), clean_text(body)
    if not title or not body:
        raise Refused("A canned reply needs a title and a text.")
    if len(title) > MAX_TITLE_LENGTH or len(body) > MAX_REPLY_LENGTH:
        raise Refused("The title or the text is too long.")
    canned = CannedReply(company_id=company_id, title=title, body=body)
    session.add(canned)
    session.flush()
    return canned
