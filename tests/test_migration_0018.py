"""Migration 0018: a resident's message is searched once it is handled, not while it waits;
the index follows every change of state and text, and the migration runs both ways."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from smsbot import db, migrate, search
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)
from tests.test_migration_0013 import _found


def _insert(conn, kind: str, status: str, body: str) -> None:  # noqa: ANN001
    conn.execute(
        text(
            "INSERT INTO message (direction, status, kind, from_phone, to_phone, body, attempts, "
            "created_at, updated_at) VALUES (:direction, :status, :kind, '+79851234567', "
            "'+74951230001', :body, 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
        ),
        {"kind": kind, "status": status, "body": body,
         "direction": "in" if kind == "resident" else "out"},
    )  # fmt: skip


def _set(engine, sql: str) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(text(sql))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_message_is_searched_once_handled(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0010")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        _insert(conn, "resident", "handled", "Не работает домофон")
        _insert(conn, "resident", "received", "Течёт кран на кухне")
    assert _waiting_searched(engine)  # 0013: indexed at the INSERT
    engine.dispose()

    command.upgrade(cfg, "0018")
    engine = db.make_engine(empty_database)
    assert _found(engine, "кран") == []  # still waiting for the worker: out of the index
    assert _found(engine, "домофона") == ["Не работает домофон"]
    with engine.begin() as conn:
        _insert(conn, "resident", "received", "Нет горячей воды")
        _insert(conn, "dispatcher", "queued", "Мастер придёт завтра, вода будет")
    assert _found(engine, "вода") == ["Мастер придёт завтра, вода будет"]

    _set(engine, "UPDATE message SET status = 'handled' WHERE body LIKE 'Нет горячей%'")
    assert _found(engine, "вода") == ["Нет горячей воды", "Мастер придёт завтра, вода будет"]
    # the delivery callbacks move a dispatcher's message on: it stays in the index once
    for state in ("accepted", "sent", "delivered"):
        _set(engine, f"UPDATE message SET status = '{state}' WHERE kind = 'dispatcher'")
    assert _found(engine, "мастер") == ["Мастер придёт завтра, вода будет"]
    # a handled message whose text changes is found by its new words only
    _set(engine, "UPDATE message SET body = 'Течёт крыша' WHERE body LIKE 'Не работает%'")
    assert _found(engine, "домофон") == []
    assert _found(engine, "крыша") == ["Течёт крыша"]
    # a message that goes back to waiting leaves the index; handled again, it is back
    _set(engine, "UPDATE message SET status = 'received' WHERE body = 'Течёт крыша'")
    assert _found(engine, "крыша") == []
    _set(engine, "UPDATE message SET status = 'failed' WHERE body = 'Течёт крыша'")
    assert _found(engine, "крыша") == ["Течёт крыша"]
    # the bot's own words never were searched; deleting takes a message out
    _set(engine, "DELETE FROM message WHERE kind = 'dispatcher'")
    assert _found(engine, "мастер") == []
    if kind == "sqlite":  # the contentless index holds exactly the searched messages
        with engine.connect() as conn:
            indexed = conn.execute(text("SELECT count(*) FROM message_fts")).scalar_one()
            searched = conn.execute(
                text(
                    f"SELECT count(*) FROM message WHERE {search.SEARCHED.format(table='message')}"
                )
            ).scalar_one()
        assert indexed == searched == 2
    engine.dispose()

    assert not _waiting_searched(engine)
    engine.dispose()

    command.downgrade(cfg, "0010")
    engine = db.make_engine(empty_database)
    assert _waiting_searched(engine)  # as 0013 left it: the waiting message is back
    engine.dispose()


def _waiting_searched(engine) -> bool:  # noqa: ANN001
    """Whether the index holds messages still waiting for the worker: on SQLite, whether the
    one waiting is in FTS5; on PostgreSQL, whether the index's predicate admits them (the
    queries of this revision ask for handled messages themselves)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return bool(
                conn.execute(
                    text("SELECT count(*) FROM message_fts WHERE message_fts MATCH :q"),
                    {"q": search.fts_query(search.parse("кран"))},
                ).scalar_one()
            )
        definition = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_message_search'")
        ).scalar_one()
        return "status" not in definition
