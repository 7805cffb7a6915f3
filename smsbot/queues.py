"""Redis connection and RQ queues: the only place that knows queue names.

Web processes only enqueue; workers only dequeue. Redis calls from a webhook get short
timeouts: if Redis is down the message is already stored and the sweep queues it later,
so an outage must cost a log line, not a hung request.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from uuid import uuid4

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue

from smsbot import counting

log = logging.getLogger(__name__)

INBOUND_QUEUE = "inbound"
"""Residents' messages waiting for a handler."""
OUTBOUND_QUEUE = "outbound"
"""Replies waiting to be sent; listened to first, so answers never wait behind work."""
NOTICES_QUEUE = "notices"
"""Bulk notices to buildings: lowest priority, so replies are never stuck behind them."""
MAINTENANCE_QUEUE = "maintenance"
"""The sweep and other clock jobs; tiny and listened to first so a backlog cannot delay them."""
ALL_QUEUES = (MAINTENANCE_QUEUE, OUTBOUND_QUEUE, INBOUND_QUEUE, NOTICES_QUEUE)
"""Worker listening order, highest priority first."""

JOB_TIMEOUT = 60
"""Seconds a job may run; handlers take milliseconds, a slow provider a few seconds."""

_redis: Redis | None = None


def init(url: str) -> Redis:
    """Connect (lazily) to Redis for this process."""
    global _redis
    counting.count_redis()  # only when SMSBOT_COUNT_DIR is set (the benchmark)
    _redis = Redis.from_url(
        url, socket_connect_timeout=1.0, socket_timeout=5.0, health_check_interval=30
    )
    return _redis


def connection() -> Redis:
    if _redis is None:
        raise RuntimeError("Redis not initialised: call smsbot.queues.init() (create_app does)")
    return _redis


_queues: dict[str, Queue] = {}


def queue(name: str) -> Queue:
    """The RQ queue `name` on this process's connection (made once; Queue() is not free)."""
    found = _queues.get(name)
    if found is None or found.connection is not connection():
        found = _queues[name] = Queue(name, connection=connection(), default_timeout=JOB_TIMEOUT)
    return found


def outbound_job_id(message_id: int) -> str:
    return f"send-{message_id}"


# --- drains: jobs that point at work waiting in the database ---------------------------------

LINGER_SECONDS = 0.25
"""How long a drain that found nothing waits for news before it lets go of its wake. Under a
steady trickle (a message every few ms to a few hundred ms) one job keeps going instead of
one RQ job per message (RQ's bookkeeping costs more CPU than handling a message); news wakes
it at once, so a message never waits for the linger."""

_WAKE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
redis.call('LPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 0)
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 0
"""
"""Take the wake (KEYS[1]) for a new job, or nudge (KEYS[2]) the drain that holds it: one
round trip either way."""


def wake(flag: str, nudge: str, job_id: str, *, force: bool = False) -> bool:
    """True when the caller must queue job `job_id` (it now holds the wake `flag`); False
    when a drain is queued or running and has been nudged to look again.

    The wake is held from the moment a job is queued until the drain lets go of it after
    finding nothing (`linger`), so a backlog or a steady trickle costs one Redis command per
    message and no job. No message is missed: a drain lets go only when no nudge waits.
    """
    conn = connection()
    if force:
        conn.set(flag, job_id, ex=LEASE_SECONDS)
        return True
    return bool(conn.eval(_WAKE, 2, flag, nudge, job_id, LEASE_SECONDS))


LEASE_SECONDS = 5
"""How long a wake outlives the last sign of life of the drain holding it: the drain renews
it on every round (`hold`), so a worker killed mid-drain blocks new jobs for seconds, not
until the sweep. A drain slower than this (a provider taking its time) may see a second
drain start beside it: harmless, since every claim is exclusive."""


RENEW_SECONDS = 1.0
"""A drain renews its wake and heartbeat at most this often, not every batch (a Redis round
trip each time, most of a small batch's fixed cost): a lease still outlives a drain's last
sign of life by LEASE_SECONDS - RENEW_SECONDS at least."""


def hold(flag: str, seconds: int = LEASE_SECONDS) -> None:
    """A drain is alive: keep its wake."""
    connection().expire(flag, seconds)


_LET_GO = """
if redis.call('LLEN', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
"""Let go of the wake (KEYS[1]) unless a nudge (KEYS[2]) is waiting, atomically: a message
whose webhook found the wake held has nudged before this runs, or finds it free after and
queues a job of its own. So no message is ever left between two drains."""


def linger(flag: str, nudge: str, seconds: float | None = None) -> bool:
    """A drain's batch was not full: wait for a nudge (news arrives within the linger, or
    was already waiting). True: look again. False: the wake is let go of, and nothing is
    waiting that any webhook reported; the drain ends."""
    conn = connection()
    seconds = LINGER_SECONDS if seconds is None else seconds
    if seconds > 0:
        if conn.blpop([nudge], timeout=seconds):
            return True
    elif conn.lpop(nudge) is not None:
        return True
    return not conn.eval(_LET_GO, 2, flag, nudge)


INBOUND_WAKE = "smsbot:inbound:wake"
"""Holds the id of the batch job that is queued or running (see `wake`)."""
INBOUND_NUDGE = "smsbot:inbound:nudge"
"""Where a running batch job hears of new messages."""
INBOUND_BATCH_JOB = "smsbot.jobs.handle_waiting"


def enqueue_inbound(message_id: int | None = None) -> bool:
    """Make sure a job will handle the stored message(s); False (logged) if Redis is down.

    Jobs point at the work waiting in the database rather than carry one message each: a
    batch job claims whatever waits. So a message needs a new job only when no job holds the
    wake (`wake`); otherwise a webhook costs one Redis round trip (the script that nudges
    the running job) instead of RQ's bookkeeping for a job of its own. A lone message still
    gets its job at once. `message_id` is only for the log; the sweep covers a wake lost with
    Redis.
    """
    try:
        return wake_inbound()
    except RedisError as exc:
        log.warning("could not queue inbound message %s; the sweep will retry: %s", message_id, exc)
        return False


def wake_inbound(*, force: bool = False) -> bool:
    """Queue a batch job unless one holds the wake (`force`: queue one regardless)."""
    job_id = f"inbound-batch-{uuid4().hex}"
    if wake(INBOUND_WAKE, INBOUND_NUDGE, job_id, force=force):
        queue(INBOUND_QUEUE).enqueue(
            INBOUND_BATCH_JOB, job_id=job_id, result_ttl=60, failure_ttl=86400
        )
    return True


def inbound_job_ids() -> list[str]:
    """Ids of batch jobs that may still claim messages: the queued one and those started."""
    conn = connection()
    waiting = conn.get(INBOUND_WAKE)
    started = queue(INBOUND_QUEUE).started_job_registry.get_job_ids()
    return ([waiting.decode()] if waiting else []) + list(started)


def enqueue_send(message_id: int, *, delay: float = 0, queue_name: str = OUTBOUND_QUEUE) -> bool:
    """Queue the sending of a stored outbound message; False (logged) if Redis is down."""
    return _enqueue(
        queue_name, "smsbot.jobs.send_outbound", message_id, outbound_job_id(message_id), delay
    )


SEND_QUEUES = (OUTBOUND_QUEUE, NOTICES_QUEUE)
"""Where a provider's drain jobs wait: replies' on the outbound queue, notices' last."""


def send_queue(kind: str) -> str:
    """The queue a message's send job goes on: notices wait behind everything else."""
    return NOTICES_QUEUE if kind == "notice" else OUTBOUND_QUEUE


def enqueue_sends(items: Iterable[tuple[int, str]]) -> int:
    """Queue (message id, queue name) one-message send jobs, one Redis round trip per queue.

    Only for messages no drain can take (their provider is not configured: the job fails
    them); everything else is woken with `wake_sender`.
    """
    by_queue: dict[str, list[int]] = {}
    for message_id, queue_name in items:
        by_queue.setdefault(queue_name, []).append(message_id)
    queued = 0
    for queue_name, ids in by_queue.items():
        try:
            q = queue(queue_name)
            q.enqueue_many(
                [
                    Queue.prepare_data(
                        "smsbot.jobs.send_outbound",
                        args=(mid,),
                        job_id=outbound_job_id(mid),
                        result_ttl=60,
                        failure_ttl=86400,
                    )
                    for mid in ids
                ]
            )
            queued += len(ids)
        except RedisError as exc:
            log.warning(
                "could not queue %d sends (%s); the sweep will retry: %s", len(ids), queue_name, exc
            )
    return queued


# --- waking a provider's sender -----------------------------------------------------------------

DRAINING_TTL = 20
"""Seconds a running drain's heartbeat outlives its last round (it is renewed every round,
lingering included): long enough for a batch at a slow provider, short enough that the
sweep soon replaces a drain whose worker was killed."""


def wake_flag(provider: str, queue_name: str = OUTBOUND_QUEUE) -> str:
    """The Redis key saying "a drain job of this provider is waiting on `queue_name`"; its
    value is that job's id."""
    suffix = "" if queue_name == OUTBOUND_QUEUE else f":{queue_name}"
    return f"smsbot:send:wake:{provider}{suffix}"


def draining_key(provider: str) -> str:
    """Set while a drain of this provider runs, so the sweep does not start a second one."""
    return f"smsbot:send:draining:{provider}"


def nudge_key(provider: str, queue_name: str = OUTBOUND_QUEUE) -> str:
    """The Redis list where the running drain of this provider and queue hears of news."""
    suffix = "" if queue_name == OUTBOUND_QUEUE else f":{queue_name}"
    return f"smsbot:send:nudge:{provider}{suffix}"


def wake_sender(
    provider: str, *, queue_name: str = OUTBOUND_QUEUE, delay: float = 0, force: bool = False
) -> bool:
    """Make sure a drain job of `provider` will run; False if one holds the wake already
    (it is nudged to look again), or Redis is down (logged: the sweep wakes it later).

    Coalesced (see `wake`): only the caller that takes the wake enqueues, so a thousand
    sends queued at once, or a steady stream of replies, cost one job. `delay` schedules a
    wake at a retry's time, beside any other job; `force` takes the wake for a new job
    (a drain handing over, or the sweep replacing a lost one).
    """
    job_id = f"drain-{provider}-{uuid4().hex[:16]}"
    call = ("smsbot.jobs.send_waiting", provider, queue_name)
    options = {"job_id": job_id, "result_ttl": 60, "failure_ttl": 86400}
    try:
        q = queue(queue_name)
        if delay > 0:
            q.enqueue_in(timedelta(seconds=delay), *call, **options)
            return True
        flag, nudge = wake_flag(provider, queue_name), nudge_key(provider, queue_name)
        if not wake(flag, nudge, job_id, force=force):
            return False
        q.enqueue(*call, **options)
        return True
    except RedisError as exc:
        log.warning(
            "could not wake the %s sender (%s); the sweep will: %s", provider, queue_name, exc
        )
        return False


def still_draining(provider: str) -> None:
    """Refresh the running drain's heartbeat (once per batch)."""
    with contextlib.suppress(RedisError):  # else the sweep may start a second: harmless
        connection().set(draining_key(provider), 1, ex=DRAINING_TTL)


def carry_on(
    provider: str,
    flag: str,
    nudge: str | None = None,
    also: Callable[[Pipeline], None] | None = None,
    *,
    renew: bool = True,
) -> bool:
    """A drain's round is over and it goes on: with `renew`, refresh its heartbeat
    (`still_draining`) and its wake (`hold`); given `nudge`, take a nudge already waiting; all
    in one round trip with `also`'s commands (the batch's desk changes). True when a nudge
    was waiting: look again without lingering. A RedisError raises, as `hold` alone would."""
    pipe = connection().pipeline(transaction=False)
    if also is not None:
        also(pipe)
    if renew:
        pipe.set(draining_key(provider), 1, ex=DRAINING_TTL)
        pipe.expire(flag, LEASE_SECONDS)
    if nudge is not None:
        pipe.lpop(nudge)
    answers = pipe.execute()
    return nudge is not None and answers[-1] is not None


def done_draining(provider: str) -> None:
    with contextlib.suppress(RedisError):  # else it expires by itself
        connection().delete(draining_key(provider))


def drain_state(provider: str) -> tuple[list[str], bool]:
    """(ids of the drain jobs the wake flags name, whether a drain is running) for the sweep."""
    conn = connection()
    pipe = conn.pipeline()
    for name in SEND_QUEUES:
        pipe.get(wake_flag(provider, name))
    pipe.exists(draining_key(provider))
    *flags, running = pipe.execute()
    return [f.decode() for f in flags if f], bool(running)


def wake_key(provider: str) -> str:
    """The Redis list a connector (SMPP) waits on for news of queued messages."""
    return f"smsbot:wake:{provider}"


def wake_connector(provider: str) -> None:
    """Tell `smsbot smpp` that its provider has queued messages (it polls anyway)."""
    try:
        pipe = connection().pipeline()
        pipe.lpush(wake_key(provider), 1)
        pipe.ltrim(wake_key(provider), 0, 0)
        pipe.execute()
    except RedisError as exc:
        log.warning("could not wake the %s connector; it polls: %s", provider, exc)


def _enqueue(queue_name: str, func: str, message_id: int, job_id: str, delay: float = 0) -> bool:
    try:
        q = queue(queue_name)
        if delay > 0:
            q.enqueue_in(
                timedelta(seconds=delay),
                func,
                message_id,
                job_id=job_id,
                result_ttl=60,
                failure_ttl=86400,
            )
        else:
            q.enqueue(func, message_id, job_id=job_id, result_ttl=60, failure_ttl=86400)
        return True
    except RedisError as exc:
        log.warning("could not queue %s (%s); the sweep will retry: %s", job_id, queue_name, exc)
        return False
