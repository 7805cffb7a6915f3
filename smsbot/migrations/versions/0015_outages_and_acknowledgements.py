"""outages and honest acknowledgements: a notice may say what is off and until when; a
conversation remembers its last acknowledgement, its last staff reply and the notice that
answered it

Revision ID: 0015
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None

_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    # Plain ADD COLUMN, not batch copies: other tables point at both (see 0005).
    op.add_column("notice", sa.Column("outage", sa.String(length=16), nullable=True))
    op.add_column("notice", sa.Column("outage_until", _TIME(), nullable=True))
    op.create_index("ix_notice_outage", "notice", ["company_id", "outage_until"])
    op.add_column("conversation", sa.Column("acknowledged_at", _TIME(), nullable=True))
    op.add_column("conversation", sa.Column("staff_replied_at", _TIME(), nullable=True))
    # No foreign key: SQLite adds one only by copying `conversation`, which messages point at.
    op.add_column("conversation", sa.Column("answered_by_notice_id", sa.Integer(), nullable=True))
    # What the history already says: the last bot acknowledgement, the last dispatcher SMS.
    op.execute(
        "UPDATE conversation SET acknowledged_at = (SELECT MAX(m.created_at) FROM message m "
        "WHERE m.conversation_id = conversation.id AND m.template = 'chat_ack'), "
        "staff_replied_at = (SELECT MAX(m.created_at) FROM message m "
        "WHERE m.conversation_id = conversation.id AND m.kind = 'dispatcher')"
    )


def downgrade() -> None:
    for name in ("answered_by_notice_id", "staff_replied_at", "acknowledged_at"):
        op.drop_column("conversation", name)
    op.drop_index("ix_notice_outage", table_name="notice")
    op.drop_column("notice", "outage_until")
    op.drop_column("notice", "outage")
