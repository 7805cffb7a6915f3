"""providers: each message names its provider and is unique per (provider, external id);
company numbers and companies name theirs; message_ref keeps extra ids of multipart sends

The Twilio-era `message.provider_sid` was unique on its own. Its values move to
`external_id` beside `provider`. PostgreSQL drops the old column; SQLite keeps it, emptied
and unmapped, because dropping a UNIQUE column there means rebuilding `message`, which
tickets and meter readings point at (a rebuild with foreign keys on fails on real data).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_NAME = sqlmodel.sql.sqltypes.AutoString(length=32)


def upgrade() -> None:
    op.add_column("message", sa.Column("provider", _NAME, nullable=True))
    op.add_column(
        "message",
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    # Earlier sends of the local outbox have LO… ids; everything else came through Twilio.
    op.execute(
        "UPDATE message SET external_id = provider_sid, provider = CASE "
        "WHEN provider_sid LIKE 'LO%' THEN 'outbox' ELSE 'twilio' END "
        "WHERE provider_sid IS NOT NULL"
    )
    op.create_index(
        "ix_message_provider_external", "message", ["provider", "external_id"], unique=True
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("message", "provider_sid")
    else:
        op.execute("UPDATE message SET provider_sid = NULL")
    op.add_column("company_number", sa.Column("provider", _NAME, nullable=True))
    op.add_column("company", sa.Column("provider", _NAME, nullable=True))
    op.create_table(
        "message_ref",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", _NAME, nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "ref"),
    )
    op.create_index("ix_message_ref_message_id", "message_ref", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_message_ref_message_id", table_name="message_ref")
    op.drop_table("message_ref")
    op.drop_column("company", "provider")
    op.drop_column("company_number", "provider")
    op.drop_index("ix_message_provider_external", table_name="message")
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "message",
            sa.Column("provider_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        )
        op.create_unique_constraint("message_provider_sid_key", "message", ["provider_sid"])
    # One id per message again: where two providers used the same id, the older keeps it.
    op.execute(
        "UPDATE message SET provider_sid = external_id WHERE id IN "
        "(SELECT MIN(id) FROM message WHERE external_id IS NOT NULL GROUP BY external_id)"
    )
    op.drop_column("message", "external_id")
    op.drop_column("message", "provider")
