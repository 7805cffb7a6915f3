"""Shared fixtures: a real Redis database, real SQLite and PostgreSQL databases, the app,
the providers' stand-ins (fake Twilio, the SMSC.ru stand-in, the outbox), and a guard that
fails any test reaching beyond this machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from redis import Redis
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]

REDIS_SERVER = os.environ.get("SMSBOT_TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
"""The machine's Redis; each test run claims a database number of its own on it (14 down to 1)."""
REDIS_LOCK = "smsbot:test-run"
POSTGRES_ADMIN_URL = os.environ.get(
    "SMSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""A server where tests may create and drop their own database."""

TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "test-twilio-auth-token"
TWILIO_FROM = "+79990000000"
SMSC_LOGIN = "zarechye"
SMSC_PASSWORD = "test-smsc-password"
SMSC_SECRET = "TestSmscSecret0123456789"
SMSC_SENDER = "+74951230001"
"""The dedicated SMSC.ru number: the demo company's own, so residents' SMS reach it."""
PROVIDERS = ("twilio", "smsc", "outbox")
"""Every provider whose whole pipeline runs through RQ send jobs (SMPP has its connector:
tests/providers/smpp/test_connector_pipeline.py)."""
PAIRWISE = {
    ("twilio", "sqlite"),
    ("twilio", "postgres"),
    ("smsc", "postgres"),
    ("outbox", "sqlite"),
}
"""The provider x database pairs a `pairwise` test runs on: every provider and every
database at least once, Twilio (the default) on both. The full matrix of a SIGKILL test costs
CI about a minute more and finds nothing the pairs do not: a provider's sends and a
database's locks meet in code that does not depend on the other (SMSBOT_TEST_FULL_MATRIX=1
runs all six)."""


def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ANN201
    """Deselect the combinations a `pairwise` test skips (not skipped: they are not run)."""
    if os.environ.get("SMSBOT_TEST_FULL_MATRIX"):
        return
    keep, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        pair = (params.get("provider"), params.get("database_url"))
        if item.get_closest_marker("pairwise") and None not in pair and pair not in PAIRWISE:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


# --- no process left behind ----------------------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36
LEFTOVER_GRACE = 10.0
"""Seconds the processes the tests started get to end after the last test (a scheduler child
notices its worker is gone within a second or two)."""


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():  # noqa: ANN201
    """Fail the run if any process the tests started outlives them.

    This process becomes a child subreaper (Linux), so a grandchild orphaned by its parent's
    death (RQ's scheduler child of a SIGKILLed worker) is reparented here rather than to
    init, and still counts. Set up first and torn down last of the session's fixtures; with
    xdist each worker checks its own. Leftovers are killed, so they cannot take jobs from the
    Redis database a later test run is given.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
    yield
    me = psutil.Process()

    def running() -> list[psutil.Process]:
        alive = []
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)  # an orphan that ended here: reap it
                    continue
                alive.append(child)
        return alive

    left = running()
    deadline = time.monotonic() + LEFTOVER_GRACE
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = running()
    if left:
        described = []
        for process in left:
            with contextlib.suppress(psutil.Error):
                described.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
                process.kill()
        pytest.fail("processes started by the tests outlived them: " + "; ".join(described))


# --- the conformance vectors ------------------------------------------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A vector test whose file is missing skips, or fails where the vectors are required."""
    from tests import vectors

    marker = item.get_closest_marker("testdata_missing")
    if marker is None:
        return
    if vectors.required():
        pytest.fail(f"{marker.args[0]} is missing and {vectors.REQUIRED_VARIABLE} is set")
    pytest.skip(f"{marker.args[0]} not present")


# --- no internet -------------------------------------------------------------------------------

NETGUARD = REPO / "tests" / "netguard"
"""Holds sitecustomize.py, the guard; on PYTHONPATH it guards subprocesses too."""
sys.path.insert(0, str(NETGUARD))
import sitecustomize  # noqa: E402, F401  (installs the guard in this process)

os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(NETGUARD), os.environ.get("PYTHONPATH")])
)


# --- no personal data in logs ---------------------------------------------------------------

from tests import logscan  # noqa: E402

logscan.install()


@pytest.fixture(autouse=True)
def no_personal_data_in_logs():  # noqa: ANN201
    """Fail the test whose logs hold an unmasked phone number or a resident's text."""
    mark = logscan.COLLECTOR.mark()
    yield
    found = logscan.leaks(logscan.COLLECTOR.since(mark))
    if found:
        pytest.fail("personal data in the logs:\n" + "\n".join(found[:20]), pytrace=False)


@pytest.fixture(autouse=True)
def no_provider_timed_or_slow():  # noqa: ANN201
    """Each test starts with no provider counted slow, nor timed, by this process
    (smsbot.sending keeps both, and another test's would decide how many replies the
    handling job sends itself)."""
    from smsbot import sending

    sending._slow_until.clear()
    sending._send_seconds.clear()
    yield


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_database() -> str:
    """Claim a Redis database number no other test run is using, so runs never collide."""
    token = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    for number in range(14, 0, -1):
        conn = Redis.from_url(f"{REDIS_SERVER}/{number}")
        if conn.set(REDIS_LOCK, token, nx=True, ex=6 * 3600):
            yield f"{REDIS_SERVER}/{number}"
            if conn.get(REDIS_LOCK) == token.encode():
                conn.flushdb()
            conn.close()
            return
        conn.close()
    raise RuntimeError("every Redis database 1-14 is claimed by another test run")


@pytest.fixture()
def redis_url(redis_database) -> str:  # noqa: ANN001
    """The run's own Redis database, flushed before and after each test."""
    conn = Redis.from_url(redis_database)
    token = conn.get(REDIS_LOCK)
    conn.flushdb()
    conn.set(REDIS_LOCK, token, ex=6 * 3600)
    yield redis_database
    conn.flushdb()
    conn.set(REDIS_LOCK, token, ex=6 * 3600)
    conn.close()


# --- databases ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    name = f"smsbot_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    from smsbot import migrate

    migrate.upgrade(url)
    yield url
    from smsbot import db

    if db._engine is not None:
        for engine in db.engines():
            engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:  # noqa: ANN001
    """An SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    from smsbot import migrate

    migrate.upgrade(f"sqlite:///{path}")
    return path


def _truncate_postgres(url: str) -> None:
    """Empty every table and restart its ids: DELETE, as TRUNCATE costs a second per test."""
    from sqlmodel import SQLModel

    import smsbot.models  # noqa: F401

    engine = create_engine(url)
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))
        for table in SQLModel.metadata.sorted_tables:
            if "id" in table.c:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), 1, false)"
                    )
                )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:  # noqa: ANN001
    """Each test that touches the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        import shutil

        path = tmp_path / "smsbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


# --- the app ----------------------------------------------------------------------------------


@pytest.fixture()
def app_env(database_url, redis_url, tmp_path) -> dict[str, str]:  # noqa: ANN001
    """Environment for an app (or a worker subprocess) using the local outbox."""
    return {
        "SMSBOT_ENV": "test",
        "SMSBOT_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-0123456789",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "SMSBOT_LOG_LEVEL": "WARNING",
    }


@pytest.fixture()
def app(app_env):  # noqa: ANN001, ANN201
    from app import create_app

    application = create_app(app_env)
    application.config["TESTING"] = True
    with application.app_context():
        yield application


@pytest.fixture()
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


@pytest.fixture()
def fake_twilio():  # noqa: ANN201
    from standins.twilio import FakeTwilio

    server = FakeTwilio(TWILIO_SID, TWILIO_TOKEN)
    server.start()
    yield server
    server.stop()


# --- a live web server in a thread, for callbacks and subprocess workers -------------------


class LiveServer:
    """The app served over real HTTP on a free loopback port (status callbacks need one)."""

    def __init__(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class PathOnly(WSGIRequestHandler):
            """Logs the path without its query string, as `smsbot run`'s gunicorn does: a
            query may carry a phone (the resident phone page, SMSC.ru's GET callbacks)."""

            def log_request(self, code="-", size="-"):  # noqa: ANN001, ANN202
                full = self.path
                self.path = full.split("?", 1)[0]
                try:
                    super().log_request(code, size)
                finally:
                    self.path = full

        self.app = None
        self.refusing = False
        """While True every callback under /sms/ is answered 503, as when our web is down."""
        self.server = make_server(
            "127.0.0.1", 0, self._dispatch, threaded=True, request_handler=PathOnly
        )
        self.url = f"http://127.0.0.1:{self.server.port}"

    def _dispatch(self, environ, start_response):  # noqa: ANN001, ANN202
        if self.refusing and environ.get("PATH_INFO", "").startswith("/sms/"):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down for the test\n"]
        return self.app(environ, start_response)

    def start(self, app) -> LiveServer:  # noqa: ANN001
        import threading

        self.app = app
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def live_server():  # noqa: ANN201
    server = LiveServer()
    yield server
    server.stop()


def twilio_env(fake_url: str) -> dict[str, str]:
    """The TWILIO_* variables of an account at the fake Twilio."""
    return {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_API_BASE_URL": fake_url,
    }


@pytest.fixture()
def live_env(app_env, fake_twilio, live_server):  # noqa: ANN001, ANN201
    """Environment of a service sending through the fake Twilio, with its public URL set."""
    env = {**app_env, "PUBLIC_BASE_URL": live_server.url, **twilio_env(fake_twilio.url)}
    return env, live_server


@pytest.fixture()
def live_app(live_env):  # noqa: ANN001, ANN201
    """The app over HTTP, talking to the fake Twilio through the real SDK."""
    from app import create_app

    env, server = live_env
    application = create_app(env)
    server.start(application)
    with application.app_context():
        yield application


@pytest.fixture()
def demo(app):  # noqa: ANN001, ANN201
    """Demo companies, buildings, accounts and the linked demo phone."""
    from sqlmodel import Session

    from smsbot import db
    from standins import demo

    with Session(db.engine()) as session:
        demo.seed(session)
        session.commit()
    return demo


@pytest.fixture()
def live_demo(live_app):  # noqa: ANN001, ANN201
    from sqlmodel import Session

    from smsbot import db
    from standins import demo

    with Session(db.engine()) as session:
        demo.seed(session)
        session.commit()
    return demo


# --- every provider ------------------------------------------------------------------------


@pytest.fixture(params=PROVIDERS)
def provider(request, live_server):  # noqa: ANN001, ANN201
    """One provider with its stand-in, for tests that must hold for each of them.

    The stand-in calls back the live server (`service`), so callbacks travel real HTTP.
    """
    from tests import support

    if request.param == "twilio":
        standin = support.TwilioStandIn(request.getfixturevalue("fake_twilio"))
        yield standin
        return
    if request.param == "smsc":
        from standins.smsc import FakeSmsc

        callback = f"{live_server.url}/sms/smsc/inbound?charset=utf-8&md5=1"
        with FakeSmsc(SMSC_LOGIN, SMSC_PASSWORD, callback, SMSC_SECRET) as fake:
            yield support.SmscStandIn(fake)
        return
    yield support.OutboxStandIn()


@pytest.fixture()
def service(provider, app_env, live_server):  # noqa: ANN001, ANN201
    """Start the app over HTTP with `provider` and demo data: `service(**more_env)`.

    Returns (app, env); env is what a worker subprocess needs to join it.
    """
    from sqlmodel import Session

    from app import create_app
    from smsbot import db
    from standins import demo

    contexts = []

    def start(**more: str):  # noqa: ANN202
        env = {**app_env, "PUBLIC_BASE_URL": live_server.url, **provider.env, **more}
        application = create_app(env)
        live_server.start(application)
        context = application.app_context()
        context.push()
        contexts.append(context)
        with Session(db.engine()) as session:
            demo.seed(session)
            session.commit()
        return application, env

    yield start
    for context in reversed(contexts):
        context.pop()


def run_jobs(app) -> None:  # noqa: ANN001
    """Run every queued job with a real RQ worker in this process, until the queues are empty."""
    import worker

    worker.build(app).work(burst=True, logging_level="WARNING")
