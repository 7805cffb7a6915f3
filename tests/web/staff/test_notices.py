"""Notices: previewed before sending, opted-out phones skipped, sent from the notices queue."""

from __future__ import annotations

from rq import Queue
from sqlmodel import Session, select

from smsbot import db, notices, outage_notices, queues
from smsbot.models import KIND_NOTICE, Building, Conversation, Notice, Resident
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound
from tests.web.staff.conftest import post

MOLODEZHNAYA = "ул. Молодёжная, д. 12"


def building_id(part: str) -> int:
    with Session(db.engine()) as session:
        return session.exec(select(Building.id).where(Building.address.contains(part))).one()


def opt_out(phone: str) -> None:
    from smsbot import residents

    with Session(db.engine()) as session:
        resident = residents.get_or_create(session, phone)
        resident.opted_out = True
        session.add(resident)
        session.commit()


def test_audience_is_every_known_phone_of_the_buildings_minus_opted_out(app, staff):
    with Session(db.engine()) as session:
        building = building_id(MOLODEZHNAYA)
        who = notices.audience(session, staff.zarechye, [building])
        assert who.phones == ["+79161234567", "+79851234567"] and who.opted_out == 0
        assert notices.audience(session, staff.zarechye, None).phones == who.phones
        assert notices.audience(session, staff.solnechny, None).phones == ["+79851234567"]
    opt_out("+79161234567")
    with Session(db.engine()) as session:
        who = notices.audience(session, staff.zarechye, [building])
        assert who.phones == ["+79851234567"] and who.opted_out == 1


def test_the_form_shows_recipients_and_segments_before_sending(app, signed_in):
    olga = signed_in("olga")
    text = "Уважаемые жители! 25.11 с 10:00 до 16:00 не будет холодной воды: замена стояка."
    response = post(
        olga,
        "/notices/new",
        {"audience": "buildings", "building": building_id(MOLODEZHNAYA), "body": text},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<dd data-testid="recipients">2' in page
    assert '<dd data-testid="segments">2 ' in page  # 80 Cyrillic characters: two segments
    assert '<dd data-testid="total-segments"><strong>4</strong>' in page
    assert "Отправить на 2 номера" in page
    assert outbound_messages() == []  # nothing is sent before the confirmation

    audience = olga.get(
        f"/notices/audience?audience=buildings&building={building_id(MOLODEZHNAYA)}"
    ).get_json()
    assert audience == {"recipients": 2, "opted_out": 0}


def test_change_on_the_confirmation_returns_to_the_filled_form(app, signed_in):
    olga = signed_in("olga")
    building = building_id(MOLODEZHNAYA)
    text = "25.11 с 10:00 до 16:00 не будет холодной воды."
    form = {"audience": "buildings", "building": building, "body": text}
    page = post(olga, "/notices/new", {**form, "step": "edit"}).get_data(as_text=True)
    assert "Проверить перед отправкой" in page and "Отправить на 2 номера" not in page
    assert f">{text}</textarea>" in page
    assert f'name="building" value="{building}" checked' in page
    assert outbound_messages() == []


def test_sending_queues_copies_on_the_notices_queue_and_tracks_delivery(app, signed_in, staff):
    opt_out("+79161234567")
    olga = signed_in("olga")
    response = post(
        olga,
        "/notices/new",
        {
            "audience": "company",
            "body": "Плановое отключение горячей воды 26.11",
            "step": "send",
            "nonce": "n1",
        },
    )
    assert response.status_code == 302
    with Session(db.engine()) as session:
        [notice] = session.exec(select(Notice)).all()
    assert (notice.recipients, notice.skipped_opted_out, notice.segments) == (1, 1, 1)
    [copy] = outbound_messages(kind=KIND_NOTICE)
    assert (
        copy.to_phone == "+79851234567" and copy.status == "queued" and copy.notice_id == notice.id
    )
    assert copy.from_phone == "+74951230001" and copy.author_id == staff.users["olga"]
    [job] = Queue(queues.NOTICES_QUEUE, connection=queues.connection()).jobs
    assert job.func_name == "smsbot.jobs.send_waiting"  # woken by the one door at the commit
    assert Queue(queues.OUTBOUND_QUEUE, connection=queues.connection()).job_ids == []

    # a second click on the same confirmation sends nothing more
    post(
        olga,
        "/notices/new",
        {"audience": "company", "body": "Плановое отключение", "step": "send", "nonce": "n1"},
    )
    assert len(outbound_messages(kind=KIND_NOTICE)) == 1

    run_jobs(app)
    [copy] = outbound_messages(kind=KIND_NOTICE)
    assert copy.status == "delivered"
    page = olga.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert "Завершено 1 из 1" in page and "доставлено" in page and "1 отписались, пропущены" in page
    live = olga.get(f"/notices/{notice.id}/live").get_json()
    assert 'data-state="delivered"' in live["regions"]["progress"]
    assert "Плановое отключение горячей воды" in olga.get("/notices").get_data(as_text=True)


def test_notices_wait_behind_replies_to_residents(app, staff):
    """A worker takes the notices queue last: a reply queued after a notice goes first."""
    assert queues.ALL_QUEUES.index(queues.NOTICES_QUEUE) == len(queues.ALL_QUEUES) - 1
    assert queues.send_queue(KIND_NOTICE) == queues.NOTICES_QUEUE
    assert queues.send_queue("dispatcher") == queues.OUTBOUND_QUEUE


def test_a_lost_notice_copy_is_swept_back_onto_the_notices_queue(app, signed_in, monkeypatch):
    from datetime import timedelta

    from smsbot import clock, jobs

    olga = signed_in("olga")
    post(olga, "/notices/new", {"audience": "company", "body": "Тест", "step": "send"})
    Queue(queues.NOTICES_QUEUE, connection=queues.connection()).empty()  # Redis lost the jobs
    later = clock.utcnow() + timedelta(minutes=5)
    monkeypatch.setattr(clock, "now", lambda: later)
    with app.app_context():
        assert jobs.sweep()["outbound"] == 2
    assert len(Queue(queues.NOTICES_QUEUE, connection=queues.connection()).job_ids) == 1
    assert Queue(queues.OUTBOUND_QUEUE, connection=queues.connection()).job_ids == []


def test_billing_phones_become_residents_who_can_opt_out(app, signed_in):
    olga = signed_in("olga")
    post(olga, "/notices/new", {"audience": "company", "body": "Тест", "step": "send"})
    with Session(db.engine()) as session:
        phones = set(session.exec(select(Resident.phone)))
    assert phones == {"+79161234567", "+79851234567"}


def test_empty_notices_and_foreign_buildings_are_refused(app, signed_in, staff):
    olga = signed_in("olga")
    response = post(olga, "/notices/new", {"audience": "company", "body": "   ", "step": "send"})
    assert response.status_code == 422 and "Сначала напишите текст оповещения" in response.get_data(
        as_text=True
    )
    podolsk = building_id("Горького")
    response = post(
        olga,
        "/notices/new",
        {"audience": "buildings", "building": podolsk, "body": "x", "step": "send"},
    )
    assert response.status_code == 422 and "не относятся к этой компании" in response.get_data(
        as_text=True
    )
    assert outbound_messages() == []


def test_an_outage_notice_carries_what_is_off_and_flags_one_longer_than_the_law(
    app, signed_in, staff
):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from smsbot.clock import utcnow
    from smsbot.models import KIND_ALERT, User

    with Session(db.engine()) as session:
        session.get(User, staff.users["igor"]).phone = "+79037770011"  # the company admin
        session.commit()
    olga = signed_in("olga")
    moscow = ZoneInfo("Europe/Moscow")
    until = (utcnow() + timedelta(hours=30)).astimezone(moscow).strftime("%Y-%m-%dT%H:%M")
    form = {"audience": "buildings", "building": building_id(MOLODEZHNAYA),
            "body": "Ремонт стояка: холодной воды не будет до завтра.", "outage": "cold_water",
            "outage_until": until}  # fmt: skip
    for bad in ({"outage": "bogus"}, {"outage_until": "завтра"}, {"outage_until": ""},
                {"outage_until": "2020-01-01T10:00"}):  # fmt: skip
        response = post(olga, "/notices/new", {**form, **bad})
        assert response.status_code == 422, bad  # refused with the reason, nothing sent
    page = post(olga, "/notices/new", form).get_data(as_text=True)
    assert "Холодная вода, до" in page and 'data-testid="over-limit"' in page
    assert "не более 4 ч подряд" in page
    edit = post(olga, "/notices/new", {**form, "step": "edit"}).get_data(as_text=True)
    assert '<option value="cold_water" selected>' in edit and f'value="{until}"' in edit

    response = post(olga, "/notices/new", {**form, "step": "send", "nonce": "o1"})
    assert response.status_code == 302
    with Session(db.engine()) as session:
        [notice] = session.exec(select(Notice)).all()
    expected = datetime.fromisoformat(until).replace(tzinfo=moscow).astimezone(UTC)
    assert (notice.outage, notice.outage_until) == ("cold_water", expected)
    [alert] = outbound_messages(kind=KIND_ALERT)
    assert alert.to_phone == "+79037770011" and alert.template == "alert_outage"
    assert "а закон допускает не более 4 ч подряд" in alert.body
    shown = olga.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert 'data-testid="over-limit"' in shown and "Холодная вода, до" in shown
    assert 'data-testid="outage-tag">Холодная вода, до' in olga.get("/notices").get_data(
        as_text=True
    )

    post_inbound(app.test_client(), app, "Почему нет воды?")  # a resident of the building asks
    run_jobs(app)
    [answer] = outbound_messages(template="outage")
    assert answer.body.startswith("Нет холодной воды до ")
    with Session(db.engine()) as session:
        [conversation] = session.exec(select(Conversation)).all()
    thread = olga.get(f"/inbox/{conversation.id}").get_data(as_text=True)
    assert 'data-testid="answered-by-notice"' in thread and "Ответ дан оповещением" in thread

    assert 'data-testid="outage-over"' in olga.get(f"/notices/{notice.id}").get_data(as_text=True)
    over = post(olga, f"/notices/{notice.id}/outage-over", follow_redirects=True)
    assert "Отключение закончилось" in over.get_data(as_text=True)
    assert 'data-testid="outage-over"' not in over.get_data(as_text=True)
    assert post(olga, f"/notices/{notice.id}/outage-over").status_code == 302  # refused, kept
    post_inbound(app.test_client(), app, "Почему нет воды?")  # the water is back: to a person
    run_jobs(app)
    assert len(outbound_messages(template="outage")) == 1


def test_outages_of_a_month_add_up_per_building(app, staff, monkeypatch):
    """Decree 354 allows 8 h of hot water outages a month: the third notice that takes a
    building past it is flagged; another building's outages and last month's do not count."""
    from datetime import UTC, datetime, timedelta

    from smsbot import clock
    from smsbot.models import KIND_ALERT, Account, AccountPhone, User

    with Session(db.engine()) as session:
        session.get(User, staff.users["igor"]).phone = "+79037770011"
        flat = session.exec(select(Account.id).where(Account.number == "5012345690")).one()
        session.add(AccountPhone(account_id=flat, phone="+79167770003"))
        session.commit()
    a, b = building_id(MOLODEZHNAYA), building_id("Советская")

    def announce(day: int, hours: int, building: int, month: int = 12) -> str | None:
        at = datetime(2026, month, day, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
        monkeypatch.setattr(clock, "now", lambda: at)
        with Session(db.engine()) as session:
            notice = notices.create(session, company_id=staff.zarechye, author_id=None,
                                    building_ids=[building], body="Нет горячей воды",
                                    outage="hot_water", outage_until=at + timedelta(hours=hours))  # fmt: skip
            session.commit()
            broken = outage_notices.overrun_of(session, notice)
        return broken and f"{broken.allowed_hours} h {'a month' if broken.per_month else 'at once'}"

    assert announce(30, 4, a, month=11) is None  # last month
    assert announce(2, 4, a) is None
    assert announce(3, 4, b) is None  # another building
    assert announce(9, 3, a) is None  # 7 h in December so far
    assert outbound_messages(kind=KIND_ALERT) == []
    assert announce(16, 2, a) == "8 h a month"  # 9 h
    [alert] = outbound_messages(kind=KIND_ALERT)
    assert "с прежними за месяц больше 8 ч, допустимых законом" in alert.body
