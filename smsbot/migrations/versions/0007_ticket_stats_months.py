"""inspector's monthly rollup: the sums of ticket_day per company, calendar month and kind of
day (ticket_month), and their running totals (ticket_month_total), so a long period reads its
whole months from two rows per company and kind of day

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
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


def _rollup_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("nonworking", sa.Boolean(), nullable=False),
        *(sa.Column(column, sa.Integer(), nullable=False) for column in _COUNTS),
        *(sa.Column(column, sa.Text(), nullable=False) for column in _HISTOGRAMS),
        sa.Column("refreshed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "month", "nonworking"),
    )


def upgrade() -> None:
    _rollup_table("ticket_month")
    _rollup_table("ticket_month_total")


def downgrade() -> None:
    op.drop_table("ticket_month_total")
    op.drop_table("ticket_month")
