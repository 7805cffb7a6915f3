"""the search indexes a resident's message once it is handled, not in the webhook

Why (issue #10): the inbound webhook's INSERT fired the SQLite search trigger, which stems
the text in Python and writes the FTS5 index, inside the transaction that holds SQLite's one
write lock; on PostgreSQL the GIN index computed `to_tsvector` in the same place. The
webhook needs neither to store the message and answer the provider. Measured with
`bench/run.py --only ingest` on SQLite: 1,328 signed webhooks/s with the trigger, 1,593/s
without, the web's CPU per request 1.06 → 0.91 ms (bench/README.md). So a message is
searched when it is `search.SEARCHED` (a searched kind, and no longer `received`): the
worker's handling, which updates the row anyway, puts a resident's message into the index.
A message that was never handled is in no conversation yet, so the desk could not show it
as a search hit either.

SQLite's update trigger fires only when a row enters or leaves the index or its text
changes while indexed, so the delivery callbacks' status updates of a dispatcher's
message cost no stemming. Messages still `received` are taken out of the index here.

Revision ID: 0018
Revises: 0010
"""

from __future__ import annotations

from alembic import op

from smsbot.search import SEARCHED_KINDS, stem_text

revision = "0018"
down_revision = "0010"
branch_labels = None
depends_on = None

_KINDS = "('" + "', '".join(SEARCHED_KINDS) + "')"
_RECEIVED = "received"  # models.IN_RECEIVED, as it is at this revision


def _searched(row: str, *, received_too: bool = False) -> str:
    """Whether `row` (new. or old.) is in the index: from this revision, or before it."""
    kinds = f"{row}kind IN {_KINDS}"
    return kinds if received_too else f"({kinds} AND {row}status <> '{_RECEIVED}')"


def _add(row: str) -> str:
    return f"INSERT INTO message_fts(rowid, body) SELECT {row}id, smsbot_stem({row}body)"


def _drop(row: str) -> str:
    return (
        f"INSERT INTO message_fts(message_fts, rowid, body) "
        f"SELECT 'delete', {row}id, smsbot_stem({row}body)"
    )


def _sqlite_triggers(*, received_too: bool) -> None:
    """The message table's three search triggers: this revision's, or 0013's."""
    new, old = (
        _searched("new.", received_too=received_too),
        _searched("old.", received_too=received_too),
    )
    op.execute(
        f"CREATE TRIGGER message_fts_insert AFTER INSERT ON message WHEN {new} BEGIN {_add('new.')}; END"
    )
    op.execute(
        f"CREATE TRIGGER message_fts_delete AFTER DELETE ON message WHEN {old} BEGIN {_drop('old.')}; END"
    )
    if received_too:  # 0013's, as it was
        op.execute(
            "CREATE TRIGGER message_fts_update AFTER UPDATE OF body, kind ON message "
            f"BEGIN {_drop('old.')} WHERE {old}; {_add('new.')} WHERE {new}; END"
        )
        return
    op.execute(
        "CREATE TRIGGER message_fts_update AFTER UPDATE OF body, kind, status ON message "
        f"WHEN ({old} OR {new}) AND ({old} IS NOT {new} OR old.body IS NOT new.body) "
        f"BEGIN {_drop('old.')} WHERE {old}; {_add('new.')} WHERE {new}; END"
    )


def _postgres_index(where: str) -> None:
    op.execute("DROP INDEX ix_message_search")
    op.execute(
        f"CREATE INDEX ix_message_search ON message USING gin (to_tsvector('russian', body)) WHERE {where}"
    )


def _replace_sqlite_triggers() -> None:
    op.get_bind().connection.driver_connection.create_function(
        "smsbot_stem", 1, stem_text, deterministic=True
    )  # (alembic's own connection may not come from smsbot.db)
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER message_fts_{trigger}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_index(_searched(""))
        return
    _replace_sqlite_triggers()
    op.execute(f"{_drop('')} FROM message WHERE kind IN {_KINDS} AND status = '{_RECEIVED}'")
    _sqlite_triggers(received_too=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_index(_searched("", received_too=True))
        return
    _replace_sqlite_triggers()
    op.execute(f"{_add('')} FROM message WHERE kind IN {_KINDS} AND status = '{_RECEIVED}'")
    _sqlite_triggers(received_too=True)
