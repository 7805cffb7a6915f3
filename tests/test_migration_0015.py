"""Migration 0015 (outages, honest acknowledgements) gives old conversations their last
acknowledgement and last dispatcher SMS from the history, and runs both ways."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from smsbot import db, migrate
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)

MESSAGES = [
    # direction, kind, template, created_at
    ("in", "resident", None, "2026-11-01 10:00:00"),
    ("out", "reply", "chat_ack", "2026-11-01 10:00:05"),
    ("out", "dispatcher", None, "2026-11-01 11:30:00"),
    ("out", "reply", "chat_ack", "2026-11-02 09:00:00"),
    ("out", "dispatcher", None, "2026-11-02 09:15:00"),
    ("out", "reply", "balance", "2026-11-03 09:00:00"),
]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_conversations_remember_their_last_acknowledgement_and_staff_reply(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    before = ScriptDirectory.from_config(cfg).get_revision("0015").down_revision
    command.upgrade(cfg, before)
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO company (slug, name, timezone, language, transliterate, created_at, "
                          "meter_window_start, meter_window_end) VALUES ('uk', 'УК', 'Europe/Moscow', 'ru', "
                          "false, '2026-11-01 00:00:00', 15, 25)"))  # fmt: skip
        conn.execute(text("INSERT INTO resident (phone, language, opted_out, created_at) "
                          "VALUES ('+79851234567', 'ru', false, '2026-11-01 00:00:00')"))  # fmt: skip
        conn.execute(text("INSERT INTO conversation (company_id, resident_id, status, unread, "
                          "acknowledged, created_at, last_message_at) VALUES (1, 1, 'open', 0, "
                          "true, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"))  # fmt: skip
        conn.execute(text("INSERT INTO resident (phone, language, opted_out, created_at) "
                          "VALUES ('+79161234567', 'ru', false, '2026-11-01 00:00:00')"))  # fmt: skip
        conn.execute(text("INSERT INTO conversation (company_id, resident_id, status, unread, "
                          "acknowledged, created_at, last_message_at) VALUES (1, 2, 'open', 1, "
                          "false, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"))  # fmt: skip
        for direction, message_kind, template, at in MESSAGES:
            conn.execute(
                text(
                    "INSERT INTO message (direction, status, kind, template, from_phone, to_phone, "
                    "body, attempts, conversation_id, created_at, updated_at) VALUES (:d, 'sent', "
                    ":k, :t, '+79851234567', '+74951230001', 'x', 0, 1, :at, :at)"
                ),
                {"d": direction, "k": message_kind, "t": template, "at": at},
            )
    command.upgrade(cfg, "0015")
    engine.dispose()
    engine = db.make_engine(empty_database)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT acknowledged_at, staff_replied_at, answered_by_notice_id FROM conversation "
                "ORDER BY resident_id"
            )
        ).all()
    assert [tuple(_time(v) for v in row) for row in rows] == [
        (datetime(2026, 11, 2, 9, 0), datetime(2026, 11, 2, 9, 15), None),
        (None, None, None),  # never acknowledged, never answered
    ]
    assert {"outage", "outage_until"} <= {c["name"] for c in inspect(engine).get_columns("notice")}
    command.downgrade(cfg, before)
    engine.dispose()
    engine = db.make_engine(empty_database)
    columns = {c["name"] for c in inspect(engine).get_columns("conversation")}
    assert not columns & {"acknowledged_at", "staff_replied_at", "answered_by_notice_id"}
    assert "outage" not in {c["name"] for c in inspect(engine).get_columns("notice")}
    engine.dispose()


def _time(value: datetime | str | int | None) -> datetime | int | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value
