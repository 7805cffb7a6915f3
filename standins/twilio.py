"""A local, Twilio-compatible stand-in for the Messages API.

Why: development, tests and benchmarks must run without internet and without spending money,
yet exercise the same code production runs, i.e. the real twilio SDK (see
:func:`smsbot.providers.twilio.client.make_client`) and real, signed status callbacks. So this
server speaks Twilio's wire format: form-encoded creates with HTTP Basic auth, Twilio's
resource, list-page and error JSON, and ``X-Twilio-Signature``-signed status callbacks.
It also injects the failures we must survive (5xx, 429, unsubscribed recipients, slow
answers, requests lost before Twilio stored them, undelivered/failed deliveries), from Python or over HTTP under ``/_fake/``.

Why it is built this way: a benchmark pushes ~500 messages/s through it on two cores, so
the request path is a plain ``http.server`` handler with keep-alive and one write per
response, callbacks go through a bounded queue served by a fixed pool of worker threads
(each with its own keep-alive connections; delays and retries wait in a timer heap instead
of blocking a worker), and only the most recent ``max_messages`` messages are kept so
memory stays flat in long runs.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import math
import os
import queue
import re
import socket
import ssl
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
FAILURE_KINDS = ("500", "429", "21610", "21211", "slow", "lost", "undelivered", "failed")
"""What :meth:`FakeTwilio.fail_next` can inject into the next creates."""

MAX_BODY_CHARS = 1600
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token"

_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
_SHORT_CODE_RE = re.compile(r"^\d{3,8}$")
_ALPHA_SENDER_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_MG_SID_RE = re.compile(r"^MG[0-9a-fA-F]{32}$")
_LIST_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_ONE_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)\.json$")

_DELIVERY_ERRORS = {
    "undelivered": (30003, "Unreachable destination handset"),
    "failed": (30008, "Unknown error"),
}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --------------------------------------------------------------------------- helpers


def _rfc2822(ts: float) -> str:
    """Twilio's date format, e.g. ``Thu, 30 Jul 2015 20:12:31 +0000`` (locale independent)."""
    t = time.gmtime(ts)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def mask_phone(number: str | None) -> str:
    """Keep logs free of residents' full phone numbers: ``+7*******67``."""
    if not number:
        return "-"
    if len(number) <= 5:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
_measure_cache: list[Callable[[str], Any] | None] = []


def _fallback_segments(text: str) -> int:
    """GSM-7 / UCS-2 segment count, used only while ``smsbot.segments`` is unavailable."""
    septets = 0
    for ch in text:
        if ch in _GSM_BASIC:
            septets += 1
        elif ch in _GSM_EXTENDED:
            septets += 2
        else:
            units = len(text.encode("utf-16-le")) // 2
            return 1 if units <= 70 else math.ceil(units / 67)
    return 1 if septets <= 160 else math.ceil(septets / 153)


def count_segments(text: str) -> int:
    """Segments Twilio would bill for ``text``; prefers the project's ``smsbot.segments``."""
    if not _measure_cache:
        try:
            from smsbot.segments import measure
        except Exception:  # not written yet, or broken: the local count is good enough
            _measure_cache.append(None)
        else:
            _measure_cache.append(measure)
    measure_fn = _measure_cache[0]
    if measure_fn is not None:
        try:
            return max(1, int(measure_fn(text).segments))
        except Exception:
            log.debug("smsbot.segments.measure failed; using the local count", exc_info=True)
    return _fallback_segments(text)


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature``: base64(HMAC-SHA1(token, url + sorted key+value))."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    mac = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _parse_date_filter(value: str) -> tuple[float, bool]:
    """``(unix seconds, is_date_only)`` from ``YYYY-MM-DD`` or an ISO 8601 datetime (UTC)."""
    value = value.strip()
    if len(value) == 10:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        return day.timestamp(), True
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return float(int(moment.timestamp())), False


class _Response:
    __slots__ = ("status", "body", "headers", "after", "note")

    def __init__(
        self,
        status: int,
        payload: Any,
        headers: Iterable[tuple[str, str]] = (),
        after: Callable[[], None] | None = None,
        note: str = "",
    ):
        self.status = status
        self.body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.headers = tuple(headers)
        self.after = after
        self.note = note


def _twilio_error(status: int, code: int, message: str, **extra: Any) -> _Response:
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = extra.pop("headers", ())
    payload.update(extra)
    return _Response(status, payload, headers=headers, note=f"error {code}")


class _Rule:
    __slots__ = ("kind", "remaining", "to", "seconds")

    def __init__(self, kind: str, remaining: int, to: str | None, seconds: float | None):
        self.kind = kind
        self.remaining = remaining
        self.to = to
        self.seconds = seconds

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.remaining, "to": self.to}


class _Message:
    """One accepted message: Twilio's resource JSON plus what the fake needs on the side."""

    __slots__ = ("resource", "created_at", "status_callback", "outcome")

    def __init__(
        self, resource: dict[str, Any], created_at: float, callback: str | None, outcome: str
    ):
        self.resource = resource
        self.created_at = created_at
        self.status_callback = callback
        self.outcome = outcome  # delivered | undelivered | failed

    def public(self) -> dict[str, Any]:
        r = self.resource
        return {
            "sid": r["sid"],
            "account_sid": r["account_sid"],
            "to": r["to"],
            "from": r["from"],
            "messaging_service_sid": r["messaging_service_sid"],
            "body": r["body"],
            "status": r["status"],
            "num_segments": int(r["num_segments"]),
            "error_code": r["error_code"],
            "status_callback": self.status_callback,
            "created_at": self.created_at,
        }


class _Delivery:
    """The status-callback steps of one message, run in order by one worker at a time."""

    __slots__ = ("message", "steps", "index", "attempt", "generation")

    def __init__(self, message: _Message, steps: list[str], generation: int):
        self.message = message
        self.steps = steps
        self.index = 0
        self.attempt = 0
        self.generation = generation


class _KeepAliveSession:
    """One callback worker's keep-alive connections, one per callback host.

    Plain ``http.client`` rather than a ``requests.Session``: measured at ~0.3 ms CPU per
    callback against ~0.75 ms, which is most of this process's budget at 500 messages/s
    (two callbacks per message). Not thread-safe; each worker owns one.
    """

    MAX_HOSTS = 8

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._connections: OrderedDict[tuple[str, str, int | None], http.client.HTTPConnection]
        self._connections = OrderedDict()
        self._tls: ssl.SSLContext | None = None

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` to ``url``; returns the HTTP status (raises OSError/HTTPException)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        key = (parts.scheme, parts.hostname, parts.port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        while True:
            conn = self._connections.get(key)
            reused = conn is not None
            if conn is None:
                conn = self._connect(*key)
            try:
                conn.request("POST", target, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
            except (
                http.client.RemoteDisconnected,
                ConnectionResetError,
                BrokenPipeError,
                ConnectionAbortedError,
            ):
                self._drop(key, conn)
                if reused:
                    continue  # the server closed an idle keep-alive connection: once more, fresh
                raise
            except BaseException:
                self._drop(key, conn)
                raise
            if answer.will_close:
                self._drop(key, conn)
            else:
                self._connections[key] = conn
                self._connections.move_to_end(key)
                while len(self._connections) > self.MAX_HOSTS:
                    self._connections.popitem(last=False)[1].close()
            return answer.status

    def _connect(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._tls)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _drop(self, key: tuple[str, str, int | None], conn: http.client.HTTPConnection) -> None:
        conn.close()
        if self._connections.get(key) is conn:
            del self._connections[key]

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


# --------------------------------------------------------------------------- HTTP layer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmark bursts open many connections at once

    def __init__(self, address: tuple[str, int], fake: FakeTwilio):
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake the threads parked on idle keep-alive connections so stop() is prompt."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake twilio: connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK and benchmarks reuse connections
    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection frees its thread after this
    server: _Server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one INFO line per request is logged by _dispatch instead

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        started = time.perf_counter()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            if length < 0:
                self.close_connection = True
                resp = _twilio_error(400, 20001, "Invalid Content-Length")
            else:
                resp = fake._handle(method, self.path, self.headers.get("Authorization"), raw)
        except Exception:
            log.exception("fake twilio: error handling %s %s", method, self.path.split("?")[0])
            resp = _twilio_error(500, 20500, "Internal Server Error")
        if resp is None:
            self.close_connection = True
            return
        try:
            phrase = HTTPStatus(resp.status).phrase
        except ValueError:
            phrase = ""
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s -> %d%s (%.1f ms)",
                method,
                self.path.split("?")[0],
                resp.status,
                f" {resp.note}" if resp.note else "",
                (time.perf_counter() - started) * 1000,
            )
        head = [
            f"HTTP/1.1 {resp.status} {phrase}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(resp.body)}",
        ]
        head.extend(f"{k}: {v}" for k, v in resp.headers)
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body)
        if resp.after is not None:
            resp.after()


# --------------------------------------------------------------------------- the fake


class FakeTwilio:
    """Twilio Messages API stand-in; see the module docstring.

    ``with FakeTwilio(sid, token) as fake:`` starts it on a free port (``fake.url``); point
    the SDK at it with ``make_client(sid, token, fake.url)``.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_delay: float = 0.0,
        callback_threads: int = 4,
        *,
        max_messages: int = 100_000,
        slow_seconds: float = 3.0,
        callback_retries: int = 2,
        callback_timeout: float = 5.0,
        callback_queue_size: int = 10_000,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callback_delay = float(callback_delay)
        self.callback_threads = max(1, int(callback_threads))
        self.max_messages = max(1, int(max_messages))
        self.slow_seconds = float(slow_seconds)
        self.callback_retries = max(0, int(callback_retries))
        self.callback_timeout = float(callback_timeout)

        self._server = _Server((host, port), self)
        bound_host, bound_port = self._server.server_address[:2]
        self.host = str(bound_host)
        self.port = int(bound_port)

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages: OrderedDict[str, _Message] = OrderedDict()
        self._count_by_to: dict[str, int] = {}
        self._rules: list[_Rule] = []
        self._generation = 0
        self._stats = dict.fromkeys(
            ("created", "rejected", "callbacks_ok", "callback_errors", "callbacks_dropped"), 0
        )

        self._queue: queue.Queue[_Delivery | None] = queue.Queue(maxsize=callback_queue_size)
        self._heap: list[tuple[float, int, _Delivery]] = []
        self._heap_cond = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._serve_thread: threading.Thread | None = None
        self._serving = False
        self._stopping = False

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Base URL to hand to ``make_client``, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeTwilio:
        """Serve in a background thread; returns self."""
        self._start_workers()
        self._serving = True
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-twilio-http",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (for the CLI)."""
        self._start_workers()
        self._serving = True
        try:
            self._server.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            log.info("fake twilio: interrupted")
        finally:
            self._serving = False
            self.stop()

    def stop(self) -> None:
        """Stop serving, close connections and the callback workers (pending callbacks drop)."""
        if self._stopping:
            return
        self._stopping = True
        if self._serving:
            self._serving = False
            self._server.shutdown()
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=5)
        self._server.close_connections()
        self._server.server_close()
        with self._heap_cond:
            self._heap.clear()
            self._heap_cond.notify_all()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(timeout=self.callback_timeout + 1)
        self._threads.clear()
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_workers(self) -> None:
        if self._threads:
            return
        for i in range(self.callback_threads):
            thread = threading.Thread(
                target=self._worker, name=f"fake-twilio-callback-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        timer = threading.Thread(target=self._timer, name="fake-twilio-timer", daemon=True)
        timer.start()
        self._threads.append(timer)

    # ----------------------------------------------------------------- Python control API

    def fail_next(
        self, kind: str, count: int = 1, to: str | None = None, *, seconds: float | None = None
    ) -> None:
        """Make the next ``count`` valid creates (to ``to`` only, if given) fail as ``kind``.

        Kinds: ``"500"``, ``"429"``, ``"21610"``, ``"21211"`` (error answers), ``"slow"``
        (answer after ``seconds`` or :attr:`slow_seconds`), ``"lost"`` (after as long, close
        the connection unanswered and keep nothing: the request never reached Twilio's store),
        ``"undelivered"`` / ``"failed"``
        (accepted with 201, then the delivery fails: error 30003 / 30008).
        """
        kind = str(kind)
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; expected one of {FAILURE_KINDS}")
        if int(count) < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._rules.append(_Rule(kind, int(count), to or None, seconds))

    def pending_failures(self) -> list[dict[str, Any]]:
        """The failure rules not used up yet."""
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Snapshot of accepted messages (oldest first), optionally only those to ``to``.

        Each dict: sid, account_sid, to, from, messaging_service_sid, body, status,
        num_segments (int), error_code, status_callback, created_at (unix float).
        """
        with self._lock:
            return [
                m.public() for m in self._messages.values() if to is None or m.resource["to"] == to
            ]

    def message(self, sid: str) -> dict[str, Any] | None:
        """One message by SID (same shape as :meth:`messages`), or None."""
        with self._lock:
            found = self._messages.get(sid)
            return found.public() if found is not None else None

    def stats(self) -> dict[str, int]:
        """Counters since the last reset: created, rejected, callbacks_ok/errors/dropped."""
        with self._lock:
            return dict(self._stats, stored=len(self._messages), callback_queue=self._queue.qsize())

    def reset(self) -> None:
        """Forget all messages, failure rules and counters; pending callbacks are dropped."""
        with self._changed:
            self._messages.clear()
            self._count_by_to.clear()
            self._rules.clear()
            self._generation += 1
            for key in self._stats:
                self._stats[key] = 0
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float = 10.0
    ) -> Any:
        """Wait until ``predicate(self.messages())`` is truthy and return its value.

        Re-evaluated on every new message or status change; O(messages) each time, so use
        :meth:`wait_for_messages` for big counts.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate([m.public() for m in self._messages.values()])
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    raise TimeoutError(f"fake twilio: condition not met within {timeout:g}s")
                self._changed.wait(remaining)

    def wait_for_messages(
        self, n: int, to: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``n`` messages (to ``to``, if given) were accepted; return them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                have = len(self._messages) if to is None else self._count_by_to.get(to, 0)
                if have >= n:
                    return [
                        m.public()
                        for m in self._messages.values()
                        if to is None or m.resource["to"] == to
                    ]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    who = f" to {mask_phone(to)}" if to else ""
                    raise TimeoutError(
                        f"fake twilio: expected {n} message(s){who} within {timeout:g}s, got {have}"
                    )
                self._changed.wait(remaining)

    def wait_for_status(
        self, sid: str, status: str | Iterable[str], timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until message ``sid`` reaches ``status`` (or one of several); return it."""
        wanted = {status} if isinstance(status, str) else set(status)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self._messages.get(sid)
                if found is not None and found.resource["status"] in wanted:
                    return found.public()
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    now = found.resource["status"] if found is not None else "unknown sid"
                    raise TimeoutError(
                        f"fake twilio: {sid} not in {sorted(wanted)} within {timeout:g}s (is {now})"
                    )
                self._changed.wait(remaining)

    # ----------------------------------------------------------------- HTTP routing

    def _handle(
        self, method: str, target: str, authorization: str | None, raw: bytes
    ) -> _Response | None:
        """The answer to one request; None: close the connection without one ("lost")."""
        path, _, query = target.partition("?")
        if path.startswith("/_fake/"):
            return self._handle_control(method, path, query, raw)
        list_match = _LIST_RE.match(path)
        one_match = None if list_match else _ONE_RE.match(path)
        if list_match is None and one_match is None:
            return _twilio_error(404, 20404, f"The requested resource {path} was not found")
        if not self._authorized(authorization):
            return _twilio_error(
                401,
                20003,
                "Authenticate",
                detail="Your AccountSid or AuthToken was incorrect.",
                headers=[("WWW-Authenticate", 'Basic realm="Twilio API"')],
            )
        match = list_match or one_match
        assert match is not None
        if match.group(1) != self.account_sid:
            return _twilio_error(404, 20404, f"The requested resource {path} was not found")
        if list_match is not None:
            if method == "POST":
                return self._create(raw)
            if method == "GET":
                return self._list(path, query)
        elif method == "GET":
            return self._fetch(one_match.group(2))  # type: ignore[union-attr]
        return _twilio_error(405, 20004, "Method not allowed")

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        sid, _, token = decoded.partition(b":")
        ok_sid = hmac.compare_digest(sid, self.account_sid.encode("utf-8"))
        ok_token = hmac.compare_digest(token, self.auth_token.encode("utf-8"))
        return ok_sid and ok_token

    # ----------------------------------------------------------------- Messages resource

    def _create(self, raw: bytes) -> _Response | None:
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)

        def field(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        to, from_, service = field("To"), field("From"), field("MessagingServiceSid")
        body, callback = field("Body"), field("StatusCallback")
        rejected = self._validate(to, from_, service, body, callback, form)
        if rejected is not None:
            with self._lock:
                self._stats["rejected"] += 1
            return rejected
        assert to is not None

        rule = self._take_rule(to)
        outcome = "delivered"
        if rule is not None:
            if rule.kind == "500":
                return _twilio_error(500, 20500, "Internal Server Error")
            if rule.kind == "429":
                return _twilio_error(
                    429, 20429, "Too Many Requests", headers=[("Retry-After", "1")]
                )
            if rule.kind == "21610":
                return _twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
            if rule.kind == "21211":
                return _twilio_error(
                    400, 21211, f"The 'To' number {to} is not a valid phone number."
                )
            if rule.kind in ("slow", "lost"):
                time.sleep(self.slow_seconds if rule.seconds is None else rule.seconds)
            if rule.kind == "lost":
                return None
            else:
                outcome = rule.kind

        now = time.time()
        stamp = _rfc2822(now)
        sid = "SM" + uuid.uuid4().hex
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body or "",
            "date_created": stamp,
            "date_sent": stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": service or None,
            "num_media": "0",
            "num_segments": str(count_segments(body or "")),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": to,
            "uri": f"{uri}.json",
        }
        message = _Message(resource, now, callback or None, outcome)
        with self._changed:
            self._messages[sid] = message
            self._count_by_to[to] = self._count_by_to.get(to, 0) + 1
            while len(self._messages) > self.max_messages:
                _, old = self._messages.popitem(last=False)
                old_to = old.resource["to"]
                left = self._count_by_to.get(old_to, 1) - 1
                if left > 0:
                    self._count_by_to[old_to] = left
                else:
                    self._count_by_to.pop(old_to, None)
            self._stats["created"] += 1
            generation = self._generation
            response = _Response(201, resource)  # serialised before any status change
            self._changed.notify_all()

        if callback:
            steps = ["failed"] if outcome == "failed" else ["sent", outcome]
            delivery = _Delivery(message, steps, generation)
            response.after = lambda: self._enqueue(delivery, wait=5.0)
        else:  # nobody to tell: it reaches its final status at once (the answer said queued)
            self._set_status(message, outcome)
        response.note = f"{sid} to={mask_phone(to)}" + (
            "" if outcome == "delivered" else f" will be {outcome}"
        )
        return response

    @staticmethod
    def _validate(
        to: str | None,
        from_: str | None,
        service: str | None,
        body: str | None,
        callback: str | None,
        form: dict[str, list[str]],
    ) -> _Response | None:
        if not to:
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not _E164_RE.match(to):
            return _twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not from_ and not service:
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if from_ and not (
            _E164_RE.match(from_) or _SHORT_CODE_RE.match(from_) or _ALPHA_SENDER_RE.match(from_)
        ):
            return _twilio_error(
                400,
                21212,
                f"The 'From' number {from_} is not a valid phone number, shortcode, "
                "or alphanumeric sender ID.",
            )
        if service and not _MG_SID_RE.match(service):
            return _twilio_error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
            return _twilio_error(400, 21602, "Message body is required.")
        if body and len(body) > MAX_BODY_CHARS:
            return _twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if callback and urlsplit(callback).scheme not in ("http", "https"):
            return _twilio_error(
                400, 21609, f"The StatusCallback URL {callback} is not a valid URL."
            )
        return None

    def _take_rule(self, to: str) -> _Rule | None:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.to is None or rule.to == to:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self._rules[i]
                    return rule
        return None

    def _fetch(self, sid: str) -> _Response:
        with self._lock:
            found = self._messages.get(sid)
            if found is not None:
                return _Response(200, found.resource, note=sid)
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        return _twilio_error(404, 20404, f"The requested resource {path} was not found")

    def _list(self, path: str, query: str) -> _Response:
        args = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            page_size = min(max(int(args.get("PageSize", 50)), 1), 1000)
            page = max(int(args.get("Page", 0)), 0)
        except ValueError:
            return _twilio_error(400, 20001, "Invalid PageSize or Page")
        want_to, want_from = args.get("To") or None, args.get("From") or None
        checks: list[Callable[[float], bool]] = []
        try:
            for key in ("DateSent", "DateSent>", "DateSent<"):
                if args.get(key):
                    checks.append(self._date_check(key, args[key]))
        except ValueError:
            return _twilio_error(400, 20001, "Invalid value for a DateSent filter")

        skip = page * page_size
        found: list[dict[str, Any]] = []
        more = False
        with self._lock:
            for m in reversed(self._messages.values()):  # newest first, like Twilio
                r = m.resource
                if want_to is not None and r["to"] != want_to:
                    continue
                if want_from is not None and r["from"] != want_from:
                    continue
                if checks and not all(check(m.created_at) for check in checks):
                    continue
                if skip:
                    skip -= 1
                    continue
                if len(found) == page_size:
                    more = True
                    break
                found.append(dict(r))

        filters = {
            k: args[k] for k in ("To", "From", "DateSent", "DateSent>", "DateSent<") if args.get(k)
        }

        def page_uri(n: int) -> str:
            return f"{path}?{urlencode({**filters, 'PageSize': page_size, 'Page': n})}"

        start = page * page_size
        payload = {
            "end": start + max(len(found) - 1, 0),
            "first_page_uri": page_uri(0),
            "messages": found,
            "next_page_uri": page_uri(page + 1) if more else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }
        return _Response(200, payload, note=f"{len(found)} message(s)")

    @staticmethod
    def _date_check(key: str, value: str) -> Callable[[float], bool]:
        """Twilio's DateSent filters: ``DateSent>`` means on/after, ``DateSent<`` on/before."""
        ts, date_only = _parse_date_filter(value)
        if key == "DateSent":  # a day; the SDK sends a date as YYYY-MM-DDT00:00:00Z
            day = ts - ts % 86400
            return lambda t: day <= t < day + 86400
        if key == "DateSent>":
            return (lambda t: t >= ts) if date_only else (lambda t: int(t) >= ts)
        return (lambda t: t < ts + 86400) if date_only else (lambda t: int(t) <= ts)

    # ----------------------------------------------------------------- /_fake/ control API

    def _handle_control(self, method: str, path: str, query: str, raw: bytes) -> _Response:
        if path == "/_fake/health" and method == "GET":
            return _Response(200, {"status": "ok", **self.stats()})
        if path == "/_fake/messages" and method == "GET":
            to = parse_qs(query).get("to", [None])[0]
            to = to.replace(" ", "+") if to else None  # an unencoded "+" arrives as a space
            return _Response(200, self.messages(to))
        if path == "/_fake/messages" and method == "DELETE":
            self.reset()
            return _Response(200, {"ok": True}, note="reset")
        if path == "/_fake/fail" and method == "POST":
            try:
                spec = json.loads(raw or b"{}")
                self.fail_next(
                    str(spec["kind"]),
                    int(spec.get("count", 1)),
                    spec.get("to"),
                    seconds=spec.get("seconds"),
                )
            except (ValueError, KeyError, TypeError) as exc:
                return _Response(400, {"error": f"bad failure rule: {exc}"})
            return _Response(
                200,
                {"ok": True, "rules": self.pending_failures()},
                note=f"fail {spec['kind']} x{spec.get('count', 1)}",
            )
        return _Response(404, {"error": f"no such control endpoint: {method} {path}"})

    # ----------------------------------------------------------------- status callbacks

    def _set_status(self, message: _Message, status: str) -> None:
        with self._changed:
            r = message.resource
            r["status"] = status
            r["date_updated"] = _rfc2822(time.time())
            if status in _DELIVERY_ERRORS:
                r["error_code"], r["error_message"] = _DELIVERY_ERRORS[status]
            self._changed.notify_all()

    def _enqueue(self, delivery: _Delivery, wait: float) -> None:
        deadline = time.monotonic() + wait
        if self._stopping:
            return
        while not self._stopping:
            try:
                self._queue.put(delivery, timeout=min(0.5, max(deadline - time.monotonic(), 0)))
                return
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        with self._lock:
            self._stats["callbacks_dropped"] += 1
        log.warning(
            "fake twilio: callback queue full, dropped callbacks for %s",
            delivery.message.resource["sid"],
        )

    def _schedule(self, due: float, delivery: _Delivery) -> None:
        with self._heap_cond:
            heapq.heappush(self._heap, (due, next(self._seq), delivery))
            self._heap_cond.notify()

    def _timer(self) -> None:
        """Move deliveries whose delay or retry backoff is over back onto the queue."""
        while True:
            with self._heap_cond:
                while not self._stopping:
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._heap_cond.wait(wait)
                    else:
                        self._heap_cond.wait()
                if self._stopping:
                    return
                due = []
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
            for delivery in due:
                self._enqueue(delivery, wait=60.0)

    def _worker(self) -> None:
        session = _KeepAliveSession(self.callback_timeout)
        try:
            while True:
                delivery = self._queue.get()
                if delivery is None or self._stopping:
                    return
                try:
                    self._run(session, delivery)
                except Exception:
                    log.exception("fake twilio: callback worker error")
        finally:
            session.close()

    def _run(self, session: _KeepAliveSession, delivery: _Delivery) -> None:
        """Post the delivery's remaining callbacks in order; waits go to the timer heap."""
        message = delivery.message
        while delivery.index < len(delivery.steps):
            if delivery.generation != self._generation or self._stopping:
                return  # reset() or stop() since the message was created
            status = delivery.steps[delivery.index]
            if delivery.attempt == 0:
                self._set_status(message, status)
            ok = self._post_callback(session, message, status)
            if not ok and delivery.attempt < self.callback_retries:
                delivery.attempt += 1
                self._schedule(time.monotonic() + 0.2 * 4 ** (delivery.attempt - 1), delivery)
                return
            if not ok:
                with self._lock:
                    self._stats["callbacks_dropped"] += 1
                log.warning(
                    "fake twilio: dropped %s callback for %s after %d attempts",
                    status,
                    message.resource["sid"],
                    delivery.attempt + 1,
                )
            delivery.index += 1
            delivery.attempt = 0
            if delivery.index < len(delivery.steps) and self.callback_delay > 0:
                self._schedule(time.monotonic() + self.callback_delay, delivery)
                return

    def _post_callback(self, session: _KeepAliveSession, message: _Message, status: str) -> bool:
        r = message.resource
        url = message.status_callback
        assert url is not None
        params = {
            "AccountSid": r["account_sid"],
            "ApiVersion": API_VERSION,
            "MessageSid": r["sid"],
            "MessageStatus": status,
            "SmsSid": r["sid"],
            "SmsStatus": status,
            "To": r["to"],
        }
        if r["from"]:
            params["From"] = r["from"]
        if r["messaging_service_sid"]:
            params["MessagingServiceSid"] = r["messaging_service_sid"]
        if status in _DELIVERY_ERRORS:
            params["ErrorCode"] = str(_DELIVERY_ERRORS[status][0])
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Twilio-Signature": sign(self.auth_token, url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            code = session.post(url, urlencode(params).encode("utf-8"), headers)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            ok, why = False, f"{type(exc).__name__}: {exc}"
        else:
            if code >= 500 or code == 429:
                ok, why = False, f"HTTP {code}"
            else:
                ok, why = True, ""
                if code >= 400:
                    log.warning(
                        "fake twilio: %s callback for %s answered HTTP %d", status, r["sid"], code
                    )
        with self._lock:
            self._stats["callbacks_ok" if ok else "callback_errors"] += 1
        if not ok:
            log.info("fake twilio: %s callback for %s failed (%s)", status, r["sid"], why)
        return ok


# --------------------------------------------------------------------------- CLI


def serve(
    host: str = "127.0.0.1",
    port: int = 8081,
    account_sid: str = DEFAULT_ACCOUNT_SID,
    auth_token: str = DEFAULT_AUTH_TOKEN,
    callback_delay: float = 0.0,
    **options: Any,
) -> None:
    """Run a FakeTwilio in the foreground until Ctrl-C (what ``smsbot fake-twilio`` calls).

    ``options`` go to :class:`FakeTwilio` (callback_threads, max_messages, slow_seconds...).
    """
    fake = FakeTwilio(
        account_sid, auth_token, host=host, port=port, callback_delay=callback_delay, **options
    )
    log.info(
        "fake twilio: serving %s for account %s (callback delay %gs)",
        fake.url,
        account_sid,
        callback_delay,
    )
    fake.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """``python -m standins.twilio --port 8081``."""
    parser = argparse.ArgumentParser(prog="fake-twilio", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID") or DEFAULT_ACCOUNT_SID
    )
    parser.add_argument(
        "--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN") or DEFAULT_AUTH_TOKEN
    )
    parser.add_argument(
        "--callback-delay",
        type=float,
        default=0.0,
        help="seconds between the sent and delivered callbacks",
    )
    parser.add_argument("--callback-threads", type=int, default=4)
    parser.add_argument("--max-messages", type=int, default=100_000)
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING if args.quiet else logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
        )
    serve(
        args.host,
        args.port,
        args.account_sid,
        args.auth_token,
        args.callback_delay,
        callback_threads=args.callback_threads,
        max_messages=args.max_messages,
        slow_seconds=args.slow_seconds,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
