"""Migration 0014 (desk alerts, waiting, labels) runs both ways; going back, a thread that
was waiting for the resident is simply open (the older schema knows no waiting)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from smsbot import db, migrate
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)

NOW = "'2026-12-01 00:00:00'"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_labels_and_waiting_come_and_go(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0014")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO company (id, slug, name, timezone, language, transliterate, created_at, "
            "meter_window_start, meter_window_end, working_hours_deadlines, workday_start, "
            f"workday_end, warn_percent) VALUES (1, 'uk', 'УК', 'Europe/Moscow', 'ru', false, {NOW}, "
            "15, 25, false, 9, 18, 80)"
        ))  # fmt: skip
        conn.execute(text(
            f"INSERT INTO resident (id, phone, language, opted_out, created_at) "
            f"VALUES (1, '+79161234567', 'ru', false, {NOW})"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO conversation (id, company_id, resident_id, status, unread, acknowledged, "
            f"created_at, last_message_at, waiting_until) VALUES (1, 1, 1, 'waiting', 0, false, "
            f"{NOW}, {NOW}, {NOW})"
        ))  # fmt: skip
        conn.execute(
            text(
                f"INSERT INTO label (id, company_id, name, created_at) VALUES (1, 1, 'Счётчики', {NOW})"
            )
        )
        conn.execute(text("INSERT INTO conversation_label VALUES (1, 1, 1)"))
    engine.dispose()
    command.downgrade(cfg, "-1")
    engine = db.make_engine(empty_database)
    tables = inspect(engine).get_table_names()
    assert "label" not in tables and "conversation_label" not in tables
    columns = {c["name"] for c in inspect(engine).get_columns("conversation")}
    assert not columns & {"emergency_at", "emergency_kind", "waiting_until"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM conversation")).scalar_one() == "open"
    engine.dispose()
    command.upgrade(cfg, "0014")
