"""Residents' messages: stored once per (provider, provider id), then handled once.

`store` is the webhook's whole job (one INSERT). `handle` is the worker's: it runs in one
transaction that starts by claiming the message row, so the row lock serialises two workers
that got the same message, and a worker killed halfway leaves nothing behind but a rolled
back transaction.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

import handlers
from handlers.registry import Context, Reply
from smsbot import conversations, outgoing, parsing, residents, routing
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
    Company,
    CompanyNumber,
    Conversation,
    Message,
    Resident,
)
from smsbot.phones import mask
from smsbot.providers.base import InboundSms
from smsbot.segments import measure

log = logging.getLogger(__name__)

INCOMPLETE = "smsbot_incomplete"
"""Kept in a message's params when parts of a long text never arrived."""


def store(conn: Session | Connection, sms: InboundSms) -> tuple[int, bool]:
    """Insert the message unless the provider's id of it is known; return (id, created).

    Takes a plain Connection too: the webhook calls this on every request, and Core without
    the ORM session costs half as much.
    """
    now = utcnow()
    m = measure(sms.body)
    new_id = insert_ignore(
        conn,
        Message.__table__,
        {
            "direction": INBOUND,
            "status": IN_RECEIVED,
            "kind": KIND_RESIDENT,
            "provider": sms.provider,
            "external_id": sms.provider_id,
            "from_phone": sms.from_phone,
            "to_phone": sms.to_phone,
            "body": sms.body,
            "encoding": m.encoding,
            "num_segments": m.segments,
            "attempts": 0,
            "params": json.dumps(
                {**sms.params, INCOMPLETE: "1"} if sms.incomplete else sms.params,
                ensure_ascii=False,
            ),
            "created_at": now,
            "updated_at": now,
        },
        ["provider", "external_id"],
    )
    if new_id is not None:
        return new_id, True
    existing = sa_select(Message.id).where(
        Message.provider == sms.provider, Message.external_id == sms.provider_id
    )
    return conn.execute(existing).scalar_one(), False


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
        .values(attempts=Message.attempts + 1, updated_at=now)
    ).rowcount
    if not claimed:
        return pending_replies(session, message_id)

    message = session.get(Message, message_id)
    resident, company, conversation = _place(session, message, now, link=True)
    # A long text some of whose parts never came is no command to act on: a person reads it.
    if INCOMPLETE in json.loads(message.params or "{}"):
        command = parsing.Command("chat", message.body)
    else:
        command = parsing.parse(message.body)
    ctx = Context(session, message, resident, company, conversation, command, now)
    replies = handlers.handler_for(command.intent)(ctx)
    log.info(
        "handled message %s from %s: intent=%s company=%s replies=%d",
        message_id, mask(message.from_phone), command.intent, company.slug if company else "-", len(replies),
    )  # fmt: skip
    return _finish(session, ctx, replies, IN_HANDLED)


def handle_as_chat(session: Session, message_id: int, error: str) -> list[int]:
    """After a handler crashed: put the text in the company inbox so a person reads it."""
    message = session.get(Message, message_id)
    if message is None or message.status != IN_RECEIVED:
        return pending_replies(session, message_id)
    now = utcnow()
    resident, company, conversation = _place(session, message, now, link=False)
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
    return _finish(session, ctx, handlers.handler_for("chat")(ctx), IN_FAILED)


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


def _place(
    session: Session, message: Message, now: datetime, *, link: bool
) -> tuple[Resident, Company | None, Conversation | None]:
    """Find the sender, their company and thread, and file the message there."""
    resident = residents.get_or_create(session, message.from_phone)
    if link:
        residents.link_from_billing(session, resident)
    company = _route(session, message, resident.id)
    conversation = None
    if company is not None:
        conversation = conversations.get_or_create(
            session, company_id=company.id, resident_id=resident.id
        )
        conversation.last_message_at = now
    message.resident_id = resident.id
    message.company_id = company.id if company else None
    message.conversation_id = conversation.id if conversation else None
    return resident, company, conversation


def _route(session: Session, message: Message, resident_id: int) -> Company | None:
    from smsbot.models import Account, AccountLink

    number_company = session.exec(
        select(CompanyNumber.company_id).where(CompanyNumber.phone == message.to_phone)
    ).first()
    linked = session.exec(
        select(Account.company_id)
        .join(AccountLink, AccountLink.account_id == Account.id)
        .where(AccountLink.resident_id == resident_id)
        .order_by(AccountLink.id)
    ).all()
    route = routing.decide(
        number_company_id=number_company,
        linked_company_ids=linked,
        last_company_id=conversations.last_company_id(session, resident_id),
    )
    return session.get(Company, route.company_id) if route.company_id else None


def _finish(session: Session, ctx: Context, replies: list[Reply], status: str) -> list[int]:
    """Store the replies through the one door (sent after the commit); mark the message done."""
    created = [
        outgoing.compose(
            session,
            kind=KIND_OPT_OUT if reply.bypass_opt_out else KIND_REPLY,
            to_phone=ctx.message.from_phone,
            company=ctx.company,
            resident=ctx.resident,
            template=reply.template,
            params=reply.params,
            reply_to=ctx.message,
            conversation_id=ctx.message.conversation_id,
            reply_key=reply.key,
        )
        for reply in replies
    ]
    ctx.message.status = status
    ctx.message.handled_at = ctx.now
    session.flush()
    return [m.id for m in created if m is not None]
