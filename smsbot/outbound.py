"""Our SMS: stored as 'queued', sent at most once, moved forward by status callbacks.

Sending is claim → call → record. The claim (queued → sending) is committed before the
provider is called, so two workers never send the same row; a worker killed between the
call and the record leaves the row in 'sending', and the sweep asks the provider whether
the message went out before it would ever send it again (see `reconcile`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session

from handlers.registry import Reply
from smsbot import templates
from smsbot.clock import utcnow
from smsbot.config import Settings
from smsbot.db import session_scope
from smsbot.exceptions import PermanentSendError, TransientSendError
from smsbot.gateway.base import SendResult, Transport
from smsbot.gateway.twilio import OPTED_OUT
from smsbot.models import (
    KIND_OPT_OUT,
    KIND_REPLY,
    OUT_ACCEPTED,
    OUT_CANCELED,
    OUT_DELIVERED,
    OUT_FAILED,
    OUT_QUEUED,
    OUT_RANK,
    OUT_SENDING,
    OUT_SENT,
    OUT_UNDELIVERED,
    OUTBOUND,
    Company,
    Message,
    Resident,
)
from smsbot.phones import mask

log = logging.getLogger(__name__)

PROVIDER_STATUS = {
    "accepted": OUT_ACCEPTED,
    "scheduled": OUT_ACCEPTED,
    "queued": OUT_ACCEPTED,
    "sending": OUT_ACCEPTED,
    "sent": OUT_SENT,
    "delivered": OUT_DELIVERED,
    "read": OUT_DELIVERED,
    "undelivered": OUT_UNDELIVERED,
    "failed": OUT_FAILED,
    "canceled": OUT_CANCELED,
}
"""Twilio's MessageStatus words mapped onto our outbound states."""

RETRY_BACKOFF = (2, 5, 15, 60, 180, 600)
"""Seconds before each further try after a transient failure."""


def backoff(attempt: int) -> int:
    return RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF)) - 1]


def queue_reply(
    session: Session, *, inbound: Message, resident: Resident, company: Company | None, reply: Reply
) -> Message:
    """Render a handler's reply in the resident's language and store it, ready to send."""
    rendered = templates.render(
        reply.template,
        resident.language,
        translit=bool(company and company.transliterate),
        **reply.params,
    )
    message = Message(
        direction=OUTBOUND,
        status=OUT_QUEUED,
        kind=KIND_OPT_OUT if reply.bypass_opt_out else KIND_REPLY,
        from_phone=inbound.to_phone,
        to_phone=inbound.from_phone,
        body=rendered.text,
        encoding=rendered.measure.encoding,
        num_segments=rendered.measure.segments,
        resident_id=resident.id,
        company_id=company.id if company else None,
        conversation_id=inbound.conversation_id,
        reply_to_id=inbound.id,
        reply_key=reply.key,
        template=reply.template,
    )
    session.add(message)
    return message


@dataclass(frozen=True)
class SendOutcome:
    """What one run of the send job did, for logs and tests."""

    result: str
    """sent, skipped, canceled, retry, failed"""
    retry_in: int | None = None


def send(message_id: int, transport: Transport, settings: Settings) -> SendOutcome:
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
        to, body, from_, attempts, kind = (
            message.to_phone,
            message.body,
            message.from_phone,
            message.attempts,
            message.kind,
        )

    try:
        from smsbot import failpoints

        failpoints.hit("send.before_provider")
        result = transport.send(
            to=to, body=body, from_=from_, status_callback=status_callback_url(settings, message_id)
        )
        failpoints.hit("send.after_provider")
    except TransientSendError as exc:
        return _transient(message_id, attempts, exc, settings, kind)
    except PermanentSendError as exc:
        _permanent(message_id, exc)
        return SendOutcome("failed")
    record(message_id, result)
    return SendOutcome("sent")


def status_callback_url(settings: Settings, message_id: int) -> str:
    """Where the provider reports delivery; `o` finds the row even before its SID is stored."""
    return f"{settings.public_base_url}/sms/status?o={message_id}"


def record(message_id: int, result: SendResult) -> None:
    """Store the provider's SID and move the message forward (a callback may have been first)."""
    status = PROVIDER_STATUS.get(result.status, OUT_ACCEPTED)
    now = utcnow()
    with session_scope() as session:
        values = {"provider_sid": result.sid, "updated_at": now, "sent_at": now, "error_code": None}
        if result.num_segments:
            values["num_segments"] = result.num_segments
        session.execute(update(Message).where(Message.id == message_id).values(**values))
        _advance(session, message_id, status)


def _transient(
    message_id: int, attempts: int, exc: TransientSendError, settings: Settings, kind: str
) -> SendOutcome:
    from smsbot import queues

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
        if exc.code == OPTED_OUT and message.resident_id:
            resident = session.get(Resident, message.resident_id)
            if not resident.opted_out:
                resident.opted_out = True
                resident.opted_out_at = now
    log.warning("message %s failed for good: %s", message_id, exc)


def _advance(session: Session, message_id: int, status: str) -> bool:
    """Move forward to `status` unless the message is already there or further on."""
    lower = [s for s, rank in OUT_RANK.items() if rank < OUT_RANK[status]]
    now = utcnow()
    values: dict = {"status": status, "updated_at": now}
    if status == OUT_DELIVERED:
        values["delivered_at"] = now
    return bool(
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status.in_(lower))
            .values(**values)
        ).rowcount
    )


def apply_status(
    session: Session,
    *,
    sid: str,
    status: str,
    message_id: int | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
) -> str:
    """Apply a delivery status callback; returns 'updated', 'ignored' or 'unknown'."""
    from sqlmodel import select

    message = session.exec(
        select(Message).where(Message.provider_sid == sid, Message.direction == OUTBOUND)
    ).first()
    if message is None and message_id is not None:
        message = session.get(Message, message_id)
        if message is not None and (
            message.direction != OUTBOUND or message.provider_sid not in (None, sid)
        ):
            message = None
        if message is not None and message.provider_sid is None:
            message.provider_sid = sid
    if message is None:
        return "unknown"
    new = PROVIDER_STATUS[status]
    if not _advance(session, message.id, new):
        return "ignored"
    if error_code is not None:
        session.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(error_code=error_code, error_message=(error_message or "")[:500] or None)
        )
    return "updated"


def reconcile(message_id: int, transport: Transport, settings: Settings) -> str:
    """For a message stuck in 'sending': record it if the provider has it, else queue it again."""
    from smsbot import queues

    with session_scope() as session:
        message = session.get(Message, message_id)
        if message is None or message.status != OUT_SENDING:
            return "moved on"
        to, body, claimed_at, kind, attempts = (
            message.to_phone,
            message.body,
            message.claimed_at,
            message.kind,
            message.attempts,
        )
    found = transport.find_sent(to=to, body=body, since=claimed_at - timedelta(seconds=5))
    if found is not None:
        record(message_id, found)
        log.info(
            "message %s was sent before a crash (%s); recorded, not resent", message_id, found.sid
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
    queues.enqueue_send(message_id, queue_name=queues.send_queue(kind))
    return "requeued"
