"""Migration 0002 (resident commands) matches the models and runs both ways on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import smsbot.models  # noqa: F401
from smsbot import db, migrate

NEW_TABLES = {"account_charge", "account_unlink", "link_attempt", "ticket_counter", "ticket", "ticket_event",
              "deadline_override", "meter", "meter_reading"}  # fmt: skip


@pytest.fixture()
def empty_database(request, tmp_path):
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL database."""
    if request.node.callspec.params["kind"] == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    import uuid

    from sqlalchemy import create_engine

    from tests.conftest import POSTGRES_ADMIN_URL

    name = f"smsbot_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_upgrade_keeps_companies_and_downgrade_removes_only_what_it_added(empty_database, kind):
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0001")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO company (slug, name, timezone, language, transliterate, created_at) "
                          "VALUES ('uk', 'УК', 'Europe/Moscow', 'ru', false, '2026-11-01 00:00:00')"))  # fmt: skip
    command.upgrade(cfg, "0002")
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT meter_window_start, meter_window_end FROM company")
        ).one() == (15, 25)
    assert set(inspect(engine).get_table_names()) >= NEW_TABLES
    command.downgrade(cfg, "0001")
    engine.dispose()
    engine = db.make_engine(empty_database)
    assert not NEW_TABLES & set(inspect(engine).get_table_names())
    assert "meter_window_start" not in {c["name"] for c in inspect(engine).get_columns("company")}
    migrate.upgrade(empty_database)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": migrate.include_object}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()
