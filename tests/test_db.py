"""smsbot.db's helpers that stand in for the ORM's own loading on the worker's hot path."""

from __future__ import annotations

from sqlalchemy import insert, inspect, select
from sqlmodel import Session

from smsbot import db
from smsbot.models import Resident


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
