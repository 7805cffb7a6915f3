"""Benchmark: the inspector's pages over a million tickets in PostgreSQL.

Creates its own database on the server (SMSBOT_TEST_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres), migrates it, generates 40 companies
with 400 buildings and two years of tickets (statuses, stage stamps and overdue marks as the
app sets them, the migration's indexes), loads them with COPY, adds an inspector, and then:

1. times `ticket_stats.rebuild` (the daily and monthly rollups and the monthly running
   totals the pages read), then ANALYZEs them (as autovacuum would within a minute);
2. calls the pages' ticket_stats functions in process (median of PROFILE_RUNS, the time of
   their SQL and an EXPLAIN ANALYZE of each one's slowest statement), also a year's
   `period_tallies` read from the days alone, as before the monthly rollup;
3. serves the app with gunicorn on a free loopback port (its own redis-server for the
   sign-in throttle) and, signed in as the inspector over HTTP, requests `GET /inspector`
   for every period the page offers (30 days by default, `?days=7`, `90`, `365`, and an
   arbitrary `?from=…&to=…` of about 1,000 days), the worst company's drill-down
   `GET /inspector/company/<id>` and `GET /inspector/export.csv`:
   a warm-up, then N requests each, one at a time (p50 / p95 / max); every period of the
   main page is held to TARGET_MS;
4. changes the 1,000 newest tickets (open ones done, done ones rated, as a busy day would)
   and times the incremental `ticket_stats.refresh`; then the same for 1,000 done tickets
   scattered over the two years, reopened (the worst case for the refresh).

Writes bench/results/inspector.json and bench/results/inspector.md (with --name, other
names) and drops its database at the end. Not part of the test suite.

    .venv/bin/python bench/inspector.py                   # 1,000,000 tickets: about 3-10 minutes
    .venv/bin/python bench/inspector.py --tickets 50000   # a quick run (writes inspector-50000.*)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as kit  # noqa: E402  (bench/run.py: processes, Redis, the database, machine info)

from smsbot import deadlines, workdays  # noqa: E402
from smsbot.categories import PROBLEMS  # noqa: E402
from standins.demo_history import HOUR_WEIGHTS, PROBLEM_WEIGHTS, TEXTS, WEEKDAY_FACTOR  # noqa: E402

ADMIN_URL = os.environ.get(
    "SMSBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_MS = 500
"""The requirement: the inspector's main page answers in under half a second."""
PAGES = {
    "inspector": "/inspector",
    "inspector_7": "/inspector?days=7",
    "inspector_90": "/inspector?days=90",
    "inspector_365": "/inspector?days=365",
    "inspector_custom": "/inspector?from={start}&to={end}",
    "company": "/inspector/company/{worst}",
    "export_csv": "/inspector/export.csv",
}
"""The main page for each period it offers (the presets and an arbitrary range), the
drill-down and the export. All `inspector*` pages are held to TARGET_MS."""
CUSTOM_BACK = (1000, 3)
"""The arbitrary range: from 1,000 days ago to 3 days ago (neither end on a month's edge)."""
PROFILE_RUNS = 7
"""In-process calls are timed this many times (after a warm-up); the median is reported."""


def custom_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=CUSTOM_BACK[0]), today - timedelta(days=CUSTOM_BACK[1])


def page_path(name: str, worst: int, today: date) -> str:
    start, end = custom_range(today)
    return PAGES[name].format(worst=worst, start=start.isoformat(), end=end.isoformat())


LOCAL = timedelta(hours=3)
"""Every generated company is in Europe/Moscow (UTC+3 all year)."""
STREETS = ("ул. Молодёжная", "ул. Советская", "пр-т Ленина", "ул. Кирова", "ш. Энтузиастов")
COLUMNS = (
    "company_id", "number", "building_id", "text", "problem", "category", "priority",
    "emergency", "danger", "status", "filed_at", "accepted_at", "started_at", "done_at",
    "rejected_at", "deadline_at", "repair_deadline_at", "updated_at", "filed_day",
    "filed_nonworking", "working_hours", "warn_at", "warned_at", "overdue_at",
    "overdue_alerted_at", "escalated_at", "first_reply_at", "first_done_at", "confirmed_at",
    "reopened_at", "reopen_count", "rating",
)  # fmt: skip
NULL = "\\N"


def log(msg: str) -> None:
    kit.log(msg)


# --- generating the tickets ------------------------------------------------------------------


def _ts(epoch: float | None) -> str:
    if epoch is None:
        return NULL
    return datetime.fromtimestamp(epoch, UTC).isoformat(sep=" ")


class Company:
    """A generated company's size and habits: how late it is, on which days."""

    def __init__(self, index: int, count: int, rng: random.Random):
        self.index = index
        self.id: int | None = None
        self.buildings: list[int] = []
        self.building_count = 4 + index % 13
        spread = index / max(count - 1, 1)
        self.late = 0.03 + 0.27 * spread**1.5
        self.late_nonworking = self.late * rng.uniform(1.0, 3.0)
        self.accept_minutes = 20 + 200 * spread * rng.random()


def plan_companies(count: int, buildings: int, rng: random.Random) -> list[Company]:
    companies = [Company(i, count, rng) for i in range(count)]
    rng.shuffle(companies)  # the worst is not the last one made
    total = sum(c.building_count for c in companies)
    for c in companies:  # scale to the wanted number of buildings
        c.building_count = max(1, round(c.building_count * buildings / total))
    return companies


def ticket_lines(
    company: Company, n: int, *, now: float, days: int, rng: random.Random
) -> list[str]:
    """COPY text lines of `n` tickets of one company over the `days` days before `now`."""
    today = (datetime.fromtimestamp(now, UTC) + LOCAL).date()
    day_list = [today - timedelta(days=back) for back in range(days, -1, -1)]
    nonworking = [workdays.is_nonworking(d) for d in day_list]
    weights = [0.6 if workdays.holiday_name(d) else WEEKDAY_FACTOR[d.weekday()] for d in day_list]
    midnight = [
        datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() - LOCAL.total_seconds()
        for d in day_list
    ]
    picked = sorted(
        (d, h * 3600 + rng.random() * 3600)
        for d, h in zip(
            rng.choices(range(len(day_list)), weights, k=n),
            rng.choices(range(24), HOUR_WEIGHTS, k=n),
            strict=True,
        )
    )
    keys = list(PROBLEM_WEIGHTS)
    problems = rng.choices(keys, [PROBLEM_WEIGHTS[k] for k in keys], k=n)
    lines = []
    for number, ((d, second), key) in enumerate(zip(picked, problems, strict=True), start=1):
        filed = midnight[d] + second
        if filed > now:
            filed = now - rng.random() * 3600
        lines.append(
            _ticket_line(company, number, key, filed, day_list[d], nonworking[d], now, rng)
        )
    return lines


_RULES = {key: deadlines.rule_for(key) for key in PROBLEMS}


def _ticket_line(
    c: Company,
    number: int,
    key: str,
    filed: float,
    day: date,
    nonworking: bool,
    now: float,
    rng: random.Random,
) -> str:
    """One ticket's life as the app would have stamped it by `now` (a simplified
    demo_history: no history rows, calendar deadlines)."""
    problem, rule = PROBLEMS[key], _RULES[key]
    span = rule.contain.total_seconds()
    due, warn = filed + span, filed + span * 0.8
    repair = filed + rule.repair.total_seconds() if rule.repair else None
    late_share = c.late_nonworking if nonworking else c.late
    roll = rng.random()
    if roll < late_share * 0.05:
        close = due + rng.uniform(2, 9) * 86400  # forgotten for days
    elif roll < late_share:
        close = due + max(600.0, span * rng.expovariate(2.0))
    else:
        close = filed + span * rng.uniform(0.2, 0.95)
    delay = (
        rng.uniform(60, 480) if problem.emergency else rng.expovariate(1 / (c.accept_minutes * 60))
    )
    accepted = filed + min(delay, (close - filed) * 0.6)
    started = accepted + (close - accepted) * rng.uniform(0.1, 0.6)
    rejected = rng.random() < 0.04
    stamps: dict[str, float | None] = dict.fromkeys(
        ("accepted_at", "started_at", "done_at", "rejected_at", "first_done_at", "reopened_at",
         "confirmed_at", "first_reply_at", "warned_at", "overdue_at", "overdue_alerted_at",
         "escalated_at"),
    )  # fmt: skip
    reopen_count, rating = 0, None
    if close <= now:
        status = "rejected" if rejected else "done"
        stamps["rejected_at" if rejected else "done_at"] = close
        if not rejected:
            stamps.update(accepted_at=accepted, started_at=started, first_done_at=close)
            if rng.random() < 0.05:  # the resident said НЕТ once
                first = started + (close - started) * 0.5
                stamps.update(first_done_at=first, reopened_at=first + 600)
                reopen_count = 1
            if rng.random() < 0.5:
                stamps["confirmed_at"] = close + 3600
                if rng.random() < 0.75:
                    mark = 4.6 - (1.5 if close > due else 0) + rng.gauss(0, 0.8)
                    rating = min(5, max(1, round(mark)))
    elif accepted > now:
        status = "new"
    else:
        status = "in_progress" if started <= now else "accepted"
        stamps["accepted_at"] = accepted
        stamps["started_at"] = started if started <= now else None
    if stamps["accepted_at"] and rng.random() < 0.6:
        stamps["first_reply_at"] = stamps["accepted_at"]
    if warn < min(close, now):
        stamps["warned_at"] = warn + 30
    if due < min(close, now):
        stamps["overdue_at"] = due
        if due + 30 < min(close, now):
            stamps["overdue_alerted_at"] = due + 30
            stamps["escalated_at"] = due + 30 if problem.emergency else None
    updated = max([filed, *(t for k, t in stamps.items() if t is not None and k != "overdue_at")])
    values = {
        "company_id": c.id, "number": number, "building_id": rng.choice(c.buildings),
        "text": TEXTS[key][0], "problem": key, "category": problem.category,
        "priority": problem.priority, "emergency": "t" if problem.emergency else "f",
        "danger": NULL, "status": status, "filed_at": _ts(filed), "deadline_at": _ts(due),
        "repair_deadline_at": _ts(repair), "updated_at": _ts(updated), "filed_day": day.isoformat(),
        "filed_nonworking": "t" if nonworking else "f", "working_hours": "f", "warn_at": _ts(warn),
        "reopen_count": reopen_count, "rating": NULL if rating is None else rating,
        **{k: _ts(v) for k, v in stamps.items()},
    }  # fmt: skip
    return "\t".join(str(values[name]) for name in COLUMNS) + "\n"


# --- the database ------------------------------------------------------------------------------


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def load(url: str, args: argparse.Namespace, now: float) -> dict:
    """Companies, buildings, an inspector; the tickets by COPY with the ticket indexes
    dropped and rebuilt afterwards (as a bulk load does); the ticket counters; ANALYZE."""
    import psycopg
    from sqlmodel import Session

    from smsbot import db, users
    from smsbot.models import Building, TicketCounter
    from smsbot.models import Company as CompanyRow

    rng = random.Random(args.seed)
    companies = plan_companies(args.companies, args.buildings, rng)
    password = "bench-" + os.urandom(6).hex()
    with Session(db.make_engine(url)) as session:
        for c in companies:
            row = CompanyRow(slug=f"bench-{c.index:02d}", name=f"УК «Бенчмарк-{c.index:02d}»")
            session.add(row)
            session.flush()
            c.id = row.id
            for b in range(c.building_count):
                street = STREETS[(c.index + b) % len(STREETS)]
                building = Building(
                    company_id=c.id, address=f"Московская обл., г. Балашиха, {street}, д. {b + 1}"
                )
                session.add(building)
                session.flush()
                c.buildings.append(building.id)
        users.create_user(session, login="inspector", name="Инспектор", password=password,
                          role="inspector")  # fmt: skip
        session.commit()
    weights = [c.building_count * (0.5 + rng.random()) for c in companies]
    counts = [int(args.tickets * w / sum(weights)) for w in weights]
    counts[0] += args.tickets - sum(counts)

    timings = {}
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ticket' AND indexname"
            " NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'ticket'::regclass)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        generate_s = copy_s = 0.0
        conn.execute("SET session_replication_role = replica")  # generated rows: skip FK checks
        for c, n in zip(companies, counts, strict=True):
            started = time.perf_counter()
            lines = ticket_lines(c, n, now=now, days=args.days, rng=rng)
            generate_s += time.perf_counter() - started
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY ticket ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for i in range(0, len(lines), 20_000):
                    copy.write("".join(lines[i : i + 20_000]))
            copy_s += time.perf_counter() - started
        conn.execute("SET session_replication_role = DEFAULT")
        timings["generate_s"], timings["copy_s"] = round(generate_s, 1), round(copy_s, 1)
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            conn.execute(definition)
        timings["indexes_s"] = round(time.perf_counter() - started, 1)
        timings["indexes"] = [name for name, _ in indexes]
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE ticket")
        timings["analyze_s"] = round(time.perf_counter() - started, 1)
    with Session(db.make_engine(url)) as session:
        for c, n in zip(companies, counts, strict=True):
            session.add(TicketCounter(company_id=c.id, last_number=n))
        session.commit()
    return {"password": password, "timings": timings, "companies": companies}


def table_counts(url: str) -> dict:
    import psycopg

    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('new', 'accepted', 'in_progress')),"
            " count(*) FILTER (WHERE overdue_at IS NOT NULL), count(DISTINCT company_id),"
            " count(DISTINCT building_id), min(filed_day), max(filed_day),"
            " pg_total_relation_size('ticket') FROM ticket"
        ).fetchone()
        day_rows = conn.execute("SELECT count(*) FROM ticket_day").fetchone()[0]
        month_rows = conn.execute("SELECT count(*) FROM ticket_month").fetchone()[0]
        total_rows = conn.execute("SELECT count(*) FROM ticket_month_total").fetchone()[0]
    return {
        "tickets": row[0], "open": row[1], "overdue_ever": row[2], "companies": row[3],
        "buildings": row[4], "first_day": row[5].isoformat(), "last_day": row[6].isoformat(),
        "ticket_table_mb": round(row[7] / 1e6), "ticket_day_rows": day_rows,
        "ticket_month_rows": month_rows,
        "ticket_month_total_rows": total_rows,
    }  # fmt: skip


def timed(fn) -> tuple[float, object]:  # noqa: ANN001
    started = time.perf_counter()
    result = fn()
    return round(time.perf_counter() - started, 3), result


def rebuild(url: str) -> dict:
    import psycopg
    from sqlmodel import Session

    from smsbot import db, ticket_stats

    with Session(db.make_engine(url)) as session:
        seconds, rows = timed(lambda: ticket_stats.rebuild(session, datetime.now(UTC)))
        session.commit()
    with psycopg.connect(libpq(url), autocommit=True) as conn:  # as autovacuum soon would
        conn.execute("ANALYZE ticket_day, ticket_month, ticket_month_total")
    return {"seconds": seconds, "rows": rows}


def change_and_refresh(url: str, how: str, n: int = 1000) -> dict:
    """Change `n` tickets (the newest ones done or rated, or old ones reopened all over the
    two years) and time the incremental refresh that follows."""
    import psycopg
    from sqlmodel import Session

    from smsbot import db, ticket_stats

    now = datetime.now(UTC)
    if how == "newest":  # a busy day: the newest tickets are worked off or rated
        pick = "SELECT id FROM ticket ORDER BY filed_at DESC LIMIT %(n)s"
        change = ("UPDATE ticket SET status = 'done', done_at = %(now)s, first_done_at ="
                  " coalesce(first_done_at, %(now)s), accepted_at = coalesce(accepted_at, %(now)s),"
                  " overdue_at = CASE WHEN deadline_at < %(now)s THEN deadline_at ELSE overdue_at END,"
                  " rating = CASE WHEN status = 'done' THEN 5 ELSE rating END, updated_at = %(now)s"
                  " WHERE id = ANY(%(ids)s) AND status <> 'rejected'")  # fmt: skip
    else:  # scattered over the whole history: residents answer НЕТ to old tickets
        pick = "SELECT id FROM ticket WHERE status = 'done' ORDER BY random() LIMIT %(n)s"
        change = ("UPDATE ticket SET status = 'in_progress', done_at = NULL, reopened_at = %(now)s,"
                  " reopen_count = reopen_count + 1, overdue_at = deadline_at, updated_at = %(now)s"
                  " WHERE id = ANY(%(ids)s)")  # fmt: skip
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        ids = [r[0] for r in conn.execute(pick, {"n": n})]
        conn.execute(change, {"now": now, "ids": ids})
        days = conn.execute(
            "SELECT count(DISTINCT (company_id, filed_day)) FROM ticket WHERE id = ANY(%(ids)s)",
            {"ids": ids},
        ).fetchone()[0]
    with Session(db.make_engine(url)) as session:
        seconds, rows = timed(lambda: ticket_stats.refresh(session, datetime.now(UTC)))
        session.commit()
    return {"changed": len(ids), "company_days": days, "seconds": seconds, "rows_written": rows}


def sql_profile(url: str, worst: int) -> dict:
    """The pages' queries in this process: each function's time, its statements, and the
    plan of its slowest statement (EXPLAIN ANALYZE), to tell where the time goes."""
    from sqlalchemy import event
    from sqlmodel import Session

    from smsbot import db, sla, ticket_stats

    engine = db.make_engine(url)
    statements: list[tuple[str, object, float]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        statements.append((statement, parameters, time.perf_counter() - conn.info.pop("started")))

    now = datetime.now(UTC)
    today = ticket_stats.local_today(None, now)

    def overview(days: int):  # noqa: ANN202
        return lambda s: ticket_stats.overview(s, company_ids=None, now=now,
                                               period_start=today - timedelta(days=days - 1), period_end=today)  # fmt: skip

    def tallies(days: int, months: bool):  # noqa: ANN202
        return lambda s: ticket_stats.period_tallies(s, ids, today - timedelta(days=days - 1), today,
                                                     months=months)  # fmt: skip

    start, end = custom_range(today)
    with Session(engine) as session:
        ids = [c.id for c in ticket_stats._companies(session, None)]
    calls = {
        "overview, 7 days": overview(7),
        "overview, 30 days": overview(30),
        "overview, 90 days": overview(90),
        "overview, 365 days": overview(365),
        f"overview, {start} to {end}": lambda s: ticket_stats.overview(
            s, company_ids=None, now=now, period_start=start, period_end=end),
        "period_tallies, 365 days (months and edge days)": tallies(365, True),
        "period_tallies, 365 days (days only, as before ticket_month)": tallies(365, False),
        "drilldown, 30 days": lambda s: ticket_stats.drilldown(s, worst, sla.Period.last(30, today), now),
        "trend, 26 weeks": lambda s: ticket_stats.trend(s, worst, 26, now),
    }  # fmt: skip
    result = {}
    with Session(engine) as session:
        for name, call in calls.items():
            call(session)  # warm the caches
            runs = []
            for _ in range(PROFILE_RUNS):
                statements.clear()
                runs.append(timed(lambda call=call: call(session))[0])
            seconds = statistics.median(runs)
            ran = list(statements)
            statement, parameters, slowest = max(ran, key=lambda r: r[2])
            plan = session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            result[name] = {
                "ms": round(seconds * 1000, 1),
                "runs": PROFILE_RUNS,
                "statements": len(ran),
                "sql_ms": round(sum(r[2] for r in ran) * 1000, 1),
                "slowest_ms": round(slowest * 1000, 1),
                "slowest_sql": " ".join(statement.split())[:400],
                "slowest_plan": [row[0] for row in plan],
            }
    engine.dispose()
    return result


# --- the pages over HTTP ---------------------------------------------------------------------


def sign_in(base: str, password: str):  # noqa: ANN201
    import requests

    http = requests.Session()
    form = http.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', form
    )
    response = http.post(f"{base}/login", timeout=30, allow_redirects=False,
                         data={"login": "inspector", "password": password, "csrf_token": token.group(1)})  # fmt: skip
    if response.status_code not in (302, 303):
        raise RuntimeError(f"signing in as the inspector answered {response.status_code}")
    return http


def measure(http, url: str, n: int, warmup: int) -> dict:  # noqa: ANN001
    for _ in range(warmup):
        http.get(url, timeout=60).raise_for_status()
    times, size = [], 0
    for _ in range(n):
        started = time.perf_counter()
        response = http.get(url, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    times.sort()
    return {
        "n": n,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, math.ceil(0.95 * n) - 1)], 1),
        "max_ms": round(times[-1], 1),
        "bytes": size,
    }


def serve_and_measure(
    url: str, password: str, worst: int, args: argparse.Namespace, workdir: Path
) -> dict:
    from smsbot import ticket_stats

    procs = kit.Processes(workdir)
    try:
        redis_url = kit.start_redis(procs, workdir)
        port = kit.free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SMSBOT_", "DATABASE_", "REDIS_", "TWILIO_"))},
            "SMSBOT_ENV": "development", "SMSBOT_INSTANCE_PATH": str(workdir / "instance"),
            "DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": os.urandom(16).hex(),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "SMSBOT_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        argv = [kit.PY, "-m", "gunicorn", "--workers", str(args.gunicorn_workers), "--bind",
                f"127.0.0.1:{port}", "--timeout", "120", "app:create_app()"]  # fmt: skip
        web = procs.start("gunicorn", argv, env=env)
        kit.wait_port(port, "gunicorn", timeout=60, proc=web)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                http = sign_in(base, password)
                break
            except Exception:  # noqa: BLE001 - the workers may still be importing the app
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        results = {}
        today = ticket_stats.local_today(None, datetime.now(UTC))
        for name in PAGES:
            path = page_path(name, worst, today)
            log(f"GET {path} × {args.requests}")
            results[name] = measure(http, base + path, args.requests, args.warmup)
            results[name]["path"] = path
        machine = kit.machine_info(redis_url, None, None)
        return {"machine": machine, "pages": results}
    finally:
        procs.stop_all()


def worst_company(url: str) -> int:
    """The company the inspector's table puts first (the one the drill-down is asked for)."""
    from sqlmodel import Session

    from smsbot import db, ticket_stats

    today = datetime.now(UTC).date()
    with Session(db.make_engine(url)) as session:
        figures = ticket_stats.overview(session, company_ids=None, period_start=today - timedelta(days=29),
                                        period_end=today, now=datetime.now(UTC))  # fmt: skip
    return figures[0].company_id


# --- the report --------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    m, rows, pages = result["machine"], result["rows"], result["http"]["pages"]
    verdict = "meets" if result["within_target"] else "misses"
    slowest = max(
        (p for name, p in pages.items() if name.startswith("inspector")), key=lambda p: p["p95_ms"]
    )
    lines = [
        f"# Inspector pages at {rows['tickets']:,} tickets (PostgreSQL {m['postgresql']})",
        "",
        f"{m['date'][:16]} UTC, commit {m['git_commit']}, {m['cpu_count']} × {m['cpu_model']}, "
        f"{m['memory_gib']} GiB; gunicorn sync × {result['config']['gunicorn_workers']} on loopback, "
        f"one request at a time, {result['config']['warmup']} warm-up then "
        f"{result['config']['requests']} each, signed in as the inspector.",
        "",
        f"Data: {rows['tickets']:,} tickets ({rows['open']:,} open, {rows['overdue_ever']:,} ever "
        f"overdue) at {rows['companies']} companies, {rows['buildings']} buildings, filed "
        f"{rows['first_day']} – {rows['last_day']}; ticket table with indexes {rows['ticket_table_mb']:,} MB; "
        f"{rows['ticket_day_rows']:,} ticket_day rows, {rows.get('ticket_month_rows', 0):,} "
        f"ticket_month and {rows.get('ticket_month_total_rows', 0):,} ticket_month_total rows.",
        "",
        "| request | p50 ms | p95 ms | max ms | bytes |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in PAGES:
        p = pages[name]
        lines.append(
            f"| `GET {p['path']}` | {p['p50_ms']:,} | {p['p95_ms']:,} | {p['max_ms']:,} | {p['bytes']:,} |"
        )
    lines += [
        "",
        "| step | seconds | detail |",
        "|---|---:|---|",
        f"| generate tickets (Python) | {result['load']['generate_s']} | |",
        f"| COPY into ticket | {result['load']['copy_s']} | indexes dropped meanwhile |",
        f"| rebuild the ticket indexes | {result['load']['indexes_s']} | {len(result['load']['indexes'])} indexes of the migrations |",
        f"| `ticket_stats.rebuild` | {result['rebuild']['seconds']} | {result['rebuild']['rows']:,} ticket_day rows |",
    ]
    for r in result["refresh"]:
        lines.append(f"| `ticket_stats.refresh` after {r['changed']:,} {r['how']} tickets changed | "
                     f"{r['seconds']} | {r['company_days']:,} (company, day) pairs, {r['rows_written']:,} rows written |")  # fmt: skip
    lines += [
        "",
        f"In process (ticket_stats called directly, warm, median of {PROFILE_RUNS}): total, SQL "
        "(of the last run), and its slowest statement.",
        "",
        "| call | ms | statements | SQL ms | slowest statement ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for call, p in result["in_process"].items():
        lines.append(
            f"| {call} | {p['ms']:,} | {p['statements']} | {p['sql_ms']:,} | {p['slowest_ms']:,} |"
        )
    lines += [
        "",
        f"**Verdict:** the main page's slowest period, `GET {slowest['path']}`, p95 "
        f"{slowest['p95_ms']:,} ms: {verdict} the target of < {TARGET_MS} ms at "
        f"{rows['tickets']:,} tickets for every period (`GET /inspector`, 30 days: p95 "
        f"{pages['inspector']['p95_ms']:,} ms).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=40)
    parser.add_argument("--buildings", type=int, default=400)
    parser.add_argument("--days", type=int, default=730, help="how far back the tickets go")
    parser.add_argument(
        "--requests", type=int, default=50, help="requests per page, after the warm-up"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--name", help="results file name (default: inspector, or inspector-N for other sizes)"
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database (prints its URL)"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    name = args.name or ("inspector" if args.tickets == 1_000_000 else f"inspector-{args.tickets}")

    why = kit.pg_available(ADMIN_URL)
    if why:
        log(f"PostgreSQL does not answer at {ADMIN_URL}: {why}")
        return 2
    database = kit.PgDatabase(ADMIN_URL)
    try:
        from smsbot import migrate

        log(f"database {database.name}: migrating")
        migrate.upgrade(database.url)
        now = time.time()
        log(f"generating and loading {args.tickets:,} tickets")
        loaded = load(database.url, args, now)
        log(f"loaded: {loaded['timings']}")
        log("ticket_stats.rebuild")
        rebuilt = rebuild(database.url)
        log(f"rebuild: {rebuilt}")
        rows = table_counts(database.url)
        worst = worst_company(database.url)
        log("the pages' queries in process (EXPLAIN ANALYZE of the slowest)")
        profile = sql_profile(database.url, worst)
        with tempfile.TemporaryDirectory(prefix="bench-inspector-") as tmp:
            http = serve_and_measure(database.url, loaded["password"], worst, args, Path(tmp))
        refreshed = []
        for how in ("newest", "scattered"):
            r = change_and_refresh(database.url, how)
            r["how"] = how
            log(f"refresh after {how}: {r}")
            refreshed.append(r)
        result = {
            "benchmark": "inspector",
            "machine": http.pop("machine") | {"postgresql": database.version},
            "config": {k: getattr(args, k) for k in ("tickets", "companies", "buildings", "days", "requests", "warmup", "gunicorn_workers", "seed")},
            "rows": rows,
            "load": loaded["timings"],
            "rebuild": rebuilt,
            "http": http,
            "refresh": refreshed,
            "in_process": profile,
            "worst_company": worst,
            "target_ms": TARGET_MS,
            "within_target": all(
                page["p95_ms"] < TARGET_MS
                for name, page in http["pages"].items()
                if name.startswith("inspector")
            ),
        }  # fmt: skip
    finally:
        if args.keep_database:
            log(f"kept database: {database.url}")
        else:
            why = database.drop()
            log(f"database {database.name} " + (f"NOT dropped: {why}" if why else "dropped"))
    report = markdown(result)
    print(report)
    if not args.no_write:
        kit.RESULTS.mkdir(exist_ok=True)
        (kit.RESULTS / f"{name}.json").write_text(
            json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        )
        (kit.RESULTS / f"{name}.md").write_text(report)
    return 0 if result["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
