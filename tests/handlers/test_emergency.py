"""A message that speaks of danger, whatever its first word: the emergency numbers at once
and an emergency ticket; words that merely contain the letters raise no alarm."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import Ticket, TicketEvent
from tests.core.test_alarms import DOOR_COMPLAINT
from tests.handlers.conftest import SHARED, STRANGER, one


def emergency_tickets() -> list[Ticket]:
    with Session(db.engine()) as session:
        return list(
            session.exec(select(Ticket).where(Ticket.emergency.is_(True)).order_by(Ticket.id))
        )


def test_gas_smell_gets_104_112_the_emergency_dispatch_and_a_ticket(text):
    reply = one(text("Пахнет газом в подъезде!!!"))
    assert reply.template == "emergency"
    assert "104" in reply.body and "112" in reply.body and "+7 495 777-01-99" in reply.body
    [ticket] = emergency_tickets()
    assert (ticket.danger, ticket.problem, ticket.category, ticket.priority) == (
        "gas",
        "gas_smell",
        "gas",
        "emergency",
    )
    assert ticket.deadline_at - ticket.filed_at == timedelta(minutes=30)
    assert f"Заявка №{ticket.number} принята, срок " in reply.body
    assert reply.num_segments <= 2 and reply.body.index("104") < reply.body.index("Заявка")


def test_gazon_raises_no_alarm(text):
    assert one(text("Газон во дворе надо постричь")).template == "chat_ack"
    assert text("Кто покрасит газовую трубу?") == []  # chat, acknowledged once already
    assert text("Газета лежит в ящике") == []
    assert emergency_tickets() == []


def test_danger_wins_over_the_first_word(text):
    for body in (
        "баланс? и у нас пахнет газом",
        "заявка течёт с потолка, затопило кухню",
        "статус 1 искрит щиток",
    ):
        assert one(text(body)).template == "emergency"
    dangers = [t.danger for t in emergency_tickets()]
    assert dangers == ["gas", "flood", "electric"]
    flood = emergency_tickets()[1]
    assert flood.text == "течёт с потолка, затопило кухню" and flood.repair_deadline_at is not None


def test_a_second_alarm_within_the_hour_joins_the_same_ticket(text, clock):
    text("затопило ванную")
    again = one(text("Вода всё течёт с потолка!!!"))
    [ticket] = emergency_tickets()
    assert f"Дополнили заявку №{ticket.number}, срок " in again.body
    with Session(db.engine()) as session:
        notes = session.exec(
            select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id)
        ).all()
    assert "Вода всё течёт с потолка!!!" in notes
    clock.advance(timedelta(hours=2))
    text("опять затопило")
    assert len(emergency_tickets()) == 2


def test_an_unknown_phone_on_a_shared_number_still_gets_the_numbers(text):
    reply = one(text("пожар в подъезде", phone=STRANGER, to=SHARED))
    assert reply.template == "emergency" and "101" in reply.body and "112" in reply.body
    assert emergency_tickets() == []  # no company to send it to


def test_no_heating_is_an_emergency_in_winter_only(text, clock):
    clock.moscow(20, month=1, year=2027)
    assert one(text("нет отопления, в квартире +14")).template == "emergency"
    clock.moscow(20, month=7, year=2027)
    assert one(text("заявка нет отопления")).template == "ticket_created"
    winter, summer = [t for t in _all()]
    assert winter.emergency and winter.problem == "heating_out"
    assert not summer.emergency and summer.problem == "heating_fault"


def test_emergency_in_english(text):
    text("english")
    reply = one(text("smell of gas in the stairwell"))
    assert reply.body.startswith("Gas smell: do not switch lights on") and "104" in reply.body
    assert reply.encoding == "GSM-7"


def _all() -> list[Ticket]:
    with Session(db.engine()) as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def test_the_door_complaint_files_its_own_ticket_beside_an_open_heating_emergency(text):
    """Issue 12: the door complaint that says `батареи холодные` in passing was answered
    `Дополнили аварийную заявку` (the heating emergency) and the door got no ticket."""
    heating = one(text("Нет отопления, батареи ледяные, дети мёрзнут"))
    assert heating.template == "emergency"
    reply = one(text(DOOR_COMPLAINT))
    assert reply.template == "ticket_created" and "Дополнили" not in reply.body
    first, door = _all()
    assert (first.problem, first.emergency) == ("heating_out", True)
    assert (door.problem, door.emergency, door.danger) == ("door_lock", False, None)
    assert door.text.startswith("Здравствуйте! В 3 подъезде")
    assert f"№{door.number}" in reply.body
    with Session(db.engine()) as session:
        notes = session.exec(select(TicketEvent.note).where(TicketEvent.ticket_id == first.id))
        assert [n for n in notes if n] == []  # nothing joined the heating emergency
    again = one(text("Батареи так и не греют, в квартире +15"))
    assert again.template == "emergency" and f"Дополнили заявку №{first.number}" in again.body
    gas = one(text("В подъезде пахнет газом"))  # another danger: its own emergency ticket
    assert gas.template == "emergency" and f"№{first.number}" not in gas.body
    landing = one(text("заявка батареи на площадке холодные"))  # the flats are warm
    assert landing.template == "ticket_created"
    assert [(t.problem, t.emergency) for t in _all()[2:]] == [
        ("gas_smell", True),
        ("heating_fault", False),
    ]
