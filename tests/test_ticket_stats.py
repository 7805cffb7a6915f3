"""The inspector's rollup on SQLite and PostgreSQL: tickets filed and moved at controlled
times through smsbot.tickets and the ticket desk, then the figures read back exactly."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from smsbot import db, sla, ticket_desk, ticket_stats, tickets
from smsbot.models import (
    Account,
    Building,
    Company,
    Resident,
    Ticket,
    TicketDay,
    TicketMonth,
    TicketMonthTotal,
    TicketStatsMark,
    User,
)

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=MSK).astimezone(UTC)
"""Friday 20 November 2026, 15:00 in Moscow."""
SENDER = "+79990000000"
ADDRESS = "г. Балашиха, ул. Советская, д. 3"


def msk(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK).astimezone(UTC)


class Desk:
    """One company, one building, residents and a dispatcher, and the moves a desk makes."""

    def __init__(self) -> None:
        with db.session_scope() as session:
            company = Company(slug="uk-test", name="УК «Тест»", timezone="Europe/Moscow")
            idle = Company(slug="uk-idle", name="УК «Без заявок»", timezone="Europe/Moscow")
            session.add_all([company, idle])
            session.flush()
            building = Building(company_id=company.id, address=ADDRESS)
            session.add(building)
            session.flush()
            account = Account(company_id=company.id, building_id=building.id, number="1001")
            user = User(login="disp", name="Диспетчер", password_hash="-", role="dispatcher",
                        company_id=company.id, session_token="t")  # fmt: skip
            session.add_all([account, user])
            session.flush()
            self.company_id, self.idle_id, self.account_id, self.user_id = (
                company.id, idle.id, account.id, user.id)  # fmt: skip
        self.residents: dict[str, int] = {}

    def file(self, text: str, at: datetime, phone: str) -> int:
        with db.session_scope() as session:
            resident = session.exec(select(Resident).where(Resident.phone == phone)).first()
            if resident is None:
                resident = Resident(phone=phone)
                session.add(resident)
                session.flush()
            ticket = tickets.file(session, company=session.get(Company, self.company_id),
                                  text=text, now=at, resident=resident,
                                  account=session.get(Account, self.account_id))  # fmt: skip
            return ticket.id

    def move(self, ticket_id: int, to_status: str, at: datetime, note: str | None = None) -> None:
        with db.session_scope() as session:
            ticket_desk.change_status(session, session.get(Ticket, ticket_id), to_status,
                                      user=session.get(User, self.user_id), note=note, now=at,
)  # fmt: skip

    def answer(self, ticket_id: int, text: str, at: datetime) -> None:
        with db.session_scope() as session:
            ticket = session.get(Ticket, ticket_id)
            outcome = ticket_desk.answer(session, resident=session.get(Resident, ticket.resident_id),
                                         company_id=self.company_id, text=text, now=at)  # fmt: skip
            assert outcome is not None, text

    def ticket(self, ticket_id: int) -> Ticket:
        with Session(db.engine()) as session:
            return session.get(Ticket, ticket_id)


@pytest.fixture()
def desk(app) -> Desk:  # noqa: ANN001
    return Desk()


@pytest.fixture()
def month(desk):  # noqa: ANN001, ANN201
    """Six tickets of November 2026 (deadlines: tap 1 day, lighting 7 days, intercom 1 day).

    A  Mon 16th  tap       accepted in 30 min, done an hour early, ДА and a 5
    B  Fri 13th  tap       accepted in 1 h, done ONE MINUTE LATE
    C  Sat 14th  tap       (weekend) accepted in 2 h, done early, НЕТ, done again early, ДА, 3
    D  Wed 4th   lighting  (holiday) never touched: open past its deadline
    E  Fri 20th  intercom  filed this morning, open, deadline tomorrow
    F  Thu 19th  tap       rejected after 3 h
    """
    ids = {}
    ids["A"] = desk.file("течёт кран на кухне", msk(16, 10), "+79160000001")
    ids["B"] = desk.file("течёт кран в ванной", msk(13, 10), "+79160000002")
    ids["C"] = desk.file("течёт кран на кухне", msk(14, 12), "+79160000003")
    ids["D"] = desk.file("не горит свет в подъезде", msk(4, 10), "+79160000004")
    ids["E"] = desk.file("сломан домофон", msk(20, 10), "+79160000005")
    ids["F"] = desk.file("течёт кран у соседей", msk(19, 10), "+79160000006")
    a, b, c = (desk.ticket(ids[k]) for k in "ABC")
    desk.move(ids["A"], "accepted", a.filed_at + timedelta(minutes=30))
    desk.move(ids["A"], "done", a.deadline_at - timedelta(hours=1))
    desk.answer(ids["A"], "да", a.deadline_at)
    desk.answer(ids["A"], "5", a.deadline_at + timedelta(minutes=5))
    desk.move(ids["B"], "accepted", b.filed_at + timedelta(hours=1))
    desk.move(ids["B"], "done", b.deadline_at + timedelta(minutes=1))
    desk.move(ids["C"], "accepted", c.filed_at + timedelta(hours=2))
    desk.move(ids["C"], "done", c.deadline_at - timedelta(hours=6))
    desk.answer(ids["C"], "нет", c.deadline_at - timedelta(hours=5))
    desk.move(ids["C"], "done", c.deadline_at - timedelta(hours=2))
    desk.answer(ids["C"], "да", c.deadline_at - timedelta(hours=1))
    desk.answer(ids["C"], "3", c.deadline_at - timedelta(minutes=50))
    desk.move(ids["F"], "rejected", desk.ticket(ids["F"]).filed_at + timedelta(hours=3),
              note="Это кран в квартире, не общее имущество")  # fmt: skip
    return ids


def figures(desk: Desk, now: datetime = NOW, days: int = 30) -> dict[int, sla.CompanyFigures]:
    today = now.astimezone(MSK).date()
    with Session(db.engine()) as session:
        rows = ticket_stats.overview(session, company_ids=None,
                                     period_start=today - timedelta(days=days - 1),
                                     period_end=today, now=now)  # fmt: skip
    return {f.company_id: f for f in rows}


def rebuild(now: datetime = NOW) -> int:
    with db.session_scope() as session:
        return ticket_stats.rebuild(session, now)


def refresh(now: datetime) -> int:
    with db.session_scope() as session:
        return ticket_stats.refresh(session, now)


def rollup() -> dict:
    """ticket_day as comparable values (without ids and refresh times)."""
    with Session(db.engine()) as session:
        rows = session.exec(select(TicketDay)).all()
    fields = ("filed", "decided", "overdue", "accepted", "first_reply", "done", "reopened",
              "rated", "rating_sum", "emergency", "accept_hist", "first_reply_hist", "finish_hist")  # fmt: skip
    return {(r.company_id, r.day, r.nonworking): tuple(getattr(r, f) for f in fields) for r in rows}


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


# --- the figures --------------------------------------------------------------------------------


def test_overdue_shares_and_the_working_day_split(desk, month):  # noqa: ANN001
    rebuild()
    line = figures(desk)[desk.company_id]
    assert (line.period.filed, line.period.decided, line.period.overdue) == (6, 5, 2)
    assert line.overdue_share == pytest.approx(2 / 5)
    assert (line.working.filed, line.working.decided, line.working.overdue) == (4, 3, 1)
    assert line.working.overdue_share == pytest.approx(1 / 3)
    assert (line.nonworking.filed, line.nonworking.decided, line.nonworking.overdue) == (2, 2, 1)
    assert line.nonworking.overdue_share == 0.5
    assert line.last_30 == sla.Shares(pytest.approx(0.4), pytest.approx(1 / 3), 0.5)
    assert line.last_7 == sla.Shares(0.0, 0.0, 0.0)  # C, A and F decided, all in time
    assert (line.open_now, line.overdue_now) == (2, 1)  # D and E open; D past its deadline


def test_a_ticket_done_one_minute_late_counts_as_overdue(desk, month):  # noqa: ANN001
    late = desk.ticket(month["B"])
    assert late.status == "done" and late.overdue_at == late.deadline_at
    rebuild()
    with Session(db.engine()) as session:
        day = session.exec(select(TicketDay).where(TicketDay.day == late.filed_day)).one()
        drill = ticket_stats.drilldown(
            session, desk.company_id, sla.Period.last(30, NOW.date()), NOW
        )
    assert (day.filed, day.decided, day.overdue) == (1, 1, 1)
    late_one = [t for t in drill.tickets if t.number == late.number]
    assert late_one and late_one[0].late_by == timedelta(minutes=1)


def test_medians_reopens_and_ratings(desk, month):  # noqa: ANN001
    rebuild()
    line = figures(desk)[desk.company_id]
    assert line.period.median_accept == sla.Histogram.of([30, 60, 120]).median()
    assert abs(line.period.median_accept - 60) <= 0.07 * 60
    replies = [30, 60, 120, 180]  # each first SMS from the desk; F's was its rejection
    assert line.period.median_first_reply == sla.Histogram.of(replies).median()
    a, b, c = (desk.ticket(month[k]) for k in "ABC")
    finishes = [minutes(t.done_at - t.filed_at) for t in (a, b, c)]
    assert line.period.median_finish == sla.Histogram.of(finishes).median()
    assert line.period.reopened_share == pytest.approx(1 / 3)  # C, of A, B and C
    assert (line.period.average_rating, line.period.rated) == (4.0, 2)
    assert (line.working.average_rating, line.nonworking.average_rating) == (5.0, 3.0)
    assert line.nonworking.reopened_share == 1.0 and line.working.reopened_share == 0.0


def test_the_rollup_agrees_with_missed_deadline_ticket_by_ticket(desk, month):  # noqa: ANN001
    rebuild()
    with Session(db.engine()) as session:
        every = session.exec(select(Ticket)).all()
    assert (
        sum(tickets.missed_deadline(t, NOW) for t in every)
        == figures(desk)[desk.company_id].period.overdue
    )


def test_a_company_without_tickets_is_listed_last_with_no_shares(desk, month):  # noqa: ANN001
    rebuild()
    today = NOW.astimezone(MSK).date()
    with Session(db.engine()) as session:
        rows = ticket_stats.overview(session, company_ids=None, period_start=today - timedelta(days=29),
                                     period_end=today, now=NOW)  # fmt: skip
        only = ticket_stats.overview(session, company_ids=[desk.idle_id], period_start=today,
                                     period_end=today, now=NOW)  # fmt: skip
    assert [r.company_id for r in rows] == [desk.company_id, desk.idle_id]
    idle = rows[1]
    assert idle.overdue_share is None and idle.filed == 0 and idle.open_now == 0
    assert [r.company_id for r in only] == [desk.idle_id]


def test_a_period_of_one_holiday(desk, month):  # noqa: ANN001
    rebuild()
    holiday = msk(4, 12).astimezone(MSK).date()
    with Session(db.engine()) as session:
        (line, _) = ticket_stats.overview(session, company_ids=None, period_start=holiday,
                                          period_end=holiday, now=NOW)  # fmt: skip
    assert line.filed == 1 and line.nonworking.filed == 1 and line.working.filed == 0
    assert line.overdue_share == 1.0


# --- keeping it current -------------------------------------------------------------------------


def test_the_first_refresh_is_a_rebuild_and_a_quiet_one_writes_nothing(desk, month):  # noqa: ANN001
    assert refresh(NOW) > 0
    with Session(db.engine()) as session:
        assert session.get(TicketStatsMark, ticket_stats.MARK_ID).refreshed_to == NOW
    assert refresh(NOW + timedelta(minutes=1)) == 0


def test_a_deadline_passing_untouched_reaches_the_rollup(desk, month):  # noqa: ANN001
    rebuild()
    e = desk.ticket(month["E"])
    refresh(e.deadline_at - timedelta(minutes=1))
    assert figures(desk, e.deadline_at - timedelta(minutes=1))[desk.company_id].period.overdue == 2
    later = e.deadline_at + timedelta(minutes=1)
    assert refresh(later) == 1  # only E's day was recomputed
    assert figures(desk, later)[desk.company_id].period.overdue == 3


def test_a_later_change_updates_the_rollup(desk, month):  # noqa: ANN001
    rebuild()
    d = desk.ticket(month["D"])
    at = NOW + timedelta(hours=2)
    desk.move(month["D"], "in_progress", at)
    desk.move(month["D"], "done", at + timedelta(hours=1))
    assert desk.ticket(month["D"]).overdue_at == d.deadline_at  # done late: stays overdue
    refresh(at + timedelta(hours=2))
    line = figures(desk, at + timedelta(hours=2))[desk.company_id]
    assert line.nonworking.overdue == 1 and line.nonworking.decided == 2
    assert line.open_now == 1 and line.overdue_now == 0
    assert (
        line.period.median_finish
        == sla.Histogram.of(
            [
                minutes(desk.ticket(month[k]).done_at - desk.ticket(month[k]).filed_at)
                for k in "ABCD"
            ]
        ).median()
    )


def test_a_change_that_committed_late_is_still_counted(desk, month):  # noqa: ANN001
    rebuild()
    stamped = NOW - timedelta(minutes=2)  # updated before the mark, committed after it
    desk.move(month["E"], "accepted", stamped)
    assert refresh(NOW + timedelta(minutes=1)) == 1
    incremental = rollup()
    rebuild(NOW + timedelta(minutes=1))
    assert incremental == rollup()
    assert sum(v[3] for v in incremental.values()) == 4  # accepted: A, B, C and now E


def test_refresh_step_by_step_equals_a_rebuild(desk):  # noqa: ANN001
    first = desk.file("течёт кран на кухне", msk(2, 9), "+79160000011")
    refresh(msk(2, 10))
    second = desk.file("не горит свет в подъезде", msk(7, 11), "+79160000012")  # Saturday
    desk.move(first, "accepted", msk(2, 9, 45))
    refresh(msk(7, 12))
    desk.move(first, "done", msk(3, 9, 30))  # half an hour late
    desk.answer(first, "нет", msk(7, 13))
    desk.move(second, "in_progress", msk(7, 14))
    refresh(msk(7, 15))
    third = desk.file("сломан домофон", msk(30, 23, 50), "+79160000013")  # across midnight
    desk.move(third, "accepted", msk(1, 0, 20, month=12))
    desk.move(first, "done", msk(1, 1, month=12))
    end = msk(2, 12, month=12)
    refresh(end)
    incremental = rollup()
    rebuild(end)
    assert incremental == rollup()
    assert desk.ticket(third).filed_day.isoformat() == "2026-11-30"
    line = figures(desk, end, days=31)[desk.company_id]
    # all three missed: the first was done late, the other two are open past their deadlines
    assert (line.period.filed, line.period.overdue, line.period.reopened_share) == (3, 3, 1.0)
    assert (line.working.filed, line.nonworking.filed) == (2, 1)


def test_refresh_job_opens_its_own_transaction(desk, month, monkeypatch):  # noqa: ANN001
    from smsbot import clock

    monkeypatch.setattr(clock, "now", lambda: NOW)
    assert ticket_stats.refresh_job() > 0
    assert ticket_stats.refresh_job() == 0
    assert figures(desk)[desk.company_id].filed == 6


# --- the trend and the drill-down ---------------------------------------------------------------


def test_the_weekly_trend(desk, month):  # noqa: ANN001
    rebuild()
    with Session(db.engine()) as session:
        series = ticket_stats.trend(session, desk.company_id, 4, NOW)
    assert [w.start.isoformat() for w in series] == ["2026-10-26", "2026-11-02", "2026-11-09",
                                                     "2026-11-16"]  # fmt: skip
    assert [(w.filed_working, w.filed_nonworking) for w in series] == [
        (0, 0),
        (0, 1),
        (1, 1),
        (3, 0),
    ]
    assert series[1].share_nonworking == 1.0  # D, the holiday ticket
    assert (series[2].share_working, series[2].share_nonworking) == (1.0, 0.0)  # B late, C not
    assert series[3].share_working == 0.0 and series[3].share_nonworking is None


def test_the_drilldown_by_category_and_building(desk, month):  # noqa: ANN001
    rebuild()
    with Session(db.engine()) as session:
        drill = ticket_stats.drilldown(
            session, desk.company_id, sla.Period.last(30, NOW.date()), NOW
        )
        week = ticket_stats.drilldown(session, desk.company_id, sla.Period.last(7, NOW.date()), NOW)
    assert drill.total == 2
    assert drill.by_category == [("electrical", 1), ("plumbing", 1)]
    assert drill.by_building == [(ADDRESS, 2)]
    d = desk.ticket(month["D"])
    assert [(t.number, t.address, t.nonworking) for t in drill.tickets] == [
        (desk.ticket(month["B"]).number, ADDRESS, False),
        (d.number, ADDRESS, True),
    ]
    assert drill.tickets[1].late_by == NOW - d.deadline_at
    assert not hasattr(drill.tickets[0], "phone")
    assert week.total == 0 and week.tickets == []


# --- the rollup against a plain fold over the tickets -------------------------------------------


def reference(now: datetime) -> dict:
    """What ticket_day should hold, computed in Python from the tickets one by one."""
    with Session(db.engine()) as session:
        every = session.exec(select(Ticket)).all()
    tallies: dict = {}
    for t in every:
        tally = tallies.setdefault((t.company_id, t.filed_day, t.filed_nonworking), sla.Tally())
        missed = tickets.missed_deadline(t, now)
        tally.filed += 1
        tally.emergency += t.emergency
        tally.overdue += missed
        tally.decided += missed or t.status in ("done", "rejected")
        tally.accepted += t.accepted_at is not None
        tally.first_reply += t.first_reply_at is not None
        tally.done += t.first_done_at is not None
        tally.reopened += t.first_done_at is not None and t.reopen_count > 0
        tally.rated += t.rating is not None
        tally.rating_sum += t.rating or 0
        for end, histogram in ((t.accepted_at, tally.accept_hist),
                               (t.first_reply_at, tally.first_reply_hist),
                               (t.done_at if t.status == "done" else None, tally.finish_hist)):  # fmt: skip
            if end is not None:
                histogram.add(minutes(end - t.filed_at))
    return tallies


def stored() -> dict:
    with Session(db.engine()) as session:
        rows = session.exec(select(TicketDay)).all()
    return {(r.company_id, r.day, r.nonworking): sla.Tally.from_row(r.model_dump()) for r in rows}


def test_the_rollup_equals_a_fold_over_the_tickets(desk, month):  # noqa: ANN001
    rebuild()
    assert stored() == reference(NOW)
    later = NOW + timedelta(days=2)  # E's deadline has passed meanwhile
    refresh(later)
    assert stored() == reference(later)


def test_the_tally_mirrors_the_rollups_columns():
    columns = set(TicketDay.__table__.columns.keys())
    assert set(sla.COUNT_FIELDS) | set(sla.HIST_FIELDS) <= columns
    assert columns - set(sla.COUNT_FIELDS) - set(sla.HIST_FIELDS) == {
        "id", "company_id", "day", "nonworking", "refreshed_at"}  # fmt: skip


# --- whole months from ticket_month, the edges from ticket_day ----------------------------------

HISTORY_END = datetime(2027, 2, 10, 12, 0, tzinfo=MSK).astimezone(UTC)
"""Wednesday 10 February 2027, noon in Moscow: the history runs from June over the year end."""
HISTORY_START = datetime(2026, 6, 10, 0, 0, tzinfo=MSK).astimezone(UTC)
TEXTS = ("течёт кран на кухне", "не горит свет в подъезде", "сломан домофон",
         "прорвало трубу в подвале", "не работает лифт", "мусор во дворе")  # fmt: skip


def work_on(session: Session, ticket: Ticket, rng: random.Random, until: datetime) -> None:
    """Move a ticket on at random times before `until`: rejected, or accepted, answered, done
    in time or late (some reopened by the resident and done again) and rated; or left open."""
    at = ticket.filed_at

    def move(to_status: str, hours: float, actor: str = "dispatcher") -> None:
        nonlocal at
        at = min(at + timedelta(minutes=rng.expovariate(1 / (hours * 60))), until)
        tickets.transition(session, ticket, to_status, actor=actor, now=at)

    roll = rng.random()
    if roll < 0.08:
        return
    if roll < 0.14:
        return move("rejected", 3)
    move("accepted", 2)
    if rng.random() < 0.6:
        ticket.first_reply_at = at
    if rng.random() < 0.15:
        return
    move("done", 30)
    if rng.random() < 0.15:
        move("in_progress", 4, actor="resident")
        move("done", 10)
    if rng.random() < 0.5:
        ticket.rating = rng.randint(1, 5)


def file_history(company_ids: list[int], seed: int, n: int, start: datetime, end: datetime) -> None:
    """n tickets filed at random times from start to end (in one transaction), worked on."""
    rng = random.Random(seed)
    with db.session_scope() as session:
        for _ in range(n):
            company = session.get(Company, rng.choice(company_ids))
            at = start + (end - start) * rng.random()
            ticket = tickets.file(session, company=company, text=rng.choice(TEXTS), now=at)
            work_on(session, ticket, rng, end)
            session.add(ticket)


def day_only(session: Session, start: date, end: date) -> dict[tuple[int, bool], sla.Tally]:
    """The reference: the period's ticket_day rows added up in Python, no months involved."""
    tallies: dict[tuple[int, bool], sla.Tally] = {}
    for row in session.exec(select(TicketDay).where(TicketDay.day >= start, TicketDay.day <= end)):
        tallies.setdefault((row.company_id, row.nonworking), sla.Tally()).add(
            sla.Tally.from_row(row.model_dump())
        )
    return tallies


def months_from_days() -> dict:
    """What ticket_month should hold: ticket_day folded by calendar month in Python."""
    with Session(db.engine()) as session:
        rows = session.exec(select(TicketDay)).all()
    months: dict = {}
    for r in rows:
        key = (r.company_id, r.day.replace(day=1), r.nonworking)
        months.setdefault(key, sla.Tally()).add(sla.Tally.from_row(r.model_dump()))
    return months


def stored_months() -> dict:
    with Session(db.engine()) as session:
        rows = session.exec(select(TicketMonth)).all()
    return {(r.company_id, r.month, r.nonworking): sla.Tally.from_row(r.model_dump()) for r in rows}


def stored_totals() -> dict:
    with Session(db.engine()) as session:
        rows = session.exec(select(TicketMonthTotal)).all()
    return {(r.company_id, r.month, r.nonworking): sla.Tally.from_row(r.model_dump()) for r in rows}


def totals_from(months: dict) -> dict:
    """What ticket_month_total should hold: the months' running sums per company and kind."""
    totals, running = {}, {}
    for (company_id, month, nonworking), tally in sorted(months.items()):
        key = (company_id, nonworking)
        running[key] = sla.Tally.total([running.get(key, sla.Tally()), tally])
        totals[(company_id, month, nonworking)] = running[key]
    return totals


def periods(seed: int) -> list[tuple[date, date]]:
    """Month-aligned, unaligned, over the year end, single days, the page's presets, a few
    years, and random ones."""
    d = date
    fixed = [
        (d(2026, 11, 1), d(2026, 11, 30)), (d(2026, 11, 1), d(2027, 1, 31)),
        (d(2026, 12, 1), d(2026, 12, 31)), (d(2026, 10, 1), d(2027, 2, 28)),
        (d(2026, 10, 15), d(2027, 1, 20)), (d(2026, 11, 2), d(2026, 11, 29)),
        (d(2026, 10, 31), d(2026, 12, 1)), (d(2026, 12, 20), d(2027, 1, 10)),
        (d(2026, 12, 31), d(2027, 1, 1)), (d(2026, 11, 30), d(2027, 1, 1)),
        (d(2027, 1, 1), d(2027, 1, 1)), (d(2026, 12, 31), d(2026, 12, 31)),
        (d(2026, 11, 1), d(2026, 11, 1)), (d(2026, 11, 30), d(2026, 11, 30)),
        (d(2026, 12, 1), d(2027, 2, 10)), (d(2027, 2, 1), d(2027, 2, 10)),
        (d(2024, 2, 10), d(2027, 2, 10)), (d(2026, 1, 1), d(2026, 10, 9)),
        (d(2026, 7, 15), d(2027, 1, 31)), (d(2026, 8, 1), d(2027, 2, 10)),
        (d(2026, 6, 20), d(2027, 1, 10)), (d(2026, 7, 1), d(2026, 12, 31)),
    ]  # fmt: skip
    today = HISTORY_END.astimezone(MSK).date()
    presets = [(today - timedelta(days=n - 1), today) for n in (7, 30, 90, 365)]
    rng = random.Random(seed)
    first, span = d(2026, 6, 1), (today - d(2026, 6, 1)).days + 10
    randoms = [tuple(sorted(first + timedelta(days=rng.randrange(span)) for _ in range(2)))
               for _ in range(30)]  # fmt: skip
    return fixed + presets + randoms


@pytest.fixture()
def history(desk):  # noqa: ANN001
    """Two companies' tickets from 10 June 2026 to 10 February 2027, the rollup rebuilt."""
    file_history([desk.company_id, desk.idle_id], 5, 200, HISTORY_START, HISTORY_END)
    rebuild(HISTORY_END)
    return [desk.company_id, desk.idle_id]


def test_plan_period():
    d, plan, Plan = date, ticket_stats.plan_period, ticket_stats.PeriodPlan  # noqa: N806
    assert plan(d(2026, 11, 1), d(2026, 11, 30)) == Plan((d(2026, 11, 1), d(2026, 12, 1)), [], [])
    # the page's 30 days on 2 December: November less its first two days, and two days
    assert plan(d(2026, 11, 3), d(2026, 12, 2)) == Plan(
        (d(2026, 11, 1), d(2026, 12, 1)), [(d(2026, 12, 1), d(2026, 12, 2))],
        [(d(2026, 11, 1), d(2026, 11, 2))])  # fmt: skip
    assert plan(d(2026, 11, 2), d(2026, 11, 29)) == Plan(
        (d(2026, 11, 1), d(2026, 12, 1)), [],
        [(d(2026, 11, 1), d(2026, 11, 1)), (d(2026, 11, 30), d(2026, 11, 30))])  # fmt: skip
    assert plan(d(2026, 10, 31), d(2026, 12, 1)) == Plan(
        (d(2026, 11, 1), d(2026, 12, 1)),
        [(d(2026, 10, 31), d(2026, 10, 31)), (d(2026, 12, 1), d(2026, 12, 1))], [])  # fmt: skip
    assert plan(d(2026, 11, 10), d(2026, 11, 16)) == Plan(
        None, [(d(2026, 11, 10), d(2026, 11, 16))], []
    )
    assert plan(d(2027, 1, 1), d(2027, 1, 1)) == Plan(None, [(d(2027, 1, 1), d(2027, 1, 1))], [])
    assert plan(d(2024, 2, 1), d(2024, 2, 29)) == Plan((d(2024, 2, 1), d(2024, 3, 1)), [], [])
    for start, end in periods(1):  # months + days − less count every day of the period once
        p = plan(start, end)
        count: dict[date, int] = {}
        spans = [(a, b, 1) for a, b in p.days] + [(a, b, -1) for a, b in p.less]
        if p.months:
            spans.append((p.months[0], p.months[1] - timedelta(days=1), 1))
            assert p.months[0].day == p.months[1].day == 1
        for a, b, sign in spans:
            for i in range((b - a).days + 1):
                count[a + timedelta(days=i)] = count.get(a + timedelta(days=i), 0) + sign
        assert {day for day, n in count.items() if n} == {
            start + timedelta(days=i) for i in range((end - start).days + 1)}  # fmt: skip
        assert set(count.values()) <= {0, 1}, (start, end)
        assert len(p.days) <= 2 and len(p.less) <= 2


def test_ticket_month_is_the_sum_of_its_days(history):  # noqa: ANN001
    months = stored_months()
    assert months == months_from_days()
    assert stored_totals() == totals_from(months)
    assert {m for _, m, _ in months} >= {date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)}
    assert sum(t.filed for t in months.values()) == 200


def test_periods_read_from_months_equal_the_days_alone(history):  # noqa: ANN001
    with Session(db.engine()) as session:
        for start, end in periods(2):
            expected = day_only(session, start, end)
            assert ticket_stats.period_tallies(session, history, start, end) == expected, (
                start,
                end,
            )
            lines = ticket_stats.overview(session, company_ids=None, period_start=start,
                                          period_end=end, now=HISTORY_END)  # fmt: skip
            for line in lines:
                working = expected.get((line.company_id, False), sla.Tally())
                nonworking = expected.get((line.company_id, True), sla.Tally())
                assert line.working == sla.Split.of(working), (start, end)
                assert line.nonworking == sla.Split.of(nonworking), (start, end)
                assert line.period == sla.Split.of(sla.Tally.total([working, nonworking]))


def test_a_refresh_after_changes_keeps_the_months_right_and_equals_a_rebuild(desk, history):  # noqa: ANN001
    later = HISTORY_END + timedelta(days=3)
    rng = random.Random(7)
    with db.session_scope() as session:  # residents reopen and rate old tickets all over
        old = session.exec(select(Ticket).where(Ticket.status == "done").order_by(Ticket.id)).all()
        for ticket in rng.sample(old, 12):
            tickets.transition(session, ticket, "in_progress", actor="resident",
                               now=later - timedelta(hours=5))  # fmt: skip
            if rng.random() < 0.5:
                tickets.transition(session, ticket, "done", actor="dispatcher",
                                   now=later - timedelta(hours=4))  # fmt: skip
            session.add(ticket)
        for ticket in session.exec(select(Ticket).where(Ticket.rating.is_(None),
                                   Ticket.status == "done").limit(5)):  # fmt: skip
            ticket.rating, ticket.updated_at = 2, later - timedelta(hours=3)
            session.add(ticket)
    file_history(history, 8, 10, later - timedelta(hours=2), later - timedelta(hours=1))
    assert refresh(later) > 0
    incremental = rollup(), stored_months(), stored_totals()
    assert incremental[1] == months_from_days()
    assert incremental[2] == totals_from(incremental[1])
    rebuild(later)
    assert incremental == (rollup(), stored_months(), stored_totals())
    with Session(db.engine()) as session:
        for start, end in periods(3)[:20]:
            assert ticket_stats.period_tallies(session, history, start, end) == day_only(
                session, start, end
            ), (start, end)


def test_a_quiet_refresh_leaves_the_months_alone(history):  # noqa: ANN001
    before = stored_months(), stored_totals()
    assert refresh(HISTORY_END + timedelta(minutes=1)) >= 0
    assert (stored_months(), stored_totals()) == before
    assert before == (months_from_days(), totals_from(before[0]))


def test_a_month_less_its_outside_days_leaves_out_what_comes_to_nothing(desk):  # noqa: ANN001
    desk.file("течёт кран на кухне", msk(1, 10), "+79160000021")  # Sunday 1 November
    desk.file("не горит свет в подъезде", msk(2, 10), "+79160000022")
    rebuild()
    start, end = date(2026, 11, 2), date(2026, 11, 30)
    assert ticket_stats.plan_period(start, end).less == [(date(2026, 11, 1), date(2026, 11, 1))]
    assert ticket_stats.month_count(date(2026, 11, 1), date(2027, 2, 1)) == 3
    with Session(db.engine()) as session:
        tallies = ticket_stats.period_tallies(session, [desk.company_id], start, end)
        assert tallies == day_only(session, start, end)
    assert list(tallies) == [(desk.company_id, False)]  # no empty non-working line
