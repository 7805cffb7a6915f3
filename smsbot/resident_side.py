"""What the thread page shows beside the conversation: the resident's tickets with this
company (open ones, then the latest others), their accounts there, and for each of their
SMS either the ticket it already filed or the problem a new ticket from it would get
(smsbot.categories' guess, which the dispatcher may change before filing).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from smsbot import categories
from smsbot.models import (
    INBOUND,
    KIND_RESIDENT,
    TICKET_OPEN,
    Account,
    AccountLink,
    Building,
    Conversation,
    Message,
    Ticket,
)

RECENT = 5
"""Closed tickets (done or rejected) listed beside the thread, newest first."""


@dataclass
class Side:
    open_tickets: list[Ticket]
    recent_tickets: list[Ticket]
    accounts: list[tuple[Account, str]]
    """The resident's accounts with this company, with their building's address."""
    filed: dict[int, Ticket]
    """Message id → the ticket filed from it."""
    guesses: dict[int, str]
    """Message id → the problem key a ticket from it would get."""


def of(session: Session, conversation: Conversation, messages: list[Message]) -> Side:
    tickets = list(
        session.exec(
            select(Ticket)
            .where(
                Ticket.company_id == conversation.company_id,
                Ticket.resident_id == conversation.resident_id,
            )
            .order_by(Ticket.id.desc())
            .limit(50)
        )
    )
    open_tickets = [t for t in tickets if t.status in TICKET_OPEN]
    recent = [t for t in tickets if t.status not in TICKET_OPEN][:RECENT]
    accounts = list(
        session.exec(
            select(Account, Building.address)
            .join(AccountLink, AccountLink.account_id == Account.id)
            .join(Building, Building.id == Account.building_id)
            .where(
                AccountLink.resident_id == conversation.resident_id,
                Account.company_id == conversation.company_id,
            )
            .order_by(AccountLink.id)
        )
    )
    theirs = [m for m in messages if m.kind == KIND_RESIDENT and m.direction == INBOUND]
    ids = [m.id for m in theirs]
    filed = (
        {t.message_id: t for t in session.exec(select(Ticket).where(Ticket.message_id.in_(ids)))}
        if ids
        else {}
    )
    guesses = {m.id: categories.guess(m.body).key for m in theirs if m.id not in filed}
    return Side(open_tickets, recent, [tuple(a) for a in accounts], filed, guesses)
