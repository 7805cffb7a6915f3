"""The one place smsbot asks what time it is.

Everything is timezone-aware UTC (SQLModel stores it so on both databases and refuses
naive values); local times are derived at the edges from the company's time zone. Tests that
need a controlled clock replace `now` here instead of patching datetime everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


now = _system_now
"""Current time in UTC; swap it in tests with `smsbot.clock.now = lambda: ...`."""


def utcnow() -> datetime:
    """Current time in UTC, through the replaceable `now`."""
    return now()
