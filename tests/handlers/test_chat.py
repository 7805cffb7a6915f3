"""Honest acknowledgements of chat messages (issue 12, point 6): at most one per conversation
every few hours, none while a dispatcher is answering, at night the hours dispatchers work and
the emergency number, and the short help for an empty SMS."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from smsbot import conversations, db, users
from smsbot.models import Company, Conversation
from tests.handlers.conftest import one


def _company(**changes: object) -> int:
    with Session(db.engine()) as session:
        company = session.exec(select(Company).where(Company.slug == "uk-zarechye")).one()
        for name, value in changes.items():
            setattr(company, name, value)
        session.commit()
        return company.id


def _thread() -> Conversation:
    with Session(db.engine()) as session:
        return session.exec(select(Conversation).where(Conversation.company_id == 1)).one()


def test_a_night_time_message_gets_the_working_hours_and_the_emergency_number(text, clock):
    _company(working_hours_deadlines=True, workday_start=9, workday_end=18)
    clock.moscow(16, hour=23, month=12, year=2026)  # Wednesday night
    for empty in ("", "\u200b "):  # an empty SMS: the short help, nothing for the inbox
        reply = one(text(empty))
        assert reply.template == "help_short" and reply.body.startswith("Пустое SMS")
    assert (_thread().unread, _thread().acknowledged_at) == (0, None)
    reply = one(text("Во дворе третий день не вывозят снег, машины не проехать"))
    assert reply.template == "chat_ack_closed"
    assert reply.body == (
        "Сообщение получено. Диспетчеры работают в рабочие дни с 9:00 до 18:00, "
        "ответят с 09:00 17.12. При аварии: +7 495 777-01-99"
    )
    assert reply.num_segments == 2
    _company(working_hours_deadlines=False)  # a round-the-clock dispatch never says "closed"
    clock.moscow(19, hour=3, month=12, year=2026)
    assert one(text("Снег так и не убрали")).template == "chat_ack"


def test_later_messages_are_acknowledged_every_few_hours_and_not_while_a_dispatcher_answers(
    text, clock
):
    assert one(text("Когда покрасят подъезд?")).template == "chat_ack"
    assert text("Краска облезла на всех этажах") == []  # the same conversation, minutes later
    clock.advance(timedelta(hours=4))
    assert one(text("Ответа так и нет")).template == "chat_ack"  # 4 hours on: once more
    clock.advance(timedelta(hours=5))
    with Session(db.engine()) as session:
        olga = users.create_user(session, login="olga", name="Ольга", password="x" * 12,
                                 role="dispatcher", company_id=1)  # fmt: skip
        thread = session.get(Conversation, _thread().id)
        conversations.reply(session, conversation=thread, author=olga, body="Покрасим в мае.")
        session.commit()
    clock.advance(timedelta(minutes=10))
    assert text("А почему не раньше?") == []  # a dispatcher is answering: no bot line
    clock.advance(timedelta(minutes=25))
    assert one(text("Жду ответа")).template == "chat_ack"  # she went quiet 35 minutes ago
    assert _thread().unread == 2
