"""The dispatchers' side of tickets: the desk's filtered list, status changes that tell the
resident by SMS, assignment, and the resident's answer once a ticket is done.

After "done" the resident is asked to reply ДА (solved) or НЕТ (not solved). НЕТ takes the
ticket back into work and puts the conversation back in front of the dispatchers; ДА
closes the question and asks for a mark, and a 1–5 that follows is stored as the rating.
Each question is a TicketFeedback row, so a ticket done twice is asked twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, select

from smsbot import categories, conversations, outgoing, search_filters, tickets, users
from smsbot.exceptions import InvalidTicketTransition, Refused
from smsbot.models import (
    ACTOR_DISPATCHER,
    ACTOR_RESIDENT,
    KIND_TICKET,
    TICKET_ACCEPTED,
    TICKET_DONE,
    TICKET_IN_PROGRESS,
    TICKET_OPEN,
    TICKET_REJECTED,
    TICKET_STATES,
    Account,
    AccountLink,
    Building,
    Company,
    Conversation,
    Message,
    Resident,
    Ticket,
    TicketEvent,
    TicketFeedback,
    User,
)
from smsbot.search import Query
from smsbot.textnorm import clean, tokens

STATUS_TEMPLATES = {
    TICKET_ACCEPTED: "ticket_accepted",
    TICKET_IN_PROGRESS: "ticket_in_progress",
    TICKET_DONE: "ticket_done",
    TICKET_REJECTED: "ticket_rejected",
}
"""The SMS a resident gets when a dispatcher moves their ticket to each state."""

ANSWER_WINDOW = timedelta(days=7)
"""A ДА/НЕТ or a mark later than this after the question is an ordinary message."""
NOTE_IN_SMS = 70
"""How much of a dispatcher's note or reason an SMS quotes (the template budgets allow it)."""
MAX_NOTE = 2000

YES_WORDS = frozenset({"да", "yes", "da", "ага", "угу", "решена", "решено", "ok", "ок"})
NO_WORDS = frozenset({"нет", "no", "net", "неа"})
YES, NO = "yes", "no"


def read_answer(text: str) -> str | int | None:
    """ДА → 'yes', НЕТ (or 'не решена') → 'no', a lone 1–5 → that mark; anything else None.

    Pure; short replies only, so a long message that starts with 'да' stays a message.
    """
    words = tokens(clean(text))
    if not words or len(words) > 4:
        return None
    first = words[0]
    if first in NO_WORDS or (first == "не" and len(words) > 1 and words[1].startswith("реш")):
        return NO
    if first in YES_WORDS:
        return YES
    if len(words) == 1 and first.isdigit() and 1 <= int(first) <= 5:
        return int(first)
    return None


# --- the desk ----------------------------------------------------------------------------------

DESK_STATUSES = ("open", "overdue", *TICKET_STATES, "all")
"""The status filter: open (new, accepted, in progress), overdue, one state, or everything."""


@dataclass
class Filters:
    status: str = "open"
    category: str | None = None
    building_id: int | None = None
    assignee: str | None = None
    """'me', 'none' or a user id as text."""


@dataclass
class DeskRow:
    ticket: Ticket
    address: str | None
    apartment: str | None
    phone: str | None
    assignee: User | None
    overdue: bool
    company: Company


PAGE_SIZE = 50
"""Tickets on one page of the desk."""


@dataclass
class DeskPage:
    """One page of the desk, with the count of every ticket the filters match."""

    rows: list[DeskRow]
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first(self) -> int:
        """The position of the page's first row, counted from 1 (0 when there are none)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _filtered(
    statement,  # noqa: ANN001
    *,
    company_ids: list[int] | None,
    filters: Filters,
    user_id: int | None,
    now: datetime,
    found: ColumnElement | None,
):  # noqa: ANN202
    """The desk's conditions on a statement over Ticket (the list and its count share them)."""
    if company_ids is not None:
        statement = statement.where(Ticket.company_id.in_(company_ids))
    status = filters.status
    if status in ("open", "overdue"):
        statement = statement.where(Ticket.status.in_(TICKET_OPEN))
        if status == "overdue":
            statement = statement.where(Ticket.deadline_at < now)
    elif status in TICKET_STATES:
        statement = statement.where(Ticket.status == status)
    if filters.category:
        statement = statement.where(Ticket.category == filters.category)
    if filters.building_id:
        statement = statement.where(Ticket.building_id == filters.building_id)
    if filters.assignee == "me":
        statement = statement.where(Ticket.assignee_id == user_id)
    elif filters.assignee == "none":
        statement = statement.where(Ticket.assignee_id.is_(None))
    elif filters.assignee and filters.assignee.isdigit():
        statement = statement.where(Ticket.assignee_id == int(filters.assignee))
    if found is not None:
        statement = statement.where(found)
    return statement


def desk(
    session: Session,
    *,
    company_ids: Iterable[int] | None,
    filters: Filters,
    user_id: int | None,
    now: datetime,
    query: Query | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> DeskPage:
    """A page of tickets for the desk: open ones by deadline (most urgent first), others
    newest first; with the search box's `query`, those it finds (smsbot.search_filters)."""
    companies = list(company_ids) if company_ids is not None else None
    found = search_filters.tickets(session, query, companies) if query is not None else None
    where = {"company_ids": companies, "filters": filters, "user_id": user_id, "now": now,
             "found": found}  # fmt: skip
    total = session.exec(_filtered(select(func.count()).select_from(Ticket), **where)).one()
    page = max(1, min(page, max(1, -(-total // page_size))))
    # The page's ids first, then their details: joined before the LIMIT, every match of a
    # common word would be joined to its address, account and phone only to be cut away.
    statement = _filtered(select(Ticket.id), **where)
    if filters.status in ("open", "overdue"):
        statement = statement.order_by(Ticket.deadline_at, Ticket.id)
    else:
        statement = statement.order_by(Ticket.filed_at.desc(), Ticket.id.desc())
    ids = session.exec(statement.offset((page - 1) * page_size).limit(page_size)).all()
    details = {
        t.id: (t, *more)
        for t, *more in session.exec(
            select(Ticket, Building.address, Account.apartment, Resident.phone, Company)
            .join(Company, Company.id == Ticket.company_id)
            .outerjoin(Building, Building.id == Ticket.building_id)
            .outerjoin(Account, Account.id == Ticket.account_id)
            .outerjoin(Resident, Resident.id == Ticket.resident_id)
            .where(Ticket.id.in_(ids))
        )
    } if ids else {}  # fmt: skip
    rows = [details[i] for i in ids if i in details]
    assignee_ids = {t.assignee_id for t, *_ in rows if t.assignee_id}
    people = (
        {u.id: u for u in session.exec(select(User).where(User.id.in_(assignee_ids)))}
        if assignee_ids
        else {}
    )
    return DeskPage(
        [
            DeskRow(
                t,
                address,
                apartment,
                phone,
                people.get(t.assignee_id),
                tickets.is_overdue(t, now),
                company,
            )
            for t, address, apartment, phone, company in rows
        ],
        total,
        page,
        page_size,
    )


def status_counts(
    session: Session, company_ids: Iterable[int] | None, now: datetime
) -> dict[str, int]:
    """How many tickets each choice of the status filter shows (before the other filters)."""
    query = select(Ticket.status, func.count()).group_by(Ticket.status)
    if company_ids is not None:
        query = query.where(Ticket.company_id.in_(list(company_ids)))
    counts = dict.fromkeys(TICKET_STATES, 0) | dict(session.exec(query).all())
    return {
        "open": sum(counts[s] for s in TICKET_OPEN),
        "overdue": overdue_count(session, company_ids, now),
        **counts,
        "all": sum(counts.values()),
    }


def overdue_count(session: Session, company_ids: Iterable[int] | None, now: datetime) -> int:
    query = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.status.in_(TICKET_OPEN), Ticket.deadline_at < now)
    )
    if company_ids is not None:
        query = query.where(Ticket.company_id.in_(list(company_ids)))
    return session.exec(query).one()


@dataclass
class TicketPage:
    """A ticket with everything its page shows."""

    ticket: Ticket
    company: Company
    resident: Resident | None
    account: Account | None
    address: str | None
    conversation_id: int | None
    history: list[TicketEvent]
    people: dict[int, User]
    feedback: list[TicketFeedback]
    assignee: User | None


STAGES = (
    ("Accepted", "accepted_at"),
    ("First reply to the resident", "first_reply_at"),
    ("Done", "first_done_at"),
    ("Confirmed by the resident", "confirmed_at"),
    ("Reopened by the resident", "reopened_at"),
)


def stages(ticket: Ticket) -> list[tuple[str, datetime]]:
    """The stages a ticket has passed, in the order they happened (a resident who reopens and
    then confirms is listed reopened first), ties in the workflow's order."""
    passed = [(label, getattr(ticket, field)) for label, field in STAGES]
    return sorted(((label, at) for label, at in passed if at), key=lambda stage: stage[1])


def page(session: Session, ticket: Ticket) -> TicketPage:
    resident = session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    account = session.get(Account, ticket.account_id) if ticket.account_id else None
    building = session.get(Building, ticket.building_id) if ticket.building_id else None
    history = list(
        session.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
    )
    ids = {e.user_id for e in history if e.user_id} | (
        {ticket.assignee_id} if ticket.assignee_id else set()
    )
    people = {u.id: u for u in session.exec(select(User).where(User.id.in_(ids)))} if ids else {}
    conversation_id = (
        session.exec(
            select(Conversation.id).where(
                Conversation.company_id == ticket.company_id,
                Conversation.resident_id == ticket.resident_id,
            )
        ).first()
        if resident
        else None
    )
    feedback = list(
        session.exec(
            select(TicketFeedback)
            .where(TicketFeedback.ticket_id == ticket.id)
            .order_by(TicketFeedback.id)
        )
    )
    return TicketPage(
        ticket=ticket,
        company=session.get(Company, ticket.company_id),
        resident=resident,
        account=account,
        address=building.address if building else None,
        conversation_id=conversation_id,
        history=history,
        people=people,
        feedback=feedback,
        assignee=people.get(ticket.assignee_id),
    )


# --- a dispatcher's changes ------------------------------------------------------------------


def quote(text: str | None) -> str | None:
    """A note as an SMS quotes it: one line, at most NOTE_IN_SMS characters, a whole sentence."""
    text = " ".join((text or "").split())
    if not text:
        return None
    if len(text) > NOTE_IN_SMS:
        text = text[: NOTE_IN_SMS - 1].rstrip(" ,;:-") + "…"
    return text if text[-1] in ".!?…" else text + "."


def change_status(
    session: Session,
    ticket: Ticket,
    to_status: str,
    *,
    user: User,
    note: str | None,
    now: datetime,
) -> Message | None:
    """Move the ticket on, record who did it and why, and queue the resident's SMS (returned,
    for the caller to send after the commit; None when the resident cannot be told)."""
    note = conversations.clean_text(note or "")[:MAX_NOTE] or None
    if to_status == TICKET_REJECTED and not note:
        raise Refused("Give the reason for rejecting the ticket; the resident gets it by SMS.")
    try:
        tickets.transition(
            session, ticket, to_status, actor=ACTOR_DISPATCHER, now=now, user_id=user.id, note=note
        )
    except InvalidTicketTransition:
        raise Refused(
            "The ticket cannot go to that state from where it is now (someone may have moved it)."
        ) from None
    if ticket.assignee_id is None and user.company_id == ticket.company_id:
        ticket.assignee_id = user.id
    if to_status == TICKET_DONE and ticket.resident_id:
        session.add(
            TicketFeedback(ticket_id=ticket.id, resident_id=ticket.resident_id, asked_at=now)
        )
    session.add(ticket)
    told = tell_resident(
        session,
        ticket,
        STATUS_TEMPLATES[to_status],
        {"number": ticket.number, "note": quote(note), "deadline_at": ticket.deadline_at},
        now=now,
    )
    if told is not None and ticket.first_reply_at is None:
        ticket.first_reply_at = now
    return told


def tell_resident(
    session: Session,
    ticket: Ticket,
    template: str,
    params: dict,
    *,
    now: datetime,
) -> Message | None:
    """Store an SMS about the ticket to its resident, sent after the commit (not when opted out)."""
    resident = session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    if resident is None or resident.opted_out:
        return None
    company = session.get(Company, ticket.company_id)
    conversation = conversations.get_or_create(
        session, company_id=company.id, resident_id=resident.id
    )
    message = outgoing.compose(
        session,
        kind=KIND_TICKET,
        to_phone=resident.phone,
        company=company,
        resident=resident,
        template=template,
        params=params,
        conversation_id=conversation.id,
        created_at=now,
    )
    if message is not None:
        session.flush()
    return message


def assign(session: Session, ticket: Ticket, assignee_id: int | None) -> None:
    if assignee_id is not None and not users.assignable(session, ticket.company_id, assignee_id):
        raise Refused("Only an active dispatcher of this company can be assigned.")
    ticket.assignee_id = assignee_id
    session.add(ticket)


def add_note(
    session: Session, ticket: Ticket, *, user: User, note: str, now: datetime
) -> TicketEvent:
    """A staff note in the history (not sent; `статус` replies may quote it)."""
    text = conversations.clean_text(note)[:MAX_NOTE]
    if not text:
        raise Refused("Write the note first.")
    event = tickets.add_note(session, ticket, text, actor=ACTOR_DISPATCHER, now=now)
    event.user_id = user.id
    session.add(ticket)
    return event


def ticket_of_message(session: Session, message_id: int) -> Ticket | None:
    """The ticket already filed from this message, if any."""
    return session.exec(select(Ticket).where(Ticket.message_id == message_id)).first()


def file_from_message(
    session: Session,
    message: Message,
    *,
    user: User,
    problem_key: str,
    text: str,
    account_id: int | None,
    now: datetime,
) -> tuple[Ticket, Message | None]:
    """A dispatcher files a ticket for a resident's SMS, with the problem they chose (the page
    pre-fills smsbot.categories' guess). The resident gets the same `ticket_created` SMS as
    when they file one themselves (returned, sent after the commit; None when opted out), so
    `статус N` works for them. A message files one ticket: a second try returns the first.
    """
    filed = ticket_of_message(session, message.id)
    if filed is not None:
        return filed, None
    if problem_key not in categories.PROBLEMS:
        raise Refused("Unknown problem.")
    text = conversations.clean_text(text)[: tickets.TEXT_MAX] or message.body
    resident = session.get(Resident, message.resident_id) if message.resident_id else None
    account = session.get(Account, account_id) if account_id else None
    if account is not None and (
        account.company_id != message.company_id
        or resident is None
        or account.id not in {a.account_id for a in resident_links(session, resident.id)}
    ):
        raise Refused("Choose one of the resident's accounts.")
    company = session.get(Company, message.company_id)
    ticket = tickets.file(
        session,
        company=company,
        text=text,
        now=now,
        resident=resident,
        account=account,
        message=message,
        actor=ACTOR_DISPATCHER,
        problem_key=problem_key,
        user_id=user.id,
    )
    ticket.assignee_id = user.id if user.company_id == company.id else None
    told = tell_resident(
        session,
        ticket,
        "ticket_created",
        {"number": ticket.number, "category": ticket.category, "emergency": ticket.emergency,
         "deadline_at": ticket.deadline_at, "tz": company.timezone},
        now=now,
    )  # fmt: skip
    if told is not None:
        ticket.first_reply_at = now
    return ticket, told


def resident_links(session: Session, resident_id: int) -> list[AccountLink]:
    return list(session.exec(select(AccountLink).where(AccountLink.resident_id == resident_id)))


# --- the resident's answer -------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """What a resident's ДА, НЕТ or mark did, for the reply."""

    outcome: str
    """confirmed, reopened or rated"""
    ticket: Ticket


def waiting_question(
    session: Session, resident: Resident, company_id: int, now: datetime
) -> TicketFeedback | None:
    """The newest question to this resident from this company still open for an answer."""
    return session.exec(
        select(TicketFeedback)
        .join(Ticket, Ticket.id == TicketFeedback.ticket_id)
        .where(
            TicketFeedback.resident_id == resident.id,
            Ticket.company_id == company_id,
            TicketFeedback.asked_at > now - ANSWER_WINDOW,
            (TicketFeedback.answer.is_(None) & (Ticket.status == TICKET_DONE))
            | ((TicketFeedback.answer == YES) & TicketFeedback.rating.is_(None)),
        )
        .order_by(TicketFeedback.asked_at.desc(), TicketFeedback.id.desc())
    ).first()


def answer(
    session: Session,
    *,
    resident: Resident,
    company_id: int,
    text: str,
    now: datetime,
    conversation: Conversation | None = None,
) -> Answered | None:
    """Apply a resident's reply to the question after "done"; None when it answers nothing."""
    said = read_answer(text)
    if said is None or resident.opted_out:
        return None
    question = waiting_question(session, resident, company_id, now)
    if question is None:
        return None
    ticket = session.get(Ticket, question.ticket_id)
    if question.answer is None and said in (YES, NO):
        question.answer, question.answered_at = said, now
        session.add(question)
        if said == NO:
            tickets.transition(
                session,
                ticket,
                TICKET_IN_PROGRESS,
                actor=ACTOR_RESIDENT,
                now=now,
                note=text.strip(),
            )
            if conversation is not None:  # tell the dispatchers: the thread is unread again
                conversation.unread += 1
                conversation.status = conversations.OPEN
                session.add(conversation)
            return Answered("reopened", ticket)
        ticket.confirmed_at = now
        tickets.add_note(session, ticket, text.strip(), actor=ACTOR_RESIDENT, now=now)
        return Answered("confirmed", ticket)
    if question.answer == YES and isinstance(said, int):
        question.rating, question.rated_at = said, now
        ticket.rating = said
        session.add(question)
        tickets.add_note(session, ticket, text.strip(), actor=ACTOR_RESIDENT, now=now)
        return Answered("rated", ticket)
    return None
