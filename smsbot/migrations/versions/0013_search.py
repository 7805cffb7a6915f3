"""search: message and ticket texts found by stem (smsbot.search)

PostgreSQL: GIN indexes on `to_tsvector('russian', …)` of residents' and dispatchers'
messages and of ticket texts; the queries repeat the same expressions.

SQLite: contentless FTS5 tables holding each text's stems (`smsbot_stem`, a Python function
smsbot.db registers on every connection), kept in step by triggers. A later migration that
rebuilds `message` or `ticket` in batch mode drops these triggers with the old table and
must create them again (`create_sqlite_search` below).

Revision ID: 0013
Revises: 0014
"""

from __future__ import annotations

from alembic import op

from smsbot.search import SEARCHED_KINDS, stem_text

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None

_KINDS = "('" + "', '".join(SEARCHED_KINDS) + "')"
_SQLITE_TABLES = {"message": f"kind IN {_KINDS}", "ticket": "1"}
"""Each searched table and which of its rows are indexed ({row} is new. or old.)."""


def _when(row: str, table: str) -> str:
    return _SQLITE_TABLES[table].replace("kind", f"{row}.kind")


def create_sqlite_search(table: str, column: str) -> None:
    fts = f"{table}_fts"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='', "
        "tokenize='unicode61 remove_diacritics 0')"
    )
    add = f"INSERT INTO {fts}(rowid, {column}) SELECT new.id, smsbot_stem(new.{column})"
    drop = (
        f"INSERT INTO {fts}({fts}, rowid, {column}) "
        f"SELECT 'delete', old.id, smsbot_stem(old.{column})"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} WHEN {_when('new', table)} "
        f"BEGIN {add}; END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} WHEN {_when('old', table)} "
        f"BEGIN {drop}; END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {column}"
        f"{', kind' if table == 'message' else ''} ON {table} "
        f"BEGIN {drop} WHERE {_when('old', table)}; {add} WHERE {_when('new', table)}; END"
    )
    op.execute(
        f"INSERT INTO {fts}(rowid, {column}) SELECT id, smsbot_stem({column}) FROM {table} "
        f"WHERE {_SQLITE_TABLES[table]}"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_message_search ON message USING gin "
            f"(to_tsvector('russian', body)) WHERE kind IN {_KINDS}"
        )
        op.execute(
            "CREATE INDEX ix_ticket_search ON ticket USING gin (to_tsvector('russian', text))"
        )
        return
    # the connection may come from outside smsbot.db (alembic's own engine): register here too
    op.get_bind().connection.driver_connection.create_function(
        "smsbot_stem", 1, stem_text, deterministic=True
    )
    create_sqlite_search("message", "body")
    create_sqlite_search("ticket", "text")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_ticket_search")
        op.execute("DROP INDEX ix_message_search")
        return
    for table in _SQLITE_TABLES:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER {table}_fts_{trigger}")
        op.execute(f"DROP TABLE {table}_fts")
