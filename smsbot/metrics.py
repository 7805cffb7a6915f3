"""What operators watch, in Prometheus' text format at /metrics (smsbot.web.metrics).

Two kinds of figures, counted in two ways:

- Events (messages in, sends and their answers, delivery states, retries, sweep requeues,
  deadline alerts, abuse stops) are counters kept by the process where they happen. Under
  `smsbot run` every process (gunicorn's workers, the RQ workers, the clock, the connector)
  writes its own into PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode),
  and a scrape adds them up, so a restarted worker loses nothing already counted.
- States (messages waiting by direction, state and provider; queue depth; the age of the
  oldest job in each queue) are read from the database and Redis when scraped
  (`StateCollector`): a few indexed counts and one Redis round trip every 15 s, where a
  gauge updated by every process would be wrong after any crash.

Hot paths pay one counter increment per message and no query. Label values are our own
words (provider names, our states), never a phone or a text.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import and_, func, or_, select

from smsbot import config, db, queues
from smsbot.models import (
    IN_RECEIVED,
    INBOUND,
    OUT_ACCEPTED,
    OUT_QUEUED,
    OUT_SENDING,
    OUT_SENT,
    OUTBOUND,
    Message,
)

log = logging.getLogger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""Where every process writes its counters (set before Python starts: prometheus_client
reads it on import). Unset: each process counts for itself (one process, or tests)."""
WAITING = ((INBOUND, IN_RECEIVED), *((OUTBOUND, s) for s in (OUT_QUEUED, OUT_SENDING, OUT_ACCEPTED, OUT_SENT)))  # fmt: skip
"""The (direction, state) pairs a message passes through and should not stay in."""
RQ_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How RQ writes a job's enqueued_at."""

MESSAGES_IN = Counter(
    "smsbot_messages_in", "Residents' SMS stored (repeats of one not counted).", ["provider"]
)
MESSAGES_OUT = Counter(
    "smsbot_messages_out",
    "Our SMS handed to a provider, by the state its answer left them in: accepted, sent, "
    "delivered; retry (a transient refusal), failed, unknown (to be asked about).",
    ["provider", "state"],
)
DELIVERY_STATES = Counter(
    "smsbot_delivery_states",
    "Delivery states providers reported for our SMS (callbacks, receipts).",
    ["provider", "state"],
)
SEND_SECONDS = Histogram(
    "smsbot_send_seconds",
    "Time a provider took to answer one send.",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
SEND_RETRIES = Counter(
    "smsbot_send_retries", "Sends refused for now and queued to try again.", ["provider"]
)
SWEEP_REQUEUED = Counter(
    "smsbot_sweep_requeued",
    "Messages the sweep found without a live job and queued again (inbound, outbound), "
    "asked the provider about (reconciled), or stored from the spool (spooled).",
    ["kind"],
)
DEADLINE_ALERTS = Counter(
    "smsbot_deadline_alerts", "Tickets the deadline clock alerted staff about.", ["stage"]
)
ABUSE_STOPS = Counter(
    "smsbot_abuse_stops",
    "Residents' messages left unanswered by the abuse guard: reason rate_limit, loop, daily_cap …",
    ["reason"],
)


def abuse_stop(reason: str) -> None:
    """Count one message the abuse guard kept the bot from answering, and why."""
    ABUSE_STOPS.labels(reason).inc()


class StateCollector:
    """The figures read at scrape time: messages waiting, queue depth, oldest job's age.

    When the database or Redis cannot be read, its figures are left out and
    smsbot_state_readable{source} says 0, so a dashboard sees the hole, not a zero.
    """

    def collect(self) -> Iterator[Metric]:
        readable = GaugeMetricFamily(
            "smsbot_state_readable", "Whether a scrape could read this source.", labels=["source"]
        )
        try:
            yield from self._messages()
            readable.add_metric(["database"], 1)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer during an outage
            log.warning("metrics: the database could not be read: %s", type(exc).__name__)
            readable.add_metric(["database"], 0)
        try:
            yield from self._queues()
            readable.add_metric(["redis"], 1)
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: Redis could not be read: %s", type(exc).__name__)
            readable.add_metric(["redis"], 0)
        yield readable

    def _messages(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "smsbot_messages_waiting",
            "Messages in a state they should pass through: received (inbound, not yet "
            "handled), queued, sending, accepted, sent (outbound, not yet delivered).",
            labels=["direction", "state", "provider"],
        )
        pairs = or_(*(and_(Message.direction == d, Message.status == s) for d, s in WAITING))
        query = (
            select(Message.direction, Message.status, Message.provider, func.count())
            .where(pairs)
            .group_by(Message.direction, Message.status, Message.provider)
        )
        # Every configured provider's series is there, at 0 when none waits: a series that
        # comes and goes breaks rates and alerts.
        names = [c.name for c in config.current().providers]
        found = {(d, s): dict.fromkeys(names, 0) for d, s in WAITING}
        with db.engine().connect() as conn:
            for direction, state, provider, count in conn.execute(query):
                found[(direction, state)][provider or ""] = count
        for (direction, state), by_provider in found.items():
            for provider, count in by_provider.items():
                waiting.add_metric([direction, state, provider], count)
        yield waiting

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "smsbot_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "smsbot_queue_oldest_job_age_seconds",
            "How long the oldest waiting job of each queue has waited (0: none waits).",
            labels=["queue"],
        )
        redis = queues.connection()
        names = queues.ALL_QUEUES
        pipe = redis.pipeline(transaction=False)
        for name in names:
            pipe.llen(f"rq:queue:{name}")
            pipe.lindex(f"rq:queue:{name}", 0)
        answers = pipe.execute()
        heads = answers[1::2]
        pipe = redis.pipeline(transaction=False)
        for head in heads:
            if head:
                pipe.hget(f"rq:job:{head.decode()}", "enqueued_at")
            else:
                pipe.echo("")
        enqueued = pipe.execute()
        now = datetime.now(UTC)
        for name, length, when in zip(names, answers[::2], enqueued, strict=True):
            depth.add_metric([name], length)
            age.add_metric([name], _age(when, now))
        yield depth
        yield age


def _age(enqueued_at: bytes | None, now: datetime) -> float:
    if not enqueued_at:
        return 0.0
    try:
        when = datetime.strptime(enqueued_at.decode(), RQ_TIME).replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return max(0.0, (now - when).total_seconds())


class _ThisProcess:
    """This process's own figures: the counters it keeps in memory (it was started without
    PROMETHEUS_MULTIPROC_DIR, as under `flask run` or in tests) and its process_* gauges."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _Summed:
    """Families from several collectors as one: samples with the same name and labels are
    added up (a counter or histogram counted partly in memory, partly in the directory)."""

    def __init__(self, *collectors: Any):
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for collector in self.collectors:
            for family in collector.collect():
                known = families.get(family.name)
                if known is None:
                    families[family.name] = family
                    continue
                index = {(s.name, tuple(sorted(s.labels.items()))): i
                         for i, s in enumerate(known.samples)}  # fmt: skip
                for sample in family.samples:
                    i = index.get((sample.name, tuple(sorted(sample.labels.items()))))
                    if i is None:
                        known.samples.append(sample)
                    else:
                        known.samples[i] = known.samples[i]._replace(
                            value=known.samples[i].value + sample.value
                        )
        yield from families.values()


def exposition() -> bytes:
    """Every figure, as a scrape of /metrics answers: the directory's counters (every
    process's), this process's own unless it writes them there, and the state read now."""
    sources: list[Any] = []
    path = os.environ.get(MULTIPROC_DIR)
    if path and os.path.isdir(path):
        sources.append(multiprocess.MultiProcessCollector(None, path))
    if values.ValueClass is values.MutexValue:  # this process counts in memory
        sources.append(_ThisProcess())
    registry = CollectorRegistry()
    registry.register(_Summed(*sources))
    registry.register(StateCollector())
    return generate_latest(registry)
