"""Helpers for tests: signed webhook posts through Flask's test client, demo rows, and
each provider's stand-in behind one face for the tests that run for every provider."""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import event

from smsbot import providers, simulate
from smsbot.providers.twilio import signed_request
from smsbot.runner import _wait_for_port, free_port, redis_executable
from smsbot.simulate import new_provider_id

PUBLIC = "http://127.0.0.1:5000"


def post_signed(
    client, path: str, params: dict[str, str], token: str, *, public: str = PUBLIC, url_path=None
):  # noqa: ANN001, ANN201
    """POST form `params` to `path`, signed for the public URL as Twilio would."""
    data, headers = signed_request(public + (url_path or path), params, token)
    return client.post(path, data=data, headers=headers)


def post_inbound(
    client,
    app,
    body: str,
    *,
    from_phone: str = "+79851234567",
    to_phone: str = "+74951230001",
    sid=None,
    provider: str | None = None,
):  # noqa: ANN001, ANN201
    """A resident's SMS through `provider`'s callback (the default provider's when None)."""
    settings = app.config["SMSBOT_SETTINGS"]
    played = providers.get(settings, provider).simulate_inbound(
        public_base_url=settings.public_base_url,
        from_phone=from_phone,
        to_phone=to_phone,
        text=body,
        provider_id=sid or new_provider_id(),
    )
    response = client.post(played.path, data=played.body, headers=played.headers)
    return _played_id(played), response


def _played_id(played) -> str:  # noqa: ANN001
    from urllib.parse import parse_qs

    fields = parse_qs(played.body.decode())
    return (fields.get("id") or fields.get("MessageSid"))[0]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def outbound_messages(**filters):  # noqa: ANN003, ANN201
    """Our outbound messages, oldest first, optionally filtered by column values."""
    from sqlmodel import Session, select

    from smsbot import db
    from smsbot.models import OUTBOUND, Message

    with Session(db.engine()) as session:
        query = select(Message).where(Message.direction == OUTBOUND)
        for name, value in filters.items():
            query = query.where(getattr(Message, name) == value)
        return list(session.exec(query.order_by(Message.id)))


@contextlib.contextmanager
def listening(name: str, listener):  # noqa: ANN001, ANN201
    """`listener` on the `name` event of every engine of the process's database
    (db.engines: on PostgreSQL, writer's single units have an engine of their own)."""
    from smsbot import db

    engines = db.engines()
    for engine in engines:
        event.listen(engine, name, listener)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, name, listener)


@contextlib.contextmanager
def statements_seen():  # noqa: ANN201
    """[(first word of the statement, whether it ran inside a transaction block)] for each
    statement the database's engines run meanwhile, as the driver saw it right after."""
    seen: list[tuple[str, bool]] = []

    def after(conn, _cursor, statement, *_rest):  # noqa: ANN001, ANN202
        dbapi = conn.connection.dbapi_connection
        if conn.dialect.name == "postgresql":
            from psycopg.pq import TransactionStatus

            inside = dbapi.info.transaction_status != TransactionStatus.IDLE
        else:
            inside = dbapi.in_transaction
        seen.append((statement.split(None, 1)[0].upper(), inside))

    with listening("after_cursor_execute", after):
        yield seen


def die_with_parent() -> None:
    """For processes a test starts (`preexec_fn`): stop when pytest does, however it ends, so
    no orphan worker keeps taking jobs from the Redis database a later test run is given."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# --- the providers' stand-ins behind one face ----------------------------------------------


class StandIn:
    """A provider and its stand-in, as the tests that run for every provider drive them."""

    name: str
    env: dict[str, str] = {}
    """The variables that configure smsbot for this provider's stand-in."""
    calls_back = True
    """Whether the provider reports delivery with callbacks (the outbox delivers at once)."""

    def text(
        self,
        settings: Any,
        body: str,
        *,
        from_phone: str,
        to_phone: str,
        provider_id: str | None = None,
    ) -> str:
        """A resident's SMS through the provider's inbound callback over HTTP; its id."""
        provider_id, response = simulate.post_inbound(
            settings.public_base_url,
            providers.get(settings, self.name),
            from_phone=from_phone,
            to_phone=to_phone,
            body=body,
            provider_id=provider_id or self.new_id(),
        )
        assert response.status_code == 200, response.text
        return provider_id

    def new_id(self) -> str:
        return new_provider_id()

    def sent(self, to: str) -> list[dict]:
        """Every message the provider took for `to`, oldest first."""
        raise NotImplementedError

    def sent_id(self, record: dict) -> str:
        """The provider id smsbot stores (Message.external_id) for one of `sent`."""
        return record["sid"]

    def slow_next(self, seconds: float, *, lost: bool = False) -> None:
        """The next send is answered only after `seconds`; `lost`: never, and not kept."""
        raise NotImplementedError(f"{self.name} cannot be slow")


class TwilioStandIn(StandIn):
    """standins/twilio.py: the Messages API and signed status callbacks."""

    name = "twilio"

    def __init__(self, fake: Any):
        from tests.conftest import twilio_env

        self.fake = fake
        self.env = twilio_env(fake.url)

    def sent(self, to: str) -> list[dict]:
        return self.fake.messages(to=to)

    def slow_next(self, seconds: float, *, lost: bool = False) -> None:
        self.fake.fail_next("lost" if lost else "slow", seconds=seconds)


class SmscStandIn(StandIn):
    """standins/smsc.py: send.php, status.php, and calls to our handler URL."""

    name = "smsc"

    def __init__(self, fake: Any):
        from tests.conftest import SMSC_LOGIN, SMSC_PASSWORD, SMSC_SECRET, SMSC_SENDER

        self.fake = fake
        self.env = {
            "SMSC_LOGIN": SMSC_LOGIN,
            "SMSC_PASSWORD": SMSC_PASSWORD,
            "SMSC_SENDER": SMSC_SENDER,
            "SMSC_API_URL": fake.url,
            "SMSC_CALLBACK_SECRET": SMSC_SECRET,
        }
        self._ids = itertools.count(700_000_001)

    def text(self, settings: Any, body: str, *, from_phone: str, to_phone: str, provider_id: str | None = None) -> str:  # fmt: skip
        if provider_id is not None:  # the same callback again: played by smsbot's own signer
            return super().text(
                settings, body, from_phone=from_phone, to_phone=to_phone, provider_id=provider_id
            )
        status, answer = self.fake.send_mo(from_phone, to_phone, body)  # the stand-in signs
        assert status == 200, answer
        return self.fake.received[-1]["id"]

    def new_id(self) -> str:
        return str(next(self._ids))  # SMSC.ru's ids are numbers

    def sent(self, to: str) -> list[dict]:
        return [m for m in self.fake.sent if m["phone"] == to.lstrip("+")]

    def sent_id(self, record: dict) -> str:
        return f"{record['id']}/{record['phone']}"

    def slow_next(self, seconds: float, *, lost: bool = False) -> None:
        self.fake.slow_seconds = seconds
        self.fake.fail_next("lost" if lost else "slow")


class OutboxStandIn(StandIn):
    """The local outbox: a Redis list, delivered the moment it is written."""

    name = "outbox"
    calls_back = False

    def sent(self, to: str) -> list[dict]:
        from smsbot.providers import outbox

        return [m for m in reversed(outbox.messages(limit=10_000)) if m["to"] == to]


# --- outages: a Redis and a database link of the test's own, to stop and start -----------------


class OwnRedis:
    """A redis-server of this test's own, so it can be stopped without hurting others (the
    machine's Redis at 6379 serves every other session). Restarted on the same port, empty,
    as a Redis without persistence comes back."""

    def __init__(self, directory: Any) -> None:
        self.port = free_port()
        self.directory = directory
        self.executable = redis_executable()
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port, "test Redis")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class CuttableLink:
    """A TCP relay to a server (PostgreSQL) that the test can cut and restore, so the server
    seems to go down without being touched: while cut, the port refuses connections and
    every relayed connection is closed."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[Any] = []
        self._listener: Any = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        if self._listener is not None:
            self.cut()

    def url_for(self, url: str) -> str:
        """`url` (a database URL) through this link."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _accept(self, listener: Any) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: Any, sink: Any) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
