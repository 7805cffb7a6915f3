"""Migration 0010 (abuse limits) gives every company, old ones included, the default limits,
and runs both ways."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from smsbot import db, migrate
from smsbot.abuse import Limits
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)

COLUMNS = ("rate_limit", "rate_window", "loop_repeats", "daily_cap")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_existing_companies_get_the_default_limits_and_it_runs_back(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0015")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO company (slug, name, timezone, language, transliterate, created_at, "
                "meter_window_start, meter_window_end, working_hours_deadlines, workday_start, "
                "workday_end, warn_percent) VALUES ('old', 'Old', 'Europe/Moscow', 'ru', false, "
                "'2026-11-01 00:00:00', 15, 25, false, 9, 18, 80)"
            )
        )
    command.upgrade(cfg, "0010")
    engine.dispose()
    engine = db.make_engine(empty_database)
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT {', '.join(COLUMNS)} FROM company")).one()
    defaults = Limits()
    assert tuple(row) == tuple(getattr(defaults, c) for c in COLUMNS)
    command.downgrade(cfg, "0015")
    engine.dispose()
    engine = db.make_engine(empty_database)
    assert not set(COLUMNS) & {c["name"] for c in inspect(engine).get_columns("company")}
    engine.dispose()
