"""Migration 0012 (reply costs) adds the covering index the admin's replies page reads a
company's last 30 days through, keeps every message, and runs both ways."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from smsbot import db, migrate
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)

INDEX = "ix_message_company_costs"


def _indexes(url: str) -> dict[str, list[str]]:
    engine = db.make_engine(url)
    try:
        return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("message")}
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_index_comes_and_goes_and_messages_stay(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0017")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO message (direction, status, kind, from_phone, to_phone, body, attempts, "
            "num_segments, created_at, updated_at) VALUES ('out', 'delivered', 'reply', "
            "'+74951230001', '+79851234567', 'x', 0, 2, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
        ))  # fmt: skip
    engine.dispose()
    command.upgrade(cfg, "0012")
    assert _indexes(empty_database)[INDEX] == [
        "company_id", "created_at", "kind", "status", "num_segments"
    ]  # fmt: skip
    command.downgrade(cfg, "0017")
    assert INDEX not in _indexes(empty_database)
    engine = db.make_engine(empty_database)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM message")).scalar() == 1
    engine.dispose()
