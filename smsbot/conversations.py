"""Conversations: one thread per resident and company, as dispatchers see it."""

from __future__ import annotations

from sqlmodel import Session, select

from smsbot.clock import utcnow
from smsbot.db import insert_ignore
from smsbot.models import Conversation


def get_or_create(session: Session, *, company_id: int, resident_id: int) -> Conversation:
    """The thread between a resident and a company, opened on first contact."""
    query = select(Conversation).where(
        Conversation.company_id == company_id, Conversation.resident_id == resident_id
    )
    conversation = session.exec(query).first()
    if conversation is None:
        now = utcnow()
        insert_ignore(
            session,
            Conversation.__table__,
            {
                "company_id": company_id,
                "resident_id": resident_id,
                "status": "open",
                "unread": 0,
                "acknowledged": False,
                "created_at": now,
                "last_message_at": now,
            },
            ["company_id", "resident_id"],
        )
        conversation = session.exec(query).one()
    return conversation


def last_company_id(session: Session, resident_id: int) -> int | None:
    """The company the resident talked to most recently, if any."""
    return session.exec(
        select(Conversation.company_id)
        .where(Conversation.resident_id == resident_id)
        .order_by(Conversation.last_message_at.desc())
        .limit(1)
    ).first()
