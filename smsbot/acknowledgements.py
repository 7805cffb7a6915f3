"""When the bot tells a resident that their chat message reached the company, and what it
says (issue 12: later messages got no reply at all, at night too).

Honest means: often enough that a resident can tell someone will read them, never a bot
line in the middle of a dispatcher's answers, and outside working hours the truth about when
a person will read it and where to turn meanwhile. Pure: times and settings in, a decision out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from smsbot import workdays

if TYPE_CHECKING:
    from smsbot.models import Company

ACK = "chat_ack"
"""Passed to the dispatcher; the reply comes by SMS."""
ACK_CLOSED = "chat_ack_closed"
"""Received while dispatchers are off: when they work, and the emergency number."""


@dataclass(frozen=True)
class Policy:
    """How often a conversation is acknowledged (smsbot.config: SMSBOT_CHAT_ACK_*)."""

    every: timedelta
    quiet: timedelta
    """No acknowledgement this long after a dispatcher's SMS in the thread."""


def due(
    policy: Policy,
    *,
    now: datetime,
    acknowledged_at: datetime | None,
    staff_replied_at: datetime | None,
) -> bool:
    """Whether this message should be acknowledged: none while a dispatcher is answering,
    then at most one per `policy.every`."""
    if staff_replied_at is not None and now - staff_replied_at < policy.quiet:
        return False
    return acknowledged_at is None or now - acknowledged_at >= policy.every


@dataclass(frozen=True)
class Hours:
    """A company's working hours in its time zone.

    A company that counts its deadlines in working hours (its deadline settings) says its
    people work workday_start–workday_end on working days; one that does not runs its clock
    round the clock, so its dispatch answers at any hour and the plain acknowledgement is the
    truth. Telling residents of a round-the-clock dispatch "we open at 9" would not be.
    """

    opens: int
    closes: int
    tz: str

    @classmethod
    def of(cls, company: Company) -> Hours:
        if not company.working_hours_deadlines:
            return cls(0, 24, company.timezone)
        return cls(company.workday_start, company.workday_end, company.timezone)

    def template(self, now: datetime) -> tuple[str, datetime | None]:
        """The acknowledgement to send at `now`, and when dispatchers next start work (None
        while they are at work)."""
        local = now.astimezone(ZoneInfo(self.tz))
        span = (self.opens, self.closes)
        if workdays.at_work(local, span):
            return ACK, None
        return ACK_CLOSED, workdays.next_opening(local, span)
