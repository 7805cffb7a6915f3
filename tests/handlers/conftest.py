"""Resident commands end to end: a signed webhook, the real RQ worker, the local outbox.

`text()` plays the resident and returns the replies to that one message; `clock` pins the
service's time (it keeps running from there), so windows, deadlines and lock-outs are
tested on dates of our choosing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from smsbot import clock as clock_module
from smsbot import db
from smsbot.models import Company, Message
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound

DEMO_PHONE = "+79851234567"
"""Linked by the billing data to 5012345678 (Заречье) and 7020001001 (Солнечный)."""
OTHER_RESIDENT = "+79161234567"
"""Linked by the billing data to 5012345679 (Заречье, overpaid)."""
STRANGER = "+79031112233"
"""On no bill at all."""
ZARECHYE = "+74951230001"
SOLNECHNY = "+74951230002"
SHARED = "+79990000000"
"""A regional number no company owns: routing goes by the linked accounts."""
MOSCOW = ZoneInfo("Europe/Moscow")


class Clock:
    """The service's clock, pinned to a moment and running on from it in real time."""

    def __init__(self) -> None:
        self.set(datetime.now(UTC))

    def set(self, moment: datetime) -> None:
        self._base, self._started = moment, datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self.set(self() + delta)

    def __call__(self) -> datetime:
        return self._base + (datetime.now(UTC) - self._started)

    def moscow(
        self, day: int, hour: int = 12, month: int | None = None, year: int | None = None
    ) -> None:
        """Pin to a local Moscow time in the current month (or the one given)."""
        now = datetime.now(MOSCOW)
        self.set(
            datetime(year or now.year, month or now.month, day, hour, tzinfo=MOSCOW).astimezone(UTC)
        )


@pytest.fixture()
def clock(monkeypatch) -> Clock:  # noqa: ANN001
    """Mid-window (the 20th, noon in Moscow) of the current month unless a test moves it."""
    pinned = Clock()
    pinned.moscow(20)
    monkeypatch.setattr(clock_module, "now", pinned)
    return pinned


@pytest.fixture()
def text(client, app, demo, clock) -> Callable[..., list[Message]]:  # noqa: ANN001
    """Send an SMS as a resident; the replies to it, once the worker has handled it.

    The scripts here send a few dozen texts from one phone at one pinned instant, each
    answered at once: a flood and an echo by any measure. The limits on the bot are lifted
    for them; their own tests are in tests/jobs/test_abuse.py.
    """
    with Session(db.engine()) as session:
        session.execute(update(Company).values(rate_limit=1000, loop_repeats=100))
        session.commit()

    def send(body: str, *, phone: str = DEMO_PHONE, to: str = ZARECHYE) -> list[Message]:
        sid, response = post_inbound(client, app, body, from_phone=phone, to_phone=to)
        assert response.status_code == 200
        run_jobs(app)
        with Session(db.engine()) as session:
            inbound = session.exec(select(Message).where(Message.external_id == sid)).one()
        return outbound_messages(reply_to_id=inbound.id)

    return send


def one(replies: list[Message]) -> Message:
    """The single reply, delivered through the outbox."""
    assert len(replies) == 1, [r.body for r in replies]
    return replies[0]
