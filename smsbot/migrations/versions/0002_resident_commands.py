"""resident commands: bill lines, link attempts, tickets and their history, meters and
readings, per-company deadlines and meter window

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:38:53.201367
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("link_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_link_attempt_account", ["account_number", "created_at"], unique=False
        )
        batch_op.create_index("ix_link_attempt_phone", ["phone", "created_at"], unique=False)

    op.create_table(
        "deadline_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("problem", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("repair_minutes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["company.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "problem"),
    )
    with op.batch_alter_table("deadline_override", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deadline_override_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "ticket_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id"),
    )
    op.create_table(
        "account_charge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "service"),
    )
    with op.batch_alter_table("account_charge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_charge_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "account_unlink",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resident_id", "account_id"),
    )
    with op.batch_alter_table("account_unlink", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_unlink_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_unlink_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "meter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "kind"),
    )
    with op.batch_alter_table("meter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_account_id"), ["account_id"], unique=False)

    op.create_table(
        "meter_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meter.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meter_id", "period"),
    )
    with op.batch_alter_table("meter_reading", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_reading_meter_id"), ["meter_id"], unique=False)

    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("problem", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("danger", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("filed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("accepted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("done_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("rejected_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("deadline_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("repair_deadline_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["company.id"],
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "number"),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_building_id"), ["building_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_category"), ["category"], unique=False)
        batch_op.create_index(
            "ix_ticket_company_status_deadline",
            ["company_id", "status", "deadline_at"],
            unique=False,
        )
        batch_op.create_index("ix_ticket_resident", ["resident_id", "id"], unique=False)

    op.create_table(
        "ticket_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_event_ticket_id"), ["ticket_id"], unique=False)

    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("meter_window_start", sa.Integer(), nullable=False, server_default="15")
        )
        batch_op.add_column(
            sa.Column("meter_window_end", sa.Integer(), nullable=False, server_default="25")
        )


def downgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("meter_window_end")
        batch_op.drop_column("meter_window_start")

    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_event_ticket_id"))

    op.drop_table("ticket_event")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_resident")
        batch_op.drop_index("ix_ticket_company_status_deadline")
        batch_op.drop_index(batch_op.f("ix_ticket_category"))
        batch_op.drop_index(batch_op.f("ix_ticket_building_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_account_id"))

    op.drop_table("ticket")
    with op.batch_alter_table("meter_reading", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_reading_meter_id"))

    op.drop_table("meter_reading")
    with op.batch_alter_table("meter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_account_id"))

    op.drop_table("meter")
    with op.batch_alter_table("account_charge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_charge_account_id"))

    with op.batch_alter_table("account_unlink", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_unlink_resident_id"))
        batch_op.drop_index(batch_op.f("ix_account_unlink_account_id"))

    op.drop_table("account_unlink")
    op.drop_table("account_charge")
    op.drop_table("ticket_counter")
    with op.batch_alter_table("deadline_override", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadline_override_company_id"))

    op.drop_table("deadline_override")
    with op.batch_alter_table("link_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_link_attempt_phone")
        batch_op.drop_index("ix_link_attempt_account")

    op.drop_table("link_attempt")
