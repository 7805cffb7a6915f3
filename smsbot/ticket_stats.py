"""The inspector's figures: a rollup of tickets per company and filing day, kept current as
tickets change, and the queries the inspector's pages ask of it.

Why a rollup: with a million tickets a scan per page view takes seconds. Each ticket_day row
holds the counts and duration histograms (smsbot.sla) of one company's tickets filed on one
local day, working and non-working days apart; a page adds up at most a few hundred rows per
company. Only "open now" and "overdue now" are counted live, through the ticket indexes.

The rollup is refreshed incrementally: every ticket change bumps Ticket.updated_at, so a
refresh recomputes just the (company, filing day) pairs with tickets updated since the last
one (less SLACK, for transactions that committed late), plus those with an open ticket whose
deadline passed meanwhile (it became overdue without anyone touching it). Each pair is
recomputed from its tickets with set-based GROUP BY queries, so a refresh and a full
`rebuild` always agree.

Beside the daily rows, ticket_month holds each company's sums per calendar month and kind of
day, recomputed from its day rows in the same transaction whenever a refresh or a rebuild
rewrites any of them. A period is read as its months from ticket_month and only the days at
its edges from ticket_day (a month mostly inside the period is read whole, less its days
outside: see plan_period). ticket_month_total holds the months' running totals, rewritten
from the first month a refresh touched, so a run of TOTALS_FROM months or more is two rows
(the total at its last month less the one before its first) however long: a year or three
cost a page a few rows per company instead of 365 or 1,000. The figures are the same as from
the days alone: months are sums of days, totals sums of months, and counts add and subtract
exactly.

Overdue follows smsbot.tickets.missed_deadline: marked overdue (Ticket.overdue_at is sticky,
so a ticket done one minute late stays overdue) or open past its deadline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from smsbot import sla
from smsbot.clock import utcnow
from smsbot.models import (
    TICKET_DONE,
    TICKET_OPEN,
    TICKET_REJECTED,
    Building,
    Company,
    Ticket,
    TicketDay,
    TicketMonth,
    TicketMonthTotal,
    TicketStatsMark,
)

REFRESH_INTERVAL = 30
"""Seconds between the clock's refreshes: how stale the inspector's period figures may be."""
REBUILD_CRON = "30 0 * * *"
"""The nightly full rebuild (00:30 UTC, 03:30 in Moscow): catches what a refresh missed."""
SLACK = timedelta(minutes=5)
"""A refresh re-reads tickets updated this long before the last one: a transaction that
stamped updated_at and committed a little later is still counted."""
MARK_ID = 1
LOCK_KEY = 0x5A5B0006
"""PostgreSQL advisory lock that keeps two refreshes from writing the same rows at once."""
DRILLDOWN_LIMIT = 500
"""How many late tickets the drill-down lists (the counts by category and building are whole)."""
DEFAULT_TZ = "Europe/Moscow"
PAIRS_PER_BATCH = 500
"""(company, day) pairs a refresh recomputes per round of queries."""
ROWS_PER_FETCH = 5000
"""ticket_day rows a full rebuild of ticket_month reads at a time."""

_KEY = (Ticket.company_id, Ticket.filed_day, Ticket.filed_nonworking)


# --- SQL pieces -----------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _minutes(session: Session, end: Any, start: Any) -> ColumnElement:
    """end − start in minutes, as a float, in the session's SQL dialect."""
    if _dialect(session) == "postgresql":
        return cast(func.date_part("epoch", end - start), Float) / _constant(60.0)
    return (func.julianday(end) - func.julianday(start)) * _constant(1440.0)


def _bucket(minutes: ColumnElement) -> ColumnElement:
    """smsbot.sla.bucket_of in SQL (ln and floor exist in PostgreSQL and SQLite ≥ 3.35)."""
    return case(
        (minutes < _constant(1.0), _constant(0.0)),
        (minutes >= _constant(sla.CEILING), _constant(float(sla.TOP))),
        else_=func.floor(func.ln(minutes) / _constant(sla.LOG_RATIO)) + _constant(1.0),
    )


def _constant(value: float) -> ColumnElement:
    """A number written into the SQL text, not bound: PostgreSQL groups by an expression only
    when the one in GROUP BY reads exactly like the one selected."""
    return literal_column(repr(float(value)))


def _missed(now: datetime) -> ColumnElement:
    """smsbot.tickets.missed_deadline in SQL."""
    return or_(
        Ticket.overdue_at.is_not(None),
        and_(Ticket.status.in_(TICKET_OPEN), Ticket.deadline_at < now),
    )


def _count(condition: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


def _tallies(
    session: Session, where: ColumnElement, now: datetime
) -> dict[tuple[int, date, bool], sla.Tally]:
    """Tallies of the tickets matching `where`, by (company, filing day, non-working)."""
    missed = _missed(now)
    closed_in_time = and_(
        Ticket.status.in_((TICKET_DONE, TICKET_REJECTED)), Ticket.overdue_at.is_(None)
    )
    counts = session.execute(
        select(
            *_KEY,
            func.count().label("filed"),
            _count(Ticket.emergency.is_(True)).label("emergency"),
            _count(or_(missed, closed_in_time)).label("decided"),
            _count(missed).label("overdue"),
            _count(Ticket.accepted_at.is_not(None)).label("accepted"),
            _count(Ticket.first_reply_at.is_not(None)).label("first_reply"),
            _count(Ticket.first_done_at.is_not(None)).label("done"),
            _count(and_(Ticket.first_done_at.is_not(None), Ticket.reopen_count > 0)).label(
                "reopened"
            ),
            _count(Ticket.rating.is_not(None)).label("rated"),
            func.coalesce(func.sum(Ticket.rating), 0).label("rating_sum"),
        )
        .where(where, Ticket.filed_day.is_not(None))
        .group_by(*_KEY)
    ).all()
    tallies = {
        (row.company_id, row.filed_day, bool(row.filed_nonworking)): sla.Tally(
            **{name: int(getattr(row, name) or 0) for name in sla.COUNT_FIELDS}
        )
        for row in counts
    }
    durations = {
        "accept_hist": (Ticket.accepted_at, Ticket.accepted_at.is_not(None)),
        "first_reply_hist": (Ticket.first_reply_at, Ticket.first_reply_at.is_not(None)),
        "finish_hist": (Ticket.done_at, Ticket.status == TICKET_DONE),
    }
    for name, (end, present) in durations.items():
        bucket = _bucket(_minutes(session, end, Ticket.filed_at)).label("bucket")
        rows = session.execute(
            select(*_KEY, bucket, func.count().label("n"))
            .where(where, Ticket.filed_day.is_not(None), present, end.is_not(None))
            .group_by(*_KEY, bucket)
        ).all()
        for company_id, day, nonworking, k, n in rows:
            tally = tallies.get((company_id, day, bool(nonworking)))
            if tally is not None:
                getattr(tally, name).counts[int(k)] = int(n)
    return tallies


def _write(session: Session, model: type, tallies: dict, now: datetime) -> int:
    """Insert rollup rows (TicketDay or TicketMonth) from tallies keyed by (company, day or
    month, non-working); the number of rows."""
    period = "day" if model is TicketDay else "month"
    rows = [
        {
            "company_id": company_id,
            period: when,
            "nonworking": nonworking,
            **{name: getattr(tally, name) for name in sla.COUNT_FIELDS},
            **{name: getattr(tally, name).to_json() for name in sla.HIST_FIELDS},
            "refreshed_at": now,
        }
        for (company_id, when, nonworking), tally in tallies.items()
    ]
    if rows:
        session.execute(insert(model.__table__), rows)
    return len(rows)


# --- months -----------------------------------------------------------------------------------


def month_of(day: date) -> date:
    """The first day of the day's month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after the day's."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_count(first: date, stop: date) -> int:
    """Months from first (included) to stop (excluded), both first days of months."""
    return (stop.year - first.year) * 12 + stop.month - first.month


TOTALS_FROM = 6
"""A run of this many months or more is read as two ticket_month_total rows (the total at its
last month less the one before its first) rather than month by month. Not from two: a running
total's histograms fill more buckets than a month's, and its query finds the latest total of
each company first, so a short run is as cheap month by month."""
MONTH_WEIGHT = 4
"""A ticket_month row costs about as much to add up as this many ticket_day rows (its
histograms hold more buckets): a month the period covers only partly is read as its month
row less the days outside the period when that is cheaper than reading its days."""

DayRange = tuple[date, date]
"""Days from the first to the second, both included."""


@dataclass(frozen=True)
class PeriodPlan:
    """Which rollup rows add up to a period: ticket_month rows of `months` ([first month,
    month after the last) or None), plus ticket_day rows of `days`, less those of `less` (the
    days of a month read whole that lie outside the period)."""

    months: tuple[date, date] | None
    days: list[DayRange]
    less: list[DayRange]


def plan_period(start: date, end: date) -> PeriodPlan:
    """The cheapest rows that add up exactly to the filing days start..end (see MONTH_WEIGHT)."""
    covered: list[date] = []
    days: list[DayRange] = []
    less: list[DayRange] = []
    month, one = month_of(start), timedelta(days=1)
    while month <= end:
        stop = next_month(month)
        first, last = max(start, month), min(end, stop - one)
        inside = (last - first).days + 1
        outside = (stop - month).days - inside
        if not outside or MONTH_WEIGHT + outside < inside:
            covered.append(month)
            if first > month:
                less.append((month, first - one))
            if last < stop - one:
                less.append((last + one, stop - one))
        else:
            days.append((first, last))
        month = stop
    months = (covered[0], next_month(covered[-1])) if covered else None
    return PeriodPlan(months, days, less)


_ROLLUP_COLUMNS = (*sla.COUNT_FIELDS, *sla.HIST_FIELDS)


def _fold(rows: Iterable[tuple[int, Any]], key: Callable[[Any], tuple]) -> dict[tuple, sla.Tally]:
    """Rollup rows (TicketDay or TicketMonth, with the _ROLLUP_COLUMNS last), each with its
    sign, added up by key(row): counts summed, histograms merged bucket by bucket. Rows of
    sign -1 are taken away (exactly: these are counts). Groups that come to nothing are left
    out, as they would be had their rows never been read.

    In Python, not in SQL: parsing the JSON and adding dicts here takes about half the time
    PostgreSQL's json_each and GROUP BY take for the same rows (bench/README.md), and it is
    the same code on both databases. Buckets are added under their JSON keys and turned into
    numbers once per histogram at the end.
    """
    width = len(sla.COUNT_FIELDS)
    counts: dict[tuple, list[int]] = {}
    buckets: dict[tuple, tuple[dict[str, int], ...]] = {}
    for sign, row in rows:
        k = key(row)
        total = counts.get(k)
        if total is None:
            total = counts[k] = [0] * width
            buckets[k] = tuple({} for _ in sla.HIST_FIELDS)
        values = row[-len(_ROLLUP_COLUMNS) :]
        for i in range(width):
            total[i] += sign * values[i]
        for merged, encoded in zip(buckets[k], values[width:], strict=True):
            get = merged.get
            for bucket, n in json.loads(encoded).items():
                merged[bucket] = get(bucket, 0) + sign * n
    tallies = {}
    for k, total in counts.items():
        histograms = {
            name: sla.Histogram({int(bucket): n for bucket, n in merged.items() if n})
            for name, merged in zip(sla.HIST_FIELDS, buckets[k], strict=True)
        }
        if any(total) or any(h.counts for h in histograms.values()):
            tallies[k] = sla.Tally(**dict(zip(sla.COUNT_FIELDS, total, strict=True)), **histograms)
    return tallies


def _rollup_columns(model: type) -> list[Any]:
    return [getattr(model, name) for name in _ROLLUP_COLUMNS]


def _batches(keys: dict[int, set[date]]) -> Iterator[dict[int, list[date]]]:
    """(company, day or month) keys in sorted rounds of at most PAIRS_PER_BATCH, grouped by
    company: one round is one DELETE and one recompute, so a big refresh never builds a
    statement with thousands of conditions."""
    pairs = [(c, d) for c, ds in sorted(keys.items()) for d in sorted(ds)]
    for start in range(0, len(pairs), PAIRS_PER_BATCH):
        batch: dict[int, list[date]] = defaultdict(list)
        for company_id, key in pairs[start : start + PAIRS_PER_BATCH]:
            batch[company_id].append(key)
        yield batch


def _rewrite_months(session: Session, months: dict[int, set[date]] | None, now: datetime) -> int:
    """Recompute ticket_month from ticket_day: the given (company, month) pairs, or all of it
    (None); the number of rows written."""
    columns = [
        TicketDay.company_id,
        TicketDay.day,
        TicketDay.nonworking,
        *_rollup_columns(TicketDay),
    ]

    def by_month(row: Any) -> tuple:
        return (row[0], month_of(row[1]), bool(row[2]))

    if months is None:
        session.execute(delete(TicketMonth))
        rows = session.execute(select(*columns).execution_options(yield_per=ROWS_PER_FETCH))
        written = _write(session, TicketMonth, _fold(((1, row) for row in rows), by_month), now)
        _rewrite_totals(session, None, now)
        return written
    written = 0
    for batch in _batches(months):
        session.execute(
            delete(TicketMonth).where(
                or_(
                    *(
                        and_(TicketMonth.company_id == c, TicketMonth.month.in_(ms))
                        for c, ms in batch.items()
                    )
                )
            )
        )
        in_months = or_(
            *(
                and_(TicketDay.company_id == c, TicketDay.day >= m, TicketDay.day < next_month(m))
                for c, ms in batch.items()
                for m in ms
            )
        )
        rows = session.execute(select(*columns).where(in_months))
        written += _write(session, TicketMonth, _fold(((1, row) for row in rows), by_month), now)
    _rewrite_totals(session, {c: min(ms) for c, ms in months.items() if ms}, now)
    return written


def _latest_totals(columns: list[Any], where: ColumnElement) -> Any:
    """SELECT columns of the ticket_month_total row of each company and kind of day that is
    the latest of those matching `where`."""
    total = TicketMonthTotal
    latest = (
        select(total.company_id, total.nonworking, func.max(total.month).label("month"))
        .where(where)
        .group_by(total.company_id, total.nonworking)
        .subquery()
    )
    return select(*columns).join(
        latest,
        and_(
            total.company_id == latest.c.company_id,
            total.nonworking == latest.c.nonworking,
            total.month == latest.c.month,
        ),
    )


def _rewrite_totals(session: Session, since: dict[int, date] | None, now: datetime) -> int:
    """Recompute ticket_month_total from ticket_month: each company's totals from its given
    month on, carried on from its last total before it (None: all of them); rows written."""
    if since == {}:
        return 0
    total = TicketMonthTotal
    running: dict[tuple[int, bool], sla.Tally] = {}
    in_months: list[ColumnElement] = []
    if since is None:
        session.execute(delete(total))
    else:
        before = or_(*(and_(total.company_id == c, total.month < m) for c, m in since.items()))
        columns = [total.company_id, total.nonworking, *_rollup_columns(total)]
        for row in session.execute(_latest_totals(columns, before)):
            running[(row[0], bool(row[1]))] = sla.Tally.from_row(row._mapping)
        session.execute(
            delete(total).where(
                or_(*(and_(total.company_id == c, total.month >= m) for c, m in since.items()))
            )
        )
        in_months.append(
            or_(
                *(
                    and_(TicketMonth.company_id == c, TicketMonth.month >= m)
                    for c, m in since.items()
                )
            )
        )
    rows = session.execute(
        select(
            TicketMonth.company_id,
            TicketMonth.month,
            TicketMonth.nonworking,
            *_rollup_columns(TicketMonth),
        )
        .where(*in_months)
        .order_by(TicketMonth.company_id, TicketMonth.nonworking, TicketMonth.month)
    )
    totals = {}
    for row in rows:
        key = (row[0], bool(row[2]))
        running[key] = sla.Tally.total(
            [running.get(key, sla.Tally()), sla.Tally.from_row(row._mapping)]
        )
        totals[(row[0], row[1], key[1])] = running[key]
    return _write(session, total, totals, now)


def _lock(session: Session) -> None:
    """One refresh at a time (SQLite's writer already holds the database's one write lock)."""
    if _dialect(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _set_mark(session: Session, now: datetime) -> None:
    mark = session.get(TicketStatsMark, MARK_ID)
    if mark is None:
        session.add(TicketStatsMark(id=MARK_ID, refreshed_to=now))
    else:
        mark.refreshed_to = now
        session.add(mark)
    session.flush()


# --- keeping the rollup current --------------------------------------------------------------


def rebuild(session: Session, now: datetime | None = None) -> int:
    """Recompute every ticket_day row from the tickets, and every ticket_month row from those;
    the number of ticket_day rows written."""
    now = now or utcnow()
    _lock(session)
    session.execute(delete(TicketDay))
    written = _write(session, TicketDay, _tallies(session, literal(True), now), now)
    _rewrite_months(session, None, now)
    _set_mark(session, now)
    return written


def changed_pairs(session: Session, since: datetime, now: datetime) -> dict[int, set[date]]:
    """(company, filing day) pairs whose figures may have changed since `since`: a ticket was
    updated, or an open ticket's deadline passed."""
    pairs: dict[int, set[date]] = defaultdict(set)
    queries = (
        select(Ticket.company_id, Ticket.filed_day).where(Ticket.updated_at >= since),
        select(Ticket.company_id, Ticket.filed_day).where(
            Ticket.status.in_(TICKET_OPEN), Ticket.deadline_at >= since, Ticket.deadline_at < now
        ),
    )
    for query in queries:
        for company_id, day in session.execute(query.distinct()):
            if day is not None:
                pairs[company_id].add(day)
    return pairs


def refresh(session: Session, now: datetime) -> int:
    """Bring ticket_day up to `now`, recomputing only the pairs that changed, and ticket_month
    for the months of those days; the number of ticket_day rows written.

    The first refresh (no mark yet) is a rebuild.
    """
    _lock(session)
    mark = session.get(TicketStatsMark, MARK_ID)
    if mark is None:
        return rebuild(session, now)
    changed = changed_pairs(session, mark.refreshed_to - SLACK, now)
    written = 0
    for batch in _batches(changed):
        session.execute(
            delete(TicketDay).where(
                or_(
                    *(
                        and_(TicketDay.company_id == c, TicketDay.day.in_(d))
                        for c, d in batch.items()
                    )
                )
            )
        )
        where = or_(
            *(and_(Ticket.company_id == c, Ticket.filed_day.in_(d)) for c, d in batch.items())
        )
        written += _write(session, TicketDay, _tallies(session, where, now), now)
    months = {company_id: {month_of(day) for day in days} for company_id, days in changed.items()}
    _rewrite_months(session, months, now)
    _set_mark(session, now)
    return written


def refreshed_to(session: Session) -> datetime | None:
    """How current the rollup is: ticket changes up to this time are in it (None: never built)."""
    mark = session.get(TicketStatsMark, MARK_ID)
    return mark.refreshed_to if mark else None


def refresh_job() -> int:
    """The clock's periodic job: refresh the rollup in its own transaction."""
    from smsbot.db import session_scope

    with session_scope() as session:
        return refresh(session, utcnow())


# --- what the pages ask -------------------------------------------------------------------------


def local_today(tz: str | None, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tz or DEFAULT_TZ)).date()


def _companies(session: Session, company_ids: Iterable[int] | None) -> list[Company]:
    query = select(Company).order_by(Company.name)
    if company_ids is not None:
        query = query.where(Company.id.in_(list(company_ids)))
    return list(session.execute(query).scalars())


def _day_rows(
    session: Session, company_ids: list[int], start: date, end: date, *, histograms: bool
) -> Iterable[Any]:
    columns = [TicketDay.company_id, TicketDay.day, TicketDay.nonworking]
    columns += [getattr(TicketDay, name) for name in sla.COUNT_FIELDS]
    if histograms:
        columns += [getattr(TicketDay, name) for name in sla.HIST_FIELDS]
    return session.execute(
        select(*columns).where(
            TicketDay.company_id.in_(company_ids), TicketDay.day >= start, TicketDay.day <= end
        )
    ).mappings()


def period_tallies(
    session: Session, company_ids: list[int], start: date, end: date, *, months: bool = True
) -> dict[tuple[int, bool], sla.Tally]:
    """Tallies of the companies' tickets filed from start to end, by (company, non-working).

    Read as plan_period says: the months from ticket_month (or a long run of them as two
    ticket_month_total rows, see TOTALS_FROM), the other days from ticket_day
    (added, or taken away for the days of a month read whole outside the period), all added
    up by _fold. With months=False every day is read from ticket_day (the same sums, slower:
    the benchmark's comparison).
    """
    plan = plan_period(start, end) if months else PeriodPlan(None, [(start, end)], [])

    def rows(model: type, sign: int, *where: ColumnElement) -> Any:
        return select(
            literal_column(str(sign)), model.company_id, model.nonworking, *_rollup_columns(model)
        ).where(model.company_id.in_(company_ids), *where)

    def in_days(ranges: list[DayRange]) -> ColumnElement:
        return or_(*(and_(TicketDay.day >= a, TicketDay.day <= b) for a, b in ranges))

    parts = []
    if plan.months and month_count(*plan.months) >= TOTALS_FROM:
        first, stop = plan.months
        total = TicketMonthTotal
        for sign, bound in ((1, stop), (-1, first)):
            columns = [literal_column(str(sign)), total.company_id, total.nonworking]
            parts.append(
                _latest_totals(
                    [*columns, *_rollup_columns(total)],
                    and_(total.company_id.in_(company_ids), total.month < bound),
                )
            )
    elif plan.months:
        first, stop = plan.months
        parts.append(rows(TicketMonth, 1, TicketMonth.month >= first, TicketMonth.month < stop))
    if plan.days:
        parts.append(rows(TicketDay, 1, in_days(plan.days)))
    if plan.less:
        parts.append(rows(TicketDay, -1, in_days(plan.less)))
    if not parts:
        return {}
    # one statement, so one snapshot: months and days from either side of a refresh's commit
    # would not add up
    result = session.execute(union_all(*parts) if len(parts) > 1 else parts[0])
    return _fold(((row[0], row) for row in result), lambda row: (row[1], bool(row[2])))


def live_counts(
    session: Session, company_ids: list[int], now: datetime
) -> dict[int, tuple[int, int]]:
    """(open now, overdue now) per company, counted on the tickets through their indexes."""
    rows = session.execute(
        select(Ticket.company_id, func.count(), _count(Ticket.deadline_at < now))
        .where(Ticket.status.in_(TICKET_OPEN), Ticket.company_id.in_(company_ids))
        .group_by(Ticket.company_id)
    )
    return {company_id: (int(n), int(late or 0)) for company_id, n, late in rows}


def overview(
    session: Session,
    *,
    company_ids: Iterable[int] | None,
    period_start: date,
    period_end: date,
    now: datetime,
) -> list[sla.CompanyFigures]:
    """The inspector's table: each company's figures over the period, worst first."""
    companies = _companies(session, company_ids)
    ids = [c.id for c in companies]
    if not ids:
        return []
    period = period_tallies(session, ids, period_start, period_end)
    today = {c.id: local_today(c.timezone, now) for c in companies}
    recent: dict[tuple[int, int, bool], sla.Tally] = defaultdict(sla.Tally)
    earliest = min(today.values()) - timedelta(days=30)
    rows = session.execute(
        select(
            TicketDay.company_id,
            TicketDay.day,
            TicketDay.nonworking,
            TicketDay.overdue,
            TicketDay.decided,
        ).where(  # fmt: skip
            TicketDay.company_id.in_(ids),
            TicketDay.day >= earliest,
            TicketDay.day <= max(today.values()),
        )
    )
    for company_id, day, nonworking, overdue, decided in rows:
        age = (today[company_id] - day).days
        for window in (7, 30):
            if 0 <= age < window:
                tally = recent[(company_id, window, bool(nonworking))]
                tally.overdue += overdue
                tally.decided += decided
    live = live_counts(session, ids, now)
    figures = [
        sla.company_figures(
            c.id,
            c.name,
            open_now=live.get(c.id, (0, 0))[0],
            overdue_now=live.get(c.id, (0, 0))[1],
            working=period.get((c.id, False), sla.Tally()),
            nonworking=period.get((c.id, True), sla.Tally()),
            last_7=sla.Shares.of(recent[(c.id, 7, False)], recent[(c.id, 7, True)]),
            last_30=sla.Shares.of(recent[(c.id, 30, False)], recent[(c.id, 30, True)]),
        )
        for c in companies
    ]
    return sla.worst_first(figures)


def trend(
    session: Session, company_id: int, weeks: int, now: datetime, until: date | None = None
) -> list[sla.TrendWeek]:
    """The company's `weeks` weeks up to `until` (today by default), for the trend chart."""
    company = session.get(Company, company_id)
    today = local_today(company.timezone if company else None, now)
    if until is not None and until < today:
        today = until
    first = sla.week_start(today) - timedelta(weeks=weeks - 1)
    rows = _day_rows(session, [company_id], first, today, histograms=False)
    days = [(row["day"], bool(row["nonworking"]), sla.Tally.from_row(row)) for row in rows]
    return sla.weekly(days, weeks=weeks, today=today)


@dataclass(frozen=True)
class LateTicket:
    """A ticket that missed its deadline, as the inspector sees it (no resident details)."""

    number: int
    category: str
    emergency: bool
    status: str
    address: str | None
    filed_at: datetime
    deadline_at: datetime
    late_by: timedelta
    """Until it was closed, or until now while it is open."""
    nonworking: bool


@dataclass(frozen=True)
class Drilldown:
    """One company's tickets that missed their deadline among those filed in the period."""

    total: int
    by_category: list[tuple[str, int]]
    by_building: list[tuple[str | None, int]]
    tickets: list[LateTicket]


def drilldown(session: Session, company_id: int, period: sla.Period, now: datetime) -> Drilldown:
    where = and_(
        Ticket.company_id == company_id,
        Ticket.filed_day >= period.start,
        Ticket.filed_day <= period.end,
        _missed(now),
    )
    by_category = [
        (category, int(n))
        for category, n in session.execute(
            select(Ticket.category, func.count())
            .where(where)
            .group_by(Ticket.category)
            .order_by(func.count().desc(), Ticket.category)
        )
    ]
    by_building = [
        (address, int(n))
        for address, n in session.execute(
            select(Building.address, func.count())
            .select_from(Ticket)
            .outerjoin(Building, Building.id == Ticket.building_id)
            .where(where)
            .group_by(Building.address)
            .order_by(func.count().desc(), Building.address)
        )
    ]
    rows = session.execute(
        select(Ticket, Building.address)
        .outerjoin(Building, Building.id == Ticket.building_id)
        .where(where)
        .order_by(Ticket.filed_at.desc(), Ticket.id.desc())
        .limit(DRILLDOWN_LIMIT)
    ).all()
    late = [
        LateTicket(
            number=t.number,
            category=t.category,
            emergency=t.emergency,
            status=t.status,
            address=address,
            filed_at=t.filed_at,
            deadline_at=t.deadline_at,
            late_by=max(_closed_or_now(t, now) - t.deadline_at, timedelta(0)),
            nonworking=t.filed_nonworking,
        )
        for t, address in rows
    ]
    return Drilldown(sum(n for _, n in by_category), by_category, by_building, late)


def _closed_or_now(ticket: Ticket, now: datetime) -> datetime:
    if ticket.status in TICKET_OPEN:
        return now
    return ticket.done_at or ticket.rejected_at or now
