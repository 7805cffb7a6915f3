"""desk alerts and bulk work: a conversation's pinned emergency and "waiting for the
resident" time; labels per company and their links to conversations

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

_TIME = sqlmodel.sql.sqltypes.UTCDateTime()


def upgrade() -> None:
    op.add_column("conversation", sa.Column("emergency_at", _TIME, nullable=True))
    op.add_column(
        "conversation",
        sa.Column("emergency_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.add_column("conversation", sa.Column("waiting_until", _TIME, nullable=True))
    op.create_table(
        "label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "name"),
    )
    op.create_index("ix_label_company_id", "label", ["company_id"])
    op.create_table(
        "conversation_label",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.ForeignKeyConstraint(["label_id"], ["label.id"]),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("conversation_id", "label_id"),
    )
    op.create_index("ix_conversation_label_label_id", "conversation_label", ["label_id"])


def downgrade() -> None:
    op.drop_index("ix_conversation_label_label_id", table_name="conversation_label")
    op.drop_table("conversation_label")
    op.drop_index("ix_label_company_id", table_name="label")
    op.drop_table("label")
    # A thread that was waiting is simply open again: the older schema knows no waiting.
    op.execute("UPDATE conversation SET status = 'open' WHERE status = 'waiting'")
    # Plain DROP COLUMN (SQLite has it since 3.35): a batch rebuild of `conversation`, which
    # messages and notes point at, fails with foreign keys on.
    for column in ("waiting_until", "emergency_kind", "emergency_at"):
        op.execute(f"ALTER TABLE conversation DROP COLUMN {column}")
