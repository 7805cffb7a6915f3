"""A notice to 10,000 residents: how long queueing it takes, and how fast it is sent.

Standalone: `.venv/bin/python bench/notice_fanout.py [--residents 10000] [--mps 500]`.
It starts its own redis-server and the Twilio stand-in (`python -m standins.twilio`) on free
ports, makes a fresh SQLite file (or, with `--backend postgres`, a fresh PostgreSQL database
on 127.0.0.1:5432, dropped at the end), loads the demo data plus one building with
`--residents` billing phones, and then:

1. queueing: `notices.create` for the whole company and its commit, which stores every copy
   and wakes the sender (wall and CPU seconds of this process);
2. sending: one in-process RQ worker (smsbot's AppWorker, burst mode) drains the copies
   through the Twilio plug-in at TWILIO_MPS=`--mps`; the send rate is copies / (last
   sent_at - first sent_at), compared with the allowed rate, and the CPU per copy of the
   worker (this process), the stand-in and Redis is read from /proc.

Prints both and writes everything to bench/results/notice_fanout.json. The status callbacks
the stand-in makes go to a closed port (no web tier runs): this measures queueing and
sending, not delivery.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results" / "notice_fanout.json"
TWILIO_SID = "AC" + "2" * 32
TWILIO_TOKEN = "bench-notice-token"
TWILIO_FROM = "+79990000000"
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TEXT = "Плановое отключение горячей воды 26.11 с 9:00 до 18:00. УК «Заречье»"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(argv: list[str], port: int, what: str, log: Path) -> subprocess.Popen:
    from smsbot.runner import _wait_for_port

    process = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT)
    _wait_for_port(port, what)
    return process


def seed(residents: int) -> int:
    """Demo data plus a building whose billing export lists `residents` phones; the company."""
    from sqlalchemy import insert, select
    from sqlmodel import Session

    from smsbot import db
    from smsbot.models import Account, AccountPhone, Building, Company
    from standins import demo

    with Session(db.engine()) as session:
        demo.seed(session)
        company = session.exec(select(Company).where(Company.slug == "uk-zarechye")).scalar_one()
        building = Building(company_id=company.id, address="ул. Бенчмарковая, 1")
        session.add(building)
        session.flush()
        accounts = session.execute(
            insert(Account).returning(Account.id),
            [
                {
                    "company_id": company.id,
                    "building_id": building.id,
                    "number": f"B{n:07d}",
                    "apartment": str(n),
                    "balance": 0,
                }  # fmt: skip
                for n in range(residents)
            ],
        ).scalars()
        session.execute(
            insert(AccountPhone),
            [
                {"account_id": account_id, "phone": f"+7916{n:07d}"}
                for n, account_id in enumerate(accounts)
            ],
        )
        session.commit()
        return company.id


def run(args: argparse.Namespace, work: Path) -> dict:
    from smsbot.runner import free_port, redis_executable

    redis_port, twilio_port = free_port(), free_port()
    children: list[subprocess.Popen] = []
    pg_name = None
    try:
        redis = start(
            [redis_executable(), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(work)],
            redis_port, "Redis", work / "redis.log",
        )  # fmt: skip
        children.append(redis)
        fake = start(
            [sys.executable, "-m", "standins.twilio", "--port", str(twilio_port), "--quiet",
             "--account-sid", TWILIO_SID, "--auth-token", TWILIO_TOKEN,
             "--max-messages", str(args.residents + 100)],
            twilio_port, "Twilio stand-in", work / "twilio.log",
        )  # fmt: skip
        children.append(fake)

        if args.backend == "postgres":
            from sqlalchemy import create_engine, text

            pg_name = f"smsbot_notice_{uuid.uuid4().hex[:8]}"
            admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
            admin.dispose()
            database_url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
        else:
            database_url = f"sqlite:///{work / 'smsbot.db'}"

        from smsbot import migrate

        migrate.upgrade(database_url)
        env = {
            "SMSBOT_ENV": "development",
            "SMSBOT_INSTANCE_PATH": str(work / "instance"),
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "SECRET_KEY": "bench-notice-fanout-secret-0123456789",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}",  # closed: no web tier
            "SMSBOT_LOG_LEVEL": "WARNING",
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM": TWILIO_FROM,
            "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_port}",
            "TWILIO_MPS": str(args.mps),
            "TWILIO_SEND_CONCURRENCY": str(args.concurrency),
        }
        return measure(args, env, redis.pid, fake.pid)
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        if pg_name:
            from sqlalchemy import create_engine, text

            from smsbot import db

            if db._engine is not None:
                db._engine.dispose()
            admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


def measure(args: argparse.Namespace, env: dict[str, str], redis_pid: int, fake_pid: int) -> dict:
    from rq import Queue
    from sqlalchemy import func, select
    from sqlmodel import Session

    import worker as worker_module
    from app import create_app
    from smsbot import db, notices, queues
    from smsbot.models import KIND_NOTICE, Message

    app = create_app(env)
    with app.app_context():
        company_id = seed(args.residents)

        profile = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        with db.session_scope() as session:
            notice = notices.create(
                session, company_id=company_id, author_id=None, building_ids=None, body=TEXT
            )
            notice_id = notice.id
        queue_wall, queue_cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        if args.per_message_jobs:
            # For comparison: the way sends were queued before batching, one RQ job each.
            Queue(queues.NOTICES_QUEUE, connection=queues.connection()).empty()
            with Session(db.engine()) as session:
                ids = session.execute(
                    select(Message.id).where(Message.notice_id == notice_id).order_by(Message.id)
                ).scalars()
                queues.enqueue_sends([(i, queues.NOTICES_QUEUE) for i in ids])
        waiting = {
            name: len(Queue(name, connection=queues.connection()))
            for name in (queues.OUTBOUND_QUEUE, queues.NOTICES_QUEUE)
        }
        with Session(db.engine()) as session:
            copies = session.execute(
                select(func.count()).where(Message.notice_id == notice_id)
            ).scalar_one()
        print(
            f"queued: {copies} copies in {queue_wall:.2f} s wall, {queue_cpu:.2f} s CPU; "
            f"jobs waiting: {waiting}",
            flush=True,
        )

        before = {"worker": time.process_time(), "redis": cpu_seconds(redis_pid),
                  "twilio": cpu_seconds(fake_pid)}  # fmt: skip
        wall = time.perf_counter()
        worker = worker_module.build(app, [queues.OUTBOUND_QUEUE, queues.NOTICES_QUEUE])
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        worker.work(burst=True, logging_level="WARNING")
        send_wall = time.perf_counter() - wall
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        used = {
            "worker": time.process_time() - before["worker"],
            "redis": cpu_seconds(redis_pid) - before["redis"],
            "twilio": cpu_seconds(fake_pid) - before["twilio"],
        }
        with Session(db.engine()) as session:
            states = dict(
                session.execute(
                    select(Message.status, func.count())
                    .where(Message.notice_id == notice_id)
                    .group_by(Message.status)
                ).all()
            )
            first, last, sent = session.execute(
                select(func.min(Message.sent_at), func.max(Message.sent_at), func.count()).where(
                    Message.notice_id == notice_id, Message.sent_at.is_not(None)
                )
            ).one()
            jobs = len(
                [1 for _ in session.execute(select(Message.id).where(Message.kind == KIND_NOTICE))]
            )
        span = (last - first).total_seconds() if sent > 1 else 0.0
        rate = (sent - 1) / span if span > 0 else float("nan")
        print(
            f"sent: {sent} of {copies} in {send_wall:.1f} s; rate {rate:.1f} msg/s "
            f"(allowed {args.mps:g}/s, {rate / args.mps:.0%}); states {states}",
            flush=True,
        )
        per = {k: round(v * 1000 / max(sent, 1), 3) for k, v in used.items()}
        print(f"CPU ms per copy sent: {per}", flush=True)
        return {
            "residents": args.residents,
            "copies": copies,
            "notice_copies_in_db": jobs,
            "backend": args.backend,
            "messages_per_second_allowed": args.mps,
            "send_concurrency": args.concurrency,
            "per_message_jobs": args.per_message_jobs,
            "queueing": {
                "wall_seconds": round(queue_wall, 3),
                "cpu_seconds": round(queue_cpu, 3),
                "jobs_waiting_after_commit": waiting,
                "target_seconds": 5,
            },
            "sending": {
                "sent": sent,
                "wall_seconds": round(send_wall, 2),
                "first_to_last_sent_seconds": round(span, 2),
                "rate_per_second": round(rate, 1),
                "share_of_allowed_rate": round(rate / args.mps, 3),
                "states": states,
                "cpu_ms_per_copy": per,
            },
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--mps", type=float, default=500.0, help="TWILIO_MPS: the allowed rate")
    parser.add_argument("--concurrency", type=int, default=4, help="TWILIO_SEND_CONCURRENCY")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--profile", action="store_true", help="cProfile queueing and sending")
    parser.add_argument(
        "--per-message-jobs",
        action="store_true",
        help="send through one RQ job per copy (jobs.send_outbound), as before batching",
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="smsbot-notice-"))
    try:
        started = time.time()
        result = run(args, work)
        result["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_at_end": os.getloadavg(),
        }
        result["commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        result["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.output}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
