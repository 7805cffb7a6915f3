"""The RapidSMS peer (../shared/peers/rapidsms), built and run as its own bench.sh runs it.

Why here: issue #10 compares smsbot with the peer in the same window, so `bench/run.py
--with-peer` starts the peer between its own stages. The peer does the whole job inside the
HTTP request (with PEER_OUTBOUND=http the reply is POSTed to its fake Twilio before the webhook
returns), so its end-to-end rate is its request rate. Everything follows its README: its venv
(setup.sh makes /tmp/peer-rapidsms-venv; reused when it imports), a seeded SQLite template
copied fresh per server, its signed request pool (bench/gen_requests.py), gunicorn with its
gunicorn.conf.py (sync × 2), its fake Twilio API, and `wrk -t2 -c16` with its inbound.lua.
Replies are counted in the fake's log (one JSON line per accepted reply, with its time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from rigs import _raw
from run import (
    CpuMeter,
    GroupCpu,
    Processes,
    children,
    free_port,
    latency_summary,
    log,
    open_loop,
    percentile,
    wait_port,
    wait_quiet,
)

from tests import beside

BESIDE = Path("shared", "peers", "rapidsms")
"""Where the peer's harness lives, relative to the folder that holds the repository."""
PEER_VENV = Path(os.environ.get("PEER_VENV", "/tmp/peer-rapidsms-venv"))
PATH = "/backend/twilio/"
"""rtwilio's inbound view, where Twilio would post."""
SEED_ROWS = 1000
PYCACHE = "/tmp/peer-rapidsms-pycache"
"""The peer's directory is read-only: its bytecode goes here, as its scripts do."""


def find_dir(given: str | None = None) -> tuple[Path | None, list[Path]]:
    """The peer's harness: `given` (--peer-dir or SMSBOT_BENCH_PEER_DIR) and nothing else when
    given, else ../shared/peers beside this repository, else beside the repository it was cloned
    from (a fresh clone in /tmp still finds the harness beside the original); and the places
    looked at."""
    candidates = [Path(given)] if given else beside.candidates(BESIDE)
    found = next((c for c in candidates if (c / "setup.sh").is_file()), None)
    return found, candidates


def build(peer_dir: Path | None, looked: list[Path]) -> str | None:
    """Make the peer's venv (its setup.sh) unless one with its packages exists; None when
    ready, else why the peer is skipped."""
    if peer_dir is None:
        return "its harness was not found (looked in " + ", ".join(map(str, looked)) + ")"
    py = PEER_VENV / "bin" / "python"
    # Versions, not imports: twilio 3.8 imports only after the peer's own compatibility shims.
    names = ("RapidSMS", "rapidsms-twilio", "Django", "twilio", "gunicorn", "PySocks")
    check = [str(py), "-c", f"import importlib.metadata as m; [m.version(n) for n in {names!r}]"]
    if py.exists() and subprocess.run(check, capture_output=True, timeout=60).returncode == 0:
        return None
    log(f"building the peer: {peer_dir / 'setup.sh'} (venv {PEER_VENV})")
    out = subprocess.run([str(peer_dir / "setup.sh")], capture_output=True, text=True, timeout=900,
                         cwd=peer_dir, env={**os.environ, "PEER_VENV": str(PEER_VENV)})  # fmt: skip
    if out.returncode != 0:
        return f"the peer's setup.sh failed (exit {out.returncode}): {(out.stderr or out.stdout)[-300:]}"
    return None


class Peer:
    """One peer installation for a whole run: a seeded template and request pools signed for
    one port; `closed_loop` and `open_loop` each serve from a fresh copy of the template."""

    def __init__(self, procs: Processes, workdir: Path, wrk: str, peer_dir: Path):
        self.procs, self.wrk, self.dir = procs, wrk, peer_dir
        self.work = workdir / "peer"
        self.work.mkdir()
        self.py = str(PEER_VENV / "bin" / "python")
        self.port, self.fake_port = free_port(), free_port()
        self.env = {**os.environ, "PYTHONPYCACHEPREFIX": PYCACHE, "DJANGO_SETTINGS_MODULE": "peerproj.settings",
                    "PEER_OUTBOUND": "http", "PEER_TWILIO_API": f"http://127.0.0.1:{self.fake_port}"}  # fmt: skip
        token, sid, number = self._run(["-c", "from peerproj import settings as s; "
                                        "print(s.TWILIO_AUTH_TOKEN, s.TWILIO_ACCOUNT_SID, s.TWILIO_NUMBER)"]).split()  # fmt: skip
        self.token, self.sid, self.number = token, sid, number
        self.template = self.work / "template.sqlite3"
        db = {"PEER_DB": str(self.template)}
        self._run(["manage.py", "migrate", "-v0"], db)
        self._run(["manage.py", "seed_accounts", "--count", str(SEED_ROWS)], db)
        self._run(["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                   "c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()", str(self.template)])  # fmt: skip
        self.servers = 0

    def _run(self, args: list[str], env: dict[str, str] | None = None) -> str:
        out = subprocess.run([self.py, *args], capture_output=True, text=True, timeout=300, cwd=self.dir,
                             env={**self.env, **(env or {})})  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"peer: {' '.join(args[:2])} failed: {out.stderr[-500:]}")
        return out.stdout

    def pool(self, prefix: int, count: int) -> Path:
        """`count` signed inbound webhooks (its gen_requests.py: unique MessageSid each, senders
        cycling through the seeded phones, HELP/ПОМОЩЬ/BALANCE/БАЛАНС in turn)."""
        path = self.work / f"pool-{prefix:x}-{count}.txt"
        if not path.exists():
            self._run(["bench/gen_requests.py", "--url", f"http://127.0.0.1:{self.port}{PATH}",
                       "--auth-token", self.token, "--account-sid", self.sid, "--to", self.number,
                       "--phones", str(SEED_ROWS), "--prefix", hex(prefix), "--count", str(count),
                       "--out", str(path)])  # fmt: skip
        return path

    def requests(self, prefix: int, count: int) -> tuple[list[bytes], list[str]]:
        """A pool as raw HTTP requests for the open loop, and each one's sender."""
        from urllib.parse import parse_qs

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        requests, senders = [], []
        with open(self.pool(prefix, count), encoding="utf-8") as f:
            for line in f:
                sig, body = line.rstrip("\n").split("\t", 1)
                requests.append(
                    _raw(self.port, PATH, body.encode(), {**headers, "X-Twilio-Signature": sig})
                )
                senders.append(parse_qs(body)["From"][0])
        return requests, senders

    # ---------------------------------------------------------------------------- servers

    def start(self) -> dict[str, Any]:
        """A fresh database copy, the fake Twilio API and gunicorn; returns their handles."""
        self.servers += 1
        name = f"peer-{self.servers}"
        db = self.work / f"{name}.sqlite3"
        shutil.copy(self.template, db)
        fake_log = self.work / f"{name}-twilio.jsonl"
        fake = self.procs.start(f"{name}-fake-twilio", [
            self.py, "bench/fake_twilio.py", "--port", str(self.fake_port), "--account-sid", self.sid,
            "--auth-token", self.token, "--log", str(fake_log), "--summary", str(self.work / f"{name}-twilio.json"),
        ], env=self.env, cwd=self.dir)  # fmt: skip
        wait_port(self.fake_port, "the peer's fake Twilio", proc=fake)
        web = self.procs.start(f"{name}-gunicorn", [
            str(PEER_VENV / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{self.port}",
            "peerproj.wsgi:application",
        ], env={**self.env, "PEER_DB": str(db)}, cwd=self.dir)  # fmt: skip
        wait_port(self.port, "the peer's gunicorn", timeout=30, proc=web)
        deadline = time.monotonic() + 20
        while len(children(web.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        return {"web": web, "fake": fake, "fake_log": fake_log, "db": db}

    def stop(self, server: dict[str, Any]) -> None:
        self.procs.stop(server["web"])
        self.procs.stop(server["fake"])

    @staticmethod
    def groups(server: dict[str, Any]) -> dict[str, list[int]]:
        """Every process of the peer: gunicorn (SQLite is in process) and its fake Twilio."""
        web = server["web"]
        return {"web": [web.pid, *children(web.pid)], "fake_twilio": [server["fake"].pid]}

    @staticmethod
    def replies(server: dict[str, Any]) -> list[dict[str, Any]]:
        path = server["fake_log"]
        if not path.exists():
            return []
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def _wrk(self, pool: Path, seconds: float, threads: int, connections: int) -> dict[str, Any]:
        argv = [self.wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                "-s", "bench/inbound.lua", f"http://127.0.0.1:{self.port}{PATH}", "--", str(pool), str(threads)]  # fmt: skip
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 120, cwd=self.dir
        )
        for line in out.stdout.splitlines():
            if line.startswith("WRK_JSON "):
                return json.loads(line[len("WRK_JSON ") :])
        raise RuntimeError(f"peer: wrk printed no result: {out.stdout[-300:]} {out.stderr[-300:]}")

    # ---------------------------------------------------------------------------- loads

    def closed_loop(self, seconds: int, warm_s: int, quiet_s: int, threads: int = 2,
                    connections: int = 16) -> dict[str, Any]:  # fmt: skip
        """Its bench.sh case peer_http: wrk closed loop; the rate is replies at its fake Twilio."""
        warm_pool, pool = self.pool(0x2, 20000), self.pool(0x1, max(20000, seconds * 800))
        server = self.start()
        try:
            self._wrk(warm_pool, warm_s, threads, connections)
            time.sleep(1.0)
            quiet = wait_quiet(quiet_s)
            groups = self.groups(server)
            meter, group_cpu = CpuMeter(), GroupCpu(groups)
            t0, wrk0 = time.time(), _children_cpu_s()
            w = self._wrk(pool, seconds, threads, connections)
            t1, wrk_s = time.time(), _children_cpu_s() - wrk0
            cpu, cpu_s = meter.read(), group_cpu.read(groups)
            # Replies the fake accepted while wrk ran (a request in flight at either edge is
            # counted where its reply fell), so CPU and replies cover the same window.
            replies = sum(1 for r in self.replies(server) if t0 <= r["t"] <= t1)
        finally:
            self.stop(server)
        secs = t1 - t0
        lat = w["latency_us"]
        errors = sum(w["errors"].values())
        return {
            "tool": f"wrk -t{threads} -c{connections} -d{seconds}s (the peer's inbound.lua)",
            "requests": w["requests"], "errors": errors, "errors_by_kind": w["errors"],
            "duration_s": round(secs, 2), "wrk_duration_s": round(w["duration_us"] / 1e6, 2), "replies": replies,
            "throughput_rps": round(replies / secs, 1),
            "request_rps": round(w["requests"] / (w["duration_us"] / 1e6), 1),
            "latency_ms": {k: round(lat[k] / 1000, 2) for k in ("p50", "p90", "p99", "max")},
            "pool_wraps": w["pool_wraps"], "cpu": cpu, "cpu_seconds": cpu_s,
            "cpu_ms_per_reply": per_reply(cpu_s, replies), "quiet_wait": quiet,
            "generator_cpu_ms_per_reply": round(wrk_s * 1000 / max(replies, 1), 2),
        }  # fmt: skip

    def open_loop(self, rates: list[int], seconds: float, min_messages: int, quiet_s: int,
                  sustained: Any, measure_through: int = 0) -> list[dict[str, Any]]:  # fmt: skip
        """The same offered loads as ours, open loop, one connection per request, on one server;
        stops after the first load it does not sustain at or past `measure_through`. Latency = when its fake Twilio accepted
        the reply minus when the webhook was posted (per sender, first in first out: a sender
        recurs only every 1,000 requests); the webhook's own response time is beside it."""
        stages: list[dict[str, Any]] = []
        server = self.start()
        try:
            open_loop(self.port, self.requests(0x40, 200)[0], 50)  # warm-up
            for k, rate in enumerate(rates):
                n = max(min_messages, int(rate * seconds))
                batch, phones = self.requests(0x41 + k, n)  # MessageSids unique on this server
                quiet = wait_quiet(quiet_s)
                before = len(self.replies(server))
                groups = self.groups(server)
                meter, group_cpu = CpuMeter(), GroupCpu(groups)
                log(f"  peer: {rate} msg/s for {n / rate:.0f}s ({n} messages)")
                res = open_loop(self.port, batch, rate, inflight_limit=max(100, rate))
                time.sleep(0.5)
                cpu, cpu_s = meter.read(), group_cpu.read(groups)
                got = self.replies(server)[before:]
                stage = _open_stage(rate, res, phones, got, cpu, cpu_s, quiet)
                lat = stage["latency_ms"]
                log(f"    -> peer throughput {stage['throughput_rps']}/s, replies {stage['replies']}/{stage['posted']}, "
                    f"p50 {lat['p50']} p99 {lat['p99']} ms" + (f"; {res.stopped_early}" if res.stopped_early else ""))  # fmt: skip
                stages.append(stage)
                if not sustained(stage) and rate >= measure_through:
                    break
        finally:
            self.stop(server)
        return stages


def _children_cpu_s() -> float:
    """CPU of this process's reaped children (wrk, once subprocess.run has waited for it)."""
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def per_reply(cpu_s: dict[str, float], replies: int) -> dict[str, float]:
    n = max(replies, 1)
    out = {k: round(v * 1000 / n, 2) for k, v in cpu_s.items()}
    out["all"] = round(sum(cpu_s.values()) * 1000 / n, 2)
    return out


def _open_stage(rate: int, res: Any, phones: list[str], got: list[dict[str, Any]],
                cpu: dict[str, float], cpu_s: dict[str, float], quiet: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """One open-loop load's figures, the replies matched to posts per sender in order."""
    posted = {}
    for i in range(res.sent):
        if res.status[i] == 200:
            posted.setdefault(phones[i], deque()).append(res.post_wall[i])
    lat_ms, times = [], []
    for reply in got:
        waiting = posted.get(reply.get("to"))
        if waiting:
            t0 = waiting.popleft()
            lat_ms.append((reply["t"] - t0) * 1000)
            times.append(reply["t"])
    walls = [res.post_wall[i] for i in range(res.sent)]
    first, last = min(walls), max(walls)
    lateness = sorted(res.lateness_ms[: res.sent])
    accepted = sum(1 for s in res.status[: res.sent] if s == 200)
    counts: dict[int, int] = defaultdict(int)
    for s in res.status[: res.sent]:
        counts[s] += 1
    return {
        "offered_rps": rate, "planned_messages": len(phones), "posted": res.sent, "accepted_200": accepted,
        "status_counts": dict(counts), "replies": len(lat_ms), "missing_replies": accepted - len(lat_ms),
        "send_window_s": round(last - first, 2), "achieved_offered_rps": round(res.sent / max(last - first, 1e-9), 1),
        "throughput_rps": round(len(lat_ms) / (max(times) - first), 1) if times else 0.0,
        "latency_ms": latency_summary(lat_ms),
        "webhook_latency_ms": latency_summary([x for x, s in zip(res.latency_ms, res.status, strict=True) if s == 200]),
        "generator_lateness_ms": {"p50": round(percentile(lateness, 50) or 0, 2), "p99": round(percentile(lateness, 99) or 0, 2)},
        "generator_kept_up": (percentile(lateness, 99) or 0) < 50,
        "stopped_early": res.stopped_early, "cpu": cpu, "cpu_seconds": cpu_s,
        "cpu_ms_per_reply": per_reply(cpu_s, len(lat_ms)), "quiet_wait": quiet,
    }  # fmt: skip
