"""smsbot.db's helpers that stand in for the ORM's own loading and constructors on the
worker's hot path."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert, inspect, select, text
from sqlalchemy.orm import defer
from sqlmodel import Session

from smsbot import db
from smsbot.clock import utcnow
from smsbot.models import OUT_QUEUED, OUT_SENDING, OUTBOUND, Message, Resident
from tests.support import listening, statements_seen, wait_until


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


def _message(body: str, **values: object) -> dict:
    now = utcnow()
    return {"direction": OUTBOUND, "status": OUT_QUEUED, "kind": "reply", "from_phone": "",
            "to_phone": "+79161110003", "body": body, "created_at": now, "updated_at": now,
            **values}  # fmt: skip


def _received(session: Session) -> Message:
    inbound = db.added(session, Message, _message("hi", direction="in", status="received",
                                                  kind="resident"))  # fmt: skip
    session.flush()
    return inbound


KEYS = ("reply_to_id", "body")
CHANGING = ("status", "attempts", "handled_at")


def _stored(ids: list[int]) -> dict[int, tuple]:
    with Session(db.engine()) as session:
        rows = session.execute(
            select(Message.id, Message.status, Message.attempts, Message.body, Message.reply_to_id)
            .where(Message.id.in_(ids))
        )  # fmt: skip
        return {row.id: tuple(row[1:]) for row in rows}


def test_new_and_changed_messages_are_written_with_one_statement(app):
    with db.session_scope() as session:
        inbound_id = _received(session).id
    with db.session_scope() as session:
        inbound = session.get(Message, inbound_id)
        inbound.status, inbound.attempts, inbound.handled_at = "handled", 1, utcnow()
        one = db.added(session, Message, _message("one", reply_to_id=inbound.id))
        two = db.added(session, Message, _message("two", reply_to_id=inbound.id))
        # (alike in every key: the two take the new ids in the order given)
        twin = db.added(session, Message, _message("two", reply_to_id=inbound.id))
        with statements_seen() as seen:
            written = db.write_all(
                session, Message, [inbound, one, two, twin], keys=KEYS, changing=CHANGING
            )
        assert [word for word, _ in seen] == ["INSERT"]
        assert written == [inbound, one, two, twin]
        for obj in written:  # persistent, unchanged, whole: nothing to flush or to load
            state = inspect(obj)
            assert state.persistent and not state.modified and not state.unloaded
            assert session.get(Message, obj.id) is obj
        assert inbound.id == inbound_id < one.id < two.id < twin.id
        assert one.attempts == 0 and one.error_code is None  # the defaults the INSERT wrote
        assert not session.new and not session.dirty
        with statements_seen() as seen:
            session.flush()
        assert seen == []
        expected = {m.id: (m.status, m.attempts, m.body, m.reply_to_id) for m in written}
    assert _stored(list(expected)) == expected
    assert expected[inbound_id] == ("handled", 1, "hi", None)


def test_a_message_missing_a_column_is_left_to_the_flush(app):
    """Its whole row is not known: the upsert could set a column it does not hold."""
    with db.session_scope() as session:
        inbound_id = _received(session).id
    with db.session_scope() as session:
        inbound = session.get(Message, inbound_id, options=[defer(Message.error_message)])
        inbound.status = "handled"
        reply = db.added(session, Message, _message("one", reply_to_id=inbound.id))
        assert db.write_all(session, Message, [inbound, reply], keys=KEYS, changing=CHANGING) == [
            reply
        ]
        assert inspect(inbound).modified
    assert _stored([inbound_id])[inbound_id][0] == "handled"


def test_a_message_changed_in_other_columns_is_left_to_the_flush(app):
    with db.session_scope() as session:
        inbound = _received(session)
        inbound.status, inbound.body = "handled", "changed"  # body: not in CHANGING
        reply = db.added(session, Message, _message("one", reply_to_id=inbound.id))
        with statements_seen() as seen:
            written = db.write_all(session, Message, [inbound, reply], keys=KEYS, changing=CHANGING)
        assert written == [reply] and [word for word, _ in seen] == ["INSERT"]
        assert inspect(inbound).modified
        ids = [inbound.id, reply.id]
    assert _stored(ids) == {
        ids[0]: ("handled", 0, "changed", None),
        ids[1]: (OUT_QUEUED, 0, "one", ids[0]),
    }


# --- PostgreSQL connections: pinged only in doubt ---------------------------------------------


@pytest.fixture()
def pinged(postgres_database):  # noqa: ANN001, ANN201
    """A one-connection PostgreSQL engine as `make_engine` makes it, and its pings so far."""
    engine = db.make_engine(postgres_database, pool_size=1, max_overflow=0)
    pings: list[int] = []
    do_ping = engine.dialect.do_ping

    def counted(dbapi_conn):  # noqa: ANN001, ANN202
        pings.append(1)
        return do_ping(dbapi_conn)

    engine.dialect.do_ping = counted
    yield engine, pings
    engine.dispose()


def _backend_pid(engine) -> int:  # noqa: ANN001
    with engine.begin() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def test_a_healthy_pooled_connection_is_used_without_a_ping(pinged):
    engine, pings = pinged
    pids = {_backend_pid(engine) for _ in range(20)}
    assert len(pids) == 1 and pings == []


def test_a_connection_the_server_ended_is_replaced_at_checkout(pinged, postgres_database):
    """As after a restart of PostgreSQL: the next unit of work gets a new connection instead
    of failing on the old one (with pool_pre_ping off and nothing in its place, it fails)."""
    engine, pings = pinged
    old = _backend_pid(engine)
    admin = create_engine(postgres_database)
    with admin.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old}).scalar()
    wait_until(lambda: _gone(admin, old), timeout=10, what="the backend to end")
    admin.dispose()
    assert _backend_pid(engine) != old
    assert pings == [1]


def _gone(admin, pid: int) -> bool:  # noqa: ANN001
    with admin.connect() as conn:
        return not conn.execute(
            text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).first()


def test_a_connection_idle_in_the_pool_for_long_is_pinged(pinged, monkeypatch):
    engine, pings = pinged
    _backend_pid(engine)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", -1.0)
    _backend_pid(engine)
    _backend_pid(engine)
    assert pings == [1, 1]


# --- PostgreSQL: single writes on connections that stay in autocommit ------------------------


def test_single_writes_on_postgresql_take_connections_that_stay_in_autocommit(app, monkeypatch):
    """db.writer(single=True) on PostgreSQL: its own pool, whose connections are in autocommit
    from the start, so a unit neither switches a connection to autocommit nor back (as an
    isolation_level execution option on the main engine would, at each checkout and checkin),
    and the main engine's transactions are untouched."""
    if db.engine().dialect.name != "postgresql":
        pytest.skip("SQLite's single units keep BEGIN IMMEDIATE")
    switches: list[str] = []
    for engine in db.engines():
        dialect, set_level = engine.dialect, engine.dialect.set_isolation_level
        monkeypatch.setattr(dialect, "set_isolation_level",
                            lambda conn, level, set_level=set_level: (switches.append(level),
                                                                      set_level(conn, level)))  # fmt: skip
    for round_ in range(4):
        if round_ == 1:  # (a new connection is put in autocommit once, when made)
            assert switches == ["AUTOCOMMIT"]
            switches.clear()
        with db.writer(single=True).begin() as conn:
            assert conn.connection.dbapi_connection.autocommit
            conn.execute(text("SELECT 1"))
        with db.writer().begin() as conn:
            assert not conn.connection.dbapi_connection.autocommit
            conn.execute(text("SELECT 1"))
    assert switches == []
    assert db.writer(single=True).engine is not db.engine() and len(db.engines()) == 2


# --- PostgreSQL: psycopg converts our long statements once -----------------------------------


def test_long_statements_are_converted_once(app, monkeypatch):
    """A batch's multi-row INSERT repeats its text, so psycopg's cached placeholder conversion
    must take it (db._cache_long_statements): the uncached scan of a 20-row INSERT of
    messages cost the workers more than the rest of its conversion and execution."""
    if db.engine().dialect.name != "postgresql":
        pytest.skip("psycopg's conversion is PostgreSQL's")
    from psycopg import _queries

    scanned: list[bytes] = []
    uncached = _queries._query2pg_nocache
    monkeypatch.setattr(_queries, "_query2pg_nocache",
                        lambda query, encoding: (scanned.append(query), uncached(query, encoding))[1])  # fmt: skip
    inserts: list[str] = []
    keep = lambda _c, _cur, statement, *_rest: inserts.append(statement)  # noqa: E731
    with listening("before_cursor_execute", keep):
        for batch in range(2):
            with db.session_scope() as session:
                session.add_all([Message(**_message(f"batch {batch} row {i}")) for i in range(20)])
    assert len(inserts) == 2 and inserts[0] == inserts[1] and len(inserts[0]) > 4096
    assert scanned == []
    with Session(db.engine()) as session:
        stored = session.execute(select(Message.id).where(Message.body.like("batch %"))).all()
    assert len(stored) == 40
