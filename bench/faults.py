#!/usr/bin/env python
"""The fault matrix, one command: `.venv/bin/python bench/faults.py [--quick] [--only NAME…]`.

It runs smsbot as in production (gunicorn, two RQ workers, the clock) against a PRIVATE
Redis (redis-server on its own port, in a temporary folder) and a PRIVATE PostgreSQL
(`initdb` into a temporary folder, its own port and socket folder; run as the `postgres`
user when we are root, since PostgreSQL refuses to run as root), with the fake Twilio
(standins/twilio.py) as the provider. It never touches the machine's own Redis or
PostgreSQL, and stops everything it started in a `finally`.

Each fault is one scenario; residents text ПОМОЩЬ (always answered with one reply) from
phones unique to the scenario, so every phone must end with exactly one reply at the fake:

    lost        messages never stored (refused, or answered 2xx and dropped): gone for good
    unanswered  stored, but no reply reached the fake within the settle time (90 s / 180 s)
    doubled     phones that got more than one reply (a send repeated)
    5xx      webhook answers ≥ 500, or no answer at all (the provider would not retry those)
    recover  seconds from the end of the fault until the last reply reached the fake

Results: bench/results/faults.json and faults.md, and the README between the
`<!-- bench:faults -->` markers. `--quick` shortens outages (10 s instead of 30) and the
provider's slow answer (10 s instead of 40), and fuzzes 500 webhooks instead of 10,000.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
README = ROOT / "README.md"
PY = sys.executable
PG_BIN = Path(os.environ.get("SMSBOT_PG_BIN", "/usr/lib/postgresql/15/bin"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from run import Processes, free_port, prepare_database, sql_rows, wait_port  # noqa: E402

from smsbot.providers.twilio import inbound_params, signed_request  # noqa: E402

COMPANY_NUMBER = "+74951230001"
HELP = "помощь"
ANSWERED = (HELP, "контакты")
"""Commands answered every time; in turn, no text repeats twice running (a flood and an
echo that the repeat stop alone would not catch)."""
WORKERS = 2
MARK = "bench:faults"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ private services


class PrivateRedis:
    """redis-server on its own port and folder; stop and start it again on the same port."""

    def __init__(self, procs: Processes, workdir: Path):
        self.procs, self.dir = procs, workdir / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not on PATH")
        self.proc = self.procs.start("redis", [exe, "--port", str(self.port), "--bind", "127.0.0.1",
                                               "--save", "", "--appendonly", "no", "--dir", str(self.dir)])  # fmt: skip
        wait_port(self.port, "redis-server", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None


class PrivatePostgres:
    """A PostgreSQL cluster of our own: initdb into a temporary folder, its own port and
    socket folder, trust authentication on loopback only. As root, every pg_* command runs
    as the `postgres` user (PostgreSQL refuses root)."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "pg"
        self.data, self.sockets = self.dir / "data", self.dir / "sockets"
        self.sockets.mkdir(parents=True)
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/smsbot"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
            os.chmod(workdir, 0o755)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str, timeout: float = 120) -> None:
        subprocess.run([*self.as_user, *argv], check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        self.start()
        self._run(str(PG_BIN / "createdb"), "-h", str(self.sockets), "-p", str(self.port), "-U",
                  "postgres", "smsbot")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.dir / "postgres.log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


class Service:
    """gunicorn, RQ workers, the clock and the fake Twilio, on the private Redis and PostgreSQL."""

    def __init__(self, procs: Processes, workdir: Path, redis: PrivateRedis, pg: PrivatePostgres):
        self.procs, self.redis, self.pg = procs, redis, pg
        self.port, self.fake_port = free_port(), free_port()
        self.sid, self.token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        self.public = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSBOT_", "TWILIO_"))}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        self.env = env | {
            "SMSBOT_ENV": "development",
            "SMSBOT_INSTANCE_PATH": str(workdir / "instance"),
            "SMSBOT_LOG_LEVEL": "WARNING",
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis.url,
            "SECRET_KEY": "faults-" + secrets.token_hex(16),
            "PUBLIC_BASE_URL": self.public,
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "SMSBOT_DEFAULT_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": self.sid,
            "TWILIO_AUTH_TOKEN": self.token,
            "TWILIO_FROM": COMPANY_NUMBER,
            "TWILIO_API_BASE_URL": f"http://127.0.0.1:{self.fake_port}",
        }
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.started_workers = 0
        self.clock: subprocess.Popen | None = None

    def prepare(self) -> None:
        """Migrate and load the demo data, the daily cap off (bench/run.py's, which says why)."""
        prepare_database(self.pg.url)

    def start(self) -> None:
        fake = self.procs.start("fake-twilio", [PY, "-m", "smsbot.cli", "fake-twilio", "--quiet",
                                                "--port", str(self.fake_port), "--account-sid", self.sid,
                                                "--auth-token", self.token], env=self.env)  # fmt: skip
        wait_port(self.fake_port, "fake Twilio", proc=fake)
        self.web = self.procs.start("gunicorn", [PY, "-m", "gunicorn", "--workers", "2", "--bind",
                                                 f"127.0.0.1:{self.port}", "--log-level", "warning",
                                                 "--graceful-timeout", "5", "app:create_app()"], env=self.env)  # fmt: skip
        wait_port(self.port, "gunicorn", timeout=60, proc=self.web)
        for _ in range(WORKERS):
            self.start_worker()
        self.clock = self.procs.start("clock", [PY, "-m", "smsbot.cli", "clock"], env=self.env)

    def revive(self) -> list[str]:
        """Start again any of smsbot's processes that exited (what a supervisor would do
        between rows, so one row's casualty does not spoil the next); their names."""
        exited = []
        if self.web is not None and self.web.poll() is not None:
            exited.append("gunicorn")
            self.web = self.procs.start("gunicorn-again", self.web.args, env=self.env)  # type: ignore[arg-type]
            wait_port(self.port, "gunicorn", timeout=60, proc=self.web)
        for worker in [w for w in self.workers if w.poll() is not None]:
            exited.append("worker")
            self.workers.remove(worker)
            self.start_worker()
        if self.clock is not None and self.clock.poll() is not None:
            exited.append("clock")
            self.clock = self.procs.start(
                "clock-again", [PY, "-m", "smsbot.cli", "clock"], env=self.env
            )
        if exited:
            time.sleep(3)
        return exited

    def start_worker(self) -> subprocess.Popen:
        self.started_workers += 1
        worker = self.procs.start(
            f"worker-{self.started_workers}", [PY, "-m", "smsbot.cli", "worker"], env=self.env
        )
        self.workers.append(worker)
        return worker

    # --- the provider's side ---------------------------------------------------------------

    def fake(self, method: str, path: str, payload: dict | None = None) -> object:
        conn = http.client.HTTPConnection("127.0.0.1", self.fake_port, timeout=30)
        try:
            body = json.dumps(payload).encode() if payload is not None else None
            conn.request(method, path, body=body)
            return json.loads(conn.getresponse().read() or b"null")
        finally:
            conn.close()

    def replies(self) -> Counter[str]:
        """Replies the fake Twilio accepted, per phone."""
        return Counter(m["to"] for m in self.fake("GET", "/_fake/messages"))  # type: ignore[union-attr]

    def inbound(
        self, phone: str, text: str = HELP, sid: str | None = None
    ) -> tuple[str, bytes, dict]:
        params = inbound_params(from_phone=phone, to_phone=COMPANY_NUMBER, body=text,
                                message_sid=sid, account_sid=self.sid)  # fmt: skip
        body, headers = signed_request(f"{self.public}/sms/inbound", params, self.token)
        return "/sms/inbound", body, headers

    def post(self, request: tuple[str, bytes, dict]) -> int:
        """POST one webhook; its HTTP status, or 0 when nothing answered."""
        path, body, headers = request
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            conn.close()

    def post_all(self, requests: list[tuple[str, bytes, dict]], threads: int = 8) -> list[int]:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(self.post, requests))


# ------------------------------------------------------------------------------ scenarios


@dataclass
class Row:
    name: str
    sent: int = 0
    lost: int = 0
    doubled: int = 0
    http_5xx: int = 0
    unanswered: int = 0
    recover_s: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


class Matrix:
    def __init__(self, service: Service, redis: PrivateRedis, pg: PrivatePostgres, quick: bool):
        self.s, self.redis, self.pg, self.quick = service, redis, pg, quick
        self.outage = 10 if quick else 30
        self.slow = 10 if quick else 40
        self.fuzz = 500 if quick else 10_000
        self.settle = 90 if quick else 180
        """Seconds a scenario waits for its replies after the fault ends."""
        self.prefix = 0

    def phones(self, count: int) -> list[str]:
        """Phones no other scenario uses: +7916<scenario:2><n:5>."""
        self.prefix += 1
        return [f"+7916{self.prefix:02d}{n:05d}" for n in range(count)]

    def settle_replies(self, phones: list[str], since: float, accounted: Callable[[], int] | None = None) -> tuple[Counter, float | None]:  # fmt: skip
        """Wait until every phone has a reply (bounded); (replies per phone, seconds from
        `since` to the last one, None if some never came)."""
        wanted = set(phones)
        deadline = time.monotonic() + self.settle
        while True:
            got = self.s.replies()
            mine = Counter({p: n for p, n in got.items() if p in wanted})
            done = len(mine) == len(wanted) or (
                accounted is not None and accounted() >= len(wanted)
            )
            if done:
                time.sleep(2)  # a doubled send would show within this
                return Counter({p: n for p, n in self.s.replies().items() if p in wanted}), round(time.monotonic() - since, 1)  # fmt: skip
            if time.monotonic() > deadline:
                return mine, None
            time.sleep(0.5)

    def row(self, name: str, phones: list[str], statuses: list[int], since: float, **kw) -> Row:  # noqa: ANN003
        replies, recover = self.settle_replies(phones, since, kw.pop("accounted", None))
        stored = self.stored(phones)
        return Row(
            name=name,
            sent=len(phones),
            lost=len(set(phones) - stored),
            unanswered=sum(1 for p in stored if replies.get(p, 0) == 0),
            doubled=sum(1 for p in phones if replies.get(p, 0) > 1),
            http_5xx=sum(1 for s in statuses if s >= 500 or s == 0),
            recover_s=recover,
            **kw,
        )

    def inbound_count(self) -> int:
        return int(
            sql_rows(self.pg.url, "SELECT count(*) FROM message WHERE direction = 'in'")[0][0]
        )

    def stored(self, phones: list[str]) -> set[str]:
        """The phones whose message is in the database."""
        listed = ", ".join(f"'{p}'" for p in set(phones))
        rows = sql_rows(self.pg.url, "SELECT DISTINCT from_phone FROM message WHERE direction = 'in' "
                                     f"AND from_phone IN ({listed})")  # fmt: skip
        return {r[0] for r in rows}

    # --- the faults ---------------------------------------------------------------------------

    def duplicates(self) -> Row:
        """Each webhook three times, at once (Twilio retries with a fallback URL; proxies repeat)."""
        phones = self.phones(100)
        requests = [self.s.inbound(p) for p in phones]
        start = time.monotonic()
        statuses = self.s.post_all([r for r in requests for _ in range(3)], threads=12)
        return self.row("duplicate webhooks (×3)", phones, statuses, start)

    def worker_killed(self) -> Row:
        """A worker SIGKILLed (with its job's work horse) while messages are being handled."""
        phones = self.phones(200)
        statuses: list[int] = []
        poster = threading.Thread(target=lambda: statuses.extend(self.s.post_all([self.s.inbound(p) for p in phones], threads=4)))  # fmt: skip
        poster.start()
        time.sleep(1.0)
        victim = self.s.workers[0]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        self.s.workers.remove(victim)
        poster.join()
        self.s.start_worker()  # a supervisor would restart it
        return self.row("worker killed (SIGKILL) mid-job", phones, statuses, time.monotonic())

    def _outage(self, name: str, stop: Callable[[], None], start: Callable[[], None]) -> Row:
        """Residents keep texting, 5 a second, through an outage of `self.outage` seconds
        (each webhook in its own thread: a slow answer must not slow the residents down)."""
        phones = self.phones(self.outage * 5 + 50)
        requests = [self.s.inbound(p) for p in phones]
        before, during, after = requests[:25], requests[25:-25], requests[-25:]
        statuses = self.s.post_all(before, threads=4)
        stop()
        began = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            futures = []
            for n, request in enumerate(during):
                time.sleep(max(0.0, began + n / 5 - time.monotonic()))
                futures.append(pool.submit(self.s.post, request))
            time.sleep(max(0.0, began + self.outage - time.monotonic()))
            start()
            back = time.monotonic()
            statuses += [f.result() for f in futures]
        statuses += self.s.post_all(after, threads=4)
        return self.row(name, phones, statuses, back, note=f"{self.outage} s outage")

    def redis_down(self) -> Row:
        return self._outage(f"Redis stopped {self.outage} s", self.redis.stop, self.redis.start)

    def postgres_down(self) -> Row:
        return self._outage(
            f"PostgreSQL stopped {self.outage} s, restarted", self.pg.stop, self.pg.start
        )

    def provider(self, kind: str, label: str, count: int = 20, seconds: float | None = None) -> Row:
        """The provider answers the next `count` sends with `kind` (the fake's failure rules)."""
        phones = self.phones(count)
        rule = {"kind": kind, "count": count} | ({"seconds": seconds} if seconds else {})
        self.s.fake("POST", "/_fake/fail", rule)
        start = time.monotonic()
        statuses = self.s.post_all([self.s.inbound(p) for p in phones], threads=4)
        if kind in ("21211", "21610"):  # permanent: the reply must end 'failed', never resent
            row = self.row(label, phones, statuses, start, accounted=lambda: self._final(phones))
            got = self.s.replies()
            stored = len(self.stored(phones))
            row.unanswered = stored - self._final(phones) - sum(1 for p in phones if got.get(p))
            row.note = "a permanent error: each reply marked failed (accounted for), never retried"
            return row
        return self.row(label, phones, statuses, start)

    def _final(self, phones: list[str]) -> int:
        """Replies to `phones` that ended 'failed' (a permanent error, accounted for)."""
        listed = ", ".join(f"'{p}'" for p in phones)
        return int(sql_rows(self.pg.url, f"SELECT count(*) FROM message WHERE direction = 'out' "
                                         f"AND status = 'failed' AND to_phone IN ({listed})")[0][0])  # fmt: skip

    def callbacks_out_of_order(self) -> Row:
        """Delivery reports for delivered replies arrive again, older ones last."""
        phones = self.phones(20)
        start = time.monotonic()
        statuses = self.s.post_all([self.s.inbound(p) for p in phones], threads=4)
        row = self.row("status callbacks out of order", phones, statuses, start)
        listed = ", ".join(f"'{p}'" for p in phones)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sql_rows(self.pg.url, "SELECT count(*) FROM message WHERE "
                f"direction = 'out' AND status <> 'delivered' AND to_phone IN ({listed})")[0][0]:  # fmt: skip
            time.sleep(0.5)  # the fake's own delivery reports first
        rows = sql_rows(self.pg.url, "SELECT id, external_id, status, delivered_at FROM message WHERE "
                                     f"direction = 'out' AND to_phone IN ({listed})")  # fmt: skip
        callbacks = []
        for message_id, sid, _, _ in rows:
            for word in ("delivered", "sent", "queued", "undelivered", "sent"):
                params = {"MessageSid": sid, "MessageStatus": word, "AccountSid": self.s.sid,
                          "To": "+79160000000", "From": COMPANY_NUMBER, "ApiVersion": "2010-04-01"}  # fmt: skip
                path = f"/sms/twilio/status?o={message_id}"
                body, headers = signed_request(f"{self.s.public}{path}", params, self.s.token)
                callbacks.append((path, body, headers))
        random.Random(7).shuffle(callbacks)
        answers = self.s.post_all(callbacks, threads=4)
        after = sql_rows(self.pg.url, "SELECT id, status, delivered_at FROM message WHERE "
                                      f"direction = 'out' AND to_phone IN ({listed})")  # fmt: skip
        moved = {r[0] for r in rows} - {a[0] for a in after if a[1] == "delivered"}
        changed = sum(1 for r, a in zip(sorted(rows), sorted(after), strict=True) if r[3] != a[2])
        row.http_5xx += sum(1 for s in answers if s >= 500 or s == 0)
        row.note = f"{len(callbacks)} callbacks; {len(moved)} replies moved back from 'delivered', {changed} delivered_at rewritten"
        row.extra = {
            "callbacks": len(callbacks),
            "not_delivered_after": len(moved),
            "delivered_at_changed": changed,
        }
        return row

    def fuzzed(self) -> Row:
        """Signed and unsigned webhooks with broken fields: control characters, NUL, huge and
        out-of-range values, wrong types. Every one must get an answer below 500; every signed
        valid-looking one that got 2xx must be stored."""
        rng = random.Random(13)
        # One phone for all: its rate limit keeps the bot from answering thousands of them.
        phones = self.phones(1) * self.fuzz
        nasty = ["\x00", "\x01", "\x7f", "\ud7ff", "𝕏", "\u202e", "%00", "'; DROP TABLE message;--",
                 "9" * 40, "-1", "2147483648", "1e309", "", " ", "\n" * 50, "я" * 5000]  # fmt: skip
        requests, signed_ok = [], []
        for n, phone in enumerate(phones):
            params = inbound_params(
                from_phone=phone, to_phone=COMPANY_NUMBER, body=HELP, account_sid=self.s.sid
            )
            choice = rng.random()
            for key in rng.sample(sorted(params), k=rng.randint(1, 3)):
                params[key] = rng.choice(nasty) + (params[key] if rng.random() < 0.5 else "")
            if n % 4 == 0:  # the status hook too, with odd ids
                path = (
                    f"/sms/twilio/status?o={rng.choice(['1', '2147483648', '-5', 'x', '9' * 30])}"
                )
                params["MessageStatus"] = rng.choice(["delivered", "sent", "\x00", "x" * 300])
                params["ErrorCode"] = rng.choice(["30003", "2147483648", "-1", "\x00"])
            else:
                path = "/sms/inbound"
                signed_ok.append(params.get("MessageSid"))
            url = f"{self.s.public}{path}"
            if choice < 0.8:
                body, headers = signed_request(url, params, self.s.token)
            else:
                body, headers = (
                    urlencode(params).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
            requests.append((path, body, headers))
        start = time.monotonic()
        before = self.inbound_count()
        statuses = self.s.post_all(requests, threads=8)
        took = time.monotonic() - start
        accepted = {
            parse_qs(r[1].decode("utf-8", "replace")).get("MessageSid", [""])[0]
            for r, s in zip(requests, statuses, strict=True)
            if 200 <= s < 300 and r[0] == "/sms/inbound"
        }  # distinct: a mutation can give two cases the same id, and the second is a repeat
        time.sleep(2)
        stored = self.inbound_count() - before
        by_status = Counter(statuses)
        return Row(
            name=f"{self.fuzz:,} fuzzed webhooks",
            sent=len(requests),
            lost=max(0, len(accepted) - stored),
            doubled=0,
            http_5xx=sum(n for s, n in by_status.items() if s >= 500 or s == 0),
            recover_s=None,
            note=f"{round(len(requests) / took)} req/s; answers {dict(sorted(by_status.items()))}; lost = answered 2xx but not stored ({len(accepted)} ids answered 2xx, {stored} rows stored)",
            extra={"answers": {str(k): v for k, v in by_status.items()}},
        )

    def flood(self) -> Row:
        """One phone sends 200 messages within a minute."""
        [phone] = self.phones(1)
        start = time.monotonic()
        statuses = self.s.post_all(
            [self.s.inbound(phone, ANSWERED[n % 2]) for n in range(200)], threads=4
        )
        time.sleep(15)  # replies still being sent would show
        replies = self.s.replies().get(phone, 0)
        stored = int(
            sql_rows(
                self.pg.url,
                f"SELECT count(*) FROM message WHERE direction = 'in' AND from_phone = '{phone}'",
            )[0][0]
        )
        return Row(
            name="one phone floods 200 messages",
            sent=200,
            lost=200 - stored,
            doubled=0,
            http_5xx=sum(1 for s in statuses if s >= 500 or s == 0),
            recover_s=round(time.monotonic() - start, 1),
            note=f"{replies} replies sent (the rate limit's default is 10); lost = not stored",
            extra={"replies": replies, "stored": stored},
        )

    def echo(self) -> Row:
        """An auto-responder answers each of our replies within a second, up to 41 times."""
        [phone] = self.phones(1)
        statuses = [self.s.post(self.s.inbound(phone))]
        start, answered, rounds = time.monotonic(), 0, 0
        while rounds < 41:
            deadline = time.monotonic() + 15
            while self.s.replies().get(phone, 0) <= answered and time.monotonic() < deadline:
                time.sleep(0.3)
            got = self.s.replies().get(phone, 0)
            if got <= answered:
                break  # we stopped answering: the loop is broken
            answered = got
            rounds += 1
            statuses.append(self.s.post(self.s.inbound(phone, ANSWERED[rounds % 2])))
        return Row(
            name="an auto-responder echoes our replies",
            sent=rounds + 1,
            lost=0,
            doubled=0,
            http_5xx=sum(1 for s in statuses if s >= 500 or s == 0),
            recover_s=round(time.monotonic() - start, 1),
            note=f"{answered} of {rounds + 1} answered, then the bot stopped (41 rounds at most)",
            extra={"answered": answered, "echoes": rounds},
        )

    def all(self) -> dict[str, Callable[[], Row]]:
        return {
            "duplicates": self.duplicates,
            "worker-kill": self.worker_killed,
            "redis-down": self.redis_down,
            "postgres-down": self.postgres_down,
            "provider-500": lambda: self.provider("500", "provider answers 500"),
            "provider-429": lambda: self.provider("429", "provider answers 429"),
            "provider-permanent": lambda: self.provider(
                "21211", "provider: permanent error (21211)"
            ),
            "provider-slow": lambda: self.provider(
                "slow", f"provider takes {self.slow} s", count=5, seconds=self.slow
            ),
            "callbacks": self.callbacks_out_of_order,
            "fuzz": self.fuzzed,
            "flood": self.flood,
            "echo": self.echo,
        }


SCENARIOS = ("duplicates", "worker-kill", "redis-down", "postgres-down", "provider-500",
             "provider-429", "provider-permanent", "provider-slow", "callbacks", "fuzz", "flood",
             "echo")  # fmt: skip
"""Scenario names for --only, in the order they run (Matrix.all)."""


# ------------------------------------------------------------------------------ results


def table(rows: list[Row]) -> str:
    lines = [
        "| fault | sent | lost | unanswered | doubled | 5xx | recovered in | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        recover = "—" if r.recover_s is None else f"{r.recover_s} s"
        lines.append(
            f"| {r.name} | {r.sent} | {r.lost} | {r.unanswered} | {r.doubled} | {r.http_5xx} "
            f"| {recover} | {r.note} |"
        )
    return "\n".join(lines)


def write(rows: list[Row], args: argparse.Namespace, started: str, git: str) -> None:
    if args.only:
        return  # a partial run prints its rows and leaves the results and the README alone
    RESULTS.mkdir(exist_ok=True)
    meta = {"started": started, "git": git, "quick": args.quick, "machine": platform.node(),
            "cpus": os.cpu_count(), "python": platform.python_version()}  # fmt: skip
    (RESULTS / "faults.json").write_text(json.dumps({**meta, "rows": [asdict(r) for r in rows]}, ensure_ascii=False, indent=2) + "\n")  # fmt: skip
    heading = (
        f"Fault matrix ({'--quick' if args.quick else 'full'}), {started[:16]} UTC, commit {git}:"
    )
    md = f"{heading}\n\n{table(rows)}\n"
    (RESULTS / "faults.md").write_text(md)
    text = README.read_text()
    start, end = f"<!-- {MARK} -->", f"<!-- /{MARK} -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = f"{head}{start}\n{md}{end}{rest.split(end, 1)[1]}"
        README.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s outages, 500 fuzzed webhooks")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    started = datetime.now(UTC).isoformat()
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="smsbot-faults-"))
    procs = Processes(workdir)
    redis, pg = PrivateRedis(procs, workdir), PrivatePostgres(workdir)
    rows: list[Row] = []
    try:
        log(f"private Redis on :{redis.port}, PostgreSQL on :{pg.port}, in {workdir}")
        redis.start()
        pg.init()
        service = Service(procs, workdir, redis, pg)
        matrix = Matrix(service, redis, pg, args.quick)
        scenarios = matrix.all()
        service.prepare()
        service.start()
        time.sleep(3)
        for name, run in scenarios.items():
            if args.only and name not in args.only:
                continue
            log(f"{name} …")
            try:
                row = run()
            except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the rest
                row = Row(
                    name=name, note=f"the scenario itself failed: {type(exc).__name__}: {exc}"
                )
            log(
                f"  {row.name}: lost {row.lost}, unanswered {row.unanswered}, doubled {row.doubled}, "
                f"5xx {row.http_5xx}, recovered {row.recover_s}"
            )
            exited = service.revive()
            if exited:
                row.note = (f"{row.note}; " if row.note else "") + (
                    f"exited and stayed down: {', '.join(exited)} (restarted before the next row)"
                )
                log(f"  exited: {exited}")
            rows.append(row)
    finally:
        procs.stop_all()
        pg.stop()
        if args.keep:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if rows:
        write(rows, args, started, git)
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
