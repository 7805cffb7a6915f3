"""Matching a receipt's `text:` to a message whose submit had no answer (pure)."""

from __future__ import annotations

from smsbot.providers.smpp.config import SmppConfig
from smsbot.providers.smpp.incoming import phone, receipt_text
from smsbot.providers.smpp.matching import same_start

CONFIG = SmppConfig(name="smpp", host="h", system_id="s", password="p", source="+79990000000")
LONG = "Ответ: " + "ваш баланс 1 234,56 ₽ на 1 декабря. " * 4


def test_every_spelling_an_smsc_may_use():
    body = "Ответ 7: ваш баланс 1 234,56 ₽"
    assert same_start(body, "Ответ 7: ваш баланс ".encode(), CONFIG, 7)  # text again, UTF-8
    assert same_start(body, body.encode("utf-16-be")[:20], CONFIG, 7)  # the octets as sent
    assert same_start(body, b"????? 7: ??? ??????", CONFIG, 7)  # what ASCII could not show
    assert same_start("Your balance is 12.50", b"Your balance is 12.5", CONFIG, 1)  # GSM-7
    assert same_start(body, b"", CONFIG, 7)  # no text: the destination decides


def test_a_different_text_does_not_match():
    assert not same_start("Ответ 7: ваш баланс", b"Your balance is 12.5", CONFIG, 7)
    assert not same_start("Your balance is 12.50", b"Your ticket 55 is done", CONFIG, 1)


def test_a_part_of_a_long_text_matches_its_own_start():
    second = LONG[67:87]
    assert same_start(LONG, second.encode("utf-8"), CONFIG, 3)


def test_receipt_fields():
    message = (
        b"id:123 sub:001 dlvrd:001 submit date:2512030910 stat:DELIVRD err:000 text:Hello there"
    )
    assert receipt_text(message) == b"Hello there"
    assert receipt_text(b"id:1 stat:DELIVRD") == b""
    assert phone(b"79851234567") == "+79851234567"
    assert phone("Domovoy") == "Domovoy"
