"""Migration 0013 (search) indexes the texts already there, keeps new, changed and deleted
ones in step, leaves the bot's own wording out, and runs both ways."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import column, inspect, select, table, text

from smsbot import db, migrate, search, search_filters
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)


def _insert(conn, kind: str, body: str) -> None:  # noqa: ANN001
    conn.execute(
        text(
            "INSERT INTO message (direction, status, kind, from_phone, to_phone, body, attempts, "
            "created_at, updated_at) VALUES ('in', 'handled', :kind, '+79851234567', "
            "'+74951230001', :body, 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
        ),
        {"kind": kind, "body": body},
    )


def _found(engine, words: str) -> list[str]:  # noqa: ANN001
    condition = search_filters.text_match(
        engine.dialect.name, "message", "body", search.parse(words)
    )
    query = select(column("body")).select_from(table("message")).where(condition)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(column("id"))).scalars())


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_texts_are_found_by_stem_before_and_after_the_migration(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0008")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        _insert(conn, "resident", "Не работает домофон во втором подъезде")
        _insert(conn, "reply", "Спасибо, домофон проверим")  # the bot's words: not searched
    command.upgrade(cfg, "0013")
    engine.dispose()
    engine = db.make_engine(empty_database)
    assert _found(engine, "домофона") == ["Не работает домофон во втором подъезде"]
    with engine.begin() as conn:
        _insert(conn, "dispatcher", "Мастер по домофонам придёт завтра")
        conn.execute(text("UPDATE message SET body = 'Течёт кран' WHERE body LIKE 'Не работает%'"))
    assert _found(engine, "домофон") == ["Мастер по домофонам придёт завтра"]
    assert _found(engine, "течет краны") == ["Течёт кран"]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM message WHERE kind = 'dispatcher'"))
    assert _found(engine, "домофон") == []
    command.downgrade(cfg, "-1")  # to whatever came before 0013 on main
    engine.dispose()
    engine = db.make_engine(empty_database)
    names = set(inspect(engine).get_table_names())
    assert not {n for n in names if n.startswith(search.FTS_TABLES)}
    if kind == "postgres":
        assert "ix_message_search" not in {
            i["name"] for i in inspect(engine).get_indexes("message")
        }
    with engine.begin() as conn:  # writing without the triggers' function still works
        _insert(conn, "resident", "после отката")
    engine.dispose()
