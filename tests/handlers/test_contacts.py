"""`телефоны`: the company's dispatch and emergency numbers with hours, and 112 / 104."""

from __future__ import annotations

from tests.handlers.conftest import SHARED, SOLNECHNY, STRANGER, one


def test_company_numbers_and_hours(text):
    reply = one(text("телефоны"))
    assert reply.template == "contacts"
    assert reply.body == (
        "Диспетчерская +7 495 777-01-01 (пн–пт 08:00–20:00)\n"
        "Аварийная +7 495 777-01-99, круглосуточно\n"
        "Газ 104, единый номер 112"
    )
    assert "+7 496 444-02-02 (круглосуточно)" in one(text("контакты", to=SOLNECHNY)).body


def test_an_unknown_phone_on_a_shared_number_still_gets_112_and_104(text):
    body = one(text("телефоны", phone=STRANGER, to=SHARED)).body
    assert "112" in body and "104" in body and "ПРИВЯЗАТЬ" in body


def test_contacts_in_english(text):
    one(text("english"))
    body = one(text("CONTACTS")).body
    assert (
        body.startswith('MC "Zareche": dispatch +7 495 777-01-01 (Mon-Fri 08:00-20:00)')
        and "112" in body
        and "104" in body
    )
