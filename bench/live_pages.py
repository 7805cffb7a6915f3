"""Benchmark: what 50 open staff pages cost while they poll once a second.

Every open inbox or thread page asks its `/live` address once a second whether anything is
new (smsbot/web/static/app.js). This measures one simulated second after another: each of
50 pages (25 inbox lists, 25 threads of different residents, each its own signed-in
session) polls once, through the app in this process (Flask's test client: the app's own
CPU, without a web server's), on the embedded SQLite and, when a server is reachable, on
PostgreSQL. Three ways:

- `full`: every poll is answered from the database, as before the change counters: the
  user is loaded, the page rebuilt and compared with what the page holds (204 when equal).
  Pages send a version whose signature does not match, which takes exactly that path.
- `idle`: nothing changes; pages hold current versions (smsbot.web.live answers 204 from
  Redis alone).
- `busy`: as `idle`, but the company's desk changes every CHANGE_EVERY seconds (a message
  handled, a status recorded): after each change every page looks again once.

For each: CPU ms per poll (this process), SQL statements per poll and per second (all 50
pages), Redis round trips per poll. Writes bench/results/live_pages.json. Not part of the
test suite.

    .venv/bin/python bench/live_pages.py              # about a minute
    .venv/bin/python bench/live_pages.py --seconds 5  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as kit  # noqa: E402  (bench/run.py: processes, Redis, PostgreSQL, machine info)

PAGES = 50
CONVERSATIONS = 300
MESSAGES_EACH = 6
CHANGE_EVERY = 10
"""Seconds between changes of the company's desk in `busy` (a quiet hour at a dispatch desk
sees a message every few minutes; a busy one, every few seconds)."""
PASSWORD = "bench-password-1"


def seed(url: str) -> tuple[int, list[int]]:
    """Demo data plus CONVERSATIONS residents' threads in the first company; its id and the
    thread ids."""
    from sqlmodel import Session, select

    from smsbot import db, users
    from smsbot.models import Company, Conversation, Message, Resident

    kit.prepare_database(url)
    engine = db.make_engine(url)
    users.HASH_METHOD = "pbkdf2:sha256:1000"  # sign-ins are not what is measured
    now = datetime.now(UTC)
    with Session(engine) as session:
        company_id = session.exec(select(Company.id).order_by(Company.id)).first()
        users.create_user(session, login="bench", name="Диспетчер", password=PASSWORD,
                          role="dispatcher", company_id=company_id)  # fmt: skip
        residents = [Resident(phone=f"+7916{n:07d}") for n in range(CONVERSATIONS)]
        session.add_all(residents)
        session.flush()
        threads = [
            Conversation(
                company_id=company_id,
                resident_id=r.id,
                unread=n % 3,
                last_message_at=now - timedelta(minutes=n),
            )  # fmt: skip
            for n, r in enumerate(residents)
        ]
        session.add_all(threads)
        session.flush()
        session.add_all(
            Message(
                direction="in" if k % 2 == 0 else "out",
                status="handled" if k % 2 == 0 else "delivered",
                kind="resident" if k % 2 == 0 else "dispatcher",
                from_phone=r.phone,
                to_phone="+74951230001",
                body=f"Сообщение {k} о протечке",
                company_id=company_id,
                resident_id=r.id,
                conversation_id=c.id,
                created_at=now - timedelta(minutes=60 - k),
            )  # fmt: skip
            for c, r in zip(threads, residents, strict=True)
            for k in range(MESSAGES_EACH)
        )
        session.commit()
        ids = [c.id for c in threads]
    engine.dispose()
    return company_id, ids


class Page:
    """One open browser tab: its own session, its live address and the version it holds."""

    def __init__(self, app, path: str) -> None:  # noqa: ANN001
        from tests.web.staff.conftest import sign_in

        self.client = app.test_client()
        response = sign_in(self.client, "bench", PASSWORD)
        assert response.status_code == 302, response.status_code
        self.path = path
        self.version = ""
        self.poll()

    def poll(self, spoil: bool = False) -> int:
        version = self.version
        if spoil and version:  # the same content, but a signature that cannot match
            version = version[:-4] + "xxxx"
        sep = "&" if "?" in self.path else "?"
        response = self.client.get(f"{self.path}{sep}v={version}")
        if response.status_code == 200:
            self.version = response.get_json()["version"]
        elif response.status_code == 204:
            self.version = response.headers.get("X-Live-Version", self.version)
        else:
            raise RuntimeError(f"{self.path}: HTTP {response.status_code}")
        return response.status_code


def measure(pages: list[Page], mode: str, seconds: int, company_id: int) -> dict:
    from sqlalchemy import event

    from smsbot import changes, counting, db

    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    event.listen(db.engine(), "before_cursor_execute", count)
    redis_before = counting.counts["redis_round_trips"]
    answers = {200: 0, 204: 0}
    cpu = 0.0
    try:
        for second in range(seconds):
            if mode == "busy" and second % CHANGE_EVERY == 0:
                changes.bump([company_id])  # as a handled batch's commit does
            started = time.process_time()
            for page in pages:
                answers[page.poll(spoil=mode == "full")] += 1
            cpu += time.process_time() - started
    finally:
        event.remove(db.engine(), "before_cursor_execute", count)
    polls = seconds * len(pages)
    return {
        "mode": mode,
        "seconds": seconds,
        "polls": polls,
        "answers": {str(k): v for k, v in answers.items()},
        "cpu_ms_per_poll": round(cpu * 1000 / polls, 3),
        "cpu_s_per_second_of_50_pages": round(cpu / seconds, 4),
        "sql_per_poll": round(statements[0] / polls, 2),
        "sql_per_second": round(statements[0] / seconds, 1),
        "redis_round_trips_per_poll": round(
            (counting.counts["redis_round_trips"] - redis_before) / polls, 2
        ),
    }


def run_database(label: str, url: str, redis_url: str, workdir: Path, args) -> dict:  # noqa: ANN001
    from app import create_app
    from smsbot import db, queues

    kit.flush_redis(redis_url)
    company_id, threads = seed(url)
    env = {
        "SMSBOT_ENV": "development", "SMSBOT_INSTANCE_PATH": str(workdir / f"instance-{label}"),
        "DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": os.urandom(16).hex(),
        "SMSBOT_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    app = create_app(env)
    app.config["WTF_CSRF_ENABLED"] = True
    half = PAGES // 2
    pages = [Page(app, "/inbox/live?view=open") for _ in range(half)]
    pages += [Page(app, f"/inbox/{cid}/live") for cid in threads[: PAGES - half]]
    results = [
        measure(pages, "full", args.full_seconds, company_id),
        measure(pages, "idle", args.seconds, company_id),
        measure(pages, "busy", args.seconds, company_id),
    ]
    for r in results:
        kit.log(f"{label} {r['mode']}: {r['cpu_ms_per_poll']} ms CPU/poll, "
                f"{r['sql_per_second']} SQL/s, answers {r['answers']}")  # fmt: skip
    db.engine().dispose()
    queues.connection().close()
    return {"database": label, "pages": PAGES, "conversations": CONVERSATIONS, "runs": results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="simulated seconds, idle and busy")
    parser.add_argument("--full-seconds", type=int, default=10, help="simulated seconds, full")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    from smsbot import counting

    workdir = Path(tempfile.mkdtemp(prefix="smsbot-live-pages-"))
    os.environ[counting.ENV] = str(workdir / "counts")  # count Redis round trips in-process
    (workdir / "counts").mkdir()
    procs = kit.Processes(workdir)
    pg = None
    try:
        redis_url = kit.start_redis(procs, workdir)
        databases = [("sqlite", f"sqlite:///{workdir / 'live.db'}")]
        admin = os.environ.get(
            "SMSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )
        if not args.no_postgres and kit.pg_available(admin) is None:
            pg = kit.PgDatabase(admin)
            databases.append(("postgresql", pg.url))
        started = datetime.now(UTC)
        results = [run_database(label, url, redis_url, workdir, args) for label, url in databases]
        out = {
            "benchmark": "live_pages",
            "started": started.isoformat(timespec="seconds"),
            "command": "bench/live_pages.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": kit.machine_info(redis_url, pg.version if pg else None, None),
            "other_load_note": "CPU is this process's; other sessions on the machine slow it",
            "change_every_s_in_busy": CHANGE_EVERY,
            "results": results,
        }
        path = BENCH / "results" / "live_pages.json"
        path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        kit.log(f"wrote {path}")
    finally:
        procs.stop_all()
        if pg is not None:
            pg.drop()


if __name__ == "__main__":
    main()
