"""Outages answer themselves (issue 12, point 7): while a notice announces that the hot water
is off in building A until a given time, `нет горячей воды` from a resident of A is answered
with the notice's facts, and the same text from building B goes to the dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from smsbot import db, notices
from smsbot.clock import utcnow
from smsbot.models import Account, AccountPhone, Building, Company, Conversation, Resident, Ticket
from tests.handlers.conftest import DEMO_PHONE, OTHER_RESIDENT, one

RESIDENT_OF_B = "+79167770003"
"""On the bill of the flat in ул. Советская, д. 3 (building B of Заречье)."""


@pytest.fixture()
def announce(app, demo, clock):  # noqa: ANN001, ANN201
    """Send a notice to building A (ул. Молодёжная) that `kind` is off for `hours` hours."""
    with Session(db.engine()) as session:
        company = session.exec(select(Company).where(Company.slug == "uk-zarechye")).one()
        building_b = session.exec(select(Account.id).where(Account.number == "5012345690")).one()
        session.add(AccountPhone(account_id=building_b, phone=RESIDENT_OF_B))
        session.commit()
        company_id = company.id
        building_a = session.exec(
            select(Building.id).where(
                Building.company_id == company_id, Building.address.contains("Молодёжная")
            )
        ).one()

    def send(kind: str = "hot_water", hours: float = 3) -> int:
        with Session(db.engine()) as session:
            notice = notices.create(
                session,
                company_id=company_id,
                author_id=None,
                building_ids=[building_a],
                body="Плановые работы: горячей воды не будет до 15:00.",
                outage=kind,
                outage_until=utcnow() + timedelta(hours=hours),
            )
            session.commit()
            return notice.id

    return send


def _conversation(phone: str) -> Conversation:
    with Session(db.engine()) as session:
        return session.exec(
            select(Conversation)
            .join(Resident, Resident.id == Conversation.resident_id)
            .where(Resident.phone == phone, Conversation.company_id == 1)
        ).one()


def test_hot_water_notice_answers_building_a_and_leaves_building_b_to_the_dispatcher(
    text, announce
):
    notice_id = announce("hot_water", hours=3)  # from 12:00 Moscow: until 15:00 that day
    reply = one(text("нет горячей воды"))
    assert reply.template == "outage"
    assert reply.body == "Нет горячей воды до 15:00; по закону до 4 ч подряд, 8 ч в мес."
    assert reply.num_segments == 1
    answered = _conversation(DEMO_PHONE)
    assert answered.answered_by_notice_id == notice_id
    assert (answered.unread, answered.status) == (0, "closed")  # waits for nobody

    other = one(text("нет горячей воды", phone=RESIDENT_OF_B))
    assert other.template == "chat_ack"  # building B: the normal path, to the dispatcher
    queued = _conversation(RESIDENT_OF_B)
    assert (queued.unread, queued.status, queued.answered_by_notice_id) == (1, "open", None)
    with Session(db.engine()) as session:
        assert session.exec(select(Ticket)).all() == []


def test_other_ways_of_asking_and_other_questions(text, announce):
    announce("hot_water", hours=30)
    for asked in ("когда дадут горячую воду?", "Нет воды", "Здравствуйте! Нет ГВС с утра"):
        reply = one(text(asked, phone=OTHER_RESIDENT))
        assert reply.template == "outage", asked
        assert "Нет горячей воды до 18:00 " in reply.body  # tomorrow: the date is given too
    # not this outage: to the dispatcher, acknowledged (the first message a person will read)
    assert one(text("нет холодной воды", phone=OTHER_RESIDENT)).template == "chat_ack"
    assert one(text("баланс", phone=OTHER_RESIDENT)).template == "balance"
    assert _conversation(OTHER_RESIDENT).unread == 1


def test_the_notice_answers_only_while_the_outage_lasts(text, announce, clock):
    announce("hot_water", hours=2)
    assert one(text("нет горячей воды")).template == "outage"
    clock.advance(timedelta(hours=2, minutes=1))
    assert one(text("нет горячей воды")).template == "chat_ack"


def test_an_announced_heating_outage_is_no_emergency(text, announce, clock):
    clock.moscow(20, month=1, year=2027)
    announce("heating", hours=6)
    reply = one(text("нет отопления"))
    assert reply.template == "outage" and "по закону до 16 ч подряд, 24 ч в мес." in reply.body
    with Session(db.engine()) as session:
        assert session.exec(select(Ticket)).all() == []
    assert one(text("пахнет газом")).template == "emergency"  # a danger is never explained away
