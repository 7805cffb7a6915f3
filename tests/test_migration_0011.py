"""Migration 0011 marks residents who had chosen English as having chosen, adds the cleared
mark of link attempts, and runs both ways."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from smsbot import db, migrate
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_chosen_english_stays_chosen_and_downgrade_removes_the_columns(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    before = ScriptDirectory.from_config(cfg).get_revision("0011").down_revision
    command.upgrade(cfg, before)
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        for phone, language in (("+79851234567", "ru"), ("+79161234567", "en")):
            conn.execute(
                text(
                    "INSERT INTO resident (phone, language, opted_out, created_at) "
                    "VALUES (:p, :l, false, '2026-11-01 00:00:00')"
                ),
                {"p": phone, "l": language},
            )
    command.upgrade(cfg, "0011")
    engine.dispose()
    engine = db.make_engine(empty_database)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT language, language_chosen_at IS NOT NULL FROM resident ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [("ru", False), ("en", True)]
    columns = {c["name"] for c in inspect(engine).get_columns("link_attempt")}
    assert {"cleared_at", "cleared_by_id"} <= columns
    command.downgrade(cfg, before)
    engine.dispose()
    engine = db.make_engine(empty_database)
    assert "language_chosen_at" not in {c["name"] for c in inspect(engine).get_columns("resident")}
    assert "cleared_at" not in {c["name"] for c in inspect(engine).get_columns("link_attempt")}
    engine.dispose()
