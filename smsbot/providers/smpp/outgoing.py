"""Our side of sending over SMPP: the database rows a connector claims, and what it writes back.

The claim (queued → sending, attempts + 1) is committed before any submit_sm is written, so
no second connector and no RQ worker can take the same row, and a connector killed after the
write leaves the row in 'sending' without a provider id: an unknown outcome, settled by
`unknown` and `release_unknown` (see connector.py for the rule).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from smsbot import changes, outbound
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.models import (
    KIND_OPT_OUT,
    OUT_CANCELED,
    OUT_FAILED,
    OUT_QUEUED,
    OUT_SENDING,
    OUTBOUND,
    Message,
    Resident,
)
from smsbot.providers.base import SendResult
from smsbot.providers.smpp import parts as smpp_parts
from smsbot.providers.smpp.config import SmppConfig, address

log = logging.getLogger(__name__)


@dataclass
class Outgoing:
    """One claimed message on its way out: its parts and what the SMSC said of each."""

    message_id: int
    to: str
    body: str
    sender: str
    attempts: int
    parts: list[smpp_parts.Part]
    ids: list[str | None] = field(default_factory=list)
    to_write: list[int] = field(default_factory=list)
    """Parts not written yet (all at first; a throttled part comes back here)."""
    written: set[int] = field(default_factory=set)
    """Parts written and not answered yet."""
    unknown: set[int] = field(default_factory=set)
    """Parts written whose answer never came (the bind dropped)."""
    failure: tuple[int, str] | None = None
    """(command_status, meaning) once the SMSC refused a part for good."""
    done: bool = False
    """Settled: its row was (or is being) written."""

    @property
    def settled(self) -> bool:
        """Nothing left to write or to hear about."""
        return not self.to_write and not self.written

    @property
    def accepted(self) -> list[str]:
        return [i for i in self.ids if i]


def claim(config: SmppConfig, limit: int) -> list[Outgoing]:
    """Take up to `limit` queued messages of this provider; committed before we return."""
    now = utcnow()
    with session_scope() as session:
        due = (Message.next_attempt_at.is_(None)) | (Message.next_attempt_at <= now)
        ids = list(
            session.execute(
                select(Message.id)
                .where(
                    Message.direction == OUTBOUND,
                    Message.status == OUT_QUEUED,
                    Message.provider == config.name,
                    due,
                )
                .order_by(Message.id)
                .limit(limit)
            ).scalars()
        )
        if not ids:
            return []
        session.execute(
            update(Message)
            .where(
                Message.id.in_(ids),
                Message.status == OUT_QUEUED,
                Message.provider == config.name,
                due,
            )
            .values(
                status=OUT_SENDING, claimed_at=now, attempts=Message.attempts + 1, updated_at=now
            )
        )
        rows = session.execute(
            select(Message, Resident.opted_out)
            .outerjoin(Resident, Resident.id == Message.resident_id)
            .where(Message.id.in_(ids), Message.status == OUT_SENDING, Message.claimed_at == now)
            .order_by(Message.id)
        ).all()
        changes.note(session, [message.company_id for message, _ in rows])
        claimed = []
        for message, opted_out in rows:
            if opted_out and message.kind != KIND_OPT_OUT:
                message.status = OUT_CANCELED
                message.error_message = "resident opted out"
                continue
            claimed.append(_outgoing(config, message))
    return claimed


def _outgoing(config: SmppConfig, message: Message) -> Outgoing:
    # The UDH reference comes from our id, so a resend after a crash carries the same one.
    pieces = smpp_parts.split(
        message.body, ref=message.id % 256, gsm_coding=config.default_encoding
    )
    sender = message.from_phone or config.source
    return Outgoing(
        message_id=message.id,
        to=message.to_phone,
        body=message.body,
        sender=sender,
        attempts=message.attempts,
        parts=pieces,
        ids=[None] * len(pieces),
        to_write=list(range(len(pieces))),
    )


def submit_fields(out: Outgoing, index: int) -> dict:
    """The submit_sm fields of one part (SMPP 3.4 4.4.1); receipts asked for."""
    part = out.parts[index]
    source, source_ton, source_npi = address(out.sender)
    destination, dest_ton, dest_npi = address(out.to)
    return {
        "source_addr_ton": source_ton,
        "source_addr_npi": source_npi,
        "source_addr": source,
        "dest_addr_ton": dest_ton,
        "dest_addr_npi": dest_npi,
        "destination_addr": destination,
        "esm_class": part.esm_class,
        "data_coding": part.data_coding,
        "registered_delivery": 1,
        "short_message": part.short_message,
    }


def record(config: SmppConfig, out: Outgoing) -> None:
    """Store the SMSC's ids: the first part's is the message's, the others go to message_ref."""
    ids = out.accepted
    outbound.record(
        out.message_id,
        SendResult(
            provider_id=ids[0],
            status="accepted",
            num_segments=len(out.parts),
            part_ids=tuple(ids[1:]),
        ),
        config.name,
    )


def fail(out: Outgoing, code: int, reason: str) -> None:
    """The SMSC refused the message for good (an invalid number …): it is failed."""
    with session_scope() as session:
        session.execute(
            update(Message)
            .where(Message.id == out.message_id, Message.status == OUT_SENDING)
            .values(
                status=OUT_FAILED, error_code=code, error_message=reason[:500], updated_at=utcnow()
            )
        )


def gives_up(out: Outgoing, max_attempts: int) -> bool:
    """Whether a transient refusal fails the message: it has had its attempts."""
    return out.attempts >= max_attempts


def retry_later(out: Outgoing, code: int, reason: str, max_attempts: int) -> float | None:
    """Give the message back to the queue after a pause (a transient refusal); the pause, or
    None when it has had its attempts and is failed instead."""
    now = utcnow()
    values: dict = {"error_code": code, "error_message": reason[:500], "updated_at": now}
    delay = None
    if gives_up(out, max_attempts):
        values["status"] = OUT_FAILED
    else:
        delay = outbound.backoff(out.attempts)
        values.update(status=OUT_QUEUED, next_attempt_at=now + timedelta(seconds=delay))
    with session_scope() as session:
        session.execute(
            update(Message)
            .where(Message.id == out.message_id, Message.status == OUT_SENDING)
            .values(**values)
        )
    return delay


def release(message_ids: list[int]) -> None:
    """Give back claimed messages none of whose parts was written: nothing went out."""
    if not message_ids:
        return
    with session_scope() as session:
        session.execute(
            update(Message)
            .where(Message.id.in_(message_ids), Message.status == OUT_SENDING)
            .values(status=OUT_QUEUED, attempts=Message.attempts - 1, updated_at=utcnow())
        )


@dataclass(frozen=True)
class Unknown:
    """A message left in 'sending' with no SMSC id: its submit may or may not have gone out."""

    message_id: int
    to: str
    body: str
    claimed_at: datetime


def unknown(config: SmppConfig, exclude: set[int]) -> list[Unknown]:
    """This provider's messages whose outcome nobody knows, oldest first."""
    with session_scope() as session:
        rows = session.execute(
            select(Message.id, Message.to_phone, Message.body, Message.claimed_at)
            .where(
                Message.direction == OUTBOUND,
                Message.status == OUT_SENDING,
                Message.provider == config.name,
                Message.external_id.is_(None),
            )
            .order_by(Message.id)
        ).all()
    return [Unknown(*row) for row in rows if row[0] not in exclude]


def release_unknown(message_id: int, claimed_at: datetime) -> bool:
    """No receipt came for it in time: queue it again (the trade-off in connector.py)."""
    with session_scope() as session:
        return bool(
            session.execute(
                update(Message)
                .where(
                    Message.id == message_id,
                    Message.status == OUT_SENDING,
                    Message.external_id.is_(None),
                    Message.claimed_at == claimed_at,
                )
                .values(status=OUT_QUEUED, next_attempt_at=None, updated_at=utcnow())
            ).rowcount
        )
