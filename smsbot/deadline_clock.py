"""The deadline clock: warn a company before a ticket's deadline, mark it overdue the minute
the deadline passes, and escalate an overdue emergency to the company admins' phones.

The clock job runs every few seconds on every scheduler there is (two are normal), and after
a pause it finds everything that fell due meanwhile: each stage selects what is due now, not
"what fell due in the last minute", and works through it in batches until nothing is left.

Exactly once: a stage claims each ticket with a conditional UPDATE (`… WHERE warned_at IS
NULL`) and stores its alert SMS in the same transaction; only the transaction whose UPDATE
hit the row sends. On PostgreSQL (READ COMMITTED) a second clock blocks on the row lock and
then finds the condition false; on SQLite writers are serialised at BEGIN IMMEDIATE. The
sends are queued after the commit, so a rolled-back claim never sends anything.

Alerts go to staff phones only (User.phone) and never carry a resident's name or phone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, update
from sqlmodel import Session, select

from smsbot import failpoints, metrics, outgoing
from smsbot.addresses import short_address
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.models import (
    ACTOR_SYSTEM,
    COMPANY_ROLES,
    KIND_ALERT,
    ROLE_COMPANY_ADMIN,
    TICKET_OPEN,
    Building,
    Company,
    Message,
    Ticket,
    TicketEvent,
    User,
)

log = logging.getLogger(__name__)

INTERVAL = 15
"""Seconds between runs of the clock job: an alert is at most this late."""
BATCH = 500
"""Tickets claimed per transaction; a backlog after a pause drains in several."""
ADDRESS_MAX = 60
"""How much of a building's address an alert quotes."""

NEAR = "near"
"""The deadline is near (warn_percent of the way): the ticket's people are reminded."""
OVERDUE = "overdue"
"""The deadline passed with the ticket still open: marked overdue, its people told."""
ESCALATION = "escalation"
"""An overdue emergency: the company admins are told on their phones."""

STAGES = (NEAR, OVERDUE, ESCALATION)
"""In this order, so one run can mark an emergency overdue and then escalate it."""
TEMPLATES = {NEAR: "alert_near", OVERDUE: "alert_overdue", ESCALATION: "alert_escalation"}
COUNTS = {NEAR: "warned", OVERDUE: "overdue", ESCALATION: "escalated"}
"""The key each stage counts under in what `run` returns."""


# --- pure decisions ------------------------------------------------------------------------------


def _reachable(user: User, company_id: int) -> bool:
    return (
        user.company_id == company_id
        and user.active
        and bool(user.phone)
        and user.role in COMPANY_ROLES
    )


def recipients(stage: str, ticket: Ticket, staff: Iterable[User]) -> list[User]:
    """Who gets the alert: only people of the ticket's own company who have a phone.

    An escalation goes to every company admin. A warning or an overdue alert goes to the
    ticket's assignee when they can be reached, else to all its dispatchers and admins (a
    ticket nobody took is everybody's). One SMS per phone, even if two accounts share one.
    """
    own = [u for u in staff if _reachable(u, ticket.company_id)]
    if stage == ESCALATION:
        chosen = [u for u in own if u.role == ROLE_COMPANY_ADMIN]
    else:
        chosen = [u for u in own if u.id == ticket.assignee_id] or own
    by_phone: dict[str, User] = {}
    for user in sorted(chosen, key=lambda u: u.id):
        by_phone.setdefault(user.phone, user)
    return list(by_phone.values())


def alert_params(ticket: Ticket, *, address: str | None, tz: str) -> dict:
    """What an alert template is given: the ticket in words, never the resident."""
    short = short_address(address)[:ADDRESS_MAX].rstrip(" ,") if address else None
    return {
        "number": ticket.number,
        "problem": ticket.problem,
        "category": ticket.category,
        "emergency": ticket.emergency,
        "status": ticket.status,
        "deadline_at": ticket.deadline_at,
        "address": short or None,
        "tz": tz,
    }


NOTES = {
    "ru": {
        NEAR: "Срок подходит (до {deadline})",
        OVERDUE: "Срок истёк {deadline}: заявка просрочена",
        ESCALATION: "Авария не устранена в срок",
        "sent": "SMS: {names}.",
        "nobody": "SMS некому: ни у кого нет телефона для оповещений.",
        "nobody_admin": "SMS некому: ни у одного администратора компании нет телефона.",
        "no_sender": "SMS не отправлено: у компании нет номера для отправки.",
    },
    "en": {
        NEAR: "Deadline near (due by {deadline})",
        OVERDUE: "Deadline passed {deadline}: the ticket is overdue",
        ESCALATION: "Emergency not dealt with in time",
        "sent": "SMS to {names}.",
        "nobody": "No SMS: nobody has a phone for alerts.",
        "nobody_admin": "No SMS: no company admin has a phone.",
        "no_sender": "No SMS: the company has no number to send from.",
    },
}
"""The history entries the clock writes (internal notes, in the company's language)."""


def event_note(
    stage: str,
    *,
    language: str,
    deadline_local: str,
    names: Sequence[str],
    has_sender: bool = True,
) -> str:
    """The internal history note for one stage: what happened and who was told."""
    words = NOTES.get(language, NOTES["ru"])
    head = words[stage].format(deadline=deadline_local)
    if not names:
        tail = words["nobody_admin" if stage == ESCALATION else "nobody"]
    elif not has_sender:
        tail = words["no_sender"]
    else:
        tail = words["sent"].format(names=", ".join(names))
    return f"{head}. {tail}"


# --- the database side -----------------------------------------------------------------------


def _due(stage: str, now: datetime) -> Select:
    """Ids of open tickets this stage has to act on now, oldest due first."""
    query = select(Ticket.id).where(Ticket.status.in_(TICKET_OPEN))
    if stage == NEAR:
        query = query.where(
            Ticket.warn_at <= now, Ticket.deadline_at > now, Ticket.warned_at.is_(None)
        ).order_by(Ticket.warn_at, Ticket.id)
    elif stage == OVERDUE:
        query = query.where(Ticket.deadline_at < now, Ticket.overdue_at.is_(None)).order_by(
            Ticket.deadline_at, Ticket.id
        )
    else:
        query = query.where(
            Ticket.deadline_at < now,
            Ticket.emergency.is_(True),
            Ticket.overdue_at.is_not(None),
            Ticket.escalated_at.is_(None),
        ).order_by(Ticket.deadline_at, Ticket.id)
    return query.limit(BATCH)


def _claim(session: Session, stage: str, ticket_id: int, now: datetime) -> bool:
    """Take the ticket for this stage; False when another clock already did (or it closed).

    The WHERE repeats the conditions the UPDATE depends on, which PostgreSQL re-checks after
    waiting for a row another transaction holds: the loser matches nothing.
    """
    statement = update(Ticket).where(Ticket.id == ticket_id, Ticket.status.in_(TICKET_OPEN))
    if stage == NEAR:
        statement = statement.where(Ticket.warned_at.is_(None), Ticket.deadline_at > now).values(
            warned_at=now, updated_at=now
        )
    elif stage == OVERDUE:
        statement = statement.where(Ticket.overdue_at.is_(None)).values(
            overdue_at=Ticket.deadline_at, overdue_alerted_at=now, updated_at=now
        )
    else:
        statement = statement.where(Ticket.escalated_at.is_(None)).values(
            escalated_at=now, updated_at=now
        )
    result = session.execute(
        statement.returning(Ticket.id).execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


def _alert(session: Session, stage: str, ticket_ids: list[int], now: datetime) -> list[int]:
    """Store the alert SMS and the history entry of each claimed ticket; the SMS ids."""
    tickets = list(
        session.exec(select(Ticket).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.id))
    )
    company_ids = {t.company_id for t in tickets}
    companies = {c.id: c for c in session.exec(select(Company).where(Company.id.in_(company_ids)))}
    building_ids = {t.building_id for t in tickets if t.building_id}
    addresses = (
        dict(
            session.exec(
                select(Building.id, Building.address).where(Building.id.in_(building_ids))
            ).all()
        )
        if building_ids
        else {}
    )
    staff = list(
        session.exec(
            select(User).where(
                User.company_id.in_(company_ids), User.active.is_(True), User.phone.is_not(None)
            )
        )
    )
    routes = {cid: outgoing.route(session, company=companies[cid]) for cid in company_ids}
    messages: list[Message] = []
    for ticket in tickets:
        company = companies[ticket.company_id]
        via = routes[company.id]
        people = recipients(stage, ticket, staff)
        params = alert_params(
            ticket, address=addresses.get(ticket.building_id), tz=company.timezone
        )
        if via.provider is not None:
            for person in people:
                message = outgoing.compose(
                    session,
                    kind=KIND_ALERT,
                    to_phone=person.phone,
                    company=company,
                    template=TEMPLATES[stage],
                    params=params,
                    language=person.language,
                    via=via,
                    created_at=now,
                )
                messages.append(message)
        deadline_local = ticket.deadline_at.astimezone(ZoneInfo(company.timezone))
        note = event_note(
            stage,
            language=company.language,
            deadline_local=deadline_local.strftime("%d.%m.%Y %H:%M"),
            names=[p.name for p in people],
            has_sender=via.provider is not None,
        )
        session.add(
            TicketEvent(ticket_id=ticket.id, at=now, actor=ACTOR_SYSTEM, note=note, public=False)
        )
        if not people or via.provider is None:
            log.warning("ticket %s (company %s): %s", ticket.number, company.slug, note)
    session.flush()
    return [m.id for m in messages]


def _batch(stage: str, now: datetime) -> tuple[int, int, list[int]]:
    """One unit of work: claim up to BATCH due tickets and store their alerts.

    Returns how many were due, how many this run claimed, and the SMS queued at the commit.
    """
    with session_scope() as session:
        due = list(session.execute(_due(stage, now)).scalars())
        failpoints.hit("deadline_clock.before_claim")
        # In id order, so two clocks on PostgreSQL take row locks in the same order.
        claimed = [tid for tid in sorted(due) if _claim(session, stage, tid, now)]
        message_ids = _alert(session, stage, claimed, now) if claimed else []
    return len(due), len(claimed), message_ids


def run(now: datetime | None = None) -> dict[str, int]:
    """Warn, mark overdue and escalate every ticket whose time has come by `now`.

    Returns how many tickets each stage took and how many SMS were queued.
    """
    now = now or utcnow()
    counts = {COUNTS[stage]: 0 for stage in STAGES} | {"alerts": 0}
    for stage in STAGES:
        while True:
            due, claimed, message_ids = _batch(stage, now)
            counts[COUNTS[stage]] += claimed
            if claimed:
                metrics.DEADLINE_ALERTS.labels(COUNTS[stage]).inc(claimed)
            counts["alerts"] += len(message_ids)
            if due < BATCH:
                break
    if any(counts.values()):
        log.info("deadline clock: %s", counts)
    return counts
