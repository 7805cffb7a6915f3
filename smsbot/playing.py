"""`smsbot sms`: play a resident through a provider's real inbound path, print the replies.

An HTTP provider is played by posting the callback it would post (signed as it signs);
a provider with a connection of its own (SMPP) through its stand-in, which delivers the
message over that connection as an operator's SMSC would. The replies are read from the
database as they move: one that was never sent says so instead of passing for an answer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta

import requests
from sqlmodel import Session, select

from smsbot import db, providers, simulate
from smsbot.clock import utcnow
from smsbot.config import Settings
from smsbot.models import (
    IN_RECEIVED,
    INBOUND,
    OUT_CANCELED,
    OUT_FAILED,
    OUT_RANK,
    OUT_SENT,
    OUT_UNDELIVERED,
    CompanyNumber,
    Message,
    Resident,
)
from smsbot.phones import InvalidPhone, normalize
from smsbot.providers.base import playable

NOT_SENT = (OUT_FAILED, OUT_CANCELED, OUT_UNDELIVERED)
FALLBACK_NUMBER = "+79990000000"


class CannotPlay(Exception):
    """The resident cannot be played as asked; the message says why."""


def control_url(kind: str) -> str | None:
    """The control address of a running stand-in (`smsbot run --fake-provider` sets it)."""
    return os.environ.get(f"SMSBOT_FAKE_{kind.upper()}_CONTROL")


def company_number(session: Session, settings: Settings, provider: str) -> str | None:
    numbers = session.exec(
        select(CompanyNumber.phone, CompanyNumber.provider).order_by(CompanyNumber.id)
    ).all()
    for phone, name in numbers:
        if (name or settings.default_provider) == provider:
            return phone
    return numbers[0][0] if numbers else None


def play(
    settings: Settings,
    phone: str,
    text: str,
    *,
    to_number: str | None = None,
    provider_name: str | None = None,
    url: str | None = None,
    wait: float = 30.0,
) -> Iterator[str]:
    """Send `text` from `phone`; yield lines to print: what was sent, then each reply."""
    try:
        phone = normalize(phone)
        to_number = normalize(to_number) if to_number else None
    except InvalidPhone as exc:
        raise CannotPlay(str(exc)) from None
    provider = providers.find(settings, provider_name or settings.default_provider or "")
    if provider is None or not provider.can_receive:
        raise CannotPlay(
            f"no provider {provider_name!r} that receives; configured: {', '.join(providers.names(settings))}"
        )
    with Session(db.engine()) as session:
        to_number = to_number or company_number(session, settings, provider.name) or FALLBACK_NUMBER
    started = utcnow() - timedelta(seconds=1)
    base = (url or settings.public_base_url).rstrip("/")
    try:
        if playable(provider):
            _, response = simulate.post_inbound(
                base, provider, from_phone=phone, to_phone=to_number, body=text,
                public_base_url=settings.public_base_url,
            )  # fmt: skip
            where = f"the webhook at {base}"
        else:
            control = control_url(provider.kind)
            if control is None:
                raise CannotPlay(
                    f"{provider.name} has no HTTP callback to play; run `smsbot run --fake-provider {provider.kind}`"
                )
            response = requests.post(
                control + "/_fake/mo",
                json={"from": phone, "to": to_number, "text": text},
                timeout=10,
            )
            where = f"the {provider.kind} stand-in at {control}"
    except OSError as exc:
        raise CannotPlay(f"{base} does not answer ({exc}); is `smsbot run` running?") from None
    if not 200 <= response.status_code < 300:  # the SMPP stand-in takes an MO with 202
        raise CannotPlay(f"{where} answered {response.status_code}: {response.text.strip()}")
    yield f"→ {to_number} via {provider.name}: {text}"
    yield from _replies(provider.name, phone, started, wait)


WHY_NOT_SENT = {
    OUT_CANCELED: "the resident has opted out (СТОП), so nothing is sent until СТАРТ",
    OUT_FAILED: "the provider refused it or gave up",
    OUT_UNDELIVERED: "the provider sent it, but the carrier could not deliver it",
}
"""Why a reply never reached the phone, by its final state (the row's error adds detail)."""


def describe(reply: Message) -> str | None:
    """The lines to print for one reply, or None while it is still on its way.

    A reply that never reached the resident is marked NOT SENT with the reason, and what it
    would have said is shown below that mark, never as if the resident had got it.
    """
    if reply.status in NOT_SENT:
        detail = f" ({reply.error_message})" if reply.error_message else ""
        if reply.status == OUT_CANCELED:
            detail = ""  # "resident opted out" says less than the reason
        return (
            f"✗ reply NOT SENT [{reply.status}]: {WHY_NOT_SENT[reply.status]}{detail}. "
            f"It would have said ({reply.num_segments} SMS):\n{reply.body}"
        )
    if OUT_RANK.get(reply.status, 0) >= OUT_RANK[OUT_SENT]:
        return (
            f"← {reply.from_phone} via {reply.provider} "
            f"[{reply.status}, {reply.num_segments} SMS]:\n{reply.body}"
        )
    return None


def no_reply(resident: Resident | None) -> str:
    """Why a handled message got no reply at all."""
    if resident is not None and resident.opted_out:
        return "(no reply: this phone has opted out with СТОП; it gets nothing until СТАРТ)"
    return "(no reply: the message went to the dispatchers' inbox)"


def _replies(provider: str, phone: str, since, wait: float) -> Iterator[str]:  # noqa: ANN001
    shown: set[int] = set()
    replies: list[Message] = []
    deadline = time.monotonic() + wait
    with Session(db.engine()) as session:
        while time.monotonic() < deadline:
            session.rollback()  # a new snapshot each time (SQLite WAL readers keep the old one)
            session.expire_all()
            inbound = session.exec(
                select(Message)
                .where(
                    Message.direction == INBOUND,
                    Message.provider == provider,
                    Message.from_phone == phone,
                    Message.created_at >= since,
                )
                .order_by(Message.id.desc())
            ).first()
            if inbound is not None and inbound.status != IN_RECEIVED:
                replies = list(
                    session.exec(
                        select(Message)
                        .where(Message.reply_to_id == inbound.id)
                        .order_by(Message.id)
                    ).all()
                )
                for reply in replies:
                    line = describe(reply) if reply.id not in shown else None
                    if line is not None:
                        shown.add(reply.id)
                        yield line
                if replies and len(shown) == len(replies):
                    return
                if not replies:
                    resident = session.exec(select(Resident).where(Resident.phone == phone)).first()
                    yield no_reply(resident)
                    return
            time.sleep(0.2)
        waiting = [r for r in replies if r.id not in shown]
    for reply in waiting:
        yield f"✗ reply NOT SENT yet [{reply.status}] after {wait:.0f}s:\n{reply.body}"
    raise CannotPlay(f"no reply sent within {wait:.0f}s; are the workers running?")
