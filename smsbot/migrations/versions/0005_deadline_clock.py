"""deadline clock and inspector figures: stage timestamps, overdue marks and alerts on
tickets, working-hours deadlines per company, staff phones for alerts

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIMES = (
    "warn_at",
    "warned_at",
    "overdue_at",
    "overdue_alerted_at",
    "escalated_at",
    "first_reply_at",
    "first_done_at",
    "confirmed_at",
    "reopened_at",
)
_INDEXES = {
    "ix_ticket_clock_deadline": ["status", "deadline_at"],
    "ix_ticket_clock_warn": ["status", "warn_at"],
    "ix_ticket_company_filed_day": ["company_id", "filed_day"],
    "ix_ticket_company_overdue": ["company_id", "overdue_at"],
    "ix_ticket_updated": ["updated_at"],
}


def upgrade() -> None:
    # Plain ADD COLUMN, not batch copies: copying `company` or `ticket` fails on SQLite once
    # other tables' foreign keys point at their rows (any real database).
    false = sa.text("false")
    op.add_column(
        "company",
        sa.Column("working_hours_deadlines", sa.Boolean(), nullable=False, server_default=false),
    )
    op.add_column(
        "company", sa.Column("workday_start", sa.Integer(), nullable=False, server_default="9")
    )
    op.add_column(
        "company", sa.Column("workday_end", sa.Integer(), nullable=False, server_default="18")
    )
    op.add_column(
        "company", sa.Column("warn_percent", sa.Integer(), nullable=False, server_default="80")
    )
    op.add_column(
        "staff_user", sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
    )
    op.add_column("ticket", sa.Column("filed_day", sa.Date(), nullable=True))
    op.add_column(
        "ticket", sa.Column("filed_nonworking", sa.Boolean(), nullable=False, server_default=false)
    )
    op.add_column(
        "ticket", sa.Column("working_hours", sa.Boolean(), nullable=False, server_default=false)
    )
    for name in _TIMES:
        op.add_column("ticket", sa.Column(name, sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column(
        "ticket", sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("ticket", sa.Column("rating", sa.Integer(), nullable=True))
    for name, columns in _INDEXES.items():
        op.create_index(name, "ticket", columns, unique=False)
    _backfill()


def _backfill() -> None:
    """Give tickets filed before this revision their local filing day and overdue mark."""
    from smsbot import workdays

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT t.id, t.filed_at, t.deadline_at, t.done_at, c.timezone "
            "FROM ticket t JOIN company c ON c.id = t.company_id"
        )
    ).all()
    for ticket_id, filed_at, deadline_at, done_at, tz in rows:
        filed = _aware(filed_at)
        day = filed.astimezone(ZoneInfo(tz or "Europe/Moscow")).date()
        late = done_at is not None and _aware(done_at) > _aware(deadline_at)
        bind.execute(
            sa.text(
                "UPDATE ticket SET filed_day = :day, filed_nonworking = :nonworking, "
                "overdue_at = CASE WHEN :late THEN deadline_at ELSE overdue_at END, "
                "first_done_at = done_at WHERE id = :id"
            ),
            {"day": day, "nonworking": workdays.is_nonworking(day), "late": late, "id": ticket_id},
        )


def _aware(value):  # noqa: ANN001, ANN202
    if isinstance(value, str):  # SQLite hands back text here
        from datetime import datetime

        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying `company` or `ticket` to
    # drop a column fails on SQLite once other tables' foreign keys point at their rows.
    for name in _INDEXES:
        op.drop_index(name, table_name="ticket")
    for name in (
        "filed_day",
        "filed_nonworking",
        "working_hours",
        *_TIMES,
        "reopen_count",
        "rating",
    ):
        op.drop_column("ticket", name)
    op.drop_column("staff_user", "phone")
    for name in ("working_hours_deadlines", "workday_start", "workday_end", "warn_percent"):
        op.drop_column("company", name)
