"""Benchmark: the desk's search box over a million messages, on SQLite and PostgreSQL.

For each database: a fresh one (an SQLite file in a temporary folder; a PostgreSQL database
of its own on SMSBOT_TEST_POSTGRES_URL's server), migrated to head, then generated in bulk:
20 companies (one of them holding a quarter of everything), their buildings and accounts,
40,000 residents each with a conversation, 1,000,000 messages (residents' problems in their
own words, dispatchers' answers and the bot's replies, which the search leaves out) and
100,000 tickets. SQLite loads through the migration's triggers, so its full-text index is
built as the app builds it, one stemmed message at a time; PostgreSQL loads with COPY and
builds its GIN indexes after, as a restore would.

Then, signed in over Flask's test client (the whole view: scoping, the search's SQL, the
rows' details and the template), it requests the inbox and the ticket desk for a range of
queries a dispatcher types: a common word, a topic, a rare word, a word nobody used, two
words, a phone fragment, an account number, a street, a ticket number. As the big company's
dispatcher and as a superadmin who sees every company. After a warm-up, each request runs
RUNS times; the median and the worst are reported and every median is held to TARGET_MS.

Writes bench/results/search.json. Not part of the test suite.

    .venv/bin/python bench/search.py                    # both databases, 1,000,000 messages
    .venv/bin/python bench/search.py --messages 100000 --databases sqlite   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as kit  # noqa: E402  (bench/run.py: processes, Redis, the database, machine info)

from smsbot import search  # noqa: E402
from standins.demo_history import TEXTS  # noqa: E402

ADMIN_URL = os.environ.get(
    "SMSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_MS = 300
"""Issue 11: at a million messages a search answers in under 300 ms."""
RUNS = 7
COMPANIES = 20
BUILDINGS_PER_COMPANY = 12
RESIDENTS = 40_000
STREETS = ("Молодёжная", "Советская", "Ленина", "Гагарина", "Садовая", "Лесная", "Школьная",
           "Центральная", "Набережная", "Заречная", "Октябрьская", "Пушкина")  # fmt: skip
DISPATCHER_TEXTS = (
    "Здравствуйте! Мастер придёт сегодня до 18:00.",
    "Заявку передали сантехнику, ждите звонка.",
    "Уточните, пожалуйста, номер подъезда и квартиры.",
    "Электрик будет завтра с утра.",
    "Работы закончены, проверьте, пожалуйста.",
)
BOT_TEXTS = (
    "Заявка №{n} принята (Сантехника). Срок: до 04.12 18:00. Узнать: СТАТУС {n}",
    "Спасибо, сообщение передано диспетчеру. Ответим в рабочее время.",
    "Баланс л/с {n}: 1 234,50 руб.",
)
EXTRA = ("срочно", "пожалуйста", "уже второй день", "помогите", "с утра", "опять", "вечером",
         "в квартире {n}", "подъезд {p}", "этаж {p}", "спасибо")  # fmt: skip
RARE = "прокладку"
"""A word a few hundred messages have."""

QUERIES = {
    "common word": "работает",
    "topic": "домофона",
    "two words": "нет воды",
    "rare word": RARE,
    "no such word": "крокодил",
    "phone fragment": "{phone}",
    "account number": "{account}",
    "street": "Молодёжная",
    "ticket number": "{ticket}",
}
"""What a dispatcher types; {…} are filled from the generated data."""


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


RESIDENT_TEXTS = [t for group in TEXTS.values() for t in group]


def resident_text(rng: random.Random) -> str:
    text = rng.choice(RESIDENT_TEXTS)
    if rng.random() < 0.6:
        text += ", " + rng.choice(EXTRA).format(n=rng.randint(1, 300), p=rng.randint(1, 9))
    if rng.random() < 0.0005:
        text += f", поменяйте {RARE}"
    return text


def generate(args: argparse.Namespace) -> dict[str, list[tuple]]:
    """Every row, as tuples in the columns `load_*` write (ids given, so both loads agree)."""
    rng = random.Random(args.seed)
    now = datetime(2026, 11, 30, 12, 0)
    rows: dict[str, list[tuple]] = {k: [] for k in ("company", "building", "account", "resident",
                                                    "account_link", "conversation", "message", "ticket")}  # fmt: skip
    for c in range(1, COMPANIES + 1):
        rows["company"].append((c, f"uk-{c}", f"УК {c}"))
        for b in range(BUILDINGS_PER_COMPANY):
            building = (c - 1) * BUILDINGS_PER_COMPANY + b + 1
            street = STREETS[(c + b) % len(STREETS)]
            rows["building"].append(
                (building, c, f"Московская обл., г. Город-{c}, ул. {street}, д. {b + 1}")
            )
    weights = [5 if c == 1 else 1 for c in range(1, COMPANIES + 1)]
    companies = rng.choices(range(1, COMPANIES + 1), weights, k=RESIDENTS)
    for r in range(1, RESIDENTS + 1):
        company = companies[r - 1]
        building = (company - 1) * BUILDINGS_PER_COMPANY + rng.randrange(BUILDINGS_PER_COMPANY) + 1
        rows["resident"].append((r, f"+7916{r:07d}"))
        rows["account"].append((r, company, building, f"50{r:08d}", str(rng.randint(1, 300))))
        rows["account_link"].append((r, r, r))
        rows["conversation"].append((r, company, r, now - timedelta(minutes=r)))
    per_company_number: dict[int, int] = {}
    for m in range(1, args.messages + 1):
        r = rng.randint(1, RESIDENTS)
        company = companies[r - 1]
        at = now - timedelta(seconds=(args.messages - m) * 3)
        roll = rng.random()
        if roll < 0.55:
            kind, direction, body = "resident", "in", resident_text(rng)
        elif roll < 0.65:
            kind, direction, body = "dispatcher", "out", rng.choice(DISPATCHER_TEXTS)
        else:
            kind, direction, body = (
                "reply",
                "out",
                rng.choice(BOT_TEXTS).format(n=rng.randint(1, 9999)),
            )
        rows["message"].append((m, direction, kind, body, r, company, r, at))
        if kind == "resident" and len(rows["ticket"]) < args.tickets and rng.random() < 0.2:
            number = per_company_number[company] = per_company_number.get(company, 0) + 1
            status = rng.choice(
                ("new", "accepted", "in_progress", "done", "done", "done", "rejected")
            )
            rows["ticket"].append((len(rows["ticket"]) + 1, company, number, r, r,
                                   rows["account"][r - 1][2], m, body, status, at))  # fmt: skip
    return rows


COLUMNS = {
    "company": "id, slug, name",
    "building": "id, company_id, address",
    "resident": "id, phone",
    "account": "id, company_id, building_id, number, apartment",
    "account_link": "id, resident_id, account_id",
    "conversation": "id, company_id, resident_id, last_message_at",
    "message": "id, direction, kind, body, resident_id, company_id, conversation_id, created_at",
    "ticket": "id, company_id, number, resident_id, account_id, building_id, message_id, text, "
    "status, filed_at",
}
FIXED = {
    "company": {"timezone": "Europe/Moscow", "language": "ru"},
    "resident": {"language": "ru", "opted_out": False, "created_at": "2026-01-01 00:00:00"},
    "account": {"balance": 0},
    "account_link": {"source": "billing", "created_at": "2026-01-01 00:00:00"},
    "conversation": {"status": "open", "unread": 0, "acknowledged": False,
                     "created_at": "2026-01-01 00:00:00"},
    "message": {"status": "handled", "from_phone": "+79160000000", "to_phone": "+74950000000",
                "attempts": 0, "updated_at": "2026-01-01 00:00:00"},
    "ticket": {"problem": "other", "category": "other", "priority": "normal", "emergency": False,
               "deadline_at": "2026-12-31 00:00:00", "updated_at": "2026-01-01 00:00:00",
               "filed_nonworking": False, "working_hours": False, "reopen_count": 0},
}  # fmt: skip
"""Columns every generated row of a table shares (the NOT NULL ones the app fills)."""


def _company_defaults() -> dict[str, object]:
    """The company table's other NOT NULL columns, from a row the ORM makes."""
    from smsbot.models import Company

    row = Company(slug="x", name="x")
    return {
        c.name: getattr(row, c.name)
        for c in Company.__table__.columns
        if not c.nullable
        and c.name not in ("id", "slug", "name")
        and getattr(row, c.name) is not None
    }


def load_sqlite(path: Path, rows: dict[str, list[tuple]]) -> dict[str, float]:
    conn = sqlite3.connect(path)
    conn.create_function("smsbot_stem", 1, search.stem_text, deterministic=True)
    conn.execute("PRAGMA synchronous=OFF")
    timings = {}
    for table, cols in COLUMNS.items():
        fixed = FIXED.get(table, {}) | (_company_defaults() if table == "company" else {})
        names = cols + "".join(f", {k}" for k in fixed)
        marks = ", ".join("?" * (len(cols.split(",")) + len(fixed)))
        started = time.perf_counter()
        with conn:
            conn.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",
                (row + tuple(fixed.values()) for row in rows[table]),
            )
        timings[table] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    conn.execute("ANALYZE")
    conn.close()
    timings["analyze"] = round(time.perf_counter() - started, 1)
    return timings


def load_postgres(url: str, rows: dict[str, list[tuple]]) -> dict[str, float]:
    import psycopg

    timings = {}
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no per-row FK checks, as a restore
        conn.execute("DROP INDEX ix_message_search")
        conn.execute("DROP INDEX ix_ticket_search")
        for table, cols in COLUMNS.items():
            fixed = FIXED.get(table, {}) | (_company_defaults() if table == "company" else {})
            names = cols + "".join(f", {k}" for k in fixed)
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows[table]:
                    copy.write_row(row + tuple(fixed.values()))
            timings[table] = round(time.perf_counter() - started, 1)
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        started = time.perf_counter()  # the same indexes as migration 0013 makes
        conn.execute(
            "CREATE INDEX ix_message_search ON message USING gin (to_tsvector('russian', body)) "
            f"WHERE kind IN {search.SEARCHED_KINDS!r}"
        )
        conn.execute(
            "CREATE INDEX ix_ticket_search ON ticket USING gin (to_tsvector('russian', text))"
        )
        timings["gin_indexes"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze"] = round(time.perf_counter() - started, 1)
    return timings


def measure(url: str, redis_url: str, rows: dict[str, list[tuple]], workdir: Path) -> dict:
    """Every query through the inbox and the desk, as a dispatcher and as a superadmin."""
    from sqlmodel import Session, select

    from app import create_app
    from smsbot import db, users
    from smsbot.models import User

    app = create_app({"SMSBOT_ENV": "test", "DATABASE_URL": url, "REDIS_URL": redis_url,
                      "SECRET_KEY": "bench-secret-key-0123456789", "SMSBOT_LOG_LEVEL": "WARNING",
                      "SMSBOT_INSTANCE_PATH": str(workdir / "instance"),
                      "PUBLIC_BASE_URL": "http://127.0.0.1:5000"})  # fmt: skip
    with Session(db.engine()) as session:
        people = {}
        for role, login, company in (("dispatcher", "olga", 1), ("superadmin", "root", None)):
            people[role] = session.exec(select(User).where(User.login == login)).first() or (
                users.create_user(session, login=login, name=login, password="x" * 12, role=role,
                                  company_id=company)
            )  # fmt: skip
        session.commit()
        ids = {k: u.get_id() for k, u in people.items()}
    big = [r for r in rows["message"] if r[5] == 1 and r[2] == "resident"]
    sample = big[len(big) // 2]
    ticket = max((t for t in rows["ticket"] if t[1] == 1), key=lambda t: t[2])
    fill = {"phone": f"{sample[4]:07d}"[-7:], "account": f"50{sample[4]:08d}", "ticket": ticket[2]}
    results = {}
    for who, user_id in ids.items():
        client = app.test_client()
        with client.session_transaction() as s:
            s["_user_id"], s["_fresh"] = user_id, True
            s["signed_in_at"] = s["seen_at"] = int(time.time())
        for label, query in QUERIES.items():
            q = query.format(**fill)
            for page, path in (("inbox", "/inbox"), ("tickets", "/tickets")):
                params = {"q": q} | ({"status": "all"} if page == "tickets" else {})
                times, status = [], None
                for run in range(RUNS + 1):
                    started = time.perf_counter()
                    response = client.get(path, query_string=params)
                    elapsed = (time.perf_counter() - started) * 1000
                    status = response.status_code
                    assert status in (200, 302), (path, q, status)
                    if run:
                        times.append(elapsed)
                body = response.get_data(as_text=True)
                shown = body.count('data-key="c') if page == "inbox" else body.count('data-key="t')
                key = f"{who} · {page} · {label}"
                results[key] = {"q": q, "status": status, "shown": shown,
                                "p50_ms": round(statistics.median(times), 1),
                                "max_ms": round(max(times), 1)}  # fmt: skip
                log(f"{key} ({q}): p50 {results[key]['p50_ms']} ms, max {results[key]['max_ms']} ms, "
                    f"{shown} rows, HTTP {status}")  # fmt: skip
    db.engine().dispose()
    return results


def run_database(
    kind: str, args: argparse.Namespace, rows: dict, workdir: Path, redis_url: str
) -> dict:
    from smsbot import migrate

    if kind == "sqlite":
        path = Path(args.sqlite_file) if args.sqlite_file else workdir / "search.db"
        url, drop, version = f"sqlite:///{path}", None, sqlite3.sqlite_version
        loaded = path.with_suffix(".load.json")
        if path.exists() and loaded.exists():
            log(f"sqlite: reusing {path} (loaded by an earlier run with --sqlite-file)")
            timings = json.loads(loaded.read_text()) | {"reused": str(path)}
        else:
            migrate.upgrade(url)
            log("sqlite: loading (the triggers stem and index every message)")
            timings = load_sqlite(path, rows)
            loaded.write_text(json.dumps(timings))
    else:
        why = kit.pg_available(ADMIN_URL)
        if why:
            return {"skipped": f"PostgreSQL does not answer at {ADMIN_URL}: {why}"}
        if args.postgres_url:
            url, drop, version = (
                args.postgres_url,
                None,
                kit.sql_scalar(args.postgres_url, "SHOW server_version"),
            )
            log(f"postgresql: reusing {url}")
            timings = {"reused": url}
        else:
            database = kit.PgDatabase(ADMIN_URL)
            url, version = database.url, database.version
            drop = None if args.keep_postgres else database.drop
            migrate.upgrade(url)
            log("postgresql: loading with COPY, then the GIN indexes")
            timings = load_postgres(url, rows)
            if args.keep_postgres:
                log(f"postgresql: kept at {url} (reuse it with --postgres-url)")
    log(f"{kind}: loaded in {timings}")
    try:
        measured = measure(url, redis_url, rows, workdir / kind)
    finally:
        if drop is not None:
            drop()
    return {"version": version, "load_s": timings, "requests": measured,
            "worst_p50_ms": max(r["p50_ms"] for r in measured.values()),
            "within_target": all(r["p50_ms"] < TARGET_MS for r in measured.values())}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--sqlite-file", help="keep the SQLite database here and reuse it on the next run"
    )
    parser.add_argument("--keep-postgres", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--postgres-url", help="measure this loaded database (from --keep-postgres)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    log(f"generating {args.messages:,} messages and {args.tickets:,} tickets")
    rows = generate(args)
    log(f"generated in {time.perf_counter() - started:.0f} s")
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        workdir = Path(tmp)
        procs = kit.Processes(workdir)
        try:
            redis_url = kit.start_redis(procs, workdir)
            machine = kit.machine_info(redis_url, None, None)
            results = {}
            for kind in args.databases.split(","):
                (workdir / kind).mkdir()
                results[kind] = run_database(kind, args, rows, workdir, redis_url)
        finally:
            procs.stop_all()
    out = {
        "benchmark": "search",
        "machine": machine,
        "config": {
            "messages": args.messages,
            "tickets": args.tickets,
            "companies": COMPANIES,
            "residents": RESIDENTS,
            "runs": RUNS,
            "seed": args.seed,
        },  # fmt: skip
        "target_ms": TARGET_MS,
        "databases": results,
    }
    if not args.no_write:
        name = "search" if args.messages == 1_000_000 else f"search-{args.messages}"
        path = BENCH / "results" / f"{name}.json"
        path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {path}")
    return 0 if all(r.get("within_target", True) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
