"""Keeping a provider's sends within its messages-per-second, across every worker.

A provider account has one rate however many workers send through it, so the schedule lives
in Redis: one key per provider holds the time the next send may start (a "theoretical
arrival time", as in GCRA). A batch of k sends reserves k consecutive slots in one atomic
Lua call and each send waits for its own slot, so two workers draining the same provider
interleave instead of each sending at the full rate. Nothing waits while the provider is
under its rate: a lone reply's slot is "now".

A reservation takes only the slots that start before the caller's deadline (`until`): a send
that would start later is given back unsent, so it must not hold a slot either. Until
2026-12-04 it did: every reply a handling job gave back to the drain (its slot more than
HERE_WAIT away) still pushed the schedule on, and once the schedule ran past a drain's
20 s budget, each drain released its whole batch, pushed it further and woke the next one,
so a backlog sat unsent for minutes (bench/faults.py's worker-kill row, 188 replies).

The reservation arithmetic is `reserve`, a pure function the Lua script mirrors, so the
decisions can be tested with an injected clock. The clock is the workers' own (wall time,
NTP-synchronised): a worker whose clock is d ms off shifts at most d ms of sends. When Redis
cannot be asked, the process falls back to its own schedule (the same function over a dict):
still paced, only no longer shared.
"""

from __future__ import annotations

import logging
import math
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
local count = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local start = math.max(tat, now - tonumber(ARGV[4]))
local deadline = tonumber(ARGV[5])
if deadline then
  count = math.max(0, math.min(count, math.ceil((deadline - start) / interval)))
end
if count > 0 then
  local after = start + count * interval
  local ttl = math.ceil((after - now + tonumber(ARGV[4])) * 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', math.max(ttl, 1000))
end
return {string.format('%.6f', start), count}
"""
"""`reserve` in Lua: atomic, so workers never hand out the same slot twice."""


def reserve(
    next_free: float,
    now: float,
    count: int,
    interval: float,
    burst: float = 0.0,
    until: float | None = None,
) -> tuple[float, int, float]:
    """(first slot, slots granted, next free time) for up to `count` sends spaced
    `interval` seconds apart, none starting at or after `until`.

    The first slot is now unless earlier reservations reach past now; the next reservation
    starts where this one ends. `burst` seconds of unused schedule may be caught up (a token
    bucket holding burst × rate sends): the moments a drain spends claiming and recording
    between batches are not lost, so a backlog goes out at the full rate, while over any
    window W no more than (W + burst) × rate sends start. Slots at or after `until` are not
    taken: the caller gives those sends back, and the schedule stays where it was for them.
    """
    start = max(next_free, now - burst)
    if until is not None:
        count = max(0, min(count, math.ceil((until - start) / interval)))
    if count == 0:
        return start, 0, next_free
    return start, count, start + count * interval


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

    def reserve(
        self, provider: str, count: int, messages_per_second: float, until: float | None = None
    ) -> list[float]:
        """Wall-clock start times (this pacer's clock) for the next `count` sends, or as
        many of them as start before `until` (the rest are not to be sent now)."""
        if count <= 0:
            return []
        interval = 1.0 / messages_per_second
        now = self._clock()
        shared = self._shared(provider, now, count, interval, until)
        if shared is None:
            with self._lock:
                first, granted, next_free = reserve(
                    self._local.get(provider, 0.0), now, count, interval, self._burst, until
                )
                self._local[provider] = next_free
        else:
            first, granted = shared
        return slots(first, granted, interval)

    def _shared(
        self, provider: str, now: float, count: int, interval: float, until: float | None
    ) -> tuple[float, int] | None:
        if self._connection is None:
            return None
        try:
            conn = self._connection()
            if self._script is None or self._script.registered_client is not conn:
                self._script = conn.register_script(_RESERVE)
            args = [now, count, interval, self._burst, "" if until is None else until]
            first, granted = self._script(keys=[KEY.format(provider)], args=args)
            return float(first), int(granted)
        except (RedisError, RuntimeError) as exc:
            log.warning("pacing %s in this process only (Redis: %s)", provider, exc)
            return None

    def wait_for(self, slot: float) -> None:
        """Sleep until `slot` on this pacer's clock."""
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
