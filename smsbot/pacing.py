"""Keeping a provider's sends within its messages-per-second, across every worker.

A provider account has one rate however many workers send through it, so the schedule lives
in Redis: one key per provider holds the time the next send may start (a "theoretical
arrival time", as in GCRA). A batch of k sends reserves k consecutive slots in one atomic
Lua call and each send waits for its own slot, so two workers draining the same provider
interleave instead of each sending at the full rate. Nothing waits while the provider is
under its rate: a lone reply's slot is "now".

The reservation arithmetic is `reserve`, a pure function the Lua script mirrors, so the
decisions can be tested with an injected clock. The clock is the workers' own (wall time,
NTP-synchronised): a worker whose clock is d ms off shifts at most d ms of sends. When Redis
cannot be asked, the process falls back to its own schedule (the same function over a dict):
still paced, only no longer shared.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

BURST = 0.2
"""Seconds of unused schedule a provider may catch up (see `reserve`)."""
KEY = "smsbot:send:pace:{}"
"""Redis key per provider: the epoch second its next send may start."""

_RESERVE = """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local start = math.max(tat, now - tonumber(ARGV[4]))
local after = start + tonumber(ARGV[2]) * tonumber(ARGV[3])
local ttl = math.ceil((after - now + tonumber(ARGV[4])) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', math.max(ttl, 1000))
return string.format('%.6f', start)
"""
"""`reserve` in Lua: atomic, so workers never hand out the same slot twice."""


def reserve(
    next_free: float, now: float, count: int, interval: float, burst: float = 0.0
) -> tuple[float, float]:
    """(first slot, next free time) for `count` sends spaced `interval` seconds apart.

    The first slot is now unless earlier reservations reach past now; the next reservation
    starts where this one ends. `burst` seconds of unused schedule may be caught up (a token
    bucket holding burst × rate sends): the moments a drain spends claiming and recording
    between batches are not lost, so a backlog goes out at the full rate, while over any
    window W no more than (W + burst) × rate sends start.
    """
    start = max(next_free, now - burst)
    return start, start + count * interval


def slots(first: float, count: int, interval: float) -> list[float]:
    """The start times of `count` sends from `first`, `interval` apart."""
    return [first + i * interval for i in range(count)]


class Pacer:
    """Hands out send slots for providers; shared through Redis, local when Redis is away."""

    def __init__(
        self,
        connection: Callable[[], Redis] | None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        burst: float = BURST,
    ):
        self._burst = burst
        self._connection = connection
        self._clock = clock
        self._sleep = sleep
        self._local: dict[str, float] = {}
        self._lock = threading.Lock()
        self._script = None

    def now(self) -> float:
        return self._clock()

    def reserve(self, provider: str, count: int, messages_per_second: float) -> list[float]:
        """Wall-clock start times (this pacer's clock) for the next `count` sends."""
        if count <= 0:
            return []
        interval = 1.0 / messages_per_second
        now = self._clock()
        first = self._shared(provider, now, count, interval)
        if first is None:
            with self._lock:
                first, self._local[provider] = reserve(
                    self._local.get(provider, 0.0), now, count, interval, self._burst
                )
        return slots(first, count, interval)

    def _shared(self, provider: str, now: float, count: int, interval: float) -> float | None:
        if self._connection is None:
            return None
        try:
            conn = self._connection()
            if self._script is None or self._script.registered_client is not conn:
                self._script = conn.register_script(_RESERVE)
            return float(
                self._script(keys=[KEY.format(provider)], args=[now, count, interval, self._burst])
            )
        except (RedisError, RuntimeError) as exc:
            log.warning("pacing %s in this process only (Redis: %s)", provider, exc)
            return None

    def wait_for(self, slot: float) -> None:
        """Sleep until `slot` on this pacer's clock."""
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
