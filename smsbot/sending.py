"""Sending in batches: one drain job per provider takes the messages waiting for it.

A drain claims up to a batch of the provider's queued, due messages in one statement
(replies before notices; cancelling those to residents who opted out in the same
statement), sends them within the provider's messages-per-second over a few threads, and
records every answer in one transaction. It repeats while a full batch was claimed, for a
time budget well under the job timeout, then wakes a fresh job if work remains. A full
batch's answers are recorded in the next claim's transaction (one commit less per batch);
any other batch's on their own, before the drain lingers or ends.

The guarantees are those of `smsbot.outbound`, batch by batch: the claim (queued → sending)
commits before the provider is called, so no two workers send one row; a worker killed
between a call and the record leaves its rows 'sending', and the sweep asks the provider
(`outbound.reconcile`) before anything is sent again. A send not started when the budget
runs out is given back (sending → queued), which is safe because it never left.

    queue_sends ──wake──▶ send_waiting(provider) ──▶ drain: claim ▶ send ▶ record ▶ …

The first replies of an inbound batch (as many as `here_limit` allows, at most
outgoing.SEND_HERE_MAX) skip the wake and the claim: they are stored claimed, and the job
that stored them sends and records them (`send_here`).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    select,
    update,
)

from smsbot import changes, db, failpoints, metrics, pacing, providers, queues
from smsbot.clock import utcnow
from smsbot.config import Settings
from smsbot.exceptions import (
    PermanentSendError,
    SendError,
    TransientSendError,
    UnknownSendOutcome,
)
from smsbot.models import (
    KIND_NOTICE,
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
from smsbot.outbound import backoff, outgoing_sms, status_rank
from smsbot.providers.base import OPTED_OUT, OutgoingSms, Provider, SendResult

log = logging.getLogger(__name__)

BATCH = 50
"""Most messages claimed at once: one claim and one record statement for all of them."""
BATCH_SECONDS = 2.0
"""A claim holds at most this many seconds of the provider's rate, so a reply queued behind
a notice's batch waits at most that long, and a crash leaves little to ask about."""
TIME_BUDGET = 20.0
"""Seconds a drain starts sends for; with the provider timeout (15 s) it stays well under
queues.JOB_TIMEOUT (60 s). Then a fresh job carries on."""
DEFAULT_CONCURRENCY = 4
"""Sends in flight at once per provider and worker, unless the provider sets its own."""
HERE_WAIT = 0.05
"""Seconds a reply sent by the job that stored it may wait for its paced slot (`send_here`)."""
SLOW_SEND_SECONDS = 0.5
"""A send that took longer marks its provider slow in this process: for SLOW_HOLD_SECONDS
its replies go to the drain, so a slow provider holds up sends, never the handling of
residents' messages (at most one slow call per process and hold)."""
SLOW_HOLD_SECONDS = 30.0
_slow_until: dict[str, float] = {}
"""Provider name → monotonic time until which this process counts it slow."""
HERE_SECONDS = 0.05
"""About how long the handling job may expect to spend sending its batch's replies (`here_limit`)."""
_send_seconds: dict[str, float] = {}
"""Provider name → a send's typical duration in this process (a moving average)."""


def here_limit(provider: Provider) -> int:
    """How many replies of one transaction the job storing them may send itself through
    `provider` (the rest go to its drain): none while the provider is slow; one while this
    process has not timed a send yet; else as many as its sending threads finish in about
    HERE_SECONDS at the provider's typical speed here.

    Why by time and not a fixed number: with a stand-in answering in a millisecond the job
    that sends a whole batch's replies itself keeps up with 400 msg/s on two cores, where
    one that left all but 10 of them to the drain did not (bench/README.md); with a real
    provider at 100 ms or more a send, the same 50 replies would hold up the handling of the
    next residents' messages for seconds, so there the drain's own workers take them.
    """
    if time.monotonic() < _slow_until.get(provider.name, 0.0):
        return 0
    typical = _send_seconds.get(provider.name)
    if typical is None:
        return 1
    return max(1, int(HERE_SECONDS * concurrency(provider) / max(typical, 1e-4)))


def _timed(provider: Provider, took: float) -> None:
    """Count one send's duration into the provider's typical one, and mark a slow provider.
    (Sending threads may race here: one of two updates lost moves an average, harmlessly.)"""
    typical = _send_seconds.get(provider.name)
    _send_seconds[provider.name] = took if typical is None else typical + (took - typical) / 8
    if took > SLOW_SEND_SECONDS:
        _slow_until[provider.name] = time.monotonic() + SLOW_HOLD_SECONDS


T = Message.__table__
R = Resident.__table__
pacer = pacing.Pacer(queues.connection)
"""This process's pacer (shared through Redis with every other worker)."""


@dataclass(frozen=True)
class Claimed:
    """A message this drain now holds ('sending'), as the provider needs it."""

    sms: OutgoingSms
    kind: str
    attempts: int
    company_id: int | None = None
    """Whose desk shows it: told once the batch is recorded (smsbot.changes)."""


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message."""

    message_id: int
    result: str
    """sent, unknown (may have gone: stays 'sending'), retry, failed, released (never sent)"""
    kind: str
    attempts: int
    sent: SendResult | None = None
    error: SendError | None = None


def batch_size(provider: Provider) -> int:
    return max(1, min(BATCH, int(provider.messages_per_second * BATCH_SECONDS)))


def concurrency(provider: Provider) -> int:
    return max(1, int(getattr(provider, "send_concurrency", None) or DEFAULT_CONCURRENCY))


def drain(
    name: str,
    settings: Settings,
    queue_name: str = queues.OUTBOUND_QUEUE,
    *,
    budget: float = TIME_BUDGET,
) -> dict[str, int]:
    """Send `name`'s waiting messages batch by batch; returns counts by outcome.

    The job holds its provider's wake (queues.wake) while it runs, so replies stored
    meanwhile nudge it instead of queueing jobs; after a batch that was not full it waits a
    moment for a nudge and lets go only when none came (queues.linger).
    """
    provider = providers.find(settings, name)
    if provider is None or provider.uses_connector:
        log.warning(
            "no drain for provider %r: %s", name, "a connector's" if provider else "unknown"
        )
        return {}
    flag, nudge = queues.wake_flag(name, queue_name), queues.nudge_key(name, queue_name)
    counts: Counter[str] = Counter()
    limit = batch_size(provider)
    until = pacer.now() + budget
    queues.still_draining(name)
    renew_at = 0.0  # the wake was taken when the job was queued: renewed after the 1st batch
    answered: list[Outcome] = []
    """A full batch's answers, stored in the next claim's transaction: one commit less."""
    told: list[int] = []
    """Companies of that batch, whose desks change again when it is stored."""
    try:
        while True:
            claimed, canceled = claim(provider, settings, limit, answered)
            _wake_retries(provider.name, answered, settings)
            answered, companies = [], told
            counts["canceled"] += canceled
            outcomes = send_all(provider, claimed, until)
            counts.update(o.result for o in outcomes)
            full = len(claimed) + canceled >= limit
            released = any(o.result == "released" for o in outcomes)
            out_of_time = released or (bool(claimed or canceled) and pacer.now() >= until)
            told = [c.company_id for c in claimed if c.company_id is not None]
            if full and not out_of_time:
                answered = outcomes  # the next claim follows at once
            else:
                record_all(provider.name, outcomes, settings)
                _wake_retries(provider.name, outcomes, settings)
                companies, told = companies + told, []
            if out_of_time:
                changes.bump(companies)
                # Out of time with work left: a fresh job carries on (replies first).
                notices_only = all(o.kind == KIND_NOTICE for o in outcomes)
                target = queues.send_queue(KIND_NOTICE if notices_only else "reply")
                queues.wake_sender(name, queue_name=target, force=True)
                if target != queue_name:
                    queues.connection().delete(flag)
                break
            # One round trip, only when there is something to say: the desk changes and, at
            # most every RENEW_SECONDS, the heartbeat and the wake (and then any news waiting).
            news, renew = False, pacer.now() >= renew_at
            if renew or companies:
                bump = functools.partial(changes.bump, companies) if companies else None
                news = queues.carry_on(name, flag, None if full else nudge, bump, renew=renew)
                renew_at = pacer.now() + queues.RENEW_SECONDS if renew else renew_at
            if not (full or news or queues.linger(flag, nudge)):
                break  # nothing came: the wake is free again
    except BaseException:
        record_all(provider.name, answered, settings)  # sent but not stored: store them alone
        raise
    finally:
        queues.done_draining(name)
    return dict(counts)


# --- claim ----------------------------------------------------------------------------------


def claim(
    provider: Provider, settings: Settings, limit: int, answered: Sequence[Outcome] = ()
) -> tuple[list[Claimed], int]:
    """Claim up to `limit` due messages of `provider` in one committed statement.

    Returns the ones to send, oldest reply first, and how many were cancelled instead
    (their resident opted out; the opt-out confirmation itself still goes). `answered`, the
    previous batch's answers, are recorded first in the same transaction (`record_all`);
    with none to record, the claim is one statement, alone on PostgreSQL (db.writer's
    `single`).
    """
    alone = not _to_store(answered)
    with db.writer(single=alone).begin() as conn:
        statement = _claim_statement(
            conn.dialect.name, provider.name, provider.name == settings.default_provider, limit
        )
        now = utcnow()
        stored = _store(conn, provider.name, answered, now, settings)
        rows = conn.execute(statement, {"b_now": now}).all()
    if stored:
        _stored(provider.name, answered, settings)
    rows.sort(key=lambda r: (r.kind == KIND_NOTICE, r.id))
    canceled = [r.id for r in rows if r.status == OUT_CANCELED]
    if canceled:
        log.info("not sending messages %s: their residents opted out", canceled)
    return [claimed(provider, settings, r) for r in rows if r.status == OUT_SENDING], len(canceled)


def claimed(provider: Provider, settings: Settings, row: Any) -> Claimed:
    """A claimed message (a row of the claim, or a Message stored claimed) as its send needs it."""
    return Claimed(outgoing_sms(row, settings, provider), row.kind, row.attempts, row.company_id)


@functools.lru_cache(maxsize=64)
def _claim_statement(dialect: str, provider: str, default: bool, limit: int):  # noqa: ANN202
    """queued → sending (or canceled) for up to `limit` due rows, returning what the send
    needs; built once per provider and size (only the time is bound per claim)."""
    now = bindparam("b_now", type_=T.c.claimed_at.type)
    mine = T.c.provider == provider
    if default:
        mine = mine | T.c.provider.is_(None)
    waiting = (
        select(T.c.id)
        .where(
            T.c.direction == OUTBOUND,
            T.c.status == OUT_QUEUED,
            mine,
            T.c.next_attempt_at.is_(None) | (T.c.next_attempt_at <= now),
        )
        .order_by(T.c.kind == KIND_NOTICE, T.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if dialect == "postgresql":
        # Locked and limited once, in a materialized CTE: as `IN (subquery)` the planner may
        # run the subquery again per row and claim more than the limit.
        picked = waiting.cte("picked").prefix_with("MATERIALIZED")
        chosen = T.c.id == picked.c.id
    else:
        chosen = T.c.id.in_(waiting.scalar_subquery())  # SQLite runs it once
    opted_out = (T.c.kind != KIND_OPT_OUT) & exists().where(
        R.c.id == T.c.resident_id, R.c.opted_out.is_(True)
    )
    return (
        update(T)
        .where(chosen, T.c.status == OUT_QUEUED)
        .values(
            status=case((opted_out, OUT_CANCELED), else_=OUT_SENDING),
            error_message=case((opted_out, "resident opted out"), else_=T.c.error_message),
            provider=provider,
            claimed_at=now,
            attempts=T.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            T.c.id,
            T.c.status,
            T.c.kind,
            T.c.attempts,
            T.c.to_phone,
            T.c.body,
            T.c.from_phone,
            T.c.encoding,
            T.c.num_segments,
            T.c.company_id,
        )
    )


def send_here(replies: Sequence[tuple[str, Claimed]], settings: Settings) -> set[int]:
    """Send the replies the job that just stored them already claimed
    (smsbot.outgoing.SEND_HERE), instead of waking their provider's drain; returns the
    companies whose desks changed, for the caller to announce (smsbot.changes.bump).

    Why: under a trickle every reply is a batch of one, and the hand-over to the drain (a
    wake, the drain's nudge, its claim, its heartbeat and its linger: a transaction, four
    Redis round trips and a second process woken) cost more than the send itself. Stored
    claimed, a reply is where a drain's claim would have left it, so the guarantees are the
    drain's: a job killed before the send leaves it 'sending', and the sweep asks the
    provider before anything is sent again (`outbound.reconcile`); the send and its record
    are the drain's own (`send_all`, `record_all`).

    The job handles residents' messages, so it must not be held up: a reply whose paced
    slot is more than HERE_WAIT away (a notice has the provider's rate) is given back
    ('queued') to the drain; the job stores for itself only as many replies as it sends in
    about HERE_SECONDS, and none for a while after a slow send (`here_limit`).
    """
    companies: set[int] = set()
    mine: dict[str, list[Claimed]] = {}
    for name, item in replies:
        mine.setdefault(name, []).append(item)
    for name, claimed_here in mine.items():
        provider = providers.get(settings, name)
        outcomes = send_all(provider, claimed_here, pacer.now() + HERE_WAIT)
        record_all(provider.name, outcomes, settings)
        _wake_retries(provider.name, outcomes, settings)
        if any(o.result == "released" for o in outcomes):
            queues.wake_sender(name)
        companies.update(c.company_id for c in claimed_here if c.company_id is not None)
    return companies


# --- send -----------------------------------------------------------------------------------

_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(provider: Provider) -> ThreadPoolExecutor:
    """The provider's sending threads in this process, made once (workers do not fork)."""
    with _pools_lock:
        pool = _pools.get(provider.name)
        if pool is None:
            pool = _pools[provider.name] = ThreadPoolExecutor(
                concurrency(provider), thread_name_prefix=f"send-{provider.name}"
            )
        return pool


def send_all(provider: Provider, claimed: Sequence[Claimed], until: float) -> list[Outcome]:
    """Send each claimed message in its paced slot; at most `concurrency` at once.

    A lone send is made from the calling thread: nothing to overlap, no hand-off.
    """
    if not claimed:
        return []
    slots = pacer.reserve(provider.name, len(claimed), provider.messages_per_second, until)
    # Sends with no slot before `until` are given back unsent; they took no slot either.
    paced = list(zip(claimed, slots, strict=False))
    later = [_released(item) for item in claimed[len(slots) :]]
    if len(paced) <= 1:
        return [send_one(provider, item, slot, until) for item, slot in paced] + later
    pool = _pool(provider)
    futures = [pool.submit(send_one, provider, item, slot, until) for item, slot in paced]
    return [f.result() for f in futures] + later


def _released(item: Claimed) -> Outcome:
    """A claimed message given back to the queue unsent (its slot would come too late)."""
    return Outcome(item.sms.message_id, "released", item.kind, item.attempts)


def send_one(provider: Provider, item: Claimed, slot: float, until: float) -> Outcome:
    """One provider call at its slot, its answer turned into an Outcome (never raises)."""
    message_id = item.sms.message_id

    def outcome(result: str, **more: object) -> Outcome:
        return Outcome(message_id, result, item.kind, item.attempts, **more)

    if slot >= until:  # granted slots start before `until`, but for float rounding
        return _released(item)
    pacer.wait_for(slot)
    started = time.perf_counter()
    try:
        failpoints.hit("send.before_provider")
        sent = provider.send(item.sms)
        failpoints.hit("send.after_provider")
    except UnknownSendOutcome as exc:
        log.warning("message %s: outcome unknown (%s); the provider will be asked", message_id, exc)
        return outcome("unknown")
    except TransientSendError as exc:
        return outcome("retry", error=exc)
    except PermanentSendError as exc:
        return outcome("failed", error=exc)
    except Exception:  # noqa: BLE001 - it may have gone out: the sweep asks before a resend
        log.exception(
            "message %s: send failed unexpectedly; the provider will be asked", message_id
        )
        return outcome("unknown")
    finally:
        took = time.perf_counter() - started
        metrics.SEND_SECONDS.labels(provider.name).observe(took)
        _timed(provider, took)
    return outcome("sent", sent=sent)


# --- record ---------------------------------------------------------------------------------

_FORWARD = bindparam("b_rank", type_=Integer) > status_rank  # the status callbacks' own rule
_RECORD = (
    update(T)
    .where(T.c.id == bindparam("b_id"))
    .values(
        provider=bindparam("b_provider", type_=String),
        external_id=bindparam("b_external_id", type_=String),
        num_segments=func.coalesce(bindparam("b_segments", type_=Integer), T.c.num_segments),
        error_code=None,
        sent_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        status=case((_FORWARD, bindparam("b_status", type_=String)), else_=T.c.status),
        delivered_at=case(
            (
                and_(_FORWARD, bindparam("b_status", type_=String) == OUT_DELIVERED),
                bindparam("b_now"),
            ),
            else_=T.c.delivered_at,
        ),
    )
)
"""Store a provider's answer and move the message forward only (a callback may be first)."""
_REFUSED = (
    update(T)
    .where(T.c.id == bindparam("b_id"), T.c.status == OUT_SENDING)
    .values(
        status=bindparam("b_status", type_=String),
        next_attempt_at=bindparam("b_next"),
        error_code=bindparam("b_code", type_=Integer),
        error_message=bindparam("b_error", type_=String),
        updated_at=bindparam("b_now"),
    )
)
"""A refusal: queued again for a later try, or failed for good."""


def record_all(provider: str, outcomes: Sequence[Outcome], settings: Settings) -> None:
    """Store every answer of a batch in one transaction (one statement per kind of answer).

    A lone send accepted (a reply under a trickle, `send_here`) is one forward-only UPDATE:
    on PostgreSQL it runs as its own transaction (db.writer's `single`)."""
    if not _to_store(outcomes):
        return
    lone = len(outcomes) == 1 and outcomes[0].result == "sent" and not outcomes[0].sent.part_ids
    with db.writer(single=lone).begin() as conn:
        _store(conn, provider, outcomes, utcnow(), settings)
    _stored(provider, outcomes, settings)


_STORED = frozenset({"sent", "retry", "failed", "released"})
"""Answers that change their row; 'unknown' leaves it 'sending' for the sweep to ask about."""


def _to_store(outcomes: Sequence[Outcome]) -> bool:
    """Whether any answer changes its row (`_store` has a statement to run)."""
    return any(o.result in _STORED for o in outcomes)


def _store(
    conn: Connection, provider: str, outcomes: Sequence[Outcome], now: datetime, settings: Settings
) -> bool:
    """`record_all`'s statements, in the caller's transaction; False when there were none."""
    sent = [o for o in outcomes if o.result == "sent"]
    refused = [o for o in outcomes if o.result in ("retry", "failed")]
    released = [o.message_id for o in outcomes if o.result == "released"]
    if not (sent or refused or released):
        return False
    if sent:
        conn.execute(
            _RECORD,
            [
                {
                    "b_id": o.message_id,
                    "b_provider": provider,
                    "b_external_id": o.sent.provider_id,
                    "b_segments": o.sent.num_segments,
                    "b_now": now,
                    "b_status": o.sent.status,
                    "b_rank": OUT_RANK[o.sent.status],
                }
                for o in sent
            ],
        )
        refs = [
            {"provider": provider, "ref": ref, "message_id": o.message_id}
            for o in sent
            for ref in o.sent.part_ids
        ]
        if refs:
            conn.execute(insert(MessageRef.__table__), refs)
    if refused:
        conn.execute(_REFUSED, [_refusal(o, now, settings) for o in refused])
        opted_out = [o.message_id for o in refused if o.error.meaning == OPTED_OUT]
        if opted_out:
            conn.execute(
                update(R)
                .where(
                    R.c.id.in_(select(T.c.resident_id).where(T.c.id.in_(opted_out))),
                    R.c.opted_out.is_(False),
                )
                .values(opted_out=True, opted_out_at=now)
            )
    if released:
        conn.execute(
            update(T)
            .where(T.c.id.in_(released), T.c.status == OUT_SENDING)
            .values(status=OUT_QUEUED, attempts=T.c.attempts - 1, claimed_at=None)
        )
    return True


def _stored(provider: str, outcomes: Sequence[Outcome], settings: Settings) -> None:
    """Once the answers are committed: the refusals' log lines and the metrics."""
    for o in outcomes:
        if o.result in ("retry", "failed"):
            log.warning("message %s: %s (%s)", o.message_id, _decision(o, settings), o.error)
    _count(provider, outcomes, settings)


def _count(provider: str, outcomes: Sequence[Outcome], settings: Settings) -> None:
    """Each answer under the state it left its message in (metrics; no query)."""
    for o in outcomes:
        if o.result == "sent":
            state = o.sent.status
        elif o.result == "retry" and not _gives_up(o, settings):
            state = "retry"
            metrics.SEND_RETRIES.labels(provider).inc()
        elif o.result in ("retry", "failed", "unknown"):
            state = "failed" if o.result != "unknown" else "unknown"
        else:
            continue  # released: never sent
        metrics.MESSAGES_OUT.labels(provider, state).inc()


def _gives_up(o: Outcome, settings: Settings) -> bool:
    return o.result == "failed" or o.attempts >= settings.send_max_attempts


def _refusal(o: Outcome, now: datetime, settings: Settings) -> dict:
    again = not _gives_up(o, settings)
    return {
        "b_id": o.message_id,
        "b_status": OUT_QUEUED if again else OUT_FAILED,
        "b_next": now + timedelta(seconds=backoff(o.attempts)) if again else None,
        "b_code": o.error.code,
        "b_error": str(o.error)[:500],
        "b_now": now,
    }


def _decision(o: Outcome, settings: Settings) -> str:
    if o.result == "failed":
        return "failed for good"
    if _gives_up(o, settings):
        return f"giving up after {o.attempts} attempts"
    return f"transient failure, retry {o.attempts} in {backoff(o.attempts)}s"


def _wake_retries(provider: str, outcomes: Sequence[Outcome], settings: Settings) -> None:
    """One delayed wake per distinct retry delay, at the time those rows fall due."""
    delays: dict[int, str] = {}
    for o in outcomes:
        if o.result == "retry" and not _gives_up(o, settings):
            delay = backoff(o.attempts)
            if delays.get(delay) != queues.OUTBOUND_QUEUE:
                delays[delay] = queues.send_queue(o.kind)
    for delay, queue_name in delays.items():
        queues.wake_sender(provider, queue_name=queue_name, delay=delay)
