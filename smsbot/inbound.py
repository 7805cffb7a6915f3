"""Residents' messages: stored once per (provider, provider id), then handled once.

`store` is the webhook's whole job (one INSERT). The worker's is `handle_many`: a job claims
the messages waiting (`claim_waiting`, row locks that a second worker skips) and handles them
in one transaction, looking up senders, routes, billing links and threads once for the whole
batch, so a backlog costs a few statements per batch instead of a dozen per message. A worker
killed halfway leaves nothing behind but a rolled back transaction. `handle` does the same
for one message named by id (jobs queued before batches, and the retry of a failed batch).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import String, bindparam, cast, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Row
from sqlmodel import Session, select

from smsbot import (
    abuse,
    changes,
    conversations,
    db,
    interruptions,
    limiter,
    metrics,
    outage_notices,
    outgoing,
    parsing,
    residents,
    routing,
)
from smsbot.clock import utcnow
from smsbot.db import insert_ignore
from smsbot.models import (
    IN_FAILED,
    IN_HANDLED,
    IN_RECEIVED,
    INBOUND,
    KIND_OPT_OUT,
    KIND_REPLY,
    KIND_RESIDENT,
    OUT_QUEUED,
    OUTBOUND,
    Account,
    AccountLink,
    Company,
    CompanyNumber,
    Conversation,
    ConversationNote,
    Message,
    Resident,
)
from smsbot.phones import mask
from smsbot.providers.base import InboundSms
from smsbot.segments import measure
from smsbot.textnorm import storable

if TYPE_CHECKING:
    from handlers.registry import Context, Reply

log = logging.getLogger(__name__)

INCOMPLETE = "smsbot_incomplete"
"""Kept in a message's params when parts of a long text never arrived."""


def store(
    conn: Session | Connection, sms: InboundSms, *, received_at: datetime | None = None
) -> tuple[int, bool]:
    """Insert the message unless the provider's id of it is known; return (id, created).

    Takes a plain Connection too: the webhook calls this on every request, and Core without
    the ORM session costs half as much. `received_at`: when the webhook took it, for a
    message kept in the spool (smsbot.spool) while the database was down.
    """
    return insert(conn, row_of(sms, received_at=received_at))


def insert(conn: Session | Connection, row: dict) -> tuple[int, bool]:
    """`store` for a row `row_of` made already, before the caller's transaction (the
    webhook: see `row_of`)."""
    new_id = insert_ignore(conn, Message.__table__, row, ["provider", "external_id"])
    if new_id is not None:
        return new_id, True
    existing = sa_select(Message.id).where(
        Message.provider == row["provider"], Message.external_id == row["external_id"]
    )
    return conn.execute(existing).scalar_one(), False


def row_of(sms: InboundSms, *, received_at: datetime | None = None) -> dict:
    """The message's row as stored: no I/O, so the webhook makes it before it takes SQLite's
    one write lock, which every writer waits for (bench/README.md: under a burst of webhooks
    that lock is the ceiling, and what is done while holding it is what counts).

    The text and the provider's fields are stored without control characters (`storable`):
    every way in (each provider's webhook, the spool, the SMPP connector) passes here, and a
    NUL nobody can see must not cost the message.
    """
    now = received_at or utcnow()
    body = storable(sms.body)
    m = measure(body)
    return {
        "direction": INBOUND,
        "status": IN_RECEIVED,
        "kind": KIND_RESIDENT,
        "provider": sms.provider,
        "external_id": sms.provider_id,
        "from_phone": sms.from_phone,
        "to_phone": sms.to_phone,
        "body": body,
        "encoding": m.encoding,
        "num_segments": m.segments,
        "attempts": 0,
        "params": _params(sms),
        "created_at": now,
        "updated_at": now,
    }


def _params(sms: InboundSms) -> str:
    """The provider's fields as stored: JSON, without control characters.

    Checked on the JSON text, two scans in C instead of two per field (a webhook carries
    fifteen): json writes a NUL and most other control characters as \\u00XX, so such a
    field is cleaned and written again; DEL, C1 and lone surrogates it leaves as they are,
    and `storable` finds them. (\\b and \\f stay, escaped: plain ASCII to a database.)
    """
    params = {**sms.params, INCOMPLETE: "1"} if sms.incomplete else sms.params
    text = json.dumps(params, ensure_ascii=False)
    if "\\u00" in text or storable(text) != text:
        text = json.dumps({storable(k): storable(v) for k, v in params.items()}, ensure_ascii=False)
    return text


def claim_waiting(session: Session, limit: int) -> list[Message]:
    """Lock and load up to `limit` messages waiting for a handler, oldest first.

    On PostgreSQL another worker's batch skips the rows locked here (SKIP LOCKED), so two
    jobs never take the same message; SQLite has one writer, whose transaction holds them.
    The same statement reads the senders already known, the companies of the numbers
    written to and whether the billing export lists accounts to link for each sender, which
    `handle_many` would otherwise look up with three statements more; and for a known sender
    writing to a company's number (the company then decides the route: routing.decide),
    their thread with that company and the buildings of their accounts there, two statements
    more. It finds them in the session's info (`_Claimed`). It runs through Core, and its
    rows become the session's objects (`_parts`, db.loaded) at half the ORM's cost.
    """
    if session.autoflush:
        session.flush()
    rows = [_parts(session, row) for row in session.connection().execute(_waiting(limit))]
    messages = [row.message for row in rows]
    if messages:
        session.info[_CLAIMED] = _Claimed(
            ids=frozenset(m.id for m in messages),
            residents={r.resident.phone: r.resident for r in rows if r.resident is not None},
            numbers={r.message.to_phone: r.company for r in rows if r.company is not None},
            billing=frozenset(r.message.from_phone for r in rows if r.billing_waits),
            threads={
                (r.company.id, r.resident.id): (r.thread, r.buildings)
                for r in rows
                if r.resident is not None and r.company is not None
            },
        )
    return messages


_CLAIM_PARTS = tuple(
    (model, [c.key for c in model.__table__.c])
    for model in (Message, Resident, Company, Conversation)
)
"""The claim's columns, table by table: a message, its sender, its number's company, and
the sender's thread with that company."""


class _Row(NamedTuple):
    """One claimed message and what the claim read beside it (None: no such row)."""

    message: Message
    resident: Resident | None
    company: Company | None
    thread: Conversation | None
    billing_waits: bool
    buildings: frozenset[int]
    """Of the sender's accounts with the number's company."""


def _parts(session: Session, row: Row) -> _Row:
    """A claimed row as the session's objects (db.loaded): the outer joins' missing sides
    are None."""
    found: list = []
    start = 0
    for model, keys in _CLAIM_PARTS:
        values = dict(zip(keys, row[start : start + len(keys)], strict=True))
        start += len(keys)
        found.append(None if values["id"] is None else db.loaded(session, model, values))
    waits, buildings = row[start], row[start + 1]
    return _Row(
        *found,
        billing_waits=bool(waits),
        buildings=frozenset(int(b) for b in buildings.split(",")) if buildings else frozenset(),
    )


@dataclass(frozen=True)
class _Claimed:
    """What the claim read beside its messages, for `_place_all`."""

    ids: frozenset[int]
    residents: dict[str, Resident]
    """The senders that have a resident (the others had none when the claim ran)."""
    numbers: dict[str, Company]
    """The company of each number written to that is a company's."""
    billing: frozenset[str]
    """The senders the billing export lists for an account they have no link to yet
    (`residents.billing_waits`); the others need no look for links to make."""
    threads: dict[tuple[int, int], tuple[Conversation | None, frozenset[int]]]
    """By (company id, resident id), for each known sender that wrote to a company's number:
    their thread with that company (None: none yet) and the buildings of their accounts
    there. Nothing else about them is needed when the number decides the route."""


_CLAIMED = "smsbot.inbound.claimed"
"""session.info key: the `_Claimed` of the messages claimed in this session."""


@lru_cache(maxsize=8)
def _waiting(limit: int):  # noqa: ANN202 - a Core select
    """The claim's statement, built once per batch size (see `_NUMBERS`), through Core (see
    `_parts`). Only the messages are locked (FOR UPDATE OF): PostgreSQL refuses to lock the
    nullable side of an outer join, and residents, companies and threads were never locked
    here. A thread is unique per (company, resident), so each message is one row; the
    buildings come as one string (group_concat, string_agg) for the same reason."""
    message, resident, company = Message.__table__, Resident.__table__, Company.__table__
    number, thread = CompanyNumber.__table__, Conversation.__table__
    account, link = Account.__table__, AccountLink.__table__
    buildings = (
        sa_select(func.aggregate_strings(cast(account.c.building_id, String), ","))
        .select_from(link.join(account, account.c.id == link.c.account_id))
        .where(link.c.resident_id == resident.c.id, account.c.company_id == number.c.company_id)
        .scalar_subquery()
    )
    return (
        sa_select(
            message,
            resident,
            company,
            thread,
            residents.billing_waits(message.c.from_phone),
            buildings,
        )
        .select_from(
            message.outerjoin(resident, resident.c.phone == message.c.from_phone)
            .outerjoin(number, number.c.phone == message.c.to_phone)
            .outerjoin(company, company.c.id == number.c.company_id)
            .outerjoin(
                thread,
                (thread.c.resident_id == resident.c.id) & (thread.c.company_id == company.c.id),
            )
        )
        .where(message.c.direction == INBOUND, message.c.status == IN_RECEIVED)
        .order_by(message.c.id)
        .limit(limit)
        .with_for_update(of=message, skip_locked=True)
    )


def handle_many(session: Session, messages: list[Message], *, give_up_after: int) -> list[int]:
    """Handle claimed messages in the caller's transaction; return ids of the replies stored.

    A message tried `give_up_after` times already (its workers kept dying) skips the command
    parser and goes to a person, with a note why. A phone past its company's limits
    (smsbot.abuse) gets no answer: its message goes to the inbox as a chat, unanswered.
    """
    import handlers  # here, not at the top: the web process stores messages, never handles them
    from handlers.registry import Context

    now = utcnow()
    places = _place_all(session, messages, now, link=True)
    verdicts = _limits(messages, places, now)
    created: list[Message] = []
    for message, verdict in zip(messages, verdicts, strict=True):
        resident, company, conversation, announced = places[message.id]
        message.attempts = (message.attempts or 0) + 1
        message.updated_at = now
        status = IN_HANDLED
        if message.attempts > give_up_after:
            message.error_message = f"gave up after {message.attempts - 1} attempts"
            command, status = parsing.Command("chat", message.body), IN_FAILED
        elif INCOMPLETE in json.loads(message.params or "{}"):
            # A long text some of whose parts never came is no command to act on.
            command = parsing.Command("chat", message.body)
        else:
            command = parsing.parse(message.body)
        ctx = Context(session, message, resident, company, conversation, command, now, announced)
        if verdict.stop and not abuse.exempt(command.intent, command.emergency):
            replies = _unanswered(ctx, verdict)
        else:
            replies = handlers.handler_for(command.intent)(ctx)
        log.info(
            "handled message %s from %s: intent=%s company=%s replies=%d",
            message.id, mask(message.from_phone), command.intent,
            company.slug if company else "-", len(replies),
        )  # fmt: skip
        created += _finish(ctx, replies, status)
    _write(session, [*messages, *created])
    session.flush()
    return [m.id for m in created]


_REPLY_KEYS = ("reply_to_id", "reply_key", "kind", "to_phone", "template", "body", "status")
"""What sets one new reply apart from the others a batch stores (db.write_all)."""
_HANDLED = (
    "status", "attempts", "updated_at", "handled_at", "error_message",
    "resident_id", "company_id", "conversation_id",
)  # fmt: skip
"""The columns of an inbound message that handling it fills in (`handle_many`, `_place_all`,
`_finish`); a message a handler changed in others too is written by the flush."""


def _write(session: Session, messages: list[Message]) -> None:
    """The batch's messages, handled, and their replies in one statement (db.write_all:
    one statement less than the unit of work's UPDATE and INSERT), the desks of their
    companies told after the commit as the flush would have (smsbot.changes).

    On PostgreSQL only up to POSTGRES_ROWS rows (a lone message and its replies): there
    SQLAlchemy's "insertmanyvalues" renames every row's thirty placeholders at each
    execution, which for a batch of messages cost the workers more than the statement
    saved (0.2-0.3 ms more CPU per message at 400 msg/s, bench/README.md); the flush's
    UPDATE of the changed columns and INSERT of the replies then write them.
    """
    if db.engine().dialect.name == "postgresql" and len(messages) > POSTGRES_ROWS:
        return
    written = db.write_all(session, Message, messages, keys=_REPLY_KEYS, changing=_HANDLED)
    changes.note(session, {m.company_id for m in written})


POSTGRES_ROWS = 4
"""See `_write`: a message and up to three replies."""


def _limits(
    messages: list[Message], places: dict[int, Place], now: datetime
) -> list[limiter.Verdict]:
    """Each message's verdict against its company's limits: one Redis round trip."""
    checks = [
        limiter.Check(
            message_id=m.id,
            company_id=m.company_id,
            phone=m.from_phone,
            at=m.created_at or now,
            text=m.body,
            limits=abuse.Limits.of(places[m.id][1]),
        )
        for m in messages
    ]
    return limiter.check_many(checks, now)


def _unanswered(ctx: Context, verdict: limiter.Verdict) -> list[Reply]:
    """File a stopped phone's message for a person, unanswered; note the stop in the thread
    once per window. (Not the chat handler: its acknowledgement is an answer too.)"""
    conversation = ctx.conversation
    log.info(
        "not answering message %s from %s: %s limit (company %s)",
        ctx.message.id, mask(ctx.message.from_phone), verdict.stop,
        ctx.company.slug if ctx.company else "-",
    )  # fmt: skip
    metrics.abuse_stop(verdict.stop)
    if conversation is None:
        return []
    conversation.unread += 1
    conversation.status = "open"
    if verdict.note:
        ctx.session.add(
            ConversationNote(
                conversation_id=conversation.id,
                company_id=conversation.company_id,
                body=abuse.note(
                    verdict.stop, language=ctx.company.language, limits=abuse.Limits.of(ctx.company)
                ),
                created_at=ctx.now,
            )
        )
    return []


def handle(session: Session, message_id: int) -> list[int]:
    """Route, run the handler, store its replies; return ids of replies waiting to be sent.

    Idempotent: a message already handled returns its still-unsent replies and changes
    nothing, so the caller can queue them again.
    """
    now = utcnow()
    claimed = session.execute(
        update(Message)
        .where(
            Message.id == message_id, Message.direction == INBOUND, Message.status == IN_RECEIVED
        )
        .values(updated_at=now)
    ).rowcount
    if not claimed:
        return pending_replies(session, message_id)
    return handle_many(session, [session.get(Message, message_id)], give_up_after=1 << 30)


def handle_as_chat(session: Session, message_id: int, error: str) -> list[int]:
    """After a handler crashed: put the text in the company inbox so a person reads it."""
    import handlers
    from handlers.registry import Context

    message = session.get(Message, message_id)
    if message is None or message.status != IN_RECEIVED:
        return pending_replies(session, message_id)
    now = utcnow()
    resident, company, conversation, _ = _place_all(session, [message], now, link=False)[message.id]
    message.error_message = error[:500]
    ctx = Context(
        session,
        message,
        resident,
        company,
        conversation,
        parsing.Command("chat", message.body),
        now,
    )
    created = _finish(ctx, handlers.handler_for("chat")(ctx), IN_FAILED)
    session.flush()
    return [m.id for m in created]


def pending_replies(session: Session, message_id: int) -> list[int]:
    return list(
        session.exec(
            select(Message.id).where(
                Message.reply_to_id == message_id,
                Message.direction == OUTBOUND,
                Message.status == OUT_QUEUED,
            )
        )
    )


_NUMBERS = (
    select(CompanyNumber.phone, Company)
    .join(Company, Company.id == CompanyNumber.company_id)
    .where(CompanyNumber.phone.in_(bindparam("phones", expanding=True)))
)
"""The companies of the numbers written to. Built once, as `_LINKED` and `_WAITING`: a
statement built per call costs more than its execution, and a batch runs every one."""
_LINKED = (
    select(AccountLink.resident_id, Account.company_id, Account.building_id)
    .join(Account, AccountLink.account_id == Account.id)
    .where(AccountLink.resident_id.in_(bindparam("ids", expanding=True)))
    .order_by(AccountLink.id)
)
"""The companies and buildings of the residents' linked accounts, oldest link first. Run
through Core (nothing in the session waits to be flushed here): half the cost of the ORM's."""

Place = tuple[Resident, "Company | None", "Conversation | None", tuple[interruptions.Outage, ...]]
"""Sender, company, thread, and the announced outages of the sender's buildings there."""


def _place_all(
    session: Session, messages: list[Message], now: datetime, *, link: bool
) -> dict[int, Place]:
    """Find each message's sender, company and thread, and file the message there.

    Everything is looked up once for the whole batch (senders, billing links, the numbers
    written to, linked accounts, threads, companies, outages announced for the senders'
    buildings); `routing.decide` then picks per message.
    """
    claimed = session.info.pop(_CLAIMED, None)
    if claimed is not None and not claimed.ids.issuperset(m.id for m in messages):
        claimed = None  # (not the messages claimed)
    people, new = residents.find_or_create_many(
        session,
        [m.from_phone for m in messages],
        existing=claimed.residents if claimed is not None else None,
    )
    if claimed is not None:  # the claim knows whose links wait in the billing export
        waiting = [r for r in people.values() if r.phone in claimed.billing]
    else:
        waiting = list(people.values())
    linked_now = residents.link_all_from_billing(session, waiting) if link else {}
    numbers: dict[str, int] = {}
    companies: dict[int, Company] = {}
    for phone, company in (
        claimed.numbers.items()
        if claimed is not None
        else session.exec(_NUMBERS, params={"phones": list({m.to_phone for m in messages})})
    ):
        numbers[phone], companies[company.id] = company.id, company
    read = claimed.threads if claimed is not None else {}
    homes: dict[tuple[int, int], set[int]] = {  # (resident, company) → buildings
        (resident_id, company_id): set(buildings)
        for (company_id, resident_id), (_, buildings) in read.items()
        if buildings
    }
    # Whose links and threads are still to look up: a sender the claim read them for (one
    # who wrote to a company's number) needs no more, unless links were made just now; a
    # resident created just now has no thread, and no link but those just made.
    looked_up = set(linked_now) | {
        people[m.from_phone].id
        for m in messages
        if (numbers.get(m.to_phone), people[m.from_phone].id) not in read
    }
    known = [r.id for r in people.values() if r.id not in new and r.id in looked_up]
    linked: dict[int, list[int]] = {}
    with_links = [*known, *(i for i in linked_now if i in new)]
    for resident_id, company_id, building_id in (
        session.connection().execute(_LINKED, {"ids": with_links}) if with_links else ()
    ):
        linked.setdefault(resident_id, []).append(company_id)
        homes.setdefault((resident_id, company_id), set()).add(building_id)
    threads = [
        *conversations.of_residents(session, known),
        *(t for t, _ in read.values() if t is not None and t.resident_id not in looked_up),
    ]
    theirs: dict[int, list[Conversation]] = {}
    for thread in threads:
        theirs.setdefault(thread.resident_id, []).append(thread)
    chosen: dict[int, int | None] = {}
    for message in messages:
        resident_id = people[message.from_phone].id
        chosen[message.id] = routing.decide(
            number_company_id=numbers.get(message.to_phone),
            linked_company_ids=linked.get(resident_id, ()),
            last_company_id=conversations.latest_company_id(theirs.get(resident_id, ())),
        ).company_id
    others = {c for c in chosen.values() if c is not None and c not in companies}
    if others:  # routed by a linked account or the last thread, not by the number written to
        companies.update(
            (c.id, c) for c in session.exec(select(Company).where(Company.id.in_(others)))
        )
    opened = conversations.get_or_create_many(
        session,
        [(chosen[m.id], people[m.from_phone].id) for m in messages if chosen[m.id] is not None],
        known=threads,
        now=now,
    )
    housed = {c for m in messages if (c := chosen[m.id]) and (people[m.from_phone].id, c) in homes}
    announced = outage_notices.active_outages(session, housed, now) if housed else []
    places: dict[int, Place] = {}
    for message in messages:
        resident, company_id = people[message.from_phone], chosen[message.id]
        buildings = frozenset(homes.get((resident.id, company_id), ()))
        theirs_now = tuple(o for o in announced if o.concerns(company_id, buildings))
        conversation = opened[(company_id, resident.id)] if company_id is not None else None
        if conversation is not None:
            conversations.resident_wrote(conversation, now)
        message.resident_id = resident.id
        message.company_id = company_id
        message.conversation_id = conversation.id if conversation else None
        places[message.id] = (resident, companies.get(company_id), conversation, theirs_now)
    return places


def _finish(ctx: Context, replies: list[Reply], status: str) -> list[Message]:
    """Store the replies through the one door (sent after the commit); mark the message done.
    The caller flushes once for its whole batch."""
    created = [
        outgoing.compose(
            ctx.session,
            kind=KIND_OPT_OUT if reply.bypass_opt_out else KIND_REPLY,
            to_phone=ctx.message.from_phone,
            company=ctx.company,
            resident=ctx.resident,
            template=reply.template,
            params=reply.params,
            language=ctx.language,
            reply_to=ctx.message,
            conversation_id=ctx.message.conversation_id,
            reply_key=reply.key,
        )
        for reply in replies
    ]
    ctx.message.status = status
    ctx.message.handled_at = ctx.now
    return [m for m in created if m is not None]
