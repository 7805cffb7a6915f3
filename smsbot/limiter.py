"""The Redis side of abuse and cost protection (the decisions are smsbot.abuse's).

Every call is one pipelined round trip for a whole batch: `check_many` for the residents'
messages a handler batch claimed, `count_replies` for the replies a transaction stores.
Redis being down costs protection, never a message: the checks answer "go ahead" and say
so in the log, and the database stays the truth about what was received and sent.

Keys carry a hash of the phone, not the number, so a look at Redis shows no one's phone.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from smsbot import abuse, queues

log = logging.getLogger(__name__)

_CHECK = """
-- KEYS: the phone's recent texts (sorted set), its loop state (hash), its note flag prefix,
--       the verdicts given (hash: message → stop:noted)
-- ARGV: member, at, now, fingerprint, rate_limit, window, repeats, echo_seconds, memory
local given = redis.call('HGET', KEYS[4], ARGV[1])
if given then
  local stop, noted = string.match(given, '^(%a*):(%d)$')
  return {stop, tonumber(noted)}
end
local at, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local limit, window, repeats = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local echo, memory = tonumber(ARGV[8]), tonumber(ARGV[9])
redis.call('ZADD', KEYS[1], at, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (at - window))
local rate = redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
redis.call('EXPIRE', KEYS[1], window + 60)
local state = redis.call('HMGET', KEYS[2], 'd', 'n', 'a', 's')
local same = 1
if state[1] == ARGV[4] then same = tonumber(state[2]) + 1 end
local quick = 0
if state[3] and at >= tonumber(state[3]) and at - tonumber(state[3]) <= echo then
  quick = tonumber(state[4] or 0) + 1
end
local stop = ''
if rate > limit then stop = 'rate'
elseif same > repeats then stop = 'repeat'
elseif quick > repeats then stop = 'echo' end
redis.call('HSET', KEYS[2], 'd', ARGV[4], 'n', same, 's', quick)
if stop == '' then redis.call('HSET', KEYS[2], 'a', now) end
redis.call('EXPIRE', KEYS[2], memory)
local noted = 0
if stop ~= '' then
  local hold = memory
  if stop == 'rate' then hold = window end
  if redis.call('SET', KEYS[3] .. stop, 1, 'NX', 'EX', hold) then noted = 1 end
end
if redis.call('HLEN', KEYS[4]) > 1000 then redis.call('DEL', KEYS[4]) end
redis.call('HSET', KEYS[4], ARGV[1], stop .. ':' .. noted)
redis.call('EXPIRE', KEYS[4], memory)
return {stop, noted}
"""
"""One message's check, atomic per phone. The rate count is the message's place among the
phone's texts of the window (ordered by arrival, then id), so a batch holding a burst from
one phone counts each of them in turn. `a` is when we last answered, for the echo streak.
Each verdict is kept (for an hour, the last 1000 per phone), so a batch that rolled back and
runs again gets the same verdicts, and the same note, instead of counting its messages twice."""


@dataclass(frozen=True)
class Check:
    """One resident's message to check against its company's limits."""

    message_id: int
    company_id: int | None
    phone: str
    at: datetime
    """When it arrived (the webhook stored it): a backlog handled late keeps its rhythm."""
    text: str | None
    limits: abuse.Limits


@dataclass(frozen=True)
class Verdict:
    stop: str | None
    """abuse.RATE / REPEAT / ECHO, or None: answer it."""
    note: bool
    """The first stop of its kind for this phone in the window: tell the dispatcher."""


GO = Verdict(None, False)


def _phone_key(company_id: int | None, phone: str) -> str:
    hashed = hashlib.blake2b(phone.encode(), digest_size=8).hexdigest()
    return f"smsbot:abuse:{company_id or 0}:{hashed}"


def check_many(checks: list[Check], now: datetime) -> list[Verdict]:
    """Count each message and say which to leave unanswered: one round trip for the batch."""
    if not checks:
        return []
    try:
        # EVAL, not a registered script: redis-py checks registered scripts with an extra
        # SCRIPT EXISTS round trip per pipeline; Redis caches the compiled body either way.
        pipe = queues.connection().pipeline(transaction=False)
        for c in checks:
            key = _phone_key(c.company_id, c.phone)
            pipe.eval(
                _CHECK,
                4,
                f"{key}:texts",
                f"{key}:loop",
                f"{key}:noted:",
                f"{key}:given",
                f"{c.message_id:020d}",
                c.at.timestamp(),
                now.timestamp(),
                abuse.fingerprint(c.text),
                c.limits.rate_limit,
                c.limits.rate_window * 60,
                c.limits.loop_repeats,
                abuse.ECHO_SECONDS,
                abuse.REPEAT_MEMORY,
            )
        results = pipe.execute()
    except RedisError as exc:
        log.warning("abuse limits unchecked for %d messages: Redis %s", len(checks), exc)
        return [GO] * len(checks)
    return [Verdict(_text(stop) or None, bool(noted)) for stop, noted in results]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def day_key(company_id: int, timezone: str, now: datetime) -> str:
    """The counter of one company's bot-reply segments for its local day."""
    day = now.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d")
    return f"smsbot:cap:{company_id}:{day}"


DAY_KEY_SECONDS = 2 * 86400
"""A day's counter outlives its day (any time zone), then goes."""


def count_replies(items: list[tuple[str, int]]) -> list[int] | None:
    """Add each reply's segments to its day counter, in order; each counter after its reply.
    None when Redis is down: nothing is held (cost protection must not silence the bot)."""
    try:
        pipe = queues.connection().pipeline(transaction=False)
        for key, segments in items:
            pipe.incrby(key, segments)
            pipe.expire(key, DAY_KEY_SECONDS)
        results = pipe.execute()
    except RedisError as exc:
        log.warning("daily cap unchecked for %d replies: Redis %s", len(items), exc)
        return None
    return [int(v) for v in results[::2]]


def used(keys: list[str]) -> list[int] | None:
    """The day counters' values (0 for a day without replies yet); None when Redis is down."""
    try:
        values = queues.connection().mget(keys) if keys else []
    except RedisError as exc:
        log.warning("daily cap counters unreadable: Redis %s", exc)
        return None
    return [int(v or 0) for v in values]
