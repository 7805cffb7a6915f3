"""The company admin's deadlines page: the working-hours option, the warning share and the
company's own deadline per problem, applied to tickets filed from then on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from smsbot import clock, db, tickets
from smsbot.models import Company, DeadlineOverride
from tests.web.staff.conftest import post

FRIDAY_EVENING = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # 17:00 in Moscow


def company(company_id: int) -> Company:
    with Session(db.engine()) as session:
        return session.get(Company, company_id)


def file_at(company_id: int, text: str, now: datetime, **kw):  # noqa: ANN003, ANN201
    with Session(db.engine(), expire_on_commit=False) as session:
        ticket = tickets.file(
            session, company=session.get(Company, company_id), text=text, now=now, **kw
        )
        session.commit()
        return ticket


def test_an_admin_turns_on_working_hours_and_new_routine_tickets_wait_for_monday(
    app, signed_in, staff
):
    igor = signed_in("igor")
    before = file_at(staff.zarechye, "грязно в подъезде", FRIDAY_EVENING)
    page = igor.get("/settings/deadlines").get_data(as_text=True)
    assert "Считать сроки плановых заявок только в рабочее время" in page and "Запах газа" in page
    response = post(igor, "/settings/deadlines/options",
                    {"working_hours": "on", "workday_start": "9", "workday_end": "18", "warn_percent": "75"},
                    follow_redirects=True)  # fmt: skip
    assert "Сохранено" in response.get_data(as_text=True)
    saved = company(staff.zarechye)
    assert saved.working_hours_deadlines and saved.warn_percent == 75
    after = file_at(staff.zarechye, "грязно в подъезде", FRIDAY_EVENING)
    assert after.deadline_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # Monday 17:00
    assert before.deadline_at == FRIDAY_EVENING + timedelta(hours=24)  # filed ones keep theirs
    gas = file_at(staff.zarechye, "пахнет газом", FRIDAY_EVENING, danger_kind="gas")
    assert gas.deadline_at == FRIDAY_EVENING + timedelta(minutes=30)  # emergencies: the clock
    assert not company(staff.solnechny).working_hours_deadlines  # the other company is untouched


def test_bad_options_are_refused_with_the_reason(app, signed_in, staff):
    igor = signed_in("igor")
    for form, reason in [
        ({"workday_start": "18", "workday_end": "9", "warn_percent": "80"}, "Рабочий день должен"),
        ({"workday_start": "9", "workday_end": "18", "warn_percent": "20"}, "от 50% до 95%"),
        (
            {"workday_start": "nine", "workday_end": "18", "warn_percent": "80"},
            "Только целые числа",
        ),
    ]:
        page = post(igor, "/settings/deadlines/options", form, follow_redirects=True)
        assert reason in page.get_data(as_text=True)
    assert company(staff.zarechye).workday_start == 9


def test_a_company_deadline_for_one_problem_and_back_to_the_reference(app, signed_in, staff):
    igor = signed_in("igor")
    post(igor, "/settings/deadlines/override", {"problem": "cleaning", "duration": "3 ч"})
    with Session(db.engine()) as session:
        rows = session.exec(select(DeadlineOverride)).all()
    assert [(r.company_id, r.problem, r.minutes) for r in rows] == [
        (staff.zarechye, "cleaning", 180)
    ]
    now = clock.utcnow()
    assert file_at(staff.zarechye, "грязно в подъезде", now).deadline_at == now + timedelta(hours=3)
    assert file_at(staff.solnechny, "грязно в подъезде", now).deadline_at == now + timedelta(
        hours=24
    )
    page = post(
        igor,
        "/settings/deadlines/override",
        {"problem": "cleaning", "duration": "скоро"},
        follow_redirects=True,
    )
    assert "Напишите срок" in page.get_data(as_text=True)
    post(igor, "/settings/deadlines/override", {"problem": "cleaning", "reset": "1"})
    assert file_at(staff.zarechye, "грязно в подъезде", now).deadline_at == now + timedelta(
        hours=24
    )


def test_only_admins_change_deadlines(app, signed_in, staff):
    for login in ("olga", "inspector"):
        client = signed_in(login)
        assert client.get("/settings/deadlines").status_code == 403
        assert (
            post(client, "/settings/deadlines/options", {"warn_percent": "90"}).status_code == 403
        )
    assert company(staff.zarechye).warn_percent == 80


def test_an_admin_sets_the_limits_on_the_bot_and_out_of_range_ones_are_refused(
    app, signed_in, staff
):
    igor = signed_in("igor")
    page = igor.get("/settings/deadlines").get_data(as_text=True)
    assert "Ограничения бота" in page and "задержано ответов — 0" in page
    form = {"rate_limit": "20", "rate_window": "5", "loop_repeats": "3", "daily_cap": "0"}
    post(igor, "/settings/deadlines/limits", form)
    zarechye = company(staff.zarechye)
    assert (zarechye.rate_limit, zarechye.rate_window, zarechye.loop_repeats) == (20, 5, 3)
    assert zarechye.daily_cap == 0 and company(staff.solnechny).rate_limit == 10
    page = post(
        igor, "/settings/deadlines/limits", form | {"loop_repeats": "1"}, follow_redirects=True
    )
    assert "вне допустимых пределов" in page.get_data(as_text=True)
    assert company(staff.zarechye).loop_repeats == 3
    assert post(signed_in("olga"), "/settings/deadlines/limits", form).status_code == 403
