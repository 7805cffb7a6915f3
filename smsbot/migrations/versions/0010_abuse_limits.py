"""abuse limits: each company's per-phone rate limit, loop threshold and daily cap on the
segments of bot replies (smsbot.abuse), with defaults that leave residents untouched

Revision ID: 0010
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = {"rate_limit": 10, "rate_window": 10, "loop_repeats": 5, "daily_cap": 2000}
"""Column → default (the same as models.Company's): existing companies get them too."""


def upgrade() -> None:
    for name, default in COLUMNS.items():
        op.add_column(
            "company", sa.Column(name, sa.Integer(), nullable=False, server_default=str(default))
        )


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 too): no batch rebuild of `company`,
    # which most tables point at.
    for name in reversed(COLUMNS):
        op.drop_column("company", name)
