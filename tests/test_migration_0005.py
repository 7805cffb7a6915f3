"""Migration 0005 (deadline clock) gives tickets filed before it their local filing day, the
non-working-day flag and the overdue mark of those done late, and runs both ways."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import inspect, text

from smsbot import db, migrate
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)

TICKETS = [
    # number, filed_at (UTC), deadline_at, done_at: on time, late, open
    (1, "2026-11-03 22:30:00", "2026-11-04 22:30:00", "2026-11-04 10:00:00"),
    (2, "2026-11-05 09:00:00", "2026-11-06 09:00:00", "2026-11-06 09:01:00"),
    (3, "2026-11-06 09:00:00", "2026-11-07 09:00:00", None),
]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_old_tickets_get_their_day_and_late_mark(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0004")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO company (slug, name, timezone, language, transliterate, created_at, "
                          "meter_window_start, meter_window_end) VALUES ('uk', 'УК', 'Europe/Moscow', 'ru', "
                          "false, '2026-11-01 00:00:00', 15, 25)"))  # fmt: skip
        for number, filed, deadline, done in TICKETS:
            conn.execute(
                text(
                    "INSERT INTO ticket (company_id, number, text, problem, category, priority, emergency, "
                    "status, filed_at, deadline_at, done_at, updated_at) VALUES (1, :n, 'x', 'other', "
                    "'other', 'normal', false, :status, :filed, :deadline, :done, :filed)"
                ),
                {"n": number, "status": "done" if done else "new", "filed": filed,
                 "deadline": deadline, "done": done},
            )  # fmt: skip
    command.upgrade(cfg, "0005")
    engine.dispose()
    engine = db.make_engine(empty_database)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT number, filed_day, filed_nonworking, overdue_at IS NOT NULL, "
                "first_done_at IS NOT NULL FROM ticket ORDER BY number"
            )
        ).all()
    assert [(n, _day(d), bool(off), bool(late), bool(done)) for n, d, off, late, done in rows] == [
        (1, date(2026, 11, 4), True, False, True),  # 01:30 in Moscow on Unity Day
        (2, date(2026, 11, 5), False, True, True),  # done a minute late
        (3, date(2026, 11, 6), False, False, False),  # open: the clock marks it
    ]
    command.downgrade(cfg, "0004")
    engine.dispose()
    engine = db.make_engine(empty_database)
    assert "overdue_at" not in {c["name"] for c in inspect(engine).get_columns("ticket")}
    engine.dispose()


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
