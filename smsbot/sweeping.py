"""The sweep: the database is the truth, Redis only a fast path. It also releases bot
replies held by a daily cap once the cap allows them (a new day, or a raised cap).

The clock queues it every SMSBOT_SWEEP_INTERVAL_SECONDS (10), so with the default age
threshold (SMSBOT_SWEEP_AFTER_SECONDS, 20) a lost message is back in ≤ 30 s.

A message stored while Redis was down, or whose worker died mid-job, is still in the
database in a non-final state. Every few seconds the sweep finds such rows that have no live
job and queues them again; since every job claims its row first, a job that turns out to be
alive after all does no harm. Outbound rows have no job of their own: a provider's drain
(smsbot.sending) takes them all, so for those the sweep checks that provider's drain (a
running one, or the job its wake flag names) and wakes one when there is none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from rq.job import Job, JobStatus
from sqlalchemy import select, update

from smsbot import daily_cap, metrics, outbound, outgoing, providers, queues, spool
from smsbot.clock import utcnow
from smsbot.config import Settings
from smsbot.db import session_scope
from smsbot.models import (
    IN_RECEIVED,
    INBOUND,
    KIND_NOTICE,
    OUT_QUEUED,
    OUT_SENDING,
    OUTBOUND,
    Message,
)

log = logging.getLogger(__name__)

BATCH = 1000
"""Rows looked at per kind and sweep; a larger backlog drains over several sweeps."""
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def _alive(job: Job | None, now: datetime, grace: timedelta) -> bool:
    """Whether a job is still waiting, or started recently enough to be running.

    A job 'started' longer than `grace` ago has lost its worker: handlers take milliseconds,
    and a slow send is no longer 'queued' (it is 'sending', which `reconcile` covers).
    """
    if job is None:
        return False
    try:
        status = job.get_status(refresh=False)
    except Exception:  # noqa: BLE001 - a job hash we cannot read is as good as gone
        return False
    if status in WAITING:
        return True
    if status == JobStatus.STARTED and job.started_at is not None:
        started = (
            job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=now.tzinfo)
        )
        return now - started < grace
    return False


def _lost(ids: list[int], job_id: Callable[[int], str], grace: timedelta) -> list[int]:
    if not ids:
        return []
    now = utcnow()
    jobs = Job.fetch_many([job_id(i) for i in ids], connection=queues.connection())
    return [i for i, job in zip(ids, jobs, strict=True) if not _alive(job, now, grace)]


def _handling(now: datetime, grace: timedelta) -> bool:
    """Whether a batch job that will claim waiting messages is queued or running.

    Batch jobs carry no message ids, so a waiting message is lost exactly when no such job
    is alive; one that is alive will claim it (messages are claimed oldest first).
    """
    ids = queues.inbound_job_ids()
    jobs = Job.fetch_many(ids, connection=queues.connection()) if ids else []
    return any(_alive(job, now, grace) for job in jobs)


def _connector_names(settings: Settings) -> list[str]:
    """Providers whose connector (SMPP) queues and settles its own sends."""
    return [
        name for name in providers.names(settings) if providers.get(settings, name).uses_connector
    ]


def _drain_alive(provider: str, now: datetime, grace: timedelta) -> bool:
    """Whether a drain of `provider` is running, or a job woken for one is still alive."""
    job_ids, running = queues.drain_state(provider)
    if running:
        return True
    jobs = Job.fetch_many(job_ids, connection=queues.connection()) if job_ids else []
    return any(_alive(job, now, grace) for job in jobs)


def _lost_sends(
    settings: Settings, rows: list[tuple[int, str, str | None]], now: datetime, grace: timedelta
) -> int:
    """Wake the drain of each provider whose old queued rows have none alive; how many rows.

    Rows of a provider that is no longer configured get their one-message job, which fails
    them with a reason.
    """
    by_provider: dict[str, list[tuple[int, str, str | None]]] = {}
    for row in rows:
        by_provider.setdefault(row[2] or settings.default_provider or "", []).append(row)
    lost = 0
    for name, mine in by_provider.items():
        if providers.find(settings, name) is None:
            gone = set(_lost([r[0] for r in mine], queues.outbound_job_id, grace))
            outgoing.queue_sends([r for r in mine if r[0] in gone])
            lost += len(gone)
        elif not _drain_alive(name, now, grace):
            replies = any(kind != KIND_NOTICE for _, kind, _ in mine)
            queue_name = queues.OUTBOUND_QUEUE if replies else queues.NOTICES_QUEUE
            queues.wake_sender(name, queue_name=queue_name, force=True)
            lost += len(mine)
    return lost


def sweep(settings: Settings) -> dict[str, int]:
    """Store what the spool kept while the database was down; requeue lost inbound and
    outbound messages; reconcile sends left half-done."""
    spooled = spool.drain(settings)
    now = utcnow()
    grace = timedelta(seconds=settings.sweep_after_seconds)
    cutoff = now - grace
    with session_scope() as session:
        received = list(
            session.execute(
                select(Message.id)
                .where(
                    Message.direction == INBOUND,
                    Message.status == IN_RECEIVED,
                    Message.created_at < cutoff,
                )
                .order_by(Message.id)
                .limit(BATCH)
            ).scalars()
        )
        connectors = _connector_names(settings)
        theirs = Message.provider.is_(None) | Message.provider.not_in(connectors)
        queued = {
            row[0]: row
            for row in session.execute(
                select(Message.id, Message.kind, Message.provider)
                .where(
                    theirs,
                    Message.direction == OUTBOUND,
                    Message.status == OUT_QUEUED,
                    Message.created_at < cutoff,
                    Message.next_attempt_at.is_(None) | (Message.next_attempt_at < cutoff),
                )
                .order_by(Message.id)
                .limit(BATCH)
            ).all()
        }
        sending = list(
            session.execute(
                select(Message.id)
                .where(
                    theirs,
                    Message.direction == OUTBOUND,
                    Message.status == OUT_SENDING,
                    Message.claimed_at < now - timedelta(seconds=settings.sending_grace_seconds),
                )
                .order_by(Message.id)
                .limit(BATCH)
            ).scalars()
        )

    lost_in = received if received and not _handling(now, grace) else []
    if lost_in:
        with session_scope() as session:
            session.execute(
                update(Message)
                .where(Message.id.in_(lost_in), Message.status == IN_RECEIVED)
                .values(attempts=Message.attempts + 1)
            )
        queues.wake_inbound(force=True)
    lost_out = _lost_sends(settings, list(queued.values()), now, grace)
    reconciled = 0
    for message_id in sending:
        try:
            outbound.reconcile(message_id, settings)
            reconciled += 1
        except Exception:  # noqa: BLE001 - one provider hiccup must not stop the sweep
            log.exception("could not reconcile message %s; next sweep tries again", message_id)
    counts = {"inbound": len(lost_in), "outbound": lost_out, "reconciled": reconciled}
    if spooled:
        counts["spooled"] = spooled
    if any(counts.values()):
        log.warning("sweep requeued %s", counts)
        for kind, count in counts.items():
            metrics.SWEEP_REQUEUED.labels(kind).inc(count)
    return counts | {"released": release_held(now)}


def release_held(now: datetime) -> int:
    """Queue bot replies held by a daily cap that fits them now (smsbot.daily_cap)."""
    with session_scope() as session:
        released = daily_cap.release(session, now)
    if released:
        outgoing.queue_sends(released)
    return len(released)
