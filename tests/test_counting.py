"""The benchmark's opt-in counting hook (smsbot/counting.py): off by default, exact when on."""

from __future__ import annotations

import json

import pytest
from redis import Redis
from redis.connection import AbstractConnection
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from smsbot import counting, db, queues


@pytest.fixture()
def counting_on(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    """Turn counting on for this test only, and leave no patch or listener behind."""
    for name in ("send_packed_command", "send_command", "pack_commands"):
        monkeypatch.setattr(AbstractConnection, name, getattr(AbstractConnection, name))
    monkeypatch.setattr(queues, "_redis", queues._redis)
    monkeypatch.setattr(counting, "_redis_patched", False)
    monkeypatch.setattr(counting, "_sql_listening", False)
    monkeypatch.setattr(counting, "_start", lambda: None)  # no flushing thread in tests
    monkeypatch.setattr(counting, "counts", dict.fromkeys(counting.counts, 0))
    monkeypatch.setenv(counting.ENV, str(tmp_path))
    yield tmp_path
    for name, fn in (("before_cursor_execute", counting._on_execute),
                     ("commit", counting._on_commit)):  # fmt: skip
        if event.contains(Engine, name, fn):
            event.remove(Engine, name, fn)


def test_off_by_default(monkeypatch):  # noqa: ANN001
    monkeypatch.delenv(counting.ENV, raising=False)
    monkeypatch.setattr(counting, "_sql_listening", False)
    before = AbstractConnection.send_packed_command
    engine = db.make_engine("sqlite:///:memory:")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert not event.contains(Engine, "before_cursor_execute", counting._on_execute)
    assert AbstractConnection.send_packed_command is before


def test_counts_statements_commits_and_round_trips(counting_on, redis_url):  # noqa: ANN001
    engine = db.make_engine("sqlite:///:memory:")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t (x) VALUES (:x)"), [{"x": 1}, {"x": 2}, {"x": 3}])
        conn.execute(text("SELECT count(*) FROM t"))
        conn.commit()
    # BEGIN is not a statement of ours; an executemany is one.
    assert counting.counts["sql_statements"] == 3
    assert counting.counts["sql_commits"] == 1

    redis = queues.init(redis_url)
    redis.ping()  # connecting may send a handshake first
    start = dict(counting.counts)
    redis.set("counting:a", 1)
    redis.get("counting:a")
    pipe = redis.pipeline(transaction=False)
    pipe.incr("counting:b").incr("counting:b").get("counting:b")
    assert pipe.execute() == [1, 2, b"2"]
    with redis.pipeline() as pipe:  # MULTI, 2 commands, EXEC: still one round trip
        pipe.set("counting:c", 1).get("counting:c")
        pipe.execute()
    assert counting.counts["redis_round_trips"] - start["redis_round_trips"] == 4
    assert counting.counts["redis_commands"] - start["redis_commands"] == 2 + 3 + 4
    Redis.close(redis)

    counting.flush()
    (path,) = counting_on.glob("*.json")
    assert json.loads(path.read_text())["sql_statements"] == 3


def test_a_statement_that_commits_itself_is_not_counted_again_as_a_commit(
    counting_on, postgres_database
):  # noqa: ANN001
    """db.writer(single=True) on PostgreSQL: autocommit, so no COMMIT is sent."""
    engine = db.make_engine(postgres_database)
    alone = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        with alone.begin() as conn:
            conn.execute(text("SELECT 1"))
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert counting.counts["sql_statements"] == 2
    assert counting.counts["sql_commits"] == 1
