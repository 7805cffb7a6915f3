"""`заявка`, `статус` and the ticket state machine: short per-company numbers (safe under
concurrency), problem, category and deadline from the text, history, privacy."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from smsbot import db, tickets
from smsbot.exceptions import InvalidTicketTransition
from smsbot.models import (
    ACTOR_DISPATCHER,
    Account,
    Company,
    DeadlineOverride,
    Ticket,
    TicketEvent,
)
from smsbot.templates import _daytime
from tests.handlers.conftest import OTHER_RESIDENT, SHARED, SOLNECHNY, STRANGER, one


def all_tickets() -> list[Ticket]:
    with Session(db.engine()) as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def company(slug: str) -> Company:
    with Session(db.engine()) as session:
        return session.exec(select(Company).where(Company.slug == slug)).one()


def test_filing_gives_the_number_and_the_deadline(text, clock):
    reply = one(text("Заявка: течёт кран на кухне"))
    [ticket] = all_tickets()
    assert (ticket.number, ticket.problem, ticket.category, ticket.priority) == (
        1,
        "plumbing",
        "plumbing",
        "normal",
    )
    assert ticket.text == "течёт кран на кухне" and not ticket.emergency and ticket.status == "new"
    assert ticket.deadline_at == ticket.filed_at + timedelta(hours=24)
    deadline = _daytime(ticket.deadline_at, "Europe/Moscow")
    assert reply.body == f"Принята заявка №1 (сантехника), срок до {deadline}"
    with Session(db.engine()) as session:
        account = session.get(Account, ticket.account_id)
        assert account.number == "5012345678" and ticket.building_id == account.building_id
        [event] = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
        assert (event.actor, event.from_status, event.to_status) == ("resident", None, "new")


def test_numbers_are_per_company(text):
    text("заявка не работает домофон")
    text("заявка не работает домофон", to=SOLNECHNY)
    text("заявка лампочка перегорела на 3 этаже")
    assert [(t.company_id, t.number) for t in all_tickets()] == [
        (company("uk-zarechye").id, 1), (company("uk-solnechny").id, 1), (company("uk-zarechye").id, 2),
    ]  # fmt: skip


def test_the_deadline_follows_the_problem(text):
    text("заявка засор канализации в подвале, всё заливает")  # a flood: emergency
    text("заявка засор канализации в подвале")
    text("заявка не горит свет в подъезде")
    flood, sewer, lighting = all_tickets()
    assert flood.emergency and flood.deadline_at - flood.filed_at == timedelta(minutes=30)
    assert sewer.problem == "sewer_blockage" and sewer.deadline_at - sewer.filed_at == timedelta(
        hours=2
    )
    assert lighting.priority == "low" and lighting.deadline_at - lighting.filed_at == timedelta(
        days=7
    )


def test_a_company_can_set_its_own_deadline(text):
    with Session(db.engine()) as session:
        session.add(
            DeadlineOverride(
                company_id=company("uk-zarechye").id, problem="intercom", minutes=48 * 60
            )
        )
        session.commit()
    text("заявка не работает домофон")
    text("заявка не работает домофон", to=SOLNECHNY)
    ours, theirs = all_tickets()
    assert ours.deadline_at - ours.filed_at == timedelta(hours=48)
    assert theirs.deadline_at - theirs.filed_at == timedelta(hours=24)


def test_ticket_alone_asks_what_is_wrong(text):
    assert one(text("заявка")).body == "Опишите, что случилось: ЗАЯВКА течёт кран на кухне"
    assert one(text("Заявка:")).template == "ticket_ask"
    assert all_tickets() == []


def test_unlinked_phone_files_at_a_company_number_but_not_on_a_shared_one(text):
    assert one(text("заявка во дворе яма", phone=STRANGER)).template == "ticket_created"
    [ticket] = all_tickets()
    assert ticket.account_id is None and ticket.category == "other"
    # A phone no company knows yet, on the regional number: nowhere to file it.
    assert one(text("заявка во дворе яма", phone="+79031112244", to=SHARED)).template == "unrouted"


def test_status_answers_from_the_history(text, clock):
    text("заявка протекает крыша над 9 этажом")
    first = one(text("статус 1"))
    assert (
        first.template == "ticket_status"
        and "Заявка №1 (кровля и фасад)" in first.body
        and ": принята." in first.body
    )
    with Session(db.writer()) as session:
        ticket = session.exec(select(Ticket)).one()
        tickets.transition(
            session, ticket, "accepted", actor=ACTOR_DISPATCHER, user_id=7, now=clock()
        )
        tickets.transition(session, ticket, "in_progress", actor=ACTOR_DISPATCHER, user_id=7, now=clock(),
                           note="Кровельщики придут завтра с 10 до 12")  # fmt: skip
        tickets.add_note(
            session, ticket, "внутренняя пометка", actor=ACTOR_DISPATCHER, now=clock(), public=False
        )
        session.commit()
    reply = one(text("статус №1"))
    assert (
        ": в работе " in reply.body
        and "Диспетчер: Кровельщики придут завтра с 10 до 12" in reply.body
    )
    assert "внутренняя" not in reply.body
    assert one(text("статус")).body == reply.body  # the latest


def test_an_overdue_ticket_says_so(text, clock):
    text("заявка не работает домофон")
    clock.advance(timedelta(hours=25))
    assert "просрочена" in one(text("статус 1")).body


def test_a_resident_never_sees_another_residents_ticket(text):
    text("заявка у соседа шумит насос", phone=OTHER_RESIDENT)
    reply = one(text("статус 1"))
    assert reply.template == "ticket_not_found" and "насос" not in reply.body
    assert one(text("статус")).template == "ticket_none"
    assert one(text("статус 1", phone=OTHER_RESIDENT)).template == "ticket_status"


def test_status_in_english(text):
    text("english")
    assert one(text("ticket leaking tap in the basement")).body.startswith(
        "Ticket 1 received (plumbing). Due by "
    )
    body = one(text("status 1")).body
    assert body.startswith("Ticket 1 (plumbing) of ") and "received" in body
    assert (
        one(text("status 77")).body == "You have no ticket 77. For your latest ticket, send STATUS"
    )


# --- the state machine -----------------------------------------------------------------------


def _ticket(session: Session, clock) -> Ticket:  # noqa: ANN001
    return tickets.file(
        session, company=session.exec(select(Company)).first(), text="течёт кран", now=clock()
    )


def test_transitions_stamp_the_times_and_keep_the_history(app, demo, clock):
    with Session(db.engine()) as session:
        ticket = _ticket(session, clock)
        tickets.transition(session, ticket, "in_progress", actor="dispatcher", now=clock())
        assert ticket.accepted_at is not None and ticket.started_at is not None  # started at once
        tickets.transition(
            session, ticket, "done", actor="dispatcher", now=clock(), note="Заменили прокладку"
        )
        assert ticket.done_at is not None and not tickets.is_overdue(
            ticket, clock() + timedelta(days=9)
        )
        tickets.transition(
            session, ticket, "in_progress", actor="resident", now=clock(), note="Опять течёт"
        )
        assert ticket.done_at is None and tickets.is_overdue(ticket, clock() + timedelta(days=9))
        session.commit()
        history = session.exec(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
        assert [(e.from_status, e.to_status) for e in history] == [
            (None, "new"), ("new", "in_progress"), ("in_progress", "done"), ("done", "in_progress"),
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "bad"), [([], "done"), (["rejected"], "accepted"), (["accepted"], "new")]
)
def test_forbidden_transitions_are_refused(app, demo, clock, path, bad):
    with Session(db.engine()) as session:
        ticket = _ticket(session, clock)
        for state in path:
            tickets.transition(session, ticket, state, actor="dispatcher", now=clock())
        with pytest.raises(InvalidTicketTransition):
            tickets.transition(session, ticket, bad, actor="dispatcher", now=clock())


def test_concurrent_filings_never_share_a_number(app, demo, clock):
    company_id = company("uk-solnechny").id
    numbers: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def file_one() -> None:
        try:
            with Session(db.writer()) as session:
                barrier.wait()
                numbers.append(tickets.next_number(session, company_id))
                session.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=file_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 9))


# --- stamps for the deadline clock and the inspector -----------------------------------------


def _company(session: Session, **changes) -> Company:  # noqa: ANN003
    company = session.exec(select(Company).order_by(Company.id)).first()
    for name, value in changes.items():
        setattr(company, name, value)
    return company


def test_filing_records_the_local_day_and_whether_it_was_a_working_day(app, demo):
    with Session(db.engine()) as session:
        company = _company(session)
        # 23:30 UTC on 3 November is 02:30 on 4 November in Moscow: Unity Day
        night = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
        holiday = tickets.file(session, company=company, text="грязно в подъезде", now=night)
        assert holiday.filed_day == date(2026, 11, 4) and holiday.filed_nonworking
        weekday = tickets.file(
            session, company=company, text="грязно в подъезде", now=night - timedelta(days=1)
        )
        assert weekday.filed_day == date(2026, 11, 3) and not weekday.filed_nonworking
        assert holiday.warn_at == night + timedelta(hours=24) * 0.8


def test_working_hours_deadlines_for_routine_tickets_only(app, demo):
    friday_evening = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # 17:00 in Moscow
    with Session(db.engine()) as session:
        company = _company(session, working_hours_deadlines=True)
        routine = tickets.file(
            session, company=company, text="грязно в подъезде", now=friday_evening
        )
        assert routine.working_hours
        assert routine.deadline_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # Monday 17:00
        gas = tickets.file(
            session, company=company, text="пахнет газом", now=friday_evening, danger_kind="gas"
        )
        assert gas.emergency and not gas.working_hours
        assert gas.deadline_at == friday_evening + timedelta(minutes=30)
        sewer = tickets.file(session, company=company, text="засор канализации", now=friday_evening)
        assert sewer.emergency and sewer.deadline_at == friday_evening + timedelta(hours=2)


@pytest.mark.parametrize(
    ("late_by", "overdue"), [(timedelta(minutes=1), True), (timedelta(minutes=-1), False)]
)
def test_done_after_the_deadline_stays_counted_as_overdue(app, demo, clock, late_by, overdue):
    with Session(db.engine()) as session:
        ticket = _ticket(session, clock)
        done_at = ticket.deadline_at + late_by
        tickets.transition(session, ticket, "in_progress", actor="dispatcher", now=done_at)
        tickets.transition(session, ticket, "done", actor="dispatcher", now=done_at)
        assert (ticket.overdue_at == ticket.deadline_at) is overdue
        assert tickets.missed_deadline(ticket, done_at + timedelta(days=30)) is overdue
        # reopened by the resident and done again on time later: still late if it was late
        tickets.transition(session, ticket, "in_progress", actor="resident", now=done_at)
        assert ticket.reopen_count == 1 and ticket.reopened_at == done_at
        assert ticket.first_done_at == done_at and ticket.done_at is None
        tickets.transition(session, ticket, "done", actor="dispatcher", now=done_at + late_by)
        assert ticket.first_done_at == done_at
        assert (ticket.overdue_at is not None) is overdue


def test_a_dispatcher_reopening_is_not_counted_as_the_residents(app, demo, clock):
    with Session(db.engine()) as session:
        ticket = _ticket(session, clock)
        tickets.transition(session, ticket, "in_progress", actor="dispatcher", now=clock())
        tickets.transition(session, ticket, "done", actor="dispatcher", now=clock())
        tickets.transition(session, ticket, "in_progress", actor="dispatcher", now=clock())
        assert ticket.reopen_count == 0 and ticket.reopened_at is None


def test_first_reply_stamps_only_the_residents_open_tickets_there(app, demo, clock):
    from smsbot.models import Resident

    with Session(db.engine()) as session:
        company = _company(session)
        resident = Resident(phone="+79031112233")
        session.add(resident)
        session.flush()
        open_one = tickets.file(
            session, company=company, text="течёт кран", now=clock(), resident=resident
        )
        closed = tickets.file(
            session, company=company, text="грязно", now=clock(), resident=resident
        )
        tickets.transition(session, closed, "rejected", actor="dispatcher", now=clock())
        session.flush()
        answered = clock() + timedelta(minutes=7)
        tickets.note_first_reply(
            session, company_id=company.id, resident_id=resident.id, now=answered
        )
        tickets.note_first_reply(
            session,
            company_id=company.id,
            resident_id=resident.id,
            now=answered + timedelta(hours=1),
        )
        session.refresh(open_one)
        session.refresh(closed)
        assert open_one.first_reply_at == answered and closed.first_reply_at is None
