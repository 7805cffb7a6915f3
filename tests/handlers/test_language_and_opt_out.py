"""`english` / `русский` switch the reply language; `стоп` and Twilio's opt-out words opt out
with one confirmation and then silence; `старт` opts back in."""

from __future__ import annotations

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import KIND_OPT_OUT, Resident
from tests.conftest import run_jobs
from tests.handlers.conftest import DEMO_PHONE, one
from tests.support import outbound_messages


def resident() -> Resident:
    with Session(db.engine()) as session:
        return session.exec(select(Resident).where(Resident.phone == DEMO_PHONE)).one()


def test_language_switches_both_ways(text):
    assert one(text("english")).body == "Replies will be in English. Russian: RUSSIAN"
    assert resident().language == "en"
    assert one(text("помощь")).body.startswith("BALANCE, DEBT")  # Russian keywords still work
    assert one(text("русский")).body == "Ответы будут на русском. For English: ENGLISH"
    assert resident().language == "ru"
    assert one(text("help")).body.startswith("БАЛАНС")


def test_stop_confirms_once_then_silence(text):
    reply = one(text("СТОП"))
    assert reply.kind == KIND_OPT_OUT and reply.status == "delivered"
    assert reply.body.startswith("Вы отписались") and "СТАРТ" in reply.body
    assert resident().opted_out
    assert text("стоп") == []  # no second confirmation
    assert text("баланс") == []  # handled, but nothing is even stored for an opted-out phone


def test_twilio_opt_out_words_and_opt_in(text):
    for word in ("STOP", "unsubscribe", "Cancel", "end", "QUIT", "stopall", "отписаться"):
        text("start")
        assert not resident().opted_out
        reply = one(text(word))
        assert reply.kind == KIND_OPT_OUT, word
        assert resident().opted_out
    back = one(text("старт"))
    assert back.status == "delivered" and back.body == "Подписка возобновлена. Команды: ПОМОЩЬ"
    assert one(text("баланс")).status == "delivered"


def test_stop_inside_a_sentence_is_not_an_opt_out(text):
    assert one(text("стоп кран течёт")).template == "chat_ack"
    assert not resident().opted_out


def test_what_was_queued_before_the_opt_out_is_not_sent(app, text):
    from smsbot import queues
    from smsbot.models import KIND_NOTICE, OUT_QUEUED, OUTBOUND, Message

    text("баланс")
    with Session(db.writer()) as session:
        notice = Message(direction=OUTBOUND, status=OUT_QUEUED, kind=KIND_NOTICE, from_phone="+74951230001",
                         to_phone=DEMO_PHONE, body="Отключение воды 25.11", resident_id=resident().id)  # fmt: skip
        session.add(notice)
        session.commit()
        notice_id = notice.id
    one(text("стоп"))
    queues.enqueue_send(notice_id)
    run_jobs(app)
    [queued] = outbound_messages(id=notice_id)
    assert queued.status == "canceled"


def test_opt_out_in_english(text):
    text("english")
    assert one(text("stop")).body.startswith("You have unsubscribed")
    assert one(text("start")).body == "You are subscribed again. Commands: HELP"
