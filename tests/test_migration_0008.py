"""Migration 0008 (providers) names the provider of every stored message from its id, keeps
one message per (provider, external id), and runs both ways."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from smsbot import db, migrate
from tests.test_migration_0002 import empty_database  # noqa: F401  (the fixture)

MESSAGES = [
    # direction, status, provider_sid
    ("in", "handled", "SM" + "1" * 32),  # a resident's SMS through Twilio
    ("out", "delivered", "SM" + "2" * 32),  # our reply through Twilio
    ("out", "delivered", "LO" + "3" * 32),  # a reply the local outbox "sent"
    ("out", "queued", None),  # not sent yet: no provider chosen
]


def _insert(conn, direction: str, status: str, sid: str | None) -> None:  # noqa: ANN001
    conn.execute(
        text(
            "INSERT INTO message (direction, status, kind, provider_sid, from_phone, to_phone, "
            "body, attempts, created_at, updated_at) VALUES (:d, :s, 'reply', :sid, "
            "'+79851234567', '+74951230001', 'x', 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
        ),
        {"d": direction, "s": status, "sid": sid},
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_old_messages_name_their_provider_and_the_id_is_unique_per_provider(empty_database, kind):  # noqa: F811
    cfg = migrate.alembic_config(empty_database)
    command.upgrade(cfg, "0007")
    engine = db.make_engine(empty_database)
    with engine.begin() as conn:
        for row in MESSAGES:
            _insert(conn, *row)
    command.upgrade(cfg, "0008")
    engine.dispose()
    engine = db.make_engine(empty_database)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT provider, external_id FROM message ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [
        ("twilio", "SM" + "1" * 32),
        ("twilio", "SM" + "2" * 32),
        ("outbox", "LO" + "3" * 32),
        (None, None),
    ]
    insert = text(
        "INSERT INTO message (direction, status, kind, provider, external_id, from_phone, "
        "to_phone, body, attempts, created_at, updated_at) VALUES ('in', 'received', 'resident', "
        ":p, '42', '+79851234567', '+74951230001', 'x', 0, '2026-11-02 00:00:00', "
        "'2026-11-02 00:00:00')"
    )
    with engine.begin() as conn:  # the same id at two providers is two messages
        conn.execute(insert, {"p": "smpp"})
        conn.execute(insert, {"p": "smsc"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"p": "smpp"})
    command.downgrade(cfg, "0007")
    engine.dispose()
    engine = db.make_engine(empty_database)
    assert "provider" not in {c["name"] for c in inspect(engine).get_columns("message")}
    with engine.connect() as conn:
        sids = conn.execute(text("SELECT provider_sid FROM message ORDER BY id")).scalars().all()
    assert sids == [r[2] for r in MESSAGES] + ["42", None]  # the older of a clash keeps it
    assert "message_ref" not in inspect(engine).get_table_names()
    engine.dispose()
