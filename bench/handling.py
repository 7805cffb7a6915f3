"""CPU of the worker's handling of one message, in-process: no HTTP, no other process but Redis.

    .venv/bin/python bench/handling.py [--messages 600] [--rounds 3] [--batch 1] [--known]
                                       [--database postgresql]

Why beside bench/run.py: end to end, the worker's CPU per message is a tenth of a
millisecond-sized difference inside ten milliseconds of everything else, and this machine's
noise (a third between two rounds of one run) hides it. Here one process stores messages and
times `jobs._handle_batch` alone, batch by batch (CPU time, `time.process_time`), over a
private Redis and a fresh SQLite file with the demo data, as `smsbot run` seeds it.

- A new phone per message by default, as bench/run.py's end to end plays it (each message
  creates a resident and a thread); `--known`: fifty phones in turn, residents already known.
- `--batch 1`: lone messages, as under a trickle (a batch's fixed cost paid by one message).
- Reported per round: median, p25 and p75 of the CPU per batch, and CPU per message over
  the round; then once, the deterministic figures: Python calls per message (cProfile) and
  SQL statements per message. Calls are the figure to compare two commits by on a noisy
  machine. Results go to bench/results/handling.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from rigs import COMPANY_NUMBER  # noqa: E402 - the benchmark's own helpers, after the path
from run import (  # noqa: E402
    PG_ADMIN_URL,
    RESULTS,
    ROOT,
    CpuMeter,
    PgDatabase,
    Processes,
    pg_available,
    prepare_database,
    start_redis,
)

KNOWN_PHONES = 50


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600, help="messages per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1, help="messages claimed per batch")
    parser.add_argument("--known", action="store_true", help="residents already known")
    parser.add_argument("--name", default="handling", help="results file name")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="a fresh SQLite file, or a fresh database on the local PostgreSQL")  # fmt: skip
    args = parser.parse_args(argv)

    return run_measured(
        "handling", args.name, lambda url: _measure(args, url), argv, database=args.database
    )


def run_measured(
    kind: str,
    name: str,
    measure: Callable[[str], dict],
    argv: list[str] | None,
    database: str = "sqlite",
) -> int:
    """Run `measure(database url)` over a private Redis and a fresh SQLite file (or, with
    `database` "postgresql", a fresh database on the local server) with the demo data (the
    environment `smsbot run` gives a worker); write its result to bench/results/<name>.json
    with the command and commit, and print it."""
    workdir = Path(tempfile.mkdtemp(prefix=f"smsbot-{kind}-"))
    (workdir / "logs").mkdir()
    procs = Processes(workdir / "logs")
    pg = None
    try:
        redis_url = start_redis(procs, workdir)
        if database == "postgresql":
            why = pg_available(PG_ADMIN_URL)
            if why:
                raise SystemExit(f"PostgreSQL is not available: {why}")
            pg = PgDatabase(PG_ADMIN_URL)
            url = pg.url
        else:
            url = f"sqlite:///{workdir}/{kind}.db"
        _environment(workdir, url, redis_url)
        prepare_database(url)
        result = measure(url)
    finally:
        procs.stop_all()
        if pg is not None:
            from smsbot import db

            if db._engine is not None:  # closed by us, not by the DROP … WITH (FORCE) under them
                for engine in db.engines():
                    engine.dispose()
            pg.drop()
    result.update(command=" ".join([f"bench/{kind}.py", *(argv or sys.argv[1:])]),
                  commit=_commit(), started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip()  # fmt: skip


def _environment(workdir: Path, url: str, redis_url: str) -> None:
    os.environ.update({
        "SMSBOT_ENV": "development", "SMSBOT_INSTANCE_PATH": str(workdir / "instance"),
        "SMSBOT_LOG_LEVEL": "WARNING", "DATABASE_URL": url, "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-handling-" + "x" * 16, "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t" * 32,
        "TWILIO_FROM": COMPANY_NUMBER, "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
    })  # fmt: skip


def _measure(args: argparse.Namespace, url: str) -> dict:
    from sqlalchemy import create_engine, event

    from app import create_app
    from smsbot import db, inbound, jobs, outgoing
    from smsbot.providers.base import InboundSms

    engine = create_engine(url)
    with engine.begin() as conn:  # a resident texting ПОМОЩЬ fifty times is no flood here
        conn.exec_driver_sql("UPDATE company SET rate_limit = 1000000, loop_repeats = 1000000")
    engine.dispose()
    app = create_app()
    # The handling alone: the replies wait for a drain (which this bench does not run), as
    # they did before a lone reply was sent by the job that stored it (sending.send_here).
    outgoing.SEND_HERE_MAX = 0
    stored = 0

    def store(count: int) -> None:
        nonlocal stored
        with db.writer().begin() as conn:
            for n in range(stored, stored + count):
                phone = n % KNOWN_PHONES if args.known else n
                sms = InboundSms(provider="twilio", provider_id=f"SM{n:032d}",
                                 from_phone=f"+7916{phone:07d}", to_phone=COMPANY_NUMBER,
                                 body="помощь", params={})  # fmt: skip
                inbound.store(conn, sms)
        stored += count

    def handle_all() -> list[float]:
        each = []
        while True:
            started = time.process_time()
            count = jobs._handle_batch(args.batch)
            if not count:
                return each
            each.append((time.process_time() - started) / count)

    rounds = []
    with app.app_context():
        store(KNOWN_PHONES)  # warm-up: the known phones' residents, every cache
        handle_all()
        for _ in range(args.rounds):
            meter = CpuMeter()
            store(args.messages)
            each = sorted(handle_all())
            rounds.append({"median_ms": _quantile(each, 0.5), "p25_ms": _quantile(each, 0.25),
                           "p75_ms": _quantile(each, 0.75),
                           "per_message_ms": round(1000 * sum(each) / len(each), 3),
                           "other_load_cores": meter.read()["other_cores"]})  # fmt: skip
            print(f"round {len(rounds)}: {rounds[-1]}", file=sys.stderr)
        statements: Counter[str] = Counter()

        def count(conn, cursor, statement, *rest):  # noqa: ANN001, ANN202
            statements[statement.split(None, 1)[0].upper()] += 1

        store(args.messages)
        for engine in db.engines():  # (on PostgreSQL, writer's single units have their own)
            event.listen(engine, "before_cursor_execute", count)
        profile = cProfile.Profile()
        profile.enable()
        handle_all()
        profile.disable()
        for engine in db.engines():
            event.remove(engine, "before_cursor_execute", count)
    calls = pstats.Stats(profile).total_calls
    return {
        "residents": "known" if args.known else "new", "batch": args.batch,
        "messages_per_round": args.messages, "rounds": rounds,
        "median_ms_over_rounds": sorted(r["median_ms"] for r in rounds)[len(rounds) // 2],
        "python_calls_per_message": round(calls / args.messages),
        "sql_statements_per_message": {k: round(v / args.messages, 2) for k, v in statements.items()},
    }  # fmt: skip


def _quantile(ordered: list[float], share: float) -> float:
    """In ms, from seconds sorted ascending."""
    return round(1000 * ordered[int(share * (len(ordered) - 1))], 3)


if __name__ == "__main__":
    sys.exit(main())
