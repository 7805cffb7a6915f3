"""Tickets (заявки): filing with a short per-company number and a deadline, moving through
the state machine in smsbot.models (new → accepted → in_progress → done, or rejected), and
answering `статус` from the history.

Every change is a TicketEvent written in the same transaction as the change, so the history
is the truth the dispatcher desk and the inspector's overdue counts are built on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, select

from smsbot import categories, deadlines, workdays
from smsbot.db import insert_ignore
from smsbot.exceptions import InvalidTicketTransition
from smsbot.models import (
    ACTOR_BOT,
    ACTOR_RESIDENT,
    TICKET_ACCEPTED,
    TICKET_DONE,
    TICKET_IN_PROGRESS,
    TICKET_NEW,
    TICKET_OPEN,
    TICKET_REJECTED,
    TICKET_TRANSITIONS,
    Account,
    Company,
    DeadlineOverride,
    Message,
    Resident,
    Ticket,
    TicketCounter,
    TicketEvent,
)

TEXT_MAX = 1600
"""A ticket keeps the resident's words up to Twilio's longest message."""
NOTE_MAX = 70
"""How much of a dispatcher's note a `статус` reply quotes."""
EMERGENCY_FOLLOW_UP = timedelta(hours=1)
"""A second alarm about the same danger within this time joins the open emergency ticket
instead of sending the emergency dispatch out twice."""

_STAMPS = {
    TICKET_ACCEPTED: "accepted_at",
    TICKET_IN_PROGRESS: "started_at",
    TICKET_DONE: "done_at",
    TICKET_REJECTED: "rejected_at",
}


def next_number(session: Session, company_id: int) -> int:
    """The company's next ticket number. The counter row is updated in the caller's
    transaction, so concurrent filings wait for each other and never share a number."""
    insert_ignore(
        session,
        TicketCounter.__table__,
        {"company_id": company_id, "last_number": 0},
        ["company_id"],
    )
    return session.execute(
        update(TicketCounter)
        .where(TicketCounter.company_id == company_id)
        .values(last_number=TicketCounter.last_number + 1)
        .returning(TicketCounter.last_number)
    ).scalar_one()


def overrides(session: Session, company_id: int) -> dict[str, deadlines.Override]:
    """The company's own deadlines, by problem."""
    rows = session.exec(select(DeadlineOverride).where(DeadlineOverride.company_id == company_id))
    return {r.problem: deadlines.Override(r.minutes, r.repair_minutes) for r in rows}


def file(
    session: Session,
    *,
    company: Company,
    text: str,
    now: datetime,
    resident: Resident | None = None,
    account: Account | None = None,
    message: Message | None = None,
    danger_kind: str | None = None,
    actor: str = ACTOR_RESIDENT,
    problem_key: str | None = None,
    user_id: int | None = None,
) -> Ticket:
    """File a ticket: guess its problem (unless a dispatcher chose `problem_key`), give it
    the next number and its deadline."""
    problem = (
        categories.PROBLEMS[problem_key]
        if problem_key
        else categories.guess(text, danger_kind=danger_kind)
    )
    emergency = problem.emergency or danger_kind is not None
    working_hours = company.working_hours_deadlines and not emergency
    due = deadlines.compute(
        problem.key,
        now,
        tz=company.timezone,
        overrides=overrides(session, company.id),
        working_hours=(company.workday_start, company.workday_end) if working_hours else None,
        warn_percent=company.warn_percent,
    )
    filed_day = now.astimezone(ZoneInfo(company.timezone)).date()
    ticket = Ticket(
        company_id=company.id,
        number=next_number(session, company.id),
        resident_id=resident.id if resident else None,
        account_id=account.id if account else None,
        building_id=account.building_id if account else None,
        message_id=message.id if message else None,
        text=text.strip()[:TEXT_MAX],
        problem=problem.key,
        category=problem.category,
        priority=problem.priority,
        emergency=emergency,
        danger=danger_kind,
        status=TICKET_NEW,
        filed_at=now,
        filed_day=filed_day,
        filed_nonworking=workdays.is_nonworking(filed_day),
        working_hours=working_hours,
        deadline_at=due.due_at,
        repair_deadline_at=due.repair_due_at,
        warn_at=due.warn_at,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    session.add(
        TicketEvent(ticket_id=ticket.id, at=now, actor=actor, to_status=TICKET_NEW, user_id=user_id)
    )
    return ticket


def transition(
    session: Session,
    ticket: Ticket,
    to_status: str,
    *,
    actor: str,
    now: datetime,
    user_id: int | None = None,
    note: str | None = None,
    public: bool = True,
) -> TicketEvent:
    """Move a ticket to `to_status` along TICKET_TRANSITIONS and record who did it."""
    if to_status not in TICKET_TRANSITIONS.get(ticket.status, ()):
        raise InvalidTicketTransition(
            f"ticket {ticket.number}: {ticket.status} → {to_status} is not allowed"
        )
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        actor=actor,
        user_id=user_id,
        from_status=ticket.status,
        to_status=to_status,
        note=note,
        public=public,
    )
    if to_status == TICKET_IN_PROGRESS and ticket.accepted_at is None:
        ticket.accepted_at = now  # started at once: it was taken into work too
    if to_status == TICKET_IN_PROGRESS and ticket.status == TICKET_DONE:
        ticket.done_at = None  # reopened
        if actor == ACTOR_RESIDENT:
            ticket.reopened_at = now
            ticket.reopen_count = (ticket.reopen_count or 0) + 1
    if to_status in _STAMPS:
        setattr(ticket, _STAMPS[to_status], now)
    if to_status == TICKET_DONE and ticket.first_done_at is None:
        ticket.first_done_at = now
    if to_status in (TICKET_DONE, TICKET_REJECTED):
        mark_if_late(ticket, now)
    ticket.status = to_status
    ticket.updated_at = now
    session.add(event)
    return event


def add_note(
    session: Session, ticket: Ticket, note: str, *, actor: str, now: datetime, public: bool = True
) -> TicketEvent:
    """A history entry that changes nothing but says something."""
    event = TicketEvent(ticket_id=ticket.id, at=now, actor=actor, note=note, public=public)
    ticket.updated_at = now
    session.add(event)
    return event


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """Past its deadline and still open: what the desk shows as overdue now."""
    return ticket.status in TICKET_OPEN and now > ticket.deadline_at


def mark_if_late(ticket: Ticket, now: datetime) -> bool:
    """Record that the ticket missed its deadline, once: a ticket done one minute late stays
    counted as overdue (the clock marks the open ones; this catches those closed late before
    the clock came round). True when it was marked now."""
    if ticket.overdue_at is None and now > ticket.deadline_at:
        ticket.overdue_at = ticket.deadline_at
        return True
    return False


def note_first_reply(session: Session, *, company_id: int, resident_id: int, now: datetime) -> None:
    """A person at the company answered the resident: stamp the resident's tickets there that
    were still waiting for their first human answer (the bot's acknowledgements do not count)."""
    session.execute(
        update(Ticket)
        .where(
            Ticket.company_id == company_id,
            Ticket.resident_id == resident_id,
            Ticket.first_reply_at.is_(None),
            Ticket.status.in_(TICKET_OPEN),
        )
        .values(first_reply_at=now, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )


def missed_deadline(ticket: Ticket, now: datetime) -> bool:
    """What the inspectorate counts: marked overdue, or open past its deadline right now."""
    return ticket.overdue_at is not None or is_overdue(ticket, now)


def recent_emergency(
    session: Session, *, company: Company, resident: Resident, danger_kind: str, now: datetime
) -> Ticket | None:
    """The resident's open emergency ticket about the same danger, filed within the hour."""
    return session.exec(
        select(Ticket)
        .where(
            Ticket.company_id == company.id,
            Ticket.resident_id == resident.id,
            Ticket.danger == danger_kind,
            Ticket.status.in_(TICKET_OPEN),
            Ticket.filed_at > now - EMERGENCY_FOLLOW_UP,
        )
        .order_by(Ticket.id.desc())
    ).first()


def find_for_resident(
    session: Session, resident: Resident, *, number: int | None, company_id: int | None
) -> Ticket | None:
    """One of the resident's own tickets: by number (preferring the company texted), or the
    latest. Tickets of other residents are never found, whatever the number."""
    query = select(Ticket).where(Ticket.resident_id == resident.id)
    if number is not None:
        query = query.where(Ticket.number == number)
    tickets = session.exec(query.order_by(Ticket.id.desc())).all()
    own_company = [t for t in tickets if t.company_id == company_id]
    return (own_company or tickets or [None])[0]


@dataclass(frozen=True)
class StatusView:
    """What a `статус` reply says: the ticket and the latest public history entry."""

    ticket: Ticket
    changed_at: datetime
    note: str | None
    overdue: bool

    def params(self, tz: str) -> dict[str, Any]:
        t = self.ticket
        return {
            "number": t.number,
            "status": t.status,
            "category": t.category,
            "emergency": t.emergency,
            "filed_at": t.filed_at,
            "changed_at": self.changed_at,
            "deadline_at": t.deadline_at,
            "overdue": self.overdue,
            "note": self.note,
            "tz": tz,
        }


def status_view(session: Session, ticket: Ticket, now: datetime) -> StatusView:
    """The ticket as its resident should see it, from its public history."""
    events = session.exec(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.public.is_(True))
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    changes = [e for e in events if e.to_status is not None]
    notes = [e for e in events if e.note and e.actor not in (ACTOR_RESIDENT, ACTOR_BOT)]
    note = notes[-1].note.strip() if notes else None
    if note and len(note) > NOTE_MAX:
        note = note[: NOTE_MAX - 1].rstrip() + "…"
    changed_at = changes[-1].at if changes else ticket.filed_at
    return StatusView(ticket, changed_at, note, is_overdue(ticket, now))
