"""Transliterated replies: Latin only, so they travel as GSM-7."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smsbot.segments import measure
from smsbot.translit import transliterate


def test_passport_style():
    assert transliterate("Щёлково, ул. Южная") == "Shchelkovo, ul. Iuzhnaia"
    assert transliterate("Баланс: 3 450,20 ₽") == "Balans: 3 450,20 rub"


def test_soft_and_hard_signs_are_dropped():
    assert transliterate("подъезд, Тверь") == "podezd, Tver"


@given(
    st.text(
        alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ ,.:;!?-—«»№₽0123456789"
    )
)
def test_russian_text_becomes_gsm7(text):
    assert measure(transliterate(text)).encoding == "GSM-7"


def test_a_command_in_capitals_stays_in_capitals():
    assert (
        transliterate("ЗАЯВКА, ПОКАЗАНИЯ ХВС, ПРИВЯЗАТЬ") == "ZAIAVKA, POKAZANIIA KHVS, PRIVIAZAT"
    )
    assert transliterate("Юлия, ЖКХ «Щит»") == 'Iuliia, ZHKKH "Shchit"'
