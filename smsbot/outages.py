"""Riding out Redis and database outages: the long-running processes never exit for them.

`smsbot clock`, `smsbot worker` and `smsbot smpp` run for months, often without `smsbot
run` to restart them (the README's production layout). An outage of Redis or the database
is a pause for them, not an end: whatever fails with one of OUTAGE_ERRORS is logged once
per attempt and tried again after a backoff that doubles from SMSBOT_RECONNECT_FIRST_SECONDS
up to SMSBOT_RECONNECT_MAX_SECONDS, and a SIGTERM or SIGINT still stops the process at once,
even in the middle of a wait. Nothing is lost meanwhile: the database is the truth, and the
sweep queues again what Redis forgot (smsbot.sweeping).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from smsbot.config import Settings

log = logging.getLogger(__name__)

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisError, SQLAlchemyError, OSError)
"""What Redis or the database going away raises (redis-py, SQLAlchemy, a refused socket)."""
STOP_POLL = 0.1
"""Seconds between looks at the stop flag while waiting: how late a SIGTERM is heard."""


@dataclass
class Backoff:
    """Seconds to wait before the next attempt: doubling from `first` up to `maximum`."""

    first: float = 1.0
    maximum: float = 10.0
    _next: float = 0.0

    @classmethod
    def of(cls, settings: Settings) -> Backoff:
        return cls(settings.reconnect_first_seconds, settings.reconnect_max_seconds)

    def next(self) -> float:
        self._next = min(self.maximum, self._next * 2 if self._next else self.first)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


@dataclass
class Stopping:
    """Set by SIGTERM or SIGINT while a process waits out an outage (`install`).

    A flag polled in short sleeps, not a threading.Event: an Event set by a signal handler
    in the very thread that waits on it is only seen when the wait times out.
    """

    requested: bool = False

    def install(self) -> None:
        """Handle SIGTERM and SIGINT here (RQ installs its own while it works)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.request)

    def request(self, *_: object) -> None:
        self.requested = True

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds` unless told to stop first; True when told to stop."""
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(STOP_POLL, left))
        return self.requested


def outlast(run: Callable[[], bool], *, what: str, backoff: Backoff, stopping: Stopping) -> None:
    """Call `run` until it returns True (done: it was asked to stop, or had nothing more to
    do); after an outage error or an early return, wait the backoff and call it again.

    `run` returns False when it ended by itself without being asked (RQ's loop gives up on
    some Redis errors and returns instead of raising). A run that lasted is a recovery: the
    backoff starts again from its first step.
    """
    while not stopping.requested:
        started = time.monotonic()
        try:
            if run():
                return
            problem = "stopped by itself"
        except OUTAGE_ERRORS as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if stopping.requested:
            return
        if time.monotonic() - started > backoff.maximum:
            backoff.reset()
        pause = backoff.next()
        log.warning("%s: %s; trying again in %.0f s", what, problem, pause)
        stopping.install()
        if stopping.wait(pause):
            return
