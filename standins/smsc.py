"""A local stand-in for SMSC.ru's HTTP API and its calls to the client's handler URL.

Why: tests and demos must exercise smsbot's real SMSC.ru client over real HTTP without the
internet or money. This server speaks SMSC.ru's protocol as its pages describe it (URLs in
smsbot/providers/smsc/__init__.py): `/sys/send.php` and `/sys/status.php` over GET or POST,
login+psw or apikey, answers in fmt 0, 1, 2 or 3 with SMSC.ru's error codes, and calls to
the handler URL for each delivery status and for each SMS a resident sends to the dedicated
number, form-encoded in the charset the handler URL names (windows-1251 by default) and
hashed with the account's secret when the URL names md5 or sha1.

It is written apart from the plug-in (it imports nothing from smsbot) so the two cannot
share a bug. Failures to inject (`fail_next`, or POST /_fake/fail {"kind", "count"}):
an SMSC.ru error code "1".."9", "500", "slow" (takes the message, answers after
`slow_seconds`), "drop" (takes the message, closes the connection unanswered), "lost"
(after `slow_seconds` closes the connection unanswered and keeps nothing: the request never
reached SMSC.ru's store) and "undelivered" (status 20 with error 1 instead of delivered).

    with FakeSmsc("login", "password", callback_url, secret) as smsc:
        ...  # point SMSC_API_URL at smsc.url; smsc.send_mo(...) plays a resident

    python -m standins.smsc --port 8082 --callback-url 'http://127.0.0.1:5000/sms/smsc/inbound?charset=utf-8&md5=x'
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import os
import queue
import re
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)

ERRORS = {
    1: "Ошибка в параметрах.",
    2: "Неверный логин или пароль.",
    3: "Недостаточно средств на счете Клиента.",
    4: "IP-адрес временно заблокирован из-за частых ошибок в запросах.",
    5: "Неверный формат даты.",
    6: "Сообщение запрещено (по тексту или по имени отправителя).",
    7: "Неверный формат номера телефона.",
    8: "Сообщение на указанный номер не может быть доставлено.",
    9: "Отправка более одного одинакового запроса на передачу SMS-сообщения в течение минуты.",
}
"""send.php's error codes, as its "Ответ сервера и коды ошибок" page words them."""
ERRORS_WITH_ID = {3, 6, 7, 8}
"""Errors whose answer also carries the message id (the page's second form)."""
FAILURE_KINDS = (*map(str, ERRORS), "500", "slow", "drop", "lost", "undelivered")
CHARSETS = {"utf-8": "utf-8", "windows-1251": "cp1251", "koi8-r": "koi8_r"}
MAX_ID = 2_147_483_647
_PHONE = re.compile(r"^\+?[1-9][0-9]{9,14}$")
_GSM = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def parts(text: str) -> int:
    """How many SMS a text takes (GSM-7 160/153, UCS-2 70/67), as the `cnt` SMSC.ru returns."""
    if set(text) <= _GSM:
        return 1 if len(text) <= 160 else -(-len(text) // 153)
    return 1 if len(text) <= 70 else -(-len(text) // 67)


def signature(algorithm: str, text: str, codec: str) -> str:
    if algorithm == "crc32":
        return format(zlib.crc32(text.encode(codec, "replace")), "x")
    return hashlib.new(algorithm, text.encode(codec, "replace")).hexdigest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeSmsc):
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the plug-in's session expects
    timeout = 60
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        # The request line's query holds what SMSC.ru would see (numbers, texts, the
        # password): logged as the path alone, as smsbot's own logs would.
        log.debug("smsc stand-in: %s %s", self.command, self.path.split("?")[0])

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        answer = self.server.fake.handle(path, query, body, self.headers.get("Content-Type", ""))
        if answer is None:  # "drop": the message was taken, the answer never comes
            self.close_connection = True
            return
        status, content_type, text = answer
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeSmsc:
    """SMSC.ru for one account; see the module docstring."""

    def __init__(
        self,
        login: str = "fake-login",
        password: str = "fake-password",
        callback_url: str | None = None,
        secret: str = "fake-smsc-secret-0001",
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        slow_seconds: float = 3.0,
        callback_delay: float = 0.0,
    ):
        self.login, self.password, self.api_key = login, password, api_key
        self.callback_url = callback_url
        self.secret = secret
        self.slow_seconds = slow_seconds
        self.callback_delay = callback_delay
        self.sent: list[dict[str, Any]] = []
        """Every message taken, oldest first: id, phone, mes, sender, cnt, status, err."""
        self.received: list[dict[str, Any]] = []
        """Every resident's SMS played with send_mo, with the handler's answer."""
        self.callbacks: list[tuple[dict[str, str], int]] = []
        """Every call to the handler URL: its fields and the HTTP status it got."""
        self._lock = threading.Lock()
        self._rules: list[str] = []
        self._recent: dict[tuple[str, ...], float] = {}
        self._ids = itertools.count(1)
        self._mo_ids = itertools.count(900_000_001)
        self._queue: queue.Queue[dict[str, str] | None] = queue.Queue()
        self._session = requests.Session()
        self._session_lock = threading.Lock()  # a Session is not for two threads at once
        self._server = _Server((host, port), self)
        self._threads: list[threading.Thread] = []

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeSmsc:
        serve = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        for thread in (serve, threading.Thread(target=self._deliver_callbacks, daemon=True)):
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._session.close()

    def __enter__(self) -> FakeSmsc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- playing the world -----------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1) -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAILURE_KINDS)}")
        with self._lock:
            self._rules.extend([kind] * count)

    def send_mo(self, from_phone: str, to_phone: str, text: str) -> tuple[int, str]:
        """A resident's SMS to the dedicated number, posted to the handler URL now."""
        now = str(int(time.time()))
        fields = {
            "id": str(next(self._mo_ids)),
            "phone": from_phone.lstrip("+"),
            "mes": text,
            "to": to_phone.lstrip("+"),
            "sent": now,
            "time": now,
        }
        status, body = self._post(fields, ("phone", "mes", "to"))
        self.received.append({**fields, "answer": status})
        return status, body

    # --- the API ---------------------------------------------------------------------------

    def handle(
        self, path: str, query: str, body: bytes, content_type: str
    ) -> tuple[int, str, str] | None:
        if path.startswith("/_fake/"):
            return self._control(path, body)
        params = _params(query, body)
        if path == "/sys/send.php":
            return self._send(params)
        if path == "/sys/status.php":
            return self._status(params)
        return 404, "text/plain; charset=utf-8", "not found\n"

    def _authorized(self, params: dict[str, str]) -> bool:
        if params.get("apikey"):
            return self.api_key is not None and params["apikey"] == self.api_key
        return params.get("login") == self.login and params.get("psw") == self.password

    def _send(self, params: dict[str, str]) -> tuple[int, str, str] | None:
        fmt = params.get("fmt", "0")
        if not self._authorized(params):
            return _error(fmt, 2)
        phones = [p for p in re.split(r"[,;]", params.get("phones", "")) if p]
        text = params.get("mes", "")
        if not phones or not text:
            return _error(fmt, 1)
        raw_id = params.get("id")
        if raw_id is not None and not (raw_id.isdigit() and 1 <= int(raw_id) <= MAX_ID):
            return _error(fmt, 1)
        sms_id = int(raw_id) if raw_id else next(self._ids)
        if any(not _PHONE.match(p) for p in phones):
            return _error(fmt, 7, sms_id)
        key = (",".join(phones), text, str(sms_id), params.get("sender", ""))
        with self._lock:
            now = time.monotonic()
            self._recent = {k: t for k, t in self._recent.items() if now - t < 60}
            if key in self._recent:
                return _error(fmt, 9)
            rule = self._rules.pop(0) if self._rules else None
            if rule and rule.isdigit() and int(rule) in ERRORS:
                code = int(rule)
                return _error(fmt, code, sms_id if code in ERRORS_WITH_ID else None)
            if rule == "500":
                return 500, "text/html; charset=utf-8", "<h1>500 Internal Server Error</h1>"
            cnt = parts(text)
            kept = () if rule == "lost" else phones  # "lost": never reached the store
            if kept:
                self._recent[key] = now
            for phone in kept:
                message = {
                    "id": sms_id,
                    "phone": phone.lstrip("+"),
                    "mes": text,
                    "sender": params.get("sender"),
                    "cnt": cnt,
                    "status": -1,
                    "err": 0,
                    "ts": int(time.time()),
                    "undelivered": rule == "undelivered",
                }
                self.sent.append(message)
                self._queue.put({"deliver": json.dumps([message["id"], message["phone"]])})
        if rule in ("slow", "lost"):
            time.sleep(self.slow_seconds)
        if rule in ("drop", "lost"):
            return None
        return _answer(
            fmt, {"id": sms_id, "cnt": cnt * len(phones)}, f"OK - {cnt} SMS, ID - {sms_id}"
        )

    def _status(self, params: dict[str, str]) -> tuple[int, str, str]:
        fmt = params.get("fmt", "0")
        if not self._authorized(params):
            return _error(fmt, 2)
        phone, raw_id = params.get("phone", "").strip(","), params.get("id", "").strip(",")
        if not phone or not raw_id.isdigit():
            return _error(fmt, 1)
        message = self._find(int(raw_id), phone.lstrip("+"))
        if message is None:
            status, err, ts = -3, 0, 0
        else:
            status, err, ts = message["status"], message["err"], message["ts"]
        date = time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(ts)) if ts else ""
        payload = {"status": status, "last_date": date, "last_timestamp": ts, "err": err}
        return _answer(fmt, payload, f"Status = {status}, check_time = {date}", f"{status},{ts}")

    def _find(self, sms_id: int, phone: str) -> dict[str, Any] | None:
        with self._lock:
            for message in self.sent:
                if message["id"] == sms_id and message["phone"] == phone:
                    return message
        return None

    # --- calls to the handler URL ----------------------------------------------------------

    def _deliver_callbacks(self) -> None:
        while (item := self._queue.get()) is not None:
            sms_id, phone = json.loads(item["deliver"])
            message = self._find(sms_id, phone)
            if message is None:
                continue
            steps = [(0, 0), (20, 1)] if message["undelivered"] else [(0, 0), (1, 0)]
            for status, err in steps:
                if self.callback_delay:
                    time.sleep(self.callback_delay)
                with self._lock:
                    message.update(status=status, err=err, ts=int(time.time()))
                if self.callback_url:
                    fields = {
                        "id": str(sms_id),
                        "phone": phone,
                        "status": str(status),
                        "time": time.strftime("%d.%m.%Y %H:%M:%S"),
                        "ts": str(message["ts"]),
                        "err": str(err),
                        "cnt": str(message["cnt"]),
                        "type": "0",
                    }
                    try:
                        self._post(fields, ("id", "phone", "status"))
                    except requests.RequestException:
                        log.warning("smsc stand-in: handler URL unreachable for a status")

    def _post(self, fields: dict[str, str], hashed: tuple[str, ...]) -> tuple[int, str]:
        """Call the handler URL as SMSC.ru does: form fields in the URL's charset, plus the
        hash the URL asks for (md5, sha1 or crc32) of the fields and the secret."""
        if not self.callback_url:
            raise RuntimeError("no callback_url to post to")
        parts_ = urlsplit(self.callback_url)
        query = parse_qsl(parts_.query, keep_blank_values=True)
        kept = [(k, v) for k, v in query if k not in ("md5", "sha1", "crc32")]
        algorithms = [k for k, _ in query if k in ("md5", "sha1", "crc32")]
        codec = CHARSETS.get(dict(query).get("charset", "windows-1251").lower(), "cp1251")
        body = dict(fields)
        for algorithm in algorithms:
            text = ":".join([*(fields[name] for name in hashed), self.secret])
            body[algorithm] = signature(algorithm, text, codec)
        url = urlunsplit(parts_._replace(query=urlencode(kept)))
        with self._session_lock:
            response = self._session.post(
                url,
                data=urlencode(body, encoding=codec, errors="replace"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=10,
            )
        self.callbacks.append((body, response.status_code))
        return response.status_code, response.text

    # --- /_fake/ control API -----------------------------------------------------------------

    def _control(self, path: str, body: bytes) -> tuple[int, str, str]:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "body must be JSON"})
        if path == "/_fake/mo":
            missing = [k for k in ("from", "to", "text") if not isinstance(data.get(k), str)]
            if missing:
                return _json(400, {"error": f"missing: {', '.join(missing)}"})
            try:
                status, text = self.send_mo(data["from"], data["to"], data["text"])
            except (requests.RequestException, RuntimeError) as exc:
                return _json(502, {"error": f"handler URL unreachable: {type(exc).__name__}"})
            return _json(200, {"status": status, "body": text})
        if path == "/_fake/fail":
            try:
                self.fail_next(str(data.get("kind")), int(data.get("count", 1)))
            except (TypeError, ValueError) as exc:
                return _json(400, {"error": str(exc)})
            return _json(200, {"ok": True})
        if path == "/_fake/messages":
            with self._lock:
                return _json(200, {"sent": self.sent[-100:], "received": self.received[-100:]})
        return _json(404, {"error": "unknown control path"})


def _params(query: str, body: bytes) -> dict[str, str]:
    """Query and form body, decoded in the charset they name (windows-1251 by default)."""
    raw = query + "&" + body.decode("latin-1")
    named = dict(parse_qsl(raw, encoding="latin-1")).get("charset", "windows-1251")
    codec = CHARSETS.get(named.lower(), "cp1251")
    return dict(parse_qsl(raw, keep_blank_values=True, encoding=codec, errors="replace"))


def _json(status: int, payload: Any) -> tuple[int, str, str]:
    return status, "application/json; charset=utf-8", json.dumps(payload, ensure_ascii=False)


def _answer(
    fmt: str, payload: dict[str, Any], line: str, csv: str | None = None
) -> tuple[int, str, str]:
    if fmt == "3":
        return _json(200, payload)
    if fmt == "2":
        xml = "".join(f"<{k}>{v}</{k}>" for k, v in payload.items())
        return 200, "text/xml; charset=utf-8", f"<result>{xml}</result>"
    if fmt == "1":
        return 200, "text/plain; charset=utf-8", csv or ",".join(str(v) for v in payload.values())
    return 200, "text/plain; charset=utf-8", line


def _error(fmt: str, code: int, sms_id: int | None = None) -> tuple[int, str, str]:
    """An error in the form the send.php page shows for `fmt` (with the id for 3, 6, 7, 8)."""
    payload: dict[str, Any] = {"error": ERRORS[code], "error_code": code}
    if sms_id is not None:
        payload["id"] = sms_id
    line = f"ERROR = {code} ({ERRORS[code]})" + (f", ID - {sms_id}" if sms_id is not None else "")
    return _answer(fmt, payload, line, f"{sms_id or 0},-{code}")


def main(argv: list[str] | None = None) -> int:
    """``python -m standins.smsc --port 8082 --callback-url URL``."""
    parser = argparse.ArgumentParser(prog="standins.smsc", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--callback-url", help="the handler URL set in the SMSC.ru account")
    parser.add_argument("--login", default=os.environ.get("SMSC_LOGIN") or "fake-login")
    parser.add_argument("--password", default=os.environ.get("SMSC_PASSWORD") or "fake-password")
    parser.add_argument("--api-key", default=os.environ.get("SMSC_API_KEY"))
    parser.add_argument(
        "--secret", default=os.environ.get("SMSC_CALLBACK_SECRET") or "fake-smsc-secret-0001"
    )
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    parser.add_argument("--callback-delay", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    fake = FakeSmsc(
        args.login,
        args.password,
        args.callback_url,
        args.secret,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        slow_seconds=args.slow_seconds,
        callback_delay=args.callback_delay,
    ).start()
    shown = re.sub(r"(key|md5|sha1)=[^&]*", r"\1=…", args.callback_url or "(none)")
    log.info("SMSC.ru stand-in on %s, handler URL %s", fake.url, shown)  # no secret in logs
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
