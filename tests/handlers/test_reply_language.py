"""A command is answered in the language it is written in (`balance` in English, `баланс` in
Russian) through the real pipeline, until the resident chooses one with `english` /
`русский`; from then on that choice holds whatever they write."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import Message, Resident
from tests.handlers.conftest import DEMO_PHONE, STRANGER, one


def chosen() -> Resident:
    with Session(db.engine()) as session:
        return session.exec(select(Resident).where(Resident.phone == DEMO_PHONE)).one()


def english(reply: Message) -> bool:
    """Rendered from an English template: not a Cyrillic letter in it (names are latinised)."""
    return re.search("[а-яё]", reply.body, re.IGNORECASE) is None


def test_an_english_balance_is_answered_in_english_and_a_russian_one_in_russian(text):
    reply = one(text("balance"))
    assert reply.template == "balance" and english(reply), reply.body
    assert reply.body.startswith("Due ") and reply.encoding == "GSM-7"
    russian = one(text("баланс"))
    assert russian.template == "balance" and not english(russian)
    assert english(one(text("What is my balance?")))
    assert one(text("сколько я должен?")).body == russian.body
    assert chosen().language == "ru" and chosen().language_chosen_at is None


def test_english_help_debt_status_and_stop_get_english_replies(text):
    for command, template in (("help", "help"), ("HELP", "help"), ("debt", "debt"),
                              ("status 12", "ticket_not_found"), ("STOP", "opt_out")):  # fmt: skip
        reply = one(text(command))
        assert reply.template == template and english(reply), (command, reply.body)
    reply = one(text("старт"))
    assert reply.template == "opt_in" and not english(reply)
    reply = one(text("статус 12"))
    assert reply.template == "ticket_not_found" and not english(reply)


def test_a_chosen_language_holds_whatever_the_resident_writes(text):
    one(text("русский"))
    assert chosen().language_chosen_at is not None
    assert one(text("balance")).body == one(text("баланс")).body
    assert not english(one(text("help")))
    one(text("english"))
    assert english(one(text("помощь")))
    assert english(one(text("баланс")))


def test_plain_english_chat_and_alarms_are_answered_in_english_transliteration_in_russian(text):
    reply = one(text("When will the hot water be back?", phone=STRANGER))
    assert reply.template == "chat_ack" and english(reply), reply.body
    replies = text("There is a smell of gas in the stairwell", phone=STRANGER)
    assert [r.template for r in replies][:1] == ["emergency"] and english(replies[0])
    # Transliterated Russian is Russian (a new phone: a thread is acknowledged once).
    assert not english(one(text("kogda dadut goryachuyu vodu?", phone="+79031112244")))
