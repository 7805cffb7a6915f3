"""One door for every SMS smsbot sends: bot replies, dispatcher replies, ticket texts,
deadline alerts, notices and opt-out confirmations.

`compose` renders the text (a template in the reader's language, or a person's own words),
measures it, chooses the provider and the sender, honours opt-out, and stores the row as
'queued' in the caller's transaction. The send is queued only once that transaction
commits (an SQLAlchemy after_commit hook), so a rolled-back transaction sends nothing and a
committed one never waits for someone to remember to queue it.

Which provider: a reply leaves through the provider and number the resident wrote to;
anything else (notices, alerts, a dispatcher's first word) through the company's own
provider (Company.provider, else the service's default) and that provider's company number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from smsbot import config, daily_cap, db, providers, queues, sending, templates
from smsbot.clock import utcnow
from smsbot.models import (
    INBOUND,
    KIND_ALERT,
    KIND_NOTICE,
    KIND_OPT_OUT,
    KIND_REPLY,
    OUT_QUEUED,
    OUT_SENDING,
    OUTBOUND,
    ROLE_COMPANY_ADMIN,
    Company,
    CompanyNumber,
    Message,
    Resident,
    User,
)
from smsbot.segments import measure

log = logging.getLogger(__name__)

_PENDING = "smsbot.outgoing"
"""session.info key: messages composed in this transaction, queued after its commit."""
_CAPPED = "smsbot.outgoing.capped"
"""session.info key: this transaction's bot replies, counted against the daily cap."""
SEND_HERE = "smsbot.outgoing.send_here"
"""session.info key: a list, set by a job that sends its transaction's first few replies
itself once it commits (the inbound batch job: smsbot.sending.send_here). Those replies are
stored already claimed ('sending', as a drain's claim leaves them) and go into the list,
ready to send, instead of waking their provider's drain."""
SEND_HERE_MAX = 50
"""At most this many replies of one transaction are sent by the job that stored them (on
the provider's sending threads), and fewer through a provider slower than a stand-in
(smsbot.sending.here_limit); the rest of a backlog's batch wait for the drain. (50, an
inbound batch, not 10: at 400 msg/s offered on SQLite the system then kept up, 396/s at
5.2 ms of CPU per message, where with 10 it fell behind, 335-379/s at 5.6-6.5 ms; and 10,
not 2, at 300 msg/s: 5.7 ms instead of 6.5, p50 32 ms instead of 209. bench/README.md.)"""
_MINE = "smsbot.outgoing.mine"
"""session.info key: the Message objects (by `id()`) stored claimed, with their providers."""


@dataclass(frozen=True)
class Route:
    """How one SMS leaves: through which provider account, from which number or name."""

    provider: str | None
    sender: str | None
    """None: the provider's own default sender (TWILIO_FROM, SMPP_SOURCE …)."""


def route(
    session: Session,
    *,
    company: Company | None,
    resident_phone: str | None = None,
    reply_to: Message | None = None,
) -> Route:
    """Where an SMS to this person leaves from (see the module docstring)."""
    if reply_to is not None and reply_to.direction == INBOUND and reply_to.provider:
        return Route(reply_to.provider, reply_to.to_phone)
    if company is not None and resident_phone:
        last = session.exec(
            select(Message.provider, Message.to_phone)
            .join(CompanyNumber, CompanyNumber.phone == Message.to_phone)
            .where(
                Message.direction == INBOUND,
                Message.from_phone == resident_phone,
                CompanyNumber.company_id == company.id,
                Message.provider.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(1)
        ).first()
        if last is not None:
            return Route(last[0], last[1])
    provider = (company.provider if company else None) or config.current().default_provider
    sender = None
    if company is not None:
        numbers = session.exec(
            select(CompanyNumber.phone, CompanyNumber.provider)
            .where(CompanyNumber.company_id == company.id)
            .order_by(CompanyNumber.id)
        ).all()
        default = config.current().default_provider
        for phone, number_provider in numbers:
            if (number_provider or default) == provider:
                sender = phone
                break
    return Route(provider, sender)


def compose(
    session: Session,
    *,
    kind: str,
    to_phone: str,
    company: Company | None,
    resident: Resident | None = None,
    template: str | None = None,
    params: dict[str, Any] | None = None,
    text: str | None = None,
    language: str | None = None,
    reply_to: Message | None = None,
    via: Route | None = None,
    **fields: Any,
) -> Message | None:
    """Store one SMS to send after the commit; None when the resident opted out.

    Give a `template` (rendered in `language`, else the resident's) or the exact `text`.
    `fields` are further Message columns (conversation_id, author_id, notice_id, reply_key).
    A KIND_OPT_OUT message (the confirmation of СТОП itself) goes out regardless.
    """
    if resident is not None and resident.opted_out and kind != KIND_OPT_OUT:
        return None
    if template is not None:
        rendered = templates.render(
            template,
            language or (resident.language if resident else None) or "ru",
            translit=bool(company and company.transliterate),
            **({"tz": company.timezone} if company else {}) | (params or {}),
        )
        body, measured = rendered.text, rendered.measure
    else:
        body = text or ""
        measured = measure(body)
    via = via or route(session, company=company, resident_phone=to_phone, reply_to=reply_to)
    now = fields.pop("created_at", None) or utcnow()
    mine = _sender_here(session, kind, via.provider)
    state = (  # claimed: as a drain's claim leaves it (smsbot.sending.claim)
        {"status": OUT_SENDING, "claimed_at": now, "attempts": 1}
        if mine
        else {"status": OUT_QUEUED}
    )
    values = dict(
        direction=OUTBOUND,
        kind=kind,
        provider=mine.name if mine is not None else via.provider,
        from_phone=via.sender or "",
        to_phone=to_phone,
        body=body,
        encoding=measured.encoding,
        num_segments=measured.segments,
        resident_id=resident.id if resident else None,
        company_id=company.id if company else None,
        reply_to_id=reply_to.id if reply_to is not None else None,
        template=template,
        created_at=now,
        updated_at=now,
        **state,
        **fields,
    )
    message = db.added(session, Message, values)
    session.info.setdefault(_PENDING, []).append(message)
    if mine is not None:
        session.info.setdefault(_MINE, {})[id(message)] = mine
    if kind == KIND_REPLY and company is not None and company.daily_cap > 0:
        session.info.setdefault(_CAPPED, []).append((message, company))
    return message


def _sender_here(session: Session, kind: str, name: str | None) -> providers.Provider | None:
    """The provider through which the job storing this SMS sends it itself, once committed
    (SEND_HERE), or None: the drain sends it. The first few of the transaction's replies and
    alerts through a drain provider (not a notice: notices wait behind replies): at most
    SEND_HERE_MAX, and as many as the job sends quickly (smsbot.sending.here_limit)."""
    if session.info.get(SEND_HERE) is None or kind == KIND_NOTICE:
        return None
    mine = len(session.info.get(_MINE, ()))
    if mine >= SEND_HERE_MAX:  # past the cap: no provider lookup for the rest of a backlog
        return None
    settings = config.current()
    provider = providers.find(settings, name or settings.default_provider or "")
    if provider is None or provider.uses_connector or mine >= sending.here_limit(provider):
        return None
    return provider


@dataclass(frozen=True)
class Recipient:
    """One person a copy of a bulk SMS goes to (see `compose_many`)."""

    phone: str
    resident_id: int | None
    opted_out: bool = False
    conversation_id: int | None = None


def compose_many(
    session: Session,
    *,
    kind: str,
    text: str,
    company: Company | None,
    via: Route,
    recipients: list[Recipient],
    **fields: Any,
) -> list[int]:
    """Store one SMS with the exact `text` to each recipient, queued after the commit like
    `compose`'s; returns their ids. Skips opted-out recipients (but a KIND_OPT_OUT).

    For a notice to thousands of flats: the text is measured once and the rows go in with
    one multi-row INSERT instead of an ORM object each (10,000 copies in well under a
    second instead of several).
    """
    measured = measure(text)
    now = fields.pop("created_at", None) or utcnow()
    common = {
        "direction": OUTBOUND,
        "status": OUT_QUEUED,
        "kind": kind,
        "provider": via.provider,
        "from_phone": via.sender or "",
        "body": text,
        "encoding": measured.encoding,
        "num_segments": measured.segments,
        "company_id": company.id if company else None,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    rows = [
        {
            **common,
            "to_phone": r.phone,
            "resident_id": r.resident_id,
            "conversation_id": r.conversation_id,
        }
        for r in recipients
        if not r.opted_out or kind == KIND_OPT_OUT
    ]
    if not rows:
        return []
    table = Message.__table__
    ids = list(session.execute(insert(table).returning(table.c.id), rows).scalars())
    queue_after_commit(session, ids, kind=kind, provider=via.provider)
    return ids


def queue_after_commit(
    session: Session, message_ids: list[int], *, kind: str, provider: str | None
) -> None:
    """Queue sends of rows stored in bulk (a notice's copies) once the transaction commits."""
    session.info.setdefault(_PENDING, []).extend((mid, kind, provider) for mid in message_ids)


@event.listens_for(OrmSession, "before_commit")
def _collect(session: OrmSession) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    held = _hold_over_cap(session)
    session.flush()
    ready = session.info.setdefault(_PENDING + ".ids", [])
    mine = session.info.pop(_MINE, {})
    for item in pending:
        if not isinstance(item, Message):
            ready.append(item)
        elif id(item) in held:
            continue
        elif id(item) in mine:
            provider = mine[id(item)]
            claimed = sending.claimed(provider, config.current(), item)
            session.info[SEND_HERE].append((provider.name, claimed))
        else:
            ready.append((item.id, item.kind, item.provider))
    pending.clear()


def _hold_over_cap(session: Session) -> set[int]:
    """Count the transaction's bot replies against their companies' daily caps (one Redis
    round trip); mark those past it held and tell the admins of a cap just reached.
    Returns the `id()`s of the held Message objects (smsbot.daily_cap)."""
    capped = session.info.pop(_CAPPED, None)
    if not capped:
        return set()
    now = utcnow()
    held, crossed = daily_cap.hold(capped, now)
    for reached in crossed:
        _tell_admins(session, reached.company, now)
    return held


def admins_with_phones(session: Session, company: Company) -> list[User]:
    """The company's active admins who gave a phone: whom an alert SMS goes to."""
    return list(
        session.exec(
            select(User).where(
                User.company_id == company.id,
                User.role == ROLE_COMPANY_ADMIN,
                User.active.is_(True),
                User.phone.is_not(None),
            )
        )
    )


def _tell_admins(session: Session, company: Company, now: datetime) -> None:
    """An SMS to each company admin with a phone: the bot's replies are held from now on."""
    admins = admins_with_phones(session, company)
    if not admins:
        log.warning("company %s reached its daily cap and has no admin phone", company.slug)
    via = route(session, company=company)
    for phone, admin in {a.phone: a for a in sorted(admins, key=lambda a: -a.id)}.items():
        compose(
            session,
            kind=KIND_ALERT,
            to_phone=phone,
            company=company,
            template="alert_cap",
            params={"cap": company.daily_cap},
            language=admin.language,
            via=via,
            created_at=now,
        )


@event.listens_for(OrmSession, "after_commit")
def _queue(session: OrmSession) -> None:
    ready = session.info.pop(_PENDING + ".ids", None)
    if ready:
        queue_sends(ready)


def queue_sends(items: list[tuple[int, str, str | None]]) -> None:
    """Queue (message id, kind, provider) sends: wake each provider's sender once.

    The rows wait in the database; a provider's drain job (smsbot.sending) claims them in
    batches, so a thousand copies of a notice cost one wake-up, and a wake-up already
    waiting costs one Redis SET. A connector (SMPP) claims its own rows and only needs to
    hear that there are some. Redis being down costs nothing but time: the sweep and the
    connector's own polling find the rows.
    """
    settings = config.current()
    unknown: list[tuple[int, str]] = []
    drains: dict[str, str] = {}
    connectors: set[str] = set()
    for message_id, kind, name in items:
        provider = providers.find(settings, name or settings.default_provider or "")
        if provider is None:
            unknown.append((message_id, queues.send_queue(kind)))  # its job marks it failed
        elif provider.uses_connector:
            connectors.add(provider.name)
        elif drains.get(provider.name) != queues.OUTBOUND_QUEUE:
            drains[provider.name] = queues.send_queue(kind)  # replies wake on the fast queue
    if unknown:
        queues.enqueue_sends(unknown)
    for name, queue_name in drains.items():
        queues.wake_sender(name, queue_name=queue_name)
    for name in connectors:
        queues.wake_connector(name)


@event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_MINE, None)
    session.info.pop(_CAPPED, None)
    session.info.pop(_PENDING + ".ids", None)
