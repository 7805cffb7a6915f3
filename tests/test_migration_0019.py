"""Migration 0019: the message table's indexes on columns an inbound message is stored
without hold only filled-in rows; the lookups the code makes still use them, on both
databases, and the migration runs both ways."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from smsbot import db, migrate
from smsbot.models import FILLED_INDEXES
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)

PARTIAL = set(FILLED_INDEXES)

LOOKUPS = {
    "ix_message_resident_id": "SELECT id FROM message WHERE resident_id = 7",
    "ix_message_company_costs": (
        "SELECT kind, count(*) FROM message WHERE company_id = 3 "
        "AND created_at >= '2026-11-01' AND direction = 'out' GROUP BY kind"
    ),
    "ix_message_conversation": "SELECT id FROM message WHERE conversation_id = 5 ORDER BY id DESC",
    "ix_message_reply_to_id": "SELECT id FROM message WHERE reply_to_id = 11",
    "ix_message_notice_id": "SELECT id FROM message WHERE notice_id = 2 AND status = 'queued'",
}
"""The shapes of the code's lookups on these columns (conversations.thread, reply_costs.costs,
inbound.pending_replies, notices.progress …), with literal values as in a custom plan, and the
index each must use."""


def _definitions(engine) -> dict[str, str]:  # noqa: ANN001
    sql = (
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'message'"
        if engine.dialect.name == "postgresql"
        else "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message'"
    )
    with engine.connect() as conn:
        return {
            name: (sql or "").upper() for name, sql in conn.execute(text(sql)) if name in PARTIAL
        }


def _plan(engine, sql: str) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # (a small table: a scan is cheaper)
            rows = conn.execute(text("EXPLAIN " + sql))
        else:
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql))
        return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_indexes_hold_filled_in_rows_only_and_serve_every_lookup(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0018")
    engine = db.make_engine(empty_database)
    assert all("IS NOT NULL" not in sql for sql in _definitions(engine).values())
    engine.dispose()

    command.upgrade(cfg, "0019")
    engine = db.make_engine(empty_database)
    definitions = _definitions(engine)
    assert set(definitions) == PARTIAL
    for name, sql in definitions.items():
        assert "IS NOT NULL" in sql, name
    for name, sql in LOOKUPS.items():
        assert name in _plan(engine, sql), (name, _plan(engine, sql))
    # the rows it leaves out are left out: a lookup of the empty ones cannot use it
    assert "ix_message_resident_id" not in _plan(
        engine, "SELECT id FROM message WHERE resident_id IS NULL"
    )
    engine.dispose()

    command.downgrade(cfg, "0018")
    engine = db.make_engine(empty_database)
    definitions = _definitions(engine)
    assert set(definitions) == PARTIAL
    assert all("IS NOT NULL" not in sql for sql in definitions.values())
    engine.dispose()
