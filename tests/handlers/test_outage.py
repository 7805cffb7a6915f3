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
from tests.handlers.conftest import DEMO_PHONE, OTHER_RESIDENT, ZARECHYE, one
from tests.support import outbound_messages

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

    assert one(text("когда дадут горячую воду?", phone=OTHER_RESIDENT)).template == "outage"
    # another question from building A: to the dispatcher, acknowledged (the first one)
    assert one(text("нет холодной воды", phone=OTHER_RESIDENT)).template == "chat_ack"
    assert _conversation(OTHER_RESIDENT).unread == 1
    with Session(db.engine()) as session:
        assert session.exec(select(Ticket)).all() == []


def test_a_heating_notice_answers_until_it_ends_and_is_no_emergency(text, announce, clock):
    clock.moscow(20, month=1, year=2027)
    announce("heating", hours=30)
    reply = one(text("нет отопления"))
    assert reply.body == "Нет отопления до 18:00 21.01; по закону до 16 ч подряд, 24 ч в мес."
    with Session(db.engine()) as session:
        assert session.exec(select(Ticket)).all() == []
    clock.advance(timedelta(hours=30, minutes=1))
    assert one(text("нет отопления")).template == "emergency"  # it has ended: the alarm again


def test_a_batch_looks_the_outages_up_once(app, announce):
    """Hundreds of residents ask at once: one query for the outages per batch, not per SMS."""
    from sqlalchemy import event

    from smsbot import inbound
    from smsbot.providers.base import InboundSms

    announce("hot_water", hours=3)
    phones = [f"+7916555{n:04d}" for n in range(20)]
    with Session(db.engine()) as session:
        flat = session.exec(select(Account.id).where(Account.number == "5012345680")).one()
        session.add_all(AccountPhone(account_id=flat, phone=p) for p in phones)
        for n, phone in enumerate(phones):
            inbound.store(session, InboundSms("outbox", f"batch-{n}", phone, ZARECHYE, "нет воды"))
        session.commit()
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        seen.append(statement)

    with Session(db.engine()) as session:
        event.listen(db.engine(), "before_cursor_execute", count)
        try:
            messages = inbound.claim_waiting(session, 50)
            inbound.handle_many(session, messages, give_up_after=3)
            session.commit()
        finally:
            event.remove(db.engine(), "before_cursor_execute", count)
    assert len(messages) == 20
    assert len([s for s in seen if "FROM notice" in s]) == 1
    replies = outbound_messages(kind="reply")
    assert len(replies) == 20 and {m.template for m in replies} == {"outage"}
