"""`помощь` / `help`: the commands, in the resident's language."""

from __future__ import annotations

import pytest

from tests.handlers.conftest import SHARED, STRANGER, one


@pytest.mark.parametrize("word", ["помощь", "справка", "меню", "?", "pomosch", "HELP"])
def test_help_lists_the_commands(text, word):
    body = one(text(word)).body
    for command in (
        "БАЛАНС",
        "ДОЛГ",
        "ЗАЯВКА",
        "СТАТУС",
        "ПОКАЗАНИЯ",
        "ТЕЛЕФОНЫ",
        "ПРИВЯЗАТЬ",
        "СТОП",
    ):
        assert command in body
    assert body.startswith("БАЛАНС, ДОЛГ, ТЕЛЕФОНЫ")


def test_help_in_english_and_without_a_company(text):
    text("english", phone=STRANGER, to=SHARED)
    body = one(text("help", phone=STRANGER, to=SHARED)).body
    assert (
        body.startswith("BALANCE, DEBT, CONTACTS")
        and "BALANCE" in body
        and "LINK <account> <code>" in body
    )
