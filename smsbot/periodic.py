"""`smsbot clock`: the process that queues the periodic jobs on time, outage or not.

RQ's CronScheduler does the timing; it gives up (raises) at the first Redis error, so the
clock runs it under smsbot.outages: a Redis outage pauses the clock, and a fresh scheduler
starts when Redis answers again, queueing at once every interval job (the sweep first, which
picks up whatever arrived meanwhile). Run on its own, as in the README's production layout,
it needs no supervisor to come back.
"""

from __future__ import annotations

import logging

from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from smsbot import deadline_clock, jobs, outages, queues, ticket_stats
from smsbot.config import Settings

log = logging.getLogger(__name__)


class Clock(CronScheduler):
    """RQ's cron scheduler, telling smsbot.outages when it was asked to stop."""

    stopping: outages.Stopping

    def _request_stop(self, signum, frame):  # noqa: ANN001, ANN202
        self.stopping.request()
        raise StopRequested()

    def enqueue_jobs(self):  # noqa: ANN201
        if self.stopping.requested:  # a SIGTERM heard before RQ's own handlers were set
            raise StopRequested()
        return super().enqueue_jobs()


def build(settings: Settings, stopping: outages.Stopping) -> Clock:
    """A scheduler with every periodic job registered, on this process's Redis."""
    clock = Clock(connection=queues.connection(), logging_level="WARNING")
    clock.stopping = stopping
    every = (
        (jobs.sweep, {"interval": settings.sweep_interval_seconds, "job_timeout": 120}),
        (jobs.deadline_clock, {"interval": deadline_clock.INTERVAL, "job_timeout": 120}),
        (
            jobs.refresh_ticket_stats,
            {"interval": ticket_stats.REFRESH_INTERVAL, "job_timeout": 300},
        ),
        (jobs.rebuild_ticket_stats, {"cron": ticket_stats.REBUILD_CRON, "job_timeout": 1800}),
    )
    for job, timing in every:
        clock.register(job, queues.MAINTENANCE_QUEUE, **timing)
    return clock


def run(settings: Settings) -> None:
    """Queue the periodic jobs until SIGTERM or SIGINT, through any Redis outage."""
    # The app's logging is set up first, so RQ leaves its level alone: quiet the "enqueued
    # job sweep" line it would print every few seconds.
    logging.getLogger("rq.cron").setLevel(logging.WARNING)
    stopping = outages.Stopping()

    def tick() -> bool:
        build(settings, stopping).start()  # returns only when asked to stop
        return stopping.requested

    outages.outlast(tick, what="clock", backoff=outages.Backoff.of(settings), stopping=stopping)
