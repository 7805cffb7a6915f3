"""When a chat message is acknowledged, and with which text (smsbot.acknowledgements)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from smsbot.acknowledgements import ACK, ACK_CLOSED, Hours, Policy, due

NOW = datetime(2026, 12, 16, 12, 0, tzinfo=UTC)
POLICY = Policy(every=timedelta(hours=4), quiet=timedelta(minutes=30))
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("acknowledged_ago", "staff_ago", "expected"),
    [
        (None, None, True),  # the first message of a thread
        (timedelta(minutes=5), None, False),
        (timedelta(hours=3, minutes=59), None, False),
        (timedelta(hours=4), None, True),
        (None, timedelta(minutes=29), False),  # a dispatcher is answering
        (timedelta(hours=9), timedelta(minutes=10), False),
        (timedelta(hours=9), timedelta(minutes=30), True),
        (timedelta(hours=1), timedelta(hours=2), False),
    ],
)
def test_due(acknowledged_ago, staff_ago, expected):
    assert (
        due(
            POLICY,
            now=NOW,
            acknowledged_at=NOW - acknowledged_ago if acknowledged_ago else None,
            staff_replied_at=NOW - staff_ago if staff_ago else None,
        )
        is expected
    )


@pytest.mark.parametrize(
    ("local", "template", "opens"),
    [
        (datetime(2026, 12, 16, 10, 0), ACK, None),  # Wednesday morning
        (datetime(2026, 12, 16, 8, 59), ACK_CLOSED, datetime(2026, 12, 16, 9, 0)),
        (datetime(2026, 12, 16, 18, 0), ACK_CLOSED, datetime(2026, 12, 17, 9, 0)),
        (datetime(2026, 12, 19, 12, 0), ACK_CLOSED, datetime(2026, 12, 21, 9, 0)),  # Saturday
        (datetime(2026, 11, 4, 12, 0), ACK_CLOSED, datetime(2026, 11, 5, 9, 0)),  # a holiday
    ],
)
def test_working_hours_of_a_company_that_keeps_them(local, template, opens):
    company = SimpleNamespace(
        working_hours_deadlines=True, workday_start=9, workday_end=18, timezone="Europe/Moscow"
    )
    got = Hours.of(company).template(local.replace(tzinfo=MOSCOW).astimezone(UTC))
    assert got == (template, opens.replace(tzinfo=MOSCOW) if opens else None)


def test_a_round_the_clock_dispatch_is_always_at_work():
    company = SimpleNamespace(
        working_hours_deadlines=False, workday_start=9, workday_end=18, timezone="Europe/Moscow"
    )
    sunday_night = datetime(2026, 12, 20, 3, 0, tzinfo=MOSCOW)
    assert Hours.of(company).template(sunday_night) == (ACK, None)
