"""The long-running processes outlast Redis and database outages (smsbot.outages).

Real processes against real servers: `smsbot clock` and `smsbot worker` run as subprocesses
on a Redis of this test's own (stopped and started again on the same port, empty) and reach
PostgreSQL through a relay the test cuts (the machine's own servers are never touched). The
clock runs alone, as in the README's production layout: nothing restarts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import psutil
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from smsbot import db, outages
from smsbot.models import IN_HANDLED, INBOUND, OUTBOUND, Message
from tests.conftest import _truncate_postgres
from tests.support import CuttableLink, OwnRedis, die_with_parent, post_inbound, wait_until

QUICK = {
    "SMSBOT_SWEEP_INTERVAL_SECONDS": "1",
    "SMSBOT_SWEEP_AFTER_SECONDS": "1",
    "SMSBOT_RECONNECT_FIRST_SECONDS": "1",
    "SMSBOT_RECONNECT_MAX_SECONDS": "1",
}
"""Sweeps and reconnections every second, so the test waits seconds, not minutes."""


@pytest.fixture()
def database_url(postgres_database) -> str:  # noqa: ANN001
    """PostgreSQL only: its outage is a cut link (SQLite's is in tests/web/test_spool.py)."""
    _truncate_postgres(postgres_database)
    return postgres_database


def start(command: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "smsbot.cli", command],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("SMSBOT_TEST_WORKER_LOGS") else subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )


def answered() -> dict[int, int]:
    """For every resident message: how many replies it has (handled ones only)."""
    with Session(db.engine()) as session:
        inbound = session.exec(
            select(Message.id).where(Message.direction == INBOUND, Message.status == IN_HANDLED)
        ).all()
        replies = session.exec(
            select(Message.reply_to_id).where(Message.direction == OUTBOUND)
        ).all()
    return {i: replies.count(i) for i in inbound}


def all_answered(count: int) -> bool:
    seen = answered()
    return len(seen) == count and all(n >= 1 for n in seen.values())


def alive(*processes: subprocess.Popen) -> bool:
    return all(p.poll() is None for p in processes)


def test_clock_and_worker_outlast_redis_and_database_outages(app_env, tmp_path):
    from app import create_app
    from standins import demo

    redis = OwnRedis(tmp_path)
    redis.start()
    link = CuttableLink("127.0.0.1", urlsplit(app_env["DATABASE_URL"]).port or 5432)
    env = {**app_env, **QUICK, "REDIS_URL": redis.url}
    processes_env = {**env, "DATABASE_URL": link.url_for(env["DATABASE_URL"])}
    clock, worker = start("clock", processes_env), start("worker", processes_env)
    try:
        app = create_app(env)  # the webhooks: straight to PostgreSQL
        with app.app_context():
            with Session(db.engine()) as session:
                demo.seed(session)
                session.commit()
            client = app.test_client()
            post_inbound(client, app, "помощь", from_phone="+79850000001")
            wait_until(lambda: all_answered(1), timeout=30, what="the first answer")

            redis.stop()  # Redis goes away; residents keep writing (the webhook stores them)
            for n in range(2, 6):
                assert (
                    post_inbound(client, app, "помощь", from_phone=f"+7985000000{n}")[1].status_code
                    == 200
                )
            time.sleep(2)
            assert alive(clock, worker), "the clock and the worker wait Redis out"
            redis.start()  # back on the same port, empty: only the sweep knows the messages
            wait_until(lambda: all_answered(5), timeout=30, what="answers after Redis is back")

            link.cut()  # the database goes away for the worker and the clock's sweeps
            for n in range(6, 9):
                post_inbound(client, app, "помощь", from_phone=f"+7985000000{n}")
            time.sleep(2)
            assert alive(clock, worker), "the clock and the worker wait the database out"
            link.restore()
            wait_until(lambda: all_answered(8), timeout=30, what="answers after the database")
            assert set(answered().values()) == {1}, "every message answered exactly once"

            scheduler = wait_until(
                lambda: psutil.Process(worker.pid).children(), what="RQ's scheduler child"
            )[0]
            worker.send_signal(signal.SIGKILL)  # no time to stop its scheduler itself
            worker.wait(10)
            psutil.wait_procs([scheduler], timeout=10)
            assert not scheduler.is_running(), "the scheduler child outlived its worker"
    finally:
        for process in (clock, worker):
            if process.poll() is None:
                process.terminate()
                process.wait(10)
        link.close()
        redis.stop()


# --- the backoff itself, without processes -----------------------------------------------------


def test_the_backoff_doubles_up_to_its_maximum_and_starts_again():
    backoff = outages.Backoff(first=1, maximum=5)
    assert [backoff.next() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.reset()
    assert backoff.next() == 1


@pytest.fixture()
def signals_kept():  # noqa: ANN201
    """outlast installs SIGTERM and SIGINT handlers: give pytest its own back."""
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in kept.items():
        signal.signal(signum, handler)


def test_outlast_tries_again_after_outages_and_stops_when_done(monkeypatch, signals_kept):
    waits: list[float] = []
    stopping = outages.Stopping()
    monkeypatch.setattr(stopping, "wait", lambda seconds: waits.append(seconds) or False)
    results = iter(
        [RedisConnectionError("down"), OperationalError("x", {}, OSError()), False, True]
    )

    def run() -> bool:
        result = next(results)
        if isinstance(result, Exception):
            raise result
        return result

    outages.outlast(run, what="test", backoff=outages.Backoff(1, 3), stopping=stopping)
    assert waits == [1, 2, 3], "two outages and a run that ended by itself, then done"


def test_outlast_lets_other_errors_through_and_hears_a_stop(signals_kept):
    stopping = outages.Stopping()

    def bug() -> bool:
        raise ValueError("a bug is not an outage")

    with pytest.raises(ValueError):
        outages.outlast(bug, what="test", backoff=outages.Backoff(), stopping=stopping)

    def stopped() -> bool:
        stopping.request()
        raise RedisConnectionError("down while stopping")

    outages.outlast(stopped, what="test", backoff=outages.Backoff(), stopping=stopping)
    assert stopping.wait(60) is True, "a requested stop ends a wait at once"
