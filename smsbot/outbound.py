"""Our SMS: stored as 'queued', sent at most once, moved forward by status callbacks.

Sending is claim → call → record. The claim (queued → sending) is committed before the
provider is called, so two workers never send the same row; a worker killed between the
call and the record leaves the row in 'sending', and the sweep asks the provider whether
the message went out before it would ever send it again (see `reconcile`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Update,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlmodel import Session

from smsbot import changes, failpoints, providers, queues
from smsbot.clock import utcnow
from smsbot.config import Settings
from smsbot.db import session_scope
from smsbot.exceptions import PermanentSendError, TransientSendError, UnknownSendOutcome
from smsbot.models import (
    KIND_OPT_OUT,
    OUT_CANCELED,
    OUT_DELIVERED,
    OUT_FAILED,
    OUT_QUEUED,
    OUT_RANK,
    OUT_SENDING,
    OUTBOUND,
    Message,
    MessageRef,
    Resident,
)
from smsbot.phones import mask, mask_all
from smsbot.providers.base import OPTED_OUT, OutgoingSms, SendResult, StatusUpdate

log = logging.getLogger(__name__)

RETRY_BACKOFF = (2, 5, 15, 60, 180, 600)
"""Seconds before each further try after a transient failure."""


def backoff(attempt: int) -> int:
    return RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF)) - 1]


@dataclass(frozen=True)
class SendOutcome:
    """What one run of the send job did, for logs and tests."""

    result: str
    """sent, skipped, canceled, retry, failed"""
    retry_in: int | None = None


def outgoing_sms(message: Message, settings: Settings, provider: providers.Provider) -> OutgoingSms:
    """The stored row as a provider needs it (a Message, or a row of a claim's RETURNING)."""
    return OutgoingSms(
        message_id=message.id,
        to=message.to_phone,
        body=message.body,
        sender=message.from_phone or None,
        encoding=message.encoding or "GSM-7",
        segments=message.num_segments or 1,
        status_callback=provider.status_callback_url(settings.public_base_url, message.id),
    )


def send(message_id: int, settings: Settings) -> SendOutcome:
    """Send one queued message at most once; decide retries on failure."""
    now = utcnow()
    with session_scope() as session:
        claimed = session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.direction == OUTBOUND,
                Message.status == OUT_QUEUED,
                (Message.next_attempt_at.is_(None)) | (Message.next_attempt_at <= now),
            )
            .values(
                status=OUT_SENDING, claimed_at=now, attempts=Message.attempts + 1, updated_at=now
            )
        ).rowcount
        if not claimed:
            return SendOutcome("skipped")
        message = session.get(Message, message_id)
        resident = session.get(Resident, message.resident_id) if message.resident_id else None
        if resident is not None and resident.opted_out and message.kind != KIND_OPT_OUT:
            message.status = OUT_CANCELED
            message.error_message = "resident opted out"
            log.info("not sending message %s to %s: opted out", message_id, mask(message.to_phone))
            return SendOutcome("canceled")
        provider = providers.find(settings, message.provider or settings.default_provider or "")
        if provider is None or provider.uses_connector:
            # A connector's rows are its own; an unknown provider is a configuration error.
            message.status = OUT_QUEUED if provider is not None else OUT_FAILED
            message.error_message = (
                None if provider else f"provider {message.provider!r} is not configured"
            )
            return SendOutcome("skipped" if provider else "failed")
        if message.provider is None:
            message.provider = provider.name
        sms = outgoing_sms(message, settings, provider)
        attempts, kind = message.attempts, message.kind

    try:
        failpoints.hit("send.before_provider")
        result = provider.send(sms)
        failpoints.hit("send.after_provider")
    except UnknownSendOutcome as exc:
        # It may have gone out: stay 'sending'; the sweep asks the provider before any resend.
        log.warning("message %s: outcome unknown (%s); the provider will be asked", message_id, exc)
        return SendOutcome("unknown")
    except TransientSendError as exc:
        return _transient(message_id, attempts, exc, settings, kind)
    except PermanentSendError as exc:
        _permanent(message_id, exc)
        return SendOutcome("failed")
    record(message_id, result, provider.name)
    return SendOutcome("sent")


def record(message_id: int, result: SendResult, provider: str) -> None:
    """Store the provider's id and move the message forward (a callback may have been first)."""
    now = utcnow()
    with session_scope() as session:
        values = {
            "provider": provider,
            "external_id": result.provider_id,
            "updated_at": now,
            "sent_at": now,
            "error_code": None,
        }
        if result.num_segments:
            values["num_segments"] = result.num_segments
        session.execute(update(Message).where(Message.id == message_id).values(**values))
        if result.part_ids:
            session.execute(
                insert(MessageRef),
                [
                    {"provider": provider, "ref": ref, "message_id": message_id}
                    for ref in result.part_ids
                ],
            )
        moved = _move(session, result.status, m_id=message_id)
        if moved is not None:
            changes.note(session, [moved.company_id])


def _transient(
    message_id: int, attempts: int, exc: TransientSendError, settings: Settings, kind: str
) -> SendOutcome:
    now = utcnow()
    with session_scope() as session:
        values = {"error_code": exc.code, "error_message": str(exc)[:500], "updated_at": now}
        if attempts >= settings.send_max_attempts:
            values["status"] = OUT_FAILED
            session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == OUT_SENDING)
                .values(**values)
            )
            log.warning("giving up on message %s after %d attempts: %s", message_id, attempts, exc)
            return SendOutcome("failed")
        delay = backoff(attempts)
        values.update(status=OUT_QUEUED, next_attempt_at=now + timedelta(seconds=delay))
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == OUT_SENDING)
            .values(**values)
        )
    log.info(
        "message %s: transient failure (%s), retry %d in %ds", message_id, exc, attempts, delay
    )
    queues.enqueue_send(message_id, delay=delay, queue_name=queues.send_queue(kind))
    return SendOutcome("retry", delay)


def _permanent(message_id: int, exc: PermanentSendError) -> None:
    now = utcnow()
    with session_scope() as session:
        message = session.get(Message, message_id)
        message.status = OUT_FAILED
        message.error_code = exc.code
        message.error_message = str(exc)[:500]
        message.updated_at = now
        if exc.meaning == OPTED_OUT and message.resident_id:
            resident = session.get(Resident, message.resident_id)
            if not resident.opted_out:
                resident.opted_out = True
                resident.opted_out_at = now
    log.warning("message %s failed for good: %s", message_id, exc)


def _sql(value: str | int) -> ColumnElement:
    """One of our own constants written into the SQL: a bound parameter costs CPU on every
    execution, and the rank CASE alone would bind sixteen."""
    return literal_column(f"'{value}'" if isinstance(value, str) else str(int(value)))


status_rank = case(
    {_sql(status): _sql(rank) for status, rank in OUT_RANK.items()},
    value=Message.__table__.c.status,
)
"""A message's place in OUT_RANK, in SQL, so "delivery states only move forward" is one
WHERE clause: a status older than the row's (Twilio may post 'delivered' before 'sent'),
or a repeat, matches no row and changes nothing (a status not in OUT_RANK ranks NULL and
never moves)."""


BY_ID, BY_EXTERNAL_ID, BY_CALLBACK = "id", "external_id", "callback"
"""How `_forward` finds its row: our id; the provider's id; or our id as the callback URL
names it, with the provider's id it brings (stored if the send is not recorded yet)."""


@lru_cache(maxsize=64)
def _forward(status: str, by: str, with_error: bool) -> Update:
    """UPDATE one outbound message to `status` where that is forward, RETURNING id,
    resident_id and company_id: by :m_id, by (:m_provider, :m_external_id), or both (see BY_CALLBACK).

    Built once per shape: building and caching-keying a statement costs more CPU than
    running it, and every message we send brings two status callbacks.

    Only the columns that find the row are written so that an index can serve them: the id,
    or (provider, external_id). The other conditions are wrapped in coalesce(), which no
    index serves. Written plainly, PostgreSQL's generic plan (psycopg prepares a statement
    once it has run 5 times) was made while the table was still small, when an index scan
    of (provider, external_id) or of (direction, status, created_at) cost the same as the
    primary key's, and the plan was kept as the table grew. Every callback then read all of
    the provider's rows, or all outbound ones, with their dead versions: about 1,700 index
    entries per callback after 40 s at 200 msg/s, and most of the database's CPU.
    """
    c = Message.__table__.c
    values: dict = {"status": _sql(status), "updated_at": bindparam("m_now")}
    if status == OUT_DELIVERED:
        values["delivered_at"] = bindparam("m_now")
    if with_error:
        values["error_code"] = bindparam("m_error_code")
        values["error_message"] = bindparam("m_error_message")
    if by == BY_ID:
        where = (c.id == bindparam("m_id"),)
    elif by == BY_EXTERNAL_ID:
        where = (c.provider == bindparam("m_provider"), c.external_id == bindparam("m_external_id"))
    else:
        where = (
            c.id == bindparam("m_id"),
            func.coalesce(c.provider, "") == bindparam("m_provider"),
            # the provider's id, or none yet (the callback beat the record of the send)
            func.coalesce(c.external_id, bindparam("m_external_id")) == bindparam("m_external_id"),
        )
        values["external_id"] = bindparam("m_external_id")
    is_outbound = func.coalesce(c.direction, "") == _sql(OUTBOUND)
    return (
        update(Message.__table__)
        .where(*where, is_outbound, status_rank < _sql(OUT_RANK[status]))
        .values(**values)
        .returning(c.id, c.resident_id, c.company_id)
    )


def _move(
    session: Session | Connection,
    status: StatusUpdate | str,
    at: datetime | None = None,
    **where: Any,
) -> Row | None:
    """Run `_forward` for one row (m_id=…; m_provider=…, m_external_id=…; or all three), as
    of `at` (now, unless the state waited in the spool)."""
    params = {"m_now": at or utcnow(), **where}
    by = BY_EXTERNAL_ID if "m_id" not in where else BY_CALLBACK if len(where) > 1 else BY_ID
    if isinstance(status, str):
        return session.execute(_forward(status, by, False), params).first()
    with_error = status.error_code is not None or bool(status.error_message)
    if with_error:
        params["m_error_code"] = status.error_code
        params["m_error_message"] = (status.error_message or "")[:500] or None
    stmt = _forward(status.status, by, with_error)
    return session.execute(stmt, params).first()


def _advance(session: Session | Connection, message_id: int, status: str) -> bool:
    """Move forward to `status` unless the message is already there or further on."""
    return _move(session, status, m_id=message_id) is not None


def find_by_external_id(
    session: Session | Connection, provider: str, external_id: str, aliases: tuple[str, ...] = ()
) -> int | None:
    """Our message with this provider id (or one of its spellings), or with it as the id of
    one of its parts; the exact spelling wins over an alias."""
    ids = (external_id, *aliases)
    exact_first = case((Message.external_id == external_id, 0), else_=1)
    found = session.execute(
        select(Message.id)
        .where(Message.provider == provider, Message.external_id.in_(ids))
        .order_by(exact_first)
        .limit(1)
    ).scalar_one_or_none()
    if found is None:
        exact_first = case((MessageRef.ref == external_id, 0), else_=1)
        found = session.execute(
            select(MessageRef.message_id)
            .where(MessageRef.provider == provider, MessageRef.ref.in_(ids))
            .order_by(exact_first)
            .limit(1)
        ).scalar_one_or_none()
    return found


def apply_status(
    session: Session | Connection,
    provider: str,
    status: StatusUpdate,
    *,
    at: datetime | None = None,
    changed: set[int | str | None] | None = None,
) -> str:
    """Apply a delivery state; returns 'updated', 'ignored' (not forward) or 'unknown'.
    `at`: when the provider reported it, for a state kept in the spool (smsbot.spool).

    `changed` gathers the company of a message that moved, for the caller to announce
    (smsbot.changes.bump) once its transaction commits: once per request, not per status.

    One UPDATE … RETURNING on the common path (Twilio's two callbacks per message): no ORM
    load, no read before the write. When the callback URL names our id (it is signed with
    the URL), the row is found by it, and the provider's id is stored if the callback beat
    the record of the send, which is usual when sends are recorded a batch at a time.
    Otherwise by the provider's id. Only when that matches no row do we look further: the id
    may be an alias or the id of a part (SMPP), the callback may have beaten the record of
    the send, the row may already be further on ('ignored'), or it is not ours ('unknown').
    """
    moved = None
    if status.message_id is not None:
        moved = _move(
            session,
            status,
            at,
            m_id=status.message_id,
            m_provider=provider,
            m_external_id=status.provider_id,
        )
    if moved is None:
        moved = _move(session, status, at, m_provider=provider, m_external_id=status.provider_id)
    if moved is None:
        message_id = _claim(session, provider, status)
        if message_id is None:
            return "unknown"
        moved = _move(session, status, at, m_id=message_id)
        if moved is None:
            return "ignored"
    if changed is not None:
        changed.add(moved.company_id)
    if status.meaning == OPTED_OUT and moved.resident_id is not None:
        _opt_out(session, moved.resident_id)
        if changed is not None:
            changed.add(changes.EVERYONE)  # the resident's threads in any company
    return "updated"


def _claim(session: Session | Connection, provider: str, status: StatusUpdate) -> int | None:
    """The message a status names when its exact provider id did not move a row."""
    message_id = find_by_external_id(session, provider, status.provider_id, status.aliases)
    if message_id is None and status.message_id is not None:
        # The callback named our id before the send was recorded: claim the id for it.
        message_id = session.execute(
            update(Message)
            .where(
                Message.id == status.message_id,
                Message.direction == OUTBOUND,
                Message.provider == provider,
                Message.external_id.is_(None),
            )
            .values(external_id=status.provider_id)
            .returning(Message.id)
        ).scalar_one_or_none()
    return message_id


def _opt_out(session: Session | Connection, resident_id: int) -> None:
    """The provider says the person asked it to stop: we stop too (only СТАРТ lifts it)."""
    session.execute(
        update(Resident)
        .where(Resident.id == resident_id, Resident.opted_out.is_(False))
        .values(opted_out=True, opted_out_at=utcnow())
    )


def reconcile(message_id: int, settings: Settings) -> str:
    """For a message stuck in 'sending': record it if the provider has it, else queue it again."""
    with session_scope() as session:
        message = session.get(Message, message_id)
        if message is None or message.status != OUT_SENDING:
            return "moved on"
        provider = providers.find(settings, message.provider or settings.default_provider or "")
        if provider is None or provider.uses_connector:
            return "not ours"  # a connector settles its own unknown sends
        sms = outgoing_sms(message, settings, provider)
        claimed_at, kind, attempts = message.claimed_at, message.kind, message.attempts
    found = provider.find_sent(sms, since=claimed_at - timedelta(seconds=5))
    if found is not None:
        record(message_id, found, provider.name)
        log.info(
            "message %s was sent before a crash (%s); recorded, not resent",
            message_id,
            mask_all(found.provider_id),  # SMSC.ru's id carries the phone: "<id>/<phone>"
        )
        return "recorded"
    stuck = (
        update(Message)
        .where(
            Message.id == message_id,
            Message.status == OUT_SENDING,
            Message.claimed_at == claimed_at,
        )
        .values(updated_at=utcnow())
    )
    if attempts >= settings.send_max_attempts:
        # A send that keeps killing its worker must not loop forever: a person looks at it.
        with session_scope() as session:
            session.execute(
                stuck.values(status=OUT_FAILED, error_message="sender crashed on every attempt")
            )
        log.error("message %s failed: its sender crashed %d times", message_id, attempts)
        return "failed"
    with session_scope() as session:
        session.execute(stuck.values(status=OUT_QUEUED, next_attempt_at=None))
    queues.wake_sender(provider.name, queue_name=queues.send_queue(kind), force=True)
    return "requeued"
