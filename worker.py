"""The job entry point: builds the same app as the web and runs RQ workers in-process.

RQ's default worker forks a child per job (about 60 jobs/s here); handlers take
milliseconds, so SimpleWorker runs jobs in the worker process itself. Every job still gets
a fresh app context, and a crash mid-job is covered by the database (see smsbot.sweeping).

Outages (smsbot.outages): RQ waits out a Redis outage only while it waits for a job; one
that strikes elsewhere (a heartbeat, the end of a job) makes `work()` log "quitting" and
return. `work` here then starts a fresh worker after a backoff, so `smsbot worker` never
exits for Redis; a database outage only fails the jobs it hits, which the sweep retries.

RQ's scheduler (it moves jobs queued "in N seconds" onto their queue) runs in a child
process forked by the worker. Ours (`AppScheduler`) ends when its worker is gone, even after
a SIGKILL that gave the worker no time to stop it: otherwise it would live on, attached to a
Redis database that someone else uses next (as a test run's orphans did). And it outlasts a
Redis outage instead of dying with it, rather than waiting for the worker's maintenance
round (every ten minutes) to start another.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence

from flask import Flask
from rq import SimpleWorker
from rq.scheduler import RQScheduler

from app import create_app
from smsbot import config, outages

log = logging.getLogger("smsbot.worker")


class AppScheduler(RQScheduler):
    """RQ's scheduler child: stops with its worker, and waits out Redis outages."""

    worker_pid: int = 0
    backoff: outages.Backoff

    def start(self):  # noqa: ANN201
        self.worker_pid = os.getpid()  # before the fork: the child compares with its parent
        return super().start()

    def heartbeat(self) -> None:
        """Called every round: an orphan (its worker died, even by SIGKILL) stops itself."""
        if self.worker_pid and os.getppid() != self.worker_pid:
            log.warning("RQ scheduler: its worker %s is gone; stopping", self.worker_pid)
            self._stop_requested = True
            return
        super().heartbeat()

    def work(self) -> None:
        while True:
            try:
                super().work()  # returns when asked to stop (or orphaned), raises on an outage
                return
            except outages.OUTAGE_ERRORS as exc:
                if self._stop_requested:
                    return
                pause = self.backoff.next()
                log.warning("RQ scheduler: %s; trying again in %.0f s", exc, pause)
                deadline = time.monotonic() + pause
                while time.monotonic() < deadline and not self._stop_requested:
                    if self.worker_pid and os.getppid() != self.worker_pid:
                        return
                    time.sleep(0.1)
                if self._stop_requested:
                    return


PUBSUB_POLL_SECONDS = 0.5
"""How often a worker's command channel thread looks whether it must stop (see subscribe)."""


class AppWorker(SimpleWorker):
    """A non-forking RQ worker that runs each job inside the Flask app context."""

    app: Flask
    stopping: outages.Stopping | None = None

    def perform_job(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        with self.app.app_context():
            return super().perform_job(*args, **kwargs)

    def subscribe(self) -> None:
        """RQ's (rq/worker/base.py), with its command channel polled every
        PUBSUB_POLL_SECONDS, not every 60 s.

        Why: RQ 3.0 runs the channel's thread with `sleep_time=60`, and since redis-py 8.2
        stopping that thread waits for it. When the thread has already read the reply to the
        UNSUBSCRIBE before it is told to stop, it waits out a whole minute first: every burst
        worker of the tests, and every `smsbot worker` stopping, could hang for 60 s at its
        end (seen in a fresh clone's CI: 16 tests at 60–128 s).
        """
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL_SECONDS,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def request_stop(self, signum, frame) -> None:  # noqa: ANN001
        if self.stopping is not None:
            self.stopping.request()
        super().request_stop(signum, frame)

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        if self.stopping is not None and self.stopping.requested:
            self._stop_requested = True  # heard before RQ's handlers were set: stop at once

    def _start_scheduler(
        self, burst=False, logging_level="INFO", date_format=None, log_format=None
    ) -> None:  # noqa: ANN001
        """RQ's own, with AppScheduler for RQScheduler."""
        kwargs = {k: v for k, v in (("date_format", date_format), ("log_format", log_format)) if v}
        self.scheduler = AppScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            serializer=self.serializer,
            **kwargs,
        )
        self.scheduler.backoff = outages.Backoff.of(config.current())
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()


def build(
    app: Flask | None = None, queue_names: Sequence[str] | None = None, name: str | None = None
) -> AppWorker:
    """A worker bound to the app's Redis and our queues, highest priority first."""
    import handlers  # noqa: F401  (import before work starts: registry and templates ready)
    import smsbot.jobs  # noqa: F401
    from smsbot import queues

    app = app or create_app()
    names = list(queue_names or queues.ALL_QUEUES)
    worker = AppWorker(
        [queues.queue(n) for n in names],
        connection=queues.connection(),
        name=name,
        log_job_description=False,
    )
    worker.app = app
    settings = config.current()
    worker.max_connection_wait_time = settings.reconnect_max_seconds
    return worker


def work(
    app: Flask | None = None, queue_names: Sequence[str] | None = None, *, burst: bool = False
) -> None:
    """Work until SIGTERM or SIGINT (`burst`: until the queues are empty), through outages:
    a worker that RQ ends for a Redis error is replaced by a fresh one after a backoff."""
    app = app or create_app()
    stopping = outages.Stopping()

    def shift() -> bool:
        worker = build(app, queue_names)
        worker.stopping = stopping
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
        return burst or stopping.requested

    outages.outlast(
        shift, what="worker", backoff=outages.Backoff.of(config.current()), stopping=stopping
    )


def main(argv: Sequence[str] | None = None, *, burst: bool = False) -> int:
    work(burst=burst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
