"""reply costs: a covering index for a company's segments per SMS kind over the last 30 days

The company admin's reply page shows the average segments per reply of the last 30 days on
every view. Without this index that is a scan of every message the company ever sent; with
it, a range of one company's recent rows read from the index alone (kind, status and
segments are in it).

Revision ID: 0012
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0017"
branch_labels = None
depends_on = None

COLUMNS = ["company_id", "created_at", "kind", "status", "num_segments"]


def upgrade() -> None:
    op.create_index("ix_message_company_costs", "message", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_message_company_costs", table_name="message")
