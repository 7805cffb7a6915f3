"""the message table's indexes on columns a stored inbound message leaves empty hold no
empty entries

Why (issue #10): SQLite and PostgreSQL index NULL like any value, so each inbound webhook's
INSERT wrote an entry into six indexes on columns that only the worker fills in later
(resident, company, thread) or that an inbound message never has (the message replied to,
the notice). Each such entry is a B-tree page dirtied inside the transaction that holds
SQLite's one write lock (a whole page more in the WAL at each commit), and on PostgreSQL an
index insert more, all for rows no query ever looks up: every query on these columns asks
for a value (`= ?`, `IN (…)`, a join), which implies IS NOT NULL, so both databases use the
partial index for it. Measured: bench/README.md ("Indexes without empty entries").

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_message_resident_id": ("resident_id",),
    "ix_message_company_id": ("company_id",),
    "ix_message_conversation": ("conversation_id", "id"),
    "ix_message_reply_to_id": ("reply_to_id",),
    "ix_message_notice_id": ("notice_id",),
    "ix_message_company_costs": ("company_id", "created_at", "kind", "status", "num_segments"),
}
"""Each index, by name, and its columns; the first is the one that may be empty (as
`models._filled_index` has them at this revision)."""


def _recreate(*, partial: bool) -> None:
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="message")
        where = text(f"{columns[0]} IS NOT NULL") if partial else None
        op.create_index(name, "message", list(columns), sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _recreate(partial=True)


def downgrade() -> None:
    _recreate(partial=False)
