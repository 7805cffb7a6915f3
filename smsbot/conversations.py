"""Conversations: one thread per resident and company, as dispatchers see it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, or_, tuple_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from smsbot import changes, db, outgoing, search_filters, tickets, waiting
from smsbot.clock import utcnow
from smsbot.db import insert_ignore_returning
from smsbot.exceptions import Refused
from smsbot.models import (
    KIND_DISPATCHER,
    KIND_RESIDENT,
    Account,
    AccountLink,
    Building,
    Company,
    Conversation,
    ConversationLabel,
    ConversationNote,
    Label,
    Message,
    Resident,
    User,
)
from smsbot.search import Query
from smsbot.users import assignable


def get_or_create(session: Session, *, company_id: int, resident_id: int) -> Conversation:
    """The thread between a resident and a company, opened on first contact."""
    return get_or_create_many(session, [(company_id, resident_id)])[(company_id, resident_id)]


def get_or_create_many(
    session: Session,
    pairs: Iterable[tuple[int, int]],
    known: Iterable[Conversation] | None = None,
    now: datetime | None = None,
) -> dict[tuple[int, int], Conversation]:
    """Threads by (company id, resident id), opening the missing ones.

    `known`: every thread the residents of `pairs` have (the caller loaded them with
    `of_residents`), so a worker's batch costs no query to look for them, and one INSERT
    for those that are new. `now`: the time of the resident's message that opens them, so
    the thread is inserted already as `resident_wrote` leaves it, and the flush finds nothing
    to UPDATE (one statement less for each new resident's first message).
    """
    wanted = list(dict.fromkeys(pairs))
    if known is None:
        known = of_residents(session, [resident_id for _, resident_id in wanted])
    found = {(c.company_id, c.resident_id): c for c in known}
    missing = [pair for pair in wanted if pair not in found]
    if not missing:
        return found
    now = now or utcnow()
    created = insert_ignore_returning(
        session,
        Conversation,
        [
            {"company_id": company_id, "resident_id": resident_id, "status": "open",
             "unread": 0, "acknowledged": False, "created_at": now, "last_message_at": now}
            for company_id, resident_id in missing
        ],
        ["company_id", "resident_id"],
    )  # fmt: skip
    found.update(((c.company_id, c.resident_id), c) for c in created)
    raced = [pair for pair in missing if pair not in found]
    if raced:  # another process opened them a moment ago
        found.update(
            ((c.company_id, c.resident_id), c)
            for c in session.exec(
                select(Conversation).where(
                    tuple_(Conversation.company_id, Conversation.resident_id).in_(raced)
                )
            )
        )
    return found


def of_residents(session: Session, resident_ids: Iterable[int]) -> list[Conversation]:
    """Every thread of these residents, with any company."""
    ids = list(set(resident_ids))
    if not ids:
        return []
    return db.load(session, Conversation, _OF_RESIDENTS, {"ids": ids})


_OF_RESIDENTS = sa_select(Conversation.__table__).where(
    Conversation.resident_id.in_(bindparam("ids", expanding=True))
)
"""Built once: every inbound batch runs it, and building it cost more than running it.
Through Core (db.load): the ORM's loading cost as much again."""


def last_company_id(session: Session, resident_id: int) -> int | None:
    """The company the resident talked to most recently, if any."""
    return latest_company_id(of_residents(session, [resident_id]))


def latest_company_id(threads: Iterable[Conversation]) -> int | None:
    """The company of the most recently active of these threads (one resident's)."""
    latest = max(threads, key=lambda c: (c.last_message_at, c.id), default=None)
    return latest.company_id if latest is not None else None


# --- The dispatchers' side: inbox, replies, notes, assignment ----------------------------------

OPEN = "open"
"""Waiting for the company: new, or answered but not finished."""
CLOSED = "closed"
"""Finished by a dispatcher; the resident's next message opens it again."""
WAITING = "waiting"
"""Waiting for the resident: out of the open view until they write or `waiting_until`
passes (then it shows as open again, marked, without anyone having to wake it)."""

MAX_REPLY_LENGTH = 1600
"""Twilio's limit for one message body (about 24 Cyrillic segments)."""
MAX_NOTE_LENGTH = 4000

INBOX_FILTERS = ("open", "mine", "unassigned", "waiting", "closed", "all")
"""Views of the inbox: open threads, mine, nobody's, waiting for the resident, closed ones,
everything."""
MAX_LABEL_LENGTH = 40
BULK_LIMIT = 200
"""Conversations (or tickets) one bulk action may change: a page of the list at most."""


@dataclass(frozen=True)
class AccountInfo:
    """An account linked to the resident's phone, as the inbox shows it."""

    number: str
    apartment: str | None
    address: str
    company_id: int


@dataclass
class InboxRow:
    """One line of the inbox: the thread, who it is with and what was said last."""

    conversation: Conversation
    resident: Resident
    company: Company
    last_message: Message | None
    """The resident's or a dispatcher's newest message (the bot's replies say little)."""
    accounts: list[AccountInfo]
    assignee: User | None
    labels: list[Label] = field(default_factory=list)


def clean_text(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF; the counter counted LF. Send what was counted."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def sms_text(body: str, *, empty: str) -> str:
    """A dispatcher's text, cleaned, or Refused when it is empty or too long for one SMS."""
    text = clean_text(body)
    if not text:
        raise Refused(empty)
    if len(text) > MAX_REPLY_LENGTH:
        raise Refused("The text is {n} characters long; at most {max} fit in one SMS message.",
                      n=len(text), max=MAX_REPLY_LENGTH)  # fmt: skip
    return text


def accounts_of(session: Session, resident_ids: list[int]) -> dict[int, list[AccountInfo]]:
    """Each resident's linked accounts with their building address."""
    found: dict[int, list[AccountInfo]] = {rid: [] for rid in resident_ids}
    if not resident_ids:
        return found
    rows = session.exec(
        select(AccountLink.resident_id, Account, Building.address)
        .join(Account, Account.id == AccountLink.account_id)
        .join(Building, Building.id == Account.building_id)
        .where(AccountLink.resident_id.in_(resident_ids))
        .order_by(AccountLink.id)
    )
    for resident_id, account, address in rows:
        found[resident_id].append(
            AccountInfo(account.number, account.apartment, address, account.company_id)
        )
    return found


def needs_answer(now: datetime):  # noqa: ANN201
    """Open, or waiting for the resident past its time: what the open views list."""
    return or_(
        Conversation.status == OPEN,
        (Conversation.status == WAITING) & (Conversation.waiting_until <= now),
    )


def is_back(conversation: Conversation, now: datetime) -> bool:
    """Waiting for the resident, whose time passed without an answer."""
    return (
        conversation.status == WAITING
        and conversation.waiting_until is not None
        and conversation.waiting_until <= now
    )


def inbox(
    session: Session,
    *,
    company_ids: Iterable[int] | None,
    view: str = "open",
    user_id: int | None = None,
    search: Query | None = None,
    label_id: int | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> list[InboxRow]:
    """Conversations within the companies given (None: every company): unanswered
    emergencies pinned on top, then newest first; those the search box's `search` finds
    when there is one (smsbot.search_filters)."""
    now = now or utcnow()
    query = (
        select(Conversation, Resident, Company)
        .join(Resident, Resident.id == Conversation.resident_id)
        .join(Company, Company.id == Conversation.company_id)
        .order_by(
            Conversation.emergency_at.is_(None),
            Conversation.last_message_at.desc(),
            Conversation.id.desc(),
        )
        .limit(limit)
    )
    if company_ids is not None:
        query = query.where(Conversation.company_id.in_(list(company_ids)))
    if view in ("open", "mine", "unassigned"):
        query = query.where(needs_answer(now))
    if view == "mine":
        query = query.where(Conversation.assignee_id == user_id)
    elif view == "unassigned":
        query = query.where(Conversation.assignee_id.is_(None))
    elif view == "closed":
        query = query.where(Conversation.status == CLOSED)
    elif view == "waiting":
        query = query.where(
            Conversation.status == WAITING,
            Conversation.waiting_until.is_(None) | (Conversation.waiting_until > now),
        )
    if search is not None:
        query = query.where(search_filters.conversations(session, search, company_ids))
    if label_id is not None:
        query = query.where(
            Conversation.id.in_(
                select(ConversationLabel.conversation_id).where(
                    ConversationLabel.label_id == label_id
                )
            )
        )
    rows = session.exec(query).all()
    if not rows:
        return []
    ids = [c.id for c, _, _ in rows]
    last_ids = session.exec(
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(ids), Message.kind.in_((KIND_RESIDENT, KIND_DISPATCHER)))
        .group_by(Message.conversation_id)
    ).all()
    last = {
        m.conversation_id: m for m in session.exec(select(Message).where(Message.id.in_(last_ids)))
    }
    accounts = accounts_of(session, [r.id for _, r, _ in rows])
    assignee_ids = {c.assignee_id for c, _, _ in rows if c.assignee_id}
    assignees = {
        u.id: u for u in session.exec(select(User).where(User.id.in_(assignee_ids)))
    } if assignee_ids else {}  # fmt: skip
    labels = labels_of(session, ids)
    return [
        InboxRow(
            conversation=c,
            resident=r,
            company=company,
            last_message=last.get(c.id),
            accounts=[a for a in accounts[r.id] if a.company_id == c.company_id],
            assignee=assignees.get(c.assignee_id),
            labels=labels[c.id],
        )
        for c, r, company in rows
    ]


@dataclass(frozen=True)
class Alerts:
    """What every staff page watches: the unread count (badge, tab title) and the
    unanswered emergencies (a sound and a desktop notification when one is new)."""

    unread: int
    emergencies: list[int]
    """Ids of open conversations with an unanswered emergency, newest first."""


def alerts(session: Session, company_ids: Iterable[int] | None) -> Alerts:
    query = (
        select(Conversation.id)
        .where(Conversation.emergency_at.is_not(None), Conversation.status != CLOSED)
        .order_by(Conversation.emergency_at.desc())
        .limit(50)
    )
    if company_ids is not None:
        query = query.where(Conversation.company_id.in_(list(company_ids)))
    return Alerts(unread_total(session, company_ids), list(session.exec(query)))


def unread_total(session: Session, company_ids: Iterable[int] | None) -> int:
    """Unread resident messages in open conversations, for the navigation badge."""
    query = select(func.coalesce(func.sum(Conversation.unread), 0)).where(
        Conversation.status == OPEN
    )
    if company_ids is not None:
        query = query.where(Conversation.company_id.in_(list(company_ids)))
    return int(session.exec(query).one())


@dataclass
class Thread:
    """Everything a conversation page shows, oldest first."""

    messages: list[Message]
    notes: list[ConversationNote]
    authors: dict[int, User]

    def timeline(self) -> list[Message | ConversationNote]:
        items: list[Message | ConversationNote] = [*self.messages, *self.notes]
        return sorted(
            items, key=lambda item: (item.created_at, isinstance(item, ConversationNote), item.id)
        )


THREAD_LIMIT = 300
"""Messages a conversation page shows (the newest); older ones are rarely needed there."""


def thread(session: Session, conversation: Conversation, limit: int = THREAD_LIMIT) -> Thread:
    messages = list(
        session.exec(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )[::-1]
    notes = list(
        session.exec(
            select(ConversationNote)
            .where(ConversationNote.conversation_id == conversation.id)
            .order_by(ConversationNote.id)
        )
    )
    author_ids = {m.author_id for m in messages if m.author_id} | {
        n.author_id for n in notes if n.author_id
    }
    authors = (
        {u.id: u for u in session.exec(select(User).where(User.id.in_(author_ids)))}
        if author_ids
        else {}
    )
    return Thread(messages, notes, authors)


def reply(
    session: Session,
    *,
    conversation: Conversation,
    author: User,
    body: str,
) -> Message:
    """Store a dispatcher's SMS to the resident; it is queued for sending at the commit.

    Refused for an opted-out resident: they texted STOP, and only START from them lifts it.
    """
    text = sms_text(body, empty="Write the reply first.")
    resident = session.get(Resident, conversation.resident_id)
    if resident.opted_out:
        raise Refused(
            "Not sent: this resident opted out of SMS (STOP). They must text START to receive messages again."
        )
    company = session.get(Company, conversation.company_id)
    via = outgoing.route(session, company=company, resident_phone=resident.phone)
    if via.provider is None:
        raise Refused("Not sent: the company has no SMS number to send from.")
    now = utcnow()
    message = outgoing.compose(
        session,
        kind=KIND_DISPATCHER,
        to_phone=resident.phone,
        company=company,
        resident=resident,
        text=text,
        via=via,
        conversation_id=conversation.id,
        author_id=author.id,
        created_at=now,
    )
    tickets.note_first_reply(
        session, company_id=conversation.company_id, resident_id=resident.id, now=now
    )
    conversation.last_message_at = now
    conversation.staff_replied_at = now
    conversation.unread = 0
    conversation.emergency_at = conversation.emergency_kind = None  # a person answered
    if conversation.assignee_id is None and author.company_id == conversation.company_id:
        conversation.assignee_id = author.id
    session.add(conversation)
    session.flush()
    return message


def add_note(
    session: Session, *, conversation: Conversation, author: User, body: str
) -> ConversationNote:
    """An internal note: stored beside the thread, never sent."""
    text = clean_text(body)
    if not text:
        raise Refused("Write the note first.")
    if len(text) > MAX_NOTE_LENGTH:
        raise Refused("The note is too long (at most {max} characters).", max=MAX_NOTE_LENGTH)
    note = ConversationNote(
        conversation_id=conversation.id,
        company_id=conversation.company_id,
        author_id=author.id,
        body=text,
    )
    session.add(note)
    session.flush()
    return note


def assign(session: Session, conversation: Conversation, assignee_id: int | None) -> None:
    """Give the thread to a dispatcher of its company, or to nobody."""
    if assignee_id is not None and not assignable(session, conversation.company_id, assignee_id):
        raise Refused("Only an active dispatcher of this company can be assigned.")
    conversation.assignee_id = assignee_id
    session.add(conversation)


def set_status(session: Session, conversation: Conversation, status: str) -> None:
    """Close or reopen; closing also clears the unread count and the emergency pin."""
    if status not in (OPEN, CLOSED):
        raise ValueError(status)
    conversation.status = status
    conversation.waiting_until = None
    if status == CLOSED:
        conversation.unread = 0
        conversation.emergency_at = conversation.emergency_kind = None
    session.add(conversation)


def wait_for_resident(
    session: Session, conversation: Conversation, until: datetime | None, now: datetime
) -> None:
    """Out of the open view until the resident writes, or `until` passes (if given)."""
    if until is not None and until <= now:
        raise Refused("Choose a day in the future.")
    if until is not None and until - now > timedelta(days=waiting.MAX_DAYS):
        raise Refused("Choose a day within a year.")
    conversation.status = WAITING
    conversation.waiting_until = until
    session.add(conversation)


def resident_wrote(conversation: Conversation, now: datetime) -> None:
    """A new message from the resident: the thread moves up and stops waiting for them."""
    conversation.last_message_at = now
    if conversation.status == WAITING:
        conversation.status = OPEN
        conversation.waiting_until = None


def mark_read(session: Session, conversation_id: int) -> None:
    """The thread was seen: no unread messages. A write alone, so a page view may do it."""
    company_id = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.unread > 0)
        .values(unread=0)
        .returning(Conversation.company_id)
    ).scalar_one_or_none()
    changes.note(session, [company_id])


# --- labels --------------------------------------------------------------------------------------


def labels_for(session: Session, company_id: int) -> list[Label]:
    """The company's labels, by name."""
    return list(
        session.exec(select(Label).where(Label.company_id == company_id).order_by(Label.name))
    )


def labels_of(session: Session, conversation_ids: list[int]) -> dict[int, list[Label]]:
    """Each conversation's labels, by name."""
    found: dict[int, list[Label]] = {cid: [] for cid in conversation_ids}
    if not conversation_ids:
        return found
    for conversation_id, label in session.exec(
        select(ConversationLabel.conversation_id, Label)
        .join(Label, Label.id == ConversationLabel.label_id)
        .where(ConversationLabel.conversation_id.in_(conversation_ids))
        .order_by(Label.name)
    ):
        found[conversation_id].append(label)
    return found


def create_label(session: Session, company_id: int, name: str) -> Label:
    text = " ".join((name or "").split())
    if not text:
        raise Refused("Name the label first.")
    if len(text) > MAX_LABEL_LENGTH:
        raise Refused("The label is too long (at most {max} characters).", max=MAX_LABEL_LENGTH)
    # Compared here, not in SQL: SQLite's lower() folds ASCII only ("Счётчики" ≠ "счётчики").
    if any(label.name.casefold() == text.casefold() for label in labels_for(session, company_id)):
        raise Refused("There is a label with this name already.")
    label = Label(company_id=company_id, name=text)
    session.add(label)
    session.flush()
    return label


def delete_label(session: Session, label: Label) -> None:
    """Remove the label from every conversation, then the label."""
    session.execute(delete(ConversationLabel).where(ConversationLabel.label_id == label.id))
    session.delete(label)


def set_labels(session: Session, conversation: Conversation, label_ids: Iterable[int]) -> None:
    """The conversation carries exactly these labels (all of its own company)."""
    wanted = set(label_ids)
    own = {label.id for label in labels_for(session, conversation.company_id)}
    if not wanted <= own:
        raise Refused("Only the company's own labels can be used.")
    session.execute(
        delete(ConversationLabel).where(ConversationLabel.conversation_id == conversation.id)
    )
    for label_id in sorted(wanted):
        session.add(
            ConversationLabel(
                conversation_id=conversation.id,
                label_id=label_id,
                company_id=conversation.company_id,
            )
        )
    changes.note(session, [conversation.company_id])
