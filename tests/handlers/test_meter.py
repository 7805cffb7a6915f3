"""`показания`: accepted within the company's window; refused with the reason when lower
than last month, implausibly high, for a meter the account lacks, or outside the window."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import Meter, MeterReading
from tests.handlers.conftest import SHARED, SOLNECHNY, STRANGER, one


def readings(kind: str) -> list[MeterReading]:
    with Session(db.engine()) as session:
        return list(
            session.exec(
                select(MeterReading)
                .join(Meter)
                .where(Meter.kind == kind)
                .order_by(MeterReading.period)
            )
        )


def test_accepted_readings_are_stored_for_this_month(text, clock):
    reply = one(text("показания хвс 123,4 гвс 45"))
    assert reply.body == "Л/с …5678, кв. 148.\nПриняты: ХВС 123,4; ГВС 45."
    cold = [r for r in readings("cold") if r.source == "sms"]
    assert [r.value for r in cold] == [Decimal("123.400")]
    assert cold[0].period == clock().date().replace(day=1)


def test_a_reading_lower_than_last_month_is_refused(text):
    reply = one(text("показания хвс 100"))
    assert reply.body == "Л/с …5678, кв. 148.\nНе приняты: ХВС 100 — меньше прошлого (120,512)."
    assert [r for r in readings("cold") if r.source == "sms"] == []


def test_an_implausible_jump_and_a_missing_meter_are_refused_but_good_values_kept(text):
    reply = one(text("показания хвс 1205 гвс 45 газ 12"))
    assert "Приняты: ГВС 45." in reply.body
    assert "ХВС 1205 — слишком большой расход (прошлое 120,512)" in reply.body
    assert "Газ 12 — такого счётчика нет" in reply.body
    assert "Ваши счётчики: ХВС, ГВС, Т1, Т2." in reply.body


def test_a_correction_within_the_month_replaces_the_reading(text):
    text("показания хвс 130")
    assert one(text("показания хвс 125")).body.endswith("Приняты: ХВС 125.")
    assert [r.value for r in readings("cold") if r.source == "sms"] == [Decimal("125.000")]


def test_two_rate_electricity(text):
    assert one(text("показания т1 12400,5 т2 5450")).body.endswith("Приняты: Т1 12400,5; Т2 5450.")


def test_outside_the_window_nothing_is_stored(text, clock):
    clock.moscow(5)
    reply = one(text("показания хвс 90 гвс 36", to=SOLNECHNY))  # Солнечный: 15–25
    assert reply.template == "meter_window"
    assert reply.body.startswith("Приём показаний с 15 по 25 число, следующий: 15.")
    assert [r for r in readings("cold") if r.source == "sms"] == []


def test_the_window_is_the_companys_of_the_account_and_in_its_time_zone(text, clock):
    clock.moscow(25, hour=23)  # still the 25th in Moscow
    assert one(text("показания 2 хвс 90", to=SHARED)).template == "meter_result"
    clock.moscow(26, hour=0)
    assert one(text("показания 2 хвс 91", to=SHARED)).template == "meter_window"


def test_a_lone_value_needs_a_single_meter(text):
    reply = one(text("показания 123"))
    assert "Не приняты: 123 — какой это счётчик? Например: ХВС 123." in reply.body


def test_badly_formed_messages_get_the_format(text):
    for body in ("показания", "показания хвс", "показания хвс 12 45"):
        assert one(text(body)).template == "meter_format"


def test_unknown_phone_is_told_to_link_first(text):
    assert one(text("показания хвс 123", phone=STRANGER)).template == "link_howto"


def test_meter_in_english(text):
    text("english")
    reply = one(text("meter cw 123.4 hw 40"))
    assert (
        reply.body
        == "Account ...5678, flat 148.\nAccepted: CW 123.4.\nNot accepted: HW 40 is below the last reading (44.205)."
    )
