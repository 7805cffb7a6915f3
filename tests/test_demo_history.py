"""The demo's months of ticket history: the same on every start, consistent with its own
events and deadlines, and telling the story it is meant to (Солнечный город late all week,
Заречье late only on weekends and holidays)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlmodel import Session, select

from smsbot import categories, db, deadlines, tickets, workdays
from smsbot.models import (
    ACTOR_DISPATCHER,
    ACTOR_RESIDENT,
    ACTOR_SYSTEM,
    TICKET_DONE,
    TICKET_IN_PROGRESS,
    TICKET_NEW,
    TICKET_OPEN,
    TICKET_REJECTED,
    TICKET_TRANSITIONS,
    Company,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketFeedback,
    User,
)
from standins import demo, demo_history

NOW = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)
"""Four months back reach the 4 November holiday and the New Year holidays."""

STAMPS = ("accepted_at", "started_at", "done_at", "rejected_at", "first_done_at", "reopened_at")


def load(url: str, *, now: datetime = NOW, staff: bool = False) -> demo_history.Loaded:
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            demo.seed(session)
            if staff:
                demo.seed_staff(session)
            loaded = demo_history.load(session, now=now)
            session.commit()
        return loaded
    finally:
        engine.dispose()


def read(url: str):  # noqa: ANN201
    engine = db.make_engine(url)
    session = Session(engine)
    return engine, session


def demo_companies() -> list[tuple[Company, list[int]]]:
    """The demo's companies in memory, with made-up building ids (for the pure history)."""
    result, next_id = [], 1
    for number, spec in enumerate([*demo.COMPANIES, *demo_history.HISTORY_COMPANIES], start=1):
        company = Company(id=number, **{k: v for k, v in spec.items() if k in Company.model_fields})
        buildings = list(range(next_id, next_id + len(spec["buildings"])))
        next_id += len(buildings)
        result.append((company, buildings))
    return result


def history(now: datetime = NOW) -> dict[str, list[demo_history.Row]]:
    return {
        company.slug: demo_history.company_history(
            company, buildings=buildings, staff=[7, 8], overrides={}, now=now
        )
        for company, buildings in demo_companies()
    }


def by_filing(rows: dict[str, list[demo_history.Row]]) -> dict[tuple[str, datetime], tuple]:
    return {
        (slug, r.fields["filed_at"]): (sorted(r.fields.items()), r.steps, r.questions, r.resident)
        for slug, company_rows in rows.items()
        for r in company_rows
    }


def test_the_history_is_the_same_on_every_start():
    first = history()
    assert sum(map(len, first.values())) > 1000
    assert by_filing(first) == by_filing(history())

    # A day later the same calendar days hold the same tickets; only what the day brought
    # (new tickets, new steps of open ones) differs.
    before, after = by_filing(first), by_filing(history(NOW + timedelta(days=1)))
    settled = {
        key: row
        for key, row in after.items()
        if dict(row[0])["updated_at"] < NOW and dict(row[0])["status"] not in TICKET_OPEN
    }
    assert len(settled) > 0.9 * len(before)
    assert all(before.get(key) == row for key, row in settled.items())


def test_the_companies_differ_the_way_the_demo_means():
    shares = {}
    for slug, rows in history().items():
        counts = defaultdict(lambda: [0, 0])
        for r in rows:
            for group in ("all", "nonworking" if r.fields["filed_nonworking"] else "working"):
                counts[group][0] += 1
                counts[group][1] += r.fields["overdue_at"] is not None
        shares[slug] = {group: late / total for group, (total, late) in counts.items()}
    zarechye, solnechny = shares["uk-zarechye"], shares["uk-solnechny"]
    # Солнечный город lets the most tickets go overdue overall and on working days …
    assert solnechny["all"] == max(s["all"] for s in shares.values())
    assert solnechny["working"] > 3 * zarechye["working"]
    # … Заречье keeps its deadlines on working days and misses them on weekends and holidays.
    assert zarechye["nonworking"] > 4 * zarechye["working"]
    assert zarechye["nonworking"] > solnechny["nonworking"]


def replay(events: list[TicketEvent]) -> list[tuple[datetime, str]]:
    """The statuses a ticket went through, with when."""
    return [(e.at, e.to_status) for e in events if e.to_status is not None]


def open_after_deadline(
    ticket: Ticket, statuses: list[tuple[datetime, str]], now: datetime
) -> bool:
    """Whether the ticket was open at some moment after its deadline (up to now)."""
    for (at, status), following in zip(statuses, [*statuses[1:], (now, None)], strict=True):
        if status in TICKET_OPEN and following[0] > ticket.deadline_at and at < now:
            return True
    return False


def test_every_ticket_agrees_with_its_events_and_deadline(database_url):
    loaded = load(database_url, staff=True)
    engine, session = read(database_url)
    with session:
        companies = {c.id: c for c in session.exec(select(Company))}
        staff = defaultdict(set)
        for user in session.exec(select(User).where(User.company_id.is_not(None))):
            staff[user.company_id].add(user.id)
        events, feedback = defaultdict(list), defaultdict(list)
        for e in session.exec(select(TicketEvent).order_by(TicketEvent.at, TicketEvent.id)):
            events[e.ticket_id].append(e)
        for f in session.exec(select(TicketFeedback).order_by(TicketFeedback.id)):
            feedback[f.ticket_id].append(f)
        all_tickets = list(session.exec(select(Ticket).order_by(Ticket.id)))
        counters = dict(
            session.exec(select(TicketCounter.company_id, TicketCounter.last_number)).all()
        )
    engine.dispose()
    assert loaded.tickets == len(all_tickets)

    numbers = defaultdict(list)
    for t in all_tickets:
        company = companies[t.company_id]
        numbers[t.company_id].append(t.number)
        history = events[t.id]
        statuses = replay(history)

        # filed as tickets.file files: local day, non-working flag, the deadline and warning
        assert t.filed_day == t.filed_at.astimezone(ZoneInfo(company.timezone)).date()
        assert t.filed_nonworking == workdays.is_nonworking(t.filed_day)
        problem = categories.guess(t.text, danger_kind=t.danger)
        assert (problem.key, problem.category, problem.priority) == (
            t.problem,
            t.category,
            t.priority,
        )
        assert t.emergency == problem.emergency
        assert t.working_hours == (company.working_hours_deadlines and not t.emergency)
        hours = (company.workday_start, company.workday_end) if t.working_hours else None
        due = deadlines.compute(t.problem, t.filed_at, tz=company.timezone, working_hours=hours,
                                warn_percent=company.warn_percent)  # fmt: skip
        assert (t.deadline_at, t.repair_deadline_at, t.warn_at) == (
            due.due_at,
            due.repair_due_at,
            due.warn_at,
        )

        # the history: starts with new, moves along the state machine, ends in the status
        assert statuses[0] == (t.filed_at, TICKET_NEW)
        assert all(e.at <= NOW for e in history) and t.updated_at == max(
            history[-1].at, t.warned_at or t.filed_at
        )
        for (_, before), (_, after) in zip(statuses, statuses[1:], strict=False):
            assert after in TICKET_TRANSITIONS[before], (t.number, statuses)
        assert statuses[-1][1] == t.status
        for e in history:
            assert e.actor in (ACTOR_DISPATCHER, ACTOR_RESIDENT, ACTOR_SYSTEM)
            if e.user_id is not None:
                assert e.actor == ACTOR_DISPATCHER and e.user_id in staff[t.company_id]
        done = [at for at, s in statuses if s == TICKET_DONE]
        reopened = [
            e.at for e in history if e.actor == ACTOR_RESIDENT and e.to_status == TICKET_IN_PROGRESS
        ]
        assert t.first_done_at == (done[0] if done else None)
        assert t.done_at == (done[-1] if t.status == TICKET_DONE else None)
        assert all(at > t.filed_at for at in done)
        assert t.rejected_at == next((at for at, s in statuses if s == TICKET_REJECTED), None)
        assert (t.reopen_count, t.reopened_at) == (
            len(reopened),
            reopened[-1] if reopened else None,
        )
        if len(statuses) > 1 and statuses[1][1] != TICKET_REJECTED:
            assert t.accepted_at == statuses[1][0]

        # overdue iff it was open after its deadline: closed late, reopened late or still open
        assert (t.overdue_at is not None) == open_after_deadline(t, statuses, NOW), t.number
        assert t.overdue_at in (None, t.deadline_at)
        assert tickets.missed_deadline(t, NOW) == (t.overdue_at is not None)
        if t.overdue_alerted_at is not None:
            assert t.overdue_alerted_at > t.deadline_at and t.overdue_at is not None
            assert (t.escalated_at is not None) == t.emergency
        if t.warned_at is not None:
            assert t.warn_at < t.warned_at < t.deadline_at
        # … each mark with the clock's internal note, as smsbot.deadline_clock writes it
        system = [e for e in history if e.actor == ACTOR_SYSTEM]
        marks = (t.warned_at, t.overdue_alerted_at, t.escalated_at)
        assert sorted(e.at for e in system) == sorted(at for at in marks if at is not None)
        assert not any(e.public or e.to_status for e in system)

        # questions after done: one per done, to the ticket's resident; the answers agree
        questions = feedback[t.id]
        if t.resident_id is None:
            assert questions == [] and t.first_reply_at is None and t.rating is None
            assert history[0].actor == ACTOR_DISPATCHER
        else:
            assert history[0].actor == ACTOR_RESIDENT
            assert [q.asked_at for q in questions] == done
            assert all(q.resident_id == t.resident_id for q in questions)
            assert [q.answered_at for q in questions if q.answer == "no"] == reopened
            rated = [q.rating for q in questions if q.rating is not None]
            assert t.rating == (rated[-1] if rated else None)
            assert all(1 <= r <= 5 for r in rated)
            yes = [q.answered_at for q in questions if q.answer == "yes"]
            assert t.confirmed_at == (yes[-1] if yes else None)
            if t.status != TICKET_NEW:
                assert t.first_reply_at == statuses[1][0]

    for company_id, given in numbers.items():
        assert sorted(given) == list(range(1, len(given) + 1))
        assert counters[company_id] == len(given)
    # the holidays are in it, as non-working days; the desk looks alive: a few tickets open
    # now, some of them overdue
    holidays = [t for t in all_tickets if t.filed_day in (date(2026, 11, 4), date(2027, 1, 5))]
    assert len(holidays) > 10 and all(t.filed_nonworking for t in holidays)
    open_now = [t for t in all_tickets if t.status in TICKET_OPEN]
    assert 5 <= loaded.open == len(open_now) <= 100
    overdue = sum(tickets.is_overdue(t, NOW) for t in open_now)
    assert 1 <= loaded.overdue_open == overdue < loaded.open
    assert loaded.companies == len(companies) == len(demo_history.HABITS)


def test_seed_demo_loads_the_history_once(app_env, monkeypatch):
    from smsbot import cli

    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(cli.main, ["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "tickets of history over 4 months" in result.output
    result = runner.invoke(cli.main, ["seed-demo"])
    assert "nothing loaded" in result.output
    engine, session = read(app_env["DATABASE_URL"])
    with session:
        numbers = session.exec(select(Ticket.number).order_by(Ticket.id)).all()
        last = session.exec(select(TicketCounter.last_number)).all()
    engine.dispose()
    assert len(numbers) > 1000 and max(last) == max(numbers)
