"""reply language and link lock-outs: when a resident chose a reply language, and which
failed link attempts a company admin has cleared

Until now a resident's `language` was both the default and the choice; a phone that sent
`english` is the only kind with a language other than Russian, so those count as chosen.

Revision ID: 0011
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable), not batch copies: other tables' foreign keys point at
    # `resident`, and copying it fails on SQLite once they do.
    op.add_column(
        "resident",
        sa.Column("language_chosen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.execute("UPDATE resident SET language_chosen_at = created_at WHERE language <> 'ru'")
    op.add_column(
        "link_attempt", sa.Column("cleared_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    op.add_column("link_attempt", sa.Column("cleared_by_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("link_attempt", "cleared_by_id")
    op.drop_column("link_attempt", "cleared_at")
    op.drop_column("resident", "language_chosen_at")
