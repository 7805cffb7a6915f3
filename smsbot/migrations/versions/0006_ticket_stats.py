"""inspector's rollup: per company, filing day and kind of day, ticket counts and duration
histograms (ticket_day), and how far it has read ticket changes (ticket_stats_mark)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COUNTS = (
    "filed",
    "emergency",
    "decided",
    "overdue",
    "accepted",
    "first_reply",
    "done",
    "reopened",
    "rated",
    "rating_sum",
)
_HISTOGRAMS = ("accept_hist", "first_reply_hist", "finish_hist")


def upgrade() -> None:
    op.create_table(
        "ticket_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("nonworking", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        *(sa.Column(name, sa.Text(), nullable=False) for name in _HISTOGRAMS),
        sa.Column("refreshed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "day", "nonworking"),
    )
    op.create_table(
        "ticket_stats_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refreshed_to", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("ticket_stats_mark")
    op.drop_table("ticket_day")
