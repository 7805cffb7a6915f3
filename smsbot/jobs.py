"""RQ jobs: importable functions that take ids, open their own session and delegate.

Each is safe to run twice: the domain functions they call claim rows before acting.
Settings come from the process (smsbot.config.current), not from Flask.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from smsbot import changes, config, failpoints, inbound, outbound, outgoing, queues, sending
from smsbot.db import session_scope
from smsbot.models import IN_RECEIVED, Message

log = logging.getLogger(__name__)

MAX_HANDLE_ATTEMPTS = 5
"""After this many sweeps of one inbound message, skip the command and hand it to a human."""
BATCH_SECONDS = 10.0
"""A batch job stops claiming after this long and leaves the rest to a fresh job: no job runs
near RQ's timeout, and the sweep (which waits far longer) never takes a busy job for dead."""


def handle_waiting() -> int:
    """Handle the residents' messages waiting in the database, a batch per transaction, until
    none wait; returns how many were handled. The job every webhook wakes (queues.py).

    After a batch that was not full it waits for news (queues.linger: a webhook that found
    the wake held nudges it) and lets go of the wake only when none came. It renews the wake
    at most every queues.RENEW_SECONDS, as a drain does: under a steady trickle each batch
    is one message, and a renewal per batch was one Redis round trip in five.
    """
    limit = config.current().inbound_batch
    flag, nudge = queues.INBOUND_WAKE, queues.INBOUND_NUDGE
    handled = 0
    started = time.monotonic()
    renew_at = 0.0  # the wake was taken when the job was queued: renewed after the 1st batch
    while True:
        count = _handle_batch(limit)
        handled += count
        now = time.monotonic()
        if count and now - started > BATCH_SECONDS:
            queues.wake_inbound(force=True)  # a fresh job carries on: no job runs long
            return handled
        if now >= renew_at:
            queues.hold(flag)
            renew_at = now + queues.RENEW_SECONDS
        if count < limit and not queues.linger(flag, nudge):
            return handled


def _handle_batch(limit: int) -> int:
    """One transaction: claim up to `limit` messages, handle them, store the replies; then
    send the first of them from here (smsbot.sending.send_here) and announce the changes.

    A handler that raises (a bug, or a text no handler expected) must not cost the other
    messages of the batch their answers, nor itself reach nobody: the batch rolls back and
    its messages are handled one by one, where a crashing handler hands its message to a
    person. A database error is raised for RQ and the sweep to retry.
    """
    ids: list[int] = []
    here: list[tuple[str, sending.Claimed]] = []
    told: set[int | str] = set()
    try:
        with session_scope() as session:
            session.info[outgoing.SEND_HERE] = here  # the first replies are sent from here,
            session.info[changes.DEFER] = told  # and the desks hear of all of it at once
            messages = inbound.claim_waiting(session, limit)
            ids = [m.id for m in messages]
            if not messages:
                return 0
            failpoints.hit("inbound.before_handle")
            inbound.handle_many(session, messages, give_up_after=MAX_HANDLE_ATTEMPTS)
            failpoints.hit("inbound.before_commit")
    except DBAPIError:
        raise
    except Exception:  # noqa: BLE001 - handled below, message by message
        log.exception("a batch of %d messages failed; handling them one by one", len(ids))
        for message_id in ids:
            handle_inbound(message_id)
        return len(ids)
    try:
        failpoints.hit("inbound.after_commit")
        if here:
            told.update(sending.send_here(here, config.current()))
    finally:
        changes.bump(told)
    return len(ids)


def handle_inbound(message_id: int) -> int:
    """Handle one resident message and queue its replies; returns how many were queued.

    Jobs queued before batch jobs existed name one message; a failed batch retries each."""
    repeat = False
    try:
        with session_scope() as session:
            failpoints.hit("inbound.before_handle")
            message = session.get(Message, message_id)
            repeat = message is None or message.status != IN_RECEIVED
            if message is not None and message.attempts >= MAX_HANDLE_ATTEMPTS:
                raise RuntimeError(f"gave up after {message.attempts} attempts")
            reply_ids = inbound.handle(session, message_id)
            failpoints.hit("inbound.before_commit")
    except DBAPIError:
        raise  # the database is in trouble: let RQ and the sweep try again
    except Exception as exc:  # a bug or an unreadable message: a person must see it
        log.exception("handler failed for message %s; passing it to the inbox", message_id)
        with session_scope() as session:
            reply_ids = inbound.handle_as_chat(session, message_id, f"{type(exc).__name__}: {exc}")
    failpoints.hit("inbound.after_commit")
    if repeat and reply_ids:
        # Handled before, and the replies are still waiting: that run's queueing may have been
        # lost with its worker. Queueing again is safe, since the sender claims each row.
        with session_scope() as session:
            rows = session.execute(
                select(Message.id, Message.kind, Message.provider).where(Message.id.in_(reply_ids))
            ).all()
        outgoing.queue_sends([tuple(row) for row in rows])
    return len(reply_ids)


def send_outbound(message_id: int) -> str:
    """Send one stored message through its provider.

    New sends go through `send_waiting`; this stays for jobs queued before the upgrade and
    for messages whose provider is not configured (it marks them failed).
    """
    return outbound.send(message_id, config.current()).result


def send_waiting(provider: str, queue_name: str = queues.OUTBOUND_QUEUE) -> dict[str, int]:
    """Send `provider`'s waiting messages in batches; a coalesced wake-up (queues.wake_sender)."""
    return sending.drain(provider, config.current(), queue_name)


def sweep() -> dict[str, int]:
    """Find messages the queue lost and queue them again (runs every few seconds)."""
    from smsbot import sweeping

    return sweeping.sweep(config.current())


def send_notice(notice_id: int) -> int:
    """Queue a notice's copies for sending; returns how many.

    New notices no longer need it (the one door queues each copy at the commit); it stays for
    jobs queued before that, still waiting in Redis after an upgrade.
    """
    from smsbot import notices

    with session_scope() as session:
        copies = notices.queued_copies(session, notice_id)
    outgoing.queue_sends(copies)
    return len(copies)


def deadline_clock() -> dict[str, int]:
    """Warn before deadlines, mark overdue tickets, escalate emergencies (every 15 seconds)."""
    from smsbot import deadline_clock as clock

    return clock.run()


def refresh_ticket_stats() -> int:
    """Recompute the inspector's day figures for tickets that changed (every 30 seconds)."""
    from smsbot import ticket_stats

    return ticket_stats.refresh_job()


def rebuild_ticket_stats() -> int:
    """Recompute every day of the inspector's figures (nightly: catches any change a refresh
    missed, such as a transaction that committed long after it stamped its tickets)."""
    from smsbot import ticket_stats
    from smsbot.db import session_scope

    with session_scope() as session:
        return ticket_stats.rebuild(session)


__all__ = [
    "handle_waiting",
    "handle_inbound",
    "send_outbound",
    "send_waiting",
    "send_notice",
    "sweep",
    "deadline_clock",
    "refresh_ticket_stats",
    "rebuild_ticket_stats",
]
