"""The inbound spool (smsbot.spool): a database outage loses no resident's SMS.

The outage is real on both databases, without touching the machine's servers: PostgreSQL
is reached through a link the test cuts (tests.support.CuttableLink); SQLite's file is
locked by another connection holding BEGIN EXCLUSIVE, so no write lock is had within the
webhook's wait. Messages posted meanwhile are answered 200 only once kept (in Redis; in the
spool file when Redis is down too), stored when the database is back, and answered once.
"""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import urlsplit

import pytest
from redis import Redis
from sqlmodel import Session, select

from smsbot import db, queues, spool
from smsbot.models import IN_HANDLED, INBOUND, OUTBOUND, Message
from smsbot.runner import free_port
from tests.conftest import TWILIO_TOKEN, run_jobs, twilio_env
from tests.support import CuttableLink, post_inbound, post_signed

SID = "SM" + "b" * 32


class LockedSqlite:
    """An SQLite outage: another connection holds the write lock for as long as it lasts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.holder: sqlite3.Connection | None = None

    def begin(self) -> None:
        self.holder = sqlite3.connect(self.url.split("///", 1)[1], isolation_level=None)
        self.holder.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        if self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
            self.holder = None


class CutPostgres:
    """A PostgreSQL outage: the app's link to the server is cut."""

    def __init__(self, url: str) -> None:
        self.link = CuttableLink("127.0.0.1", urlsplit(url).port or 5432)
        self.url = self.link.url_for(url)

    def begin(self) -> None:
        self.link.cut()

    def end(self) -> None:
        if self.link._listener is None:
            self.link.restore()


@pytest.fixture()
def outage(database_url):  # noqa: ANN001, ANN201
    found = (
        LockedSqlite(database_url)
        if database_url.startswith("sqlite")
        else CutPostgres(database_url)
    )
    yield found
    found.end()
    if isinstance(found, CutPostgres):
        found.link.close()


@pytest.fixture()
def spool_env(app_env, outage):  # noqa: ANN001, ANN201
    """The service on Twilio (its status callbacks), reaching the database through `outage`."""
    return {
        **app_env,
        **twilio_env("http://127.0.0.1:9"),
        "DATABASE_URL": outage.url,
        "SMSBOT_WEBHOOK_DB_WAIT_SECONDS": "0.2",
    }


def _start(env: dict[str, str]):  # noqa: ANN202
    from app import create_app
    from standins import demo

    app = create_app(env)
    context = app.app_context()
    context.push()
    with Session(db.engine()) as session:
        demo.seed(session)
        session.add(Message(direction=OUTBOUND, status="sent", kind="reply", provider="twilio",
                            external_id=SID, from_phone="+74951230001", to_phone="+79851234567",
                            body="ok"))  # fmt: skip
        session.commit()
    return app, context


def _text(client, app, n: int, sid: str | None = None) -> str:  # noqa: ANN001
    sid = sid or "SM" + f"{n:032x}"
    _, response = post_inbound(client, app, "помощь", from_phone=f"+7985100{n:04d}", sid=sid)
    assert response.status_code == 200, response.data
    return sid


def _delivered(client) -> None:  # noqa: ANN001
    params = {"MessageSid": SID, "SmsSid": SID, "MessageStatus": "delivered",
              "AccountSid": "AC" + "1" * 32, "From": "+74951230001", "To": "+79851234567"}  # fmt: skip
    response = post_signed(client, "/sms/twilio/status", params, TWILIO_TOKEN)
    assert response.status_code == 200, response.data


def _answers() -> dict[str, int]:
    """Every stored resident message (by its provider id): how many replies it got."""
    with Session(db.engine()) as session:
        stored = session.exec(select(Message).where(Message.direction == INBOUND)).all()
        replies = session.exec(
            select(Message.reply_to_id).where(Message.direction == OUTBOUND)
        ).all()
        assert all(m.status == IN_HANDLED for m in stored)
        return {m.external_id: replies.count(m.id) for m in stored}


def _reply_delivered() -> Message:
    with Session(db.engine()) as session:
        return session.exec(select(Message).where(Message.external_id == SID)).one()


def test_a_database_outage_loses_nothing_and_doubles_nothing(spool_env, outage):
    app, context = _start(spool_env)
    try:
        client = app.test_client()
        outage.begin()
        sids = [_text(client, app, n) for n in range(4)]
        _text(client, app, 0, sid=sids[0])  # the provider sends one again: stored once
        _delivered(client)
        kept = Redis.from_url(spool_env["REDIS_URL"]).llen(spool.REDIS_KEY)
        assert kept == 6, "each callback kept in Redis before its 200"
        outage.end()
        sids.append(_text(client, app, 4))  # the next webhook stores what was kept
        assert Redis.from_url(spool_env["REDIS_URL"]).llen(spool.REDIS_KEY) == 0
        run_jobs(app)
        assert _answers() == {sid: 1 for sid in sids}, "each message answered exactly once"
        reply = _reply_delivered()
        assert reply.status == "delivered" and reply.delivered_at is not None
    finally:
        context.pop()


def test_with_redis_down_too_the_spool_file_keeps_them(spool_env, outage, redis_url):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app, context = _start({**spool_env, "REDIS_URL": dead})
    settings = app.config["SMSBOT_SETTINGS"]
    try:
        client = app.test_client()
        outage.begin()
        sids = [_text(client, app, n) for n in range(3)]
        _delivered(client)
        lines = (settings.instance_path / spool.FILE).read_text().splitlines()
        assert [json.loads(line)["kind"] for line in lines] == ["inbound"] * 3 + ["status"]
        outage.end()
        sids.append(_text(client, app, 3))  # stores itself and the spool file; Redis is down
        assert (settings.instance_path / spool.FILE).read_text() == ""
        queues.init(redis_url)  # Redis is back: the handler is queued as the sweep would
        queues.wake_inbound(force=True)
        run_jobs(app)
        assert _answers() == {sid: 1 for sid in sids}
        assert _reply_delivered().status == "delivered"
    finally:
        context.pop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the logic is the same
def test_a_drain_that_runs_twice_stores_once(spool_env, outage):
    """A drain that died after its commit, before forgetting the records, stores nothing
    twice; a torn line (a crash mid-write, never answered 200) is skipped."""
    app, context = _start({**spool_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    settings = app.config["SMSBOT_SETTINGS"]
    try:
        client = app.test_client()
        outage.begin()
        sids = [_text(client, app, n) for n in range(2)]
        outage.end()
        path = settings.instance_path / spool.FILE
        kept = path.read_text()
        assert spool.drain(settings) == 2
        path.write_text(kept + '{"kind": "inbound", "via": "tw')  # as if not forgotten
        assert spool.drain(settings) == 2
        assert path.read_text() == ""
        with Session(db.engine()) as session:
            stored = session.exec(select(Message.external_id).where(Message.direction == INBOUND))
            assert sorted(stored) == sorted(sids)
    finally:
        context.pop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the logic is the same
def test_only_when_nothing_can_keep_it_the_answer_is_503(spool_env, outage, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "spool").write_text("a file where the spool folder should be")
    env = {**spool_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
           "SMSBOT_INSTANCE_PATH": str(blocked)}  # fmt: skip
    app, context = _start(env)
    try:
        outage.begin()
        _, response = post_inbound(app.test_client(), app, "помощь")
        assert response.status_code == 503
    finally:
        context.pop()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # one is enough
def test_a_record_the_database_refuses_is_set_aside_not_blocking_the_rest(spool_env, outage):
    app, context = _start({**spool_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    settings = app.config["SMSBOT_SETTINGS"]
    try:
        client = app.test_client()
        outage.begin()
        sids = [_text(client, app, n) for n in range(2)]
        outage.end()
        path = settings.instance_path / spool.FILE
        first, second = path.read_text().splitlines()
        # No sender: NOT NULL on both databases (a NUL in the text no longer is refused:
        # inbound.store drops it).
        bad = {**json.loads(first), "provider_id": "SM-bad", "from_phone": None}
        path.write_text("\n".join([first, json.dumps(bad), second]) + "\n")
        assert spool.drain(settings) == 3
        rejected = (settings.instance_path / spool.REJECTED).read_text().splitlines()
        assert [json.loads(line)["provider_id"] for line in rejected] == ["SM-bad"]
        with Session(db.engine()) as session:
            stored = session.exec(select(Message.external_id).where(Message.direction == INBOUND))
            assert sorted(stored) == sorted(sids)
    finally:
        context.pop()
