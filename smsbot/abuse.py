"""Abuse and cost protection: when the bot stops answering a phone, and what a company's
daily cap on bot replies allows. Pure: limits, text fingerprints and notes; the counters
live in Redis (smsbot.limiter).

Three stops, each per company and phone (a stopped message is still stored, filed in its
thread and shown unread in the inbox; only the bot's answer is left out):

- RATE: more than `rate_limit` texts within `rate_window` minutes (a sliding window). A
  flood of 200 texts a minute gets `rate_limit` answers instead of 200.
- REPEAT: the same text (case, spacing and punctuation aside) more than `loop_repeats`
  times in a row, within REPEAT_MEMORY of each other: a script or a stuck phone.
- ECHO: more than `loop_repeats` texts in a row, each arriving within ECHO_SECONDS of our
  answer to the one before: an auto-responder ("I'm driving") answering each of our replies.
  "Our answer" is when the worker stored it; when the provider is slow to send, echoes come
  later than that and this stop misses them, but REPEAT (an auto-responder says the same
  thing every time) or RATE still ends the loop.

Why 5 and not RapidPro's 20: RapidPro counts repeats of one flow-wide message; here every
loop turn costs a 1–3 segment reply, so 20 turns is up to 60 paid segments per phone, and a
person who is not answered after the same text five times will call instead. A person
rarely types the same words six times running, or answers six times in a row within
10 seconds of each reply, so real residents do not meet these stops. All three can be changed per company.

Never stopped: СТОП/СТАРТ (opting out must always work) and a text that speaks of danger
(the emergency number must reach a resident even mid-flood).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from smsbot.textnorm import clean

RATE = "rate"
"""Too many texts from one phone within the window."""
REPEAT = "repeat"
"""The same text again and again."""
ECHO = "echo"
"""Replies arriving within seconds of each of our answers: an auto-responder."""
STOPS = (RATE, REPEAT, ECHO)
"""Also the `reason` labels of smsbot_abuse_stops (smsbot.metrics); a held reply is daily_cap."""

ECHO_SECONDS = 10
"""A text this soon after our answer may be a machine's: the SMS round trip and an
auto-responder's own delay take a few seconds; a person reads the reply and types, which
takes longer, and does not keep it up six times running."""
REPEAT_MEMORY = 3600
"""Seconds a phone's last text and streaks are remembered; an hour of quiet starts afresh."""

LIMIT_RANGES = {
    "rate_limit": (1, 1000),
    "rate_window": (1, 1440),
    "loop_repeats": (2, 100),
    "daily_cap": (0, 1_000_000),
}
"""What an admin may set: a window up to a day; a cap of 0 means no cap."""
NEVER_STOPPED = frozenset({"stop", "start"})
"""Intents answered whatever the counters say."""


@dataclass(frozen=True)
class Limits:
    """One company's limits (the columns of the same names on Company)."""

    rate_limit: int = 10
    rate_window: int = 10
    """Minutes."""
    loop_repeats: int = 5
    daily_cap: int = 2000
    """Segments of bot replies per local day; 0: no cap."""

    @classmethod
    def of(cls, company: Any) -> Limits:
        """The company's limits; the defaults for a message no company took."""
        if company is None:
            return cls()
        return cls(company.rate_limit, company.rate_window, company.loop_repeats, company.daily_cap)


def fingerprint(text: str | None) -> str:
    """The same for texts that differ only in case, spacing, ё/е or punctuation."""
    words = re.sub(r"[^\w]+", " ", clean(text)).split()
    return hashlib.blake2b(" ".join(words).encode(), digest_size=8).hexdigest()


def exempt(intent: str, emergency: bool) -> bool:
    """Whether a message is answered even when a stop applies to its phone."""
    return intent in NEVER_STOPPED or emergency


def over_cap(used_after: int, segments: int, cap: int) -> tuple[bool, bool]:
    """(held, first): a reply that brings the day's count to `used_after` is held past the
    cap; `first` for the one reply that crossed it, whose transaction tells the admins."""
    if cap <= 0 or used_after <= cap:
        return False, False
    return True, used_after - segments <= cap


def releasable(segments: list[int], used: int, cap: int) -> int:
    """How many held replies (oldest first, their segment counts) fit under the cap now."""
    if cap <= 0:
        return len(segments)
    room, count = cap - used, 0
    for n in segments:
        if n > room:
            break
        room -= n
        count += 1
    return count


def validate(values: dict[str, int]) -> dict[str, int]:
    """The admin's new limits, or ValueError naming the first one out of range."""
    for name, value in values.items():
        low, high = LIMIT_RANGES[name]
        if not low <= value <= high:
            raise ValueError(name)
    return values


NOTES = {
    "ru": {
        RATE: "Бот перестал отвечать на этот номер: больше {limit} сообщений за {window} мин. "
        "Сообщения по-прежнему приходят сюда.",
        REPEAT: "Бот перестал отвечать на этот номер: один и тот же текст больше {repeats} раз "
        "подряд. Сообщения по-прежнему приходят сюда.",
        ECHO: "Бот перестал отвечать на этот номер: похоже на автоответчик (ответы через "
        "секунды после каждого нашего). Сообщения по-прежнему приходят сюда.",
    },
    "en": {
        RATE: "The bot stopped answering this number: more than {limit} messages in {window} "
        "min. Messages still arrive here.",
        REPEAT: "The bot stopped answering this number: the same text more than {repeats} "
        "times in a row. Messages still arrive here.",
        ECHO: "The bot stopped answering this number: it looks like an auto-responder (answers "
        "within seconds of each of ours). Messages still arrive here.",
    },
}
"""The internal note a dispatcher sees in the thread (the company's language)."""


def note(stop: str, *, language: str, limits: Limits) -> str:
    """The thread's internal note for a stop."""
    words = NOTES.get(language, NOTES["ru"])
    return words[stop].format(
        limit=limits.rate_limit, window=limits.rate_window, repeats=limits.loop_repeats
    )
