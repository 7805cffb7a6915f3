"""The deadline clock with a controlled clock: warnings at 80 % and overdue marks at the
deadline, once each however often it runs; catch-up after a pause; working-hours deadlines
across holidays; who is told; two clocks at once; and real clock and worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY
from sqlmodel import Session, select

from smsbot import db, deadline_clock, queues, tickets, users
from smsbot.clock import utcnow
from smsbot.db import session_scope
from smsbot.models import (
    ACTOR_SYSTEM,
    KIND_ALERT,
    TICKET_DONE,
    TICKET_IN_PROGRESS,
    Account,
    Company,
    Ticket,
    TicketEvent,
    User,
)
from smsbot.providers import outbox as local_outbox
from tests.conftest import run_jobs
from tests.support import die_with_parent, outbound_messages, wait_until

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # Wednesday 09:00 in Moscow
MINUTE = timedelta(minutes=1)
LEAK = "течёт кран на кухне"  # plumbing: 24 hours
ZARECHYE_NUMBER = "+74951230001"

STAFF = [  # login, role, company, phone, active
    ("olga", "dispatcher", "uk-zarechye", "+79165550101", True),
    ("igor", "company_admin", "uk-zarechye", "8 (916) 555-01-02", True),
    ("pavel", "dispatcher", "uk-zarechye", None, True),
    ("gone", "dispatcher", "uk-zarechye", "+79165550109", False),
    ("anna", "dispatcher", "uk-solnechny", "+79165550201", True),
    ("boris", "company_admin", "uk-solnechny", "+79165550202", True),
    ("inspector", "inspector", None, "+79165550301", True),
]
OLGA, IGOR, ANNA, BORIS = "+79165550101", "+79165550102", "+79165550201", "+79165550202"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(users, "HASH_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture()
def staff(demo) -> dict[str, int]:  # noqa: ANN001
    """The demo companies' people, some with phones; login → user id."""
    ids = {}
    with session_scope() as session:
        companies = {c.slug: c.id for c in session.exec(select(Company))}
        for login, role, slug, phone, active in STAFF:
            user = users.create_user(session, login=login, name=login.title(), password="x" * 12,
                                     role=role, company_id=companies.get(slug), phone=phone)  # fmt: skip
            user.active = active
            ids[login] = user.id
    return ids


def company_id(slug: str = "uk-zarechye") -> int:
    with Session(db.engine()) as session:
        return session.exec(select(Company.id).where(Company.slug == slug)).one()


def configure(slug: str = "uk-zarechye", **values: object) -> None:
    with session_scope() as session:
        company = session.get(Company, company_id(slug))
        for name, value in values.items():
            setattr(company, name, value)


def file(
    filed_at: datetime,
    text: str = LEAK,
    *,
    slug: str = "uk-zarechye",
    danger: str | None = None,
    assignee: int | None = None,
) -> Ticket:
    """A ticket filed at `filed_at` for the first flat of the company (deadline from its rules)."""
    with session_scope() as session:
        company = session.get(Company, company_id(slug))
        account = session.exec(
            select(Account).where(Account.company_id == company.id).order_by(Account.id)
        ).first()
        ticket = tickets.file(session, company=company, text=text, now=filed_at, account=account,
                              danger_kind=danger)  # fmt: skip
        ticket.assignee_id = assignee
    return ticket


def fresh(ticket_id: int) -> Ticket:
    with Session(db.engine()) as session:
        return session.get(Ticket, ticket_id)


def alerts(template: str | None = None) -> list:
    found = outbound_messages(kind=KIND_ALERT)
    return [m for m in found if template is None or m.template == template]


def run(now: datetime) -> dict[str, int]:
    return deadline_clock.run(now)


def system_notes(ticket_id: int) -> list[str]:
    with Session(db.engine()) as session:
        events = session.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.actor == ACTOR_SYSTEM)
            .order_by(TicketEvent.id)
        ).all()
    assert all(not e.public for e in events)  # the resident's СТАТУС never quotes them
    return [e.note for e in events]


# --- near and overdue, once each -------------------------------------------------------------


def test_the_warning_comes_at_80_percent_and_only_once(app, staff):
    ticket = file(T0)
    assert ticket.warn_at == T0 + timedelta(hours=24) * 0.8
    assert run(ticket.warn_at - MINUTE)["warned"] == 0
    counted = REGISTRY.get_sample_value("smsbot_deadline_alerts_total", {"stage": "warned"}) or 0
    assert run(ticket.warn_at) == {"warned": 1, "overdue": 0, "escalated": 0, "alerts": 2}
    assert (
        REGISTRY.get_sample_value("smsbot_deadline_alerts_total", {"stage": "warned"})
        == counted + 1
    )
    for _ in range(3):
        assert run(ticket.warn_at + 10 * MINUTE) == {
            "warned": 0,
            "overdue": 0,
            "escalated": 0,
            "alerts": 0,
        }
    sent = alerts("alert_near")
    assert sorted(m.to_phone for m in sent) == [OLGA, IGOR]  # nobody took it: everybody's
    assert {m.from_phone for m in sent} == {ZARECHYE_NUMBER}  # the company's own number
    body = sent[0].body
    assert f"№{ticket.number}" in body and "сантехника" in body and "ул. Молодёжная, д. 12" in body
    assert "03.12.2026 09:00" in body  # the deadline in Moscow time
    assert "+7985" not in body and "148" not in body  # nothing about the resident or the flat
    assert all(m.resident_id is None and m.company_id == company_id() for m in sent)
    assert fresh(ticket.id).warned_at == ticket.warn_at
    [note] = system_notes(ticket.id)
    assert "Срок подходит" in note and "Olga" in note and "Igor" in note


def test_overdue_the_minute_the_deadline_passes_and_only_once(app, staff):
    ticket = file(T0)
    deadline = ticket.deadline_at
    assert run(deadline - MINUTE)["overdue"] == 0
    assert fresh(ticket.id).overdue_at is None
    assert run(deadline + MINUTE) == {"warned": 0, "overdue": 1, "escalated": 0, "alerts": 2}
    assert run(deadline + 2 * MINUTE)["overdue"] == 0
    assert run(deadline + timedelta(hours=5))["alerts"] == 0
    marked = fresh(ticket.id)
    assert marked.overdue_at == deadline and marked.overdue_alerted_at == deadline + MINUTE
    assert sorted(m.to_phone for m in alerts("alert_overdue")) == [OLGA, IGOR]
    assert len(alerts("alert_near")) == 2  # the warning at 80 % came first, once
    assert "Просрочена заявка" in alerts("alert_overdue")[0].body
    assert "просрочена" in system_notes(ticket.id)[-1]
    assert alerts("alert_escalation") == []  # a routine ticket is not escalated


def test_done_a_minute_late_counts_as_overdue_without_an_alert(app, staff):
    ticket = file(T0)
    run(ticket.warn_at)
    late = ticket.deadline_at + MINUTE
    with session_scope() as session:
        row = session.get(Ticket, ticket.id)
        tickets.transition(session, row, TICKET_IN_PROGRESS, actor="dispatcher", now=late)
        tickets.transition(session, row, TICKET_DONE, actor="dispatcher", now=late)
    assert run(late + MINUTE)["overdue"] == 0
    done = fresh(ticket.id)
    assert done.overdue_at == ticket.deadline_at and done.overdue_alerted_at is None
    assert tickets.missed_deadline(done, late + timedelta(days=1))
    assert alerts("alert_overdue") == []


def test_a_ticket_done_in_time_is_never_alerted(app, staff):
    ticket = file(T0)
    with session_scope() as session:
        row = session.get(Ticket, ticket.id)
        tickets.transition(session, row, TICKET_IN_PROGRESS, actor="dispatcher", now=T0 + MINUTE)
        tickets.transition(session, row, TICKET_DONE, actor="dispatcher", now=T0 + 2 * MINUTE)
    assert run(ticket.deadline_at + timedelta(days=2))["alerts"] == 0
    assert fresh(ticket.id).overdue_at is None


# --- catching up --------------------------------------------------------------------------------


def test_after_a_three_hour_pause_the_clock_catches_up_without_stale_warnings(
    app, staff, monkeypatch
):
    monkeypatch.setattr(deadline_clock, "BATCH", 2)  # the backlog drains over several batches
    gas = file(T0, "пахнет газом в подъезде", danger="gas")  # due T0 + 30 min
    overdue = [file(T0 - timedelta(hours=23, minutes=m)) for m in (0, 10, 20, 30)]  # due ≤ T0 + 1 h
    near = file(T0 - timedelta(hours=20))  # warned at T0 − 48 min… but due only at T0 + 4 h
    later = file(T0 + timedelta(hours=2))
    after_pause = T0 + timedelta(hours=3)
    counts = run(after_pause)
    assert counts == {"warned": 1, "overdue": 5, "escalated": 1, "alerts": 1 * 2 + 5 * 2 + 1}
    for t in [gas, *overdue]:
        marked = fresh(t.id)
        assert marked.overdue_at == t.deadline_at  # the deadline itself, not when it was noticed
        assert marked.warned_at is None  # no "deadline near" for what is already overdue
    assert fresh(near.id).warned_at == after_pause and fresh(near.id).overdue_at is None
    assert fresh(later.id).warned_at is None and fresh(later.id).overdue_at is None
    [escalation] = alerts("alert_escalation")
    assert escalation.to_phone == IGOR and "АВАРИЯ" in escalation.body
    assert "запах газа" in escalation.body
    assert len(alerts("alert_near")) == 2  # the one ticket still before its deadline
    assert run(after_pause + MINUTE)["alerts"] == 0


# --- working-hours deadlines: weekends, holidays, midnight, the change of month -----------------


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


WORKING_HOURS_CASES = {
    # filed (Moscow), deadline, warning at 80 %, a moment in between when nothing may happen
    "holiday 4 Nov": (local(2026, 11, 3, 17), local(2026, 11, 5, 17), local(2026, 11, 5, 15, 12),
                      local(2026, 11, 4, 12)),
    "weekend": (local(2026, 11, 6, 17), local(2026, 11, 9, 17), local(2026, 11, 9, 15, 12),
                local(2026, 11, 8, 12)),
    "change of month": (local(2026, 11, 30, 17), local(2026, 12, 1, 17), local(2026, 12, 1, 15, 12),
                        local(2026, 12, 1, 0, 1)),
    "new year holidays": (local(2026, 12, 30, 17, 30), local(2027, 1, 11, 17, 30),
                          local(2027, 1, 11, 15, 42), local(2027, 1, 5, 12)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(WORKING_HOURS_CASES))
def test_working_hours_deadlines_skip_weekends_and_holidays(app, staff, case):
    filed, due, warn, quiet = WORKING_HOURS_CASES[case]
    configure(working_hours_deadlines=True)
    ticket = file(filed)
    assert ticket.working_hours and ticket.deadline_at == due and ticket.warn_at == warn
    assert run(quiet)["alerts"] == 0
    assert run(warn - MINUTE)["warned"] == 0
    assert run(warn)["warned"] == 1
    assert run(due - MINUTE)["overdue"] == 0
    assert run(due + MINUTE)["overdue"] == 1
    assert fresh(ticket.id).overdue_at == due
    assert due.strftime("%d.%m.%Y %H:%M") in alerts("alert_overdue")[0].body


@pytest.mark.parametrize(
    "filed",
    [local(2026, 11, 3, 23, 50), local(2026, 12, 31, 23, 45)],
    ids=["midnight before a holiday", "new year's eve"],
)
def test_emergencies_stay_on_the_clock_at_a_working_hours_company(app, staff, filed):
    configure(working_hours_deadlines=True)
    gas = file(filed, "запах газа на лестнице", danger="gas")
    assert not gas.working_hours and gas.deadline_at == filed + timedelta(minutes=30)
    assert run(filed + timedelta(minutes=29))["overdue"] == 0
    assert run(filed + timedelta(minutes=31)) == {
        "warned": 0,
        "overdue": 1,
        "escalated": 1,
        "alerts": 3,
    }
    assert [m.to_phone for m in alerts("alert_escalation")] == [IGOR]
    assert (filed + timedelta(minutes=30)).strftime("%d.%m.%Y %H:%M") in (
        alerts("alert_escalation")[0].body
    )


# --- who is told ---------------------------------------------------------------------------------


def test_the_assignee_alone_is_told_when_they_have_a_phone(app, staff):
    taken = file(T0, assignee=staff["olga"])
    phoneless = file(T0, assignee=staff["pavel"])
    run(taken.warn_at)
    by_ticket = {}
    for m in alerts("alert_near"):
        number = int(m.body.split("№")[1].split()[0])
        by_ticket.setdefault(number, []).append(m.to_phone)
    assert by_ticket[taken.number] == [OLGA]
    assert sorted(by_ticket[phoneless.number]) == [OLGA, IGOR]  # nobody to reach: everybody


def test_only_the_tickets_own_company_is_told(app, staff):
    theirs = file(T0, slug="uk-solnechny", danger="gas", text="запах газа")
    ours = file(T0, danger="gas", text="запах газа")
    run(T0 + timedelta(minutes=31))
    overdue = {m.to_phone for m in alerts("alert_overdue")}
    assert overdue == {OLGA, IGOR, ANNA, BORIS}
    escalated = sorted(m.to_phone for m in alerts("alert_escalation"))
    assert escalated == [IGOR, BORIS]
    for m in alerts():
        assert m.company_id == (
            company_id("uk-solnechny") if m.to_phone in (ANNA, BORIS) else company_id()
        )
    assert fresh(theirs.id).escalated_at and fresh(ours.id).escalated_at
    assert "+79165550109" not in {m.to_phone for m in alerts()}  # deactivated
    assert "+79165550301" not in {m.to_phone for m in alerts()}  # inspectors get no alerts


def test_no_admin_phone_means_a_note_and_no_sms(app, staff):
    with session_scope() as session:
        session.get(User, staff["igor"]).phone = None
    gas = file(T0, danger="gas", text="запах газа")
    assert run(T0 + timedelta(minutes=31))["escalated"] == 1
    assert alerts("alert_escalation") == []
    assert fresh(gas.id).escalated_at == T0 + timedelta(minutes=31)
    assert "ни у одного администратора" in system_notes(gas.id)[-1]
    assert run(T0 + timedelta(minutes=32))["escalated"] == 0


def test_recipients_are_decided_without_the_database():
    def user(uid: int, role: str, company: int, phone: str | None, active: bool = True) -> User:
        return User(id=uid, login=f"u{uid}", name=f"U{uid}", password_hash="-", role=role,
                    company_id=company, phone=phone, active=active, session_token="-")  # fmt: skip

    people = [
        user(1, "dispatcher", 1, "+79165550101"),
        user(2, "company_admin", 1, "+79165550102"),
        user(3, "company_admin", 1, "+79165550102"),  # the same phone twice: one SMS
        user(4, "dispatcher", 2, "+79165550201"),
        user(5, "dispatcher", 1, "+79165550103", active=False),
        user(6, "superadmin", None, "+79165550104"),
    ]
    ticket = Ticket(company_id=1, number=1, problem="other", category="other", priority="normal",
                    deadline_at=T0)  # fmt: skip
    assert [u.id for u in deadline_clock.recipients(deadline_clock.NEAR, ticket, people)] == [1, 2]
    ticket.assignee_id = 4  # assigned to someone of another company: not theirs to hear
    assert [u.id for u in deadline_clock.recipients(deadline_clock.OVERDUE, ticket, people)] == [
        1,
        2,
    ]
    ticket.assignee_id = 1
    assert [u.id for u in deadline_clock.recipients(deadline_clock.OVERDUE, ticket, people)] == [1]
    escalation = deadline_clock.recipients(deadline_clock.ESCALATION, ticket, people)
    assert [u.id for u in escalation] == [2]


def test_the_history_note_says_who_was_told_or_why_nobody_was():
    note = deadline_clock.event_note
    assert note("near", language="ru", deadline_local="03.12.2026 09:00", names=["Ольга"]) == (
        "Срок подходит (до 03.12.2026 09:00). SMS: Ольга."
    )
    assert note("escalation", language="en", deadline_local="-", names=[]) == (
        "Emergency not dealt with in time. No SMS: no company admin has a phone."
    )
    assert "no number to send from" in note(
        "overdue", language="en", deadline_local="-", names=["Olga"], has_sender=False
    )


def test_alerts_follow_each_persons_language(app, staff):
    with session_scope() as session:
        session.get(User, staff["igor"]).language = "en"
    ticket = file(T0)
    run(ticket.warn_at)
    bodies = {m.to_phone: m.body for m in alerts("alert_near")}
    assert bodies[IGOR].startswith("Deadline near: ticket") and "plumbing" in bodies[IGOR]
    assert bodies[OLGA].startswith("Скоро срок")


# --- two clocks at once -------------------------------------------------------------------------


def race(now: datetime) -> list[dict[str, int]]:
    """Two clock runs started together, each on its own thread and session."""
    barrier = threading.Barrier(2)
    results, errors = [], []

    def clock() -> None:
        try:
            barrier.wait()
            results.append(run(now))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=clock) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(results) == 2
    return results


def test_two_clocks_at_once_send_one_escalation(app, staff, monkeypatch):
    """Each round two runs race over two overdue emergencies; each admin gets one SMS. Both
    runs pause between finding the tickets and claiming them, so on PostgreSQL both have
    seen them due and the conditional UPDATE alone decides."""
    monkeypatch.setenv("SMSBOT_ENV", "test")
    monkeypatch.setenv("SMSBOT_FAILPOINTS", "deadline_clock.before_claim=sleep:0.1")
    for round_ in range(3):
        filed = T0 + timedelta(hours=round_)
        file(filed, danger="gas", text="запах газа")
        file(filed, slug="uk-solnechny", danger="gas", text="запах газа")
        results = race(filed + timedelta(minutes=31))
        assert sum(r["escalated"] for r in results) == 2
        assert sum(r["overdue"] for r in results) == 2
    escalated = sorted(m.to_phone for m in alerts("alert_escalation"))
    assert escalated == sorted([IGOR, BORIS] * 3)
    assert len(alerts("alert_overdue")) == 4 * 3


# --- the SMS go out -----------------------------------------------------------------------------


def test_a_staff_alert_goes_out_through_the_outbox(app, staff):
    file(T0, danger="gas", text="запах газа")
    run(T0 + timedelta(minutes=31))
    run_jobs(app)
    assert {m.status for m in alerts()} == {"delivered"}
    recorded = local_outbox.messages()
    assert sorted(r["to"] for r in recorded) == sorted([OLGA, IGOR, IGOR])


def test_a_staff_alert_goes_out_through_twilio(live_app, live_demo, fake_twilio):
    with session_scope() as session:
        users.create_user(session, login="igor", name="Igor", password="x" * 12,
                          role="company_admin", company_id=company_id(), phone=IGOR)  # fmt: skip
    file(T0, danger="gas", text="запах газа")
    run(T0 + timedelta(minutes=31))
    run_jobs(live_app)
    sent = fake_twilio.wait_for_messages(2, to=IGOR)
    assert len(sent) == 2 and {s["from"] for s in sent} == {ZARECHYE_NUMBER}
    wait_until(lambda: {m.status for m in alerts()} == {"delivered"}, what="delivered alerts")


def test_create_user_takes_a_phone_and_refuses_a_bad_one(app_env, demo):
    from click.testing import CliRunner

    from smsbot.cli import main

    runner = CliRunner()
    args = ["create-user", "--role", "dispatcher", "--company", "uk-zarechye",
            "--password", "x" * 12]  # fmt: skip
    ok = runner.invoke(main, [*args, "masha", "--phone", "8 916 555-01-07"], env=app_env)
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(main, [*args, "sasha", "--phone", "12345"], env=app_env)
    assert bad.exit_code != 0 and "phone number is not usable" in bad.output
    with Session(db.engine()) as session:
        logins = {u.login: u.phone for u in session.exec(select(User))}
    assert logins == {"masha": "+79165550107"}


# --- real processes: two clocks, one worker -------------------------------------------------------


def smsbot_process(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "smsbot.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("SMSBOT_TEST_WORKER_LOGS") else subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )


@pytest.mark.slow
def test_two_clock_processes_and_a_worker_escalate_once(app_env, app, staff):
    from rq.cron import get_cron_job_ids
    from rq.job import Job, JobStatus

    from smsbot.jobs import deadline_clock as job

    gas = file(utcnow() - timedelta(minutes=31), danger="gas", text="запах газа")
    assert gas.deadline_at < utcnow()
    name = f"{job.__module__}.{job.__name__}"
    conn = queues.connection()

    def finished_runs() -> int:
        jobs = Job.fetch_many(get_cron_job_ids(name, conn), connection=conn)
        return sum(1 for j in jobs if j is not None and j.get_status() == JobStatus.FINISHED)

    clocks = [smsbot_process(app_env, "clock") for _ in range(2)]
    worker = None
    try:
        wait_until(lambda: len(get_cron_job_ids(name, conn)) >= 2, what="both clocks")
        worker = smsbot_process(app_env, "worker")  # both runs are waiting for it
        wait_until(lambda: finished_runs() >= 2, what="both clock runs")
        wait_until(lambda: len(local_outbox.messages()) >= 3, what="the alerts")
        time.sleep(1)  # nothing more may come
    finally:
        for process in [*clocks, worker]:
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
    sent = sorted((r["to"], r["body"].split()[0]) for r in local_outbox.messages())
    assert sent == sorted([(IGOR, "АВАРИЯ"), (IGOR, "Просрочена"), (OLGA, "Просрочена")])
    assert fresh(gas.id).overdue_at == gas.deadline_at
