"""smsbot.db's helpers that stand in for the ORM's own loading and constructors on the
worker's hot path."""

from __future__ import annotations

from sqlalchemy import insert, inspect, select
from sqlmodel import Session

from smsbot import db
from smsbot.clock import utcnow
from smsbot.models import OUT_QUEUED, OUT_SENDING, OUTBOUND, Message, Resident


def test_a_loaded_object_is_persistent_unchanged_and_the_one_the_session_holds(app):
    with db.session_scope() as session:
        new_id = session.execute(
            insert(Resident).values(phone="+79161110000", language="ru", opted_out=False)
        ).inserted_primary_key[0]
        row = (
            session.connection()
            .execute(select(Resident.__table__).where(Resident.id == new_id))
            .one()
        )
        resident = db.loaded(session, Resident, row._mapping)
        state = inspect(resident)
        assert state.persistent and not state.modified
        assert (resident.id, resident.phone, resident.language) == (new_id, "+79161110000", "ru")
        assert db.loaded(session, Resident, row._mapping) is resident
        assert session.get(Resident, new_id) is resident  # no query: the identity map has it
        resident.language = "en"  # a change is flushed as an UPDATE, as for a queried object
    with Session(db.engine()) as session:
        assert session.get(Resident, new_id).language == "en"


def test_an_added_object_is_stored_as_the_constructor_s_would_be_defaults_included(app):
    values = {"direction": OUTBOUND, "status": OUT_QUEUED, "kind": "reply", "from_phone": "",
              "to_phone": "+79161110001", "body": "text", "created_at": utcnow(),
              "updated_at": utcnow()}  # fmt: skip
    with db.session_scope() as session:
        made = db.added(session, Message, values)
        built = Message(**{**values, "to_phone": "+79161110002"})
        session.add(built)
        assert inspect(made).pending and made.attempts is None  # a default: at the INSERT
        session.flush()
        assert made.attempts == built.attempts == 0  # filled in by the INSERT
        made.status = OUT_SENDING  # and changed as any object
        ids = made.id, built.id
    columns = [c for c in Message.__table__.c if c.name not in ("id", "to_phone")]
    with Session(db.engine()) as session:
        one, other = (session.execute(select(*columns).where(Message.id == i)).one() for i in ids)
    assert {**one._asdict(), "status": OUT_QUEUED} == other._asdict() and one.status == OUT_SENDING
