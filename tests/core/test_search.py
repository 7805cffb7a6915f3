"""The search box's reading of a query and the stems SQLite's index holds (smsbot.search)."""

from __future__ import annotations

import pytest

from smsbot import search


@pytest.mark.parametrize(
    ("text", "stems"),
    [
        ("Не работает ДОМОФОН", "не работа домофон"),
        ("домофона", "домофон"),
        ("домофоны, домофонов!", "домофон домофон"),
        ("течёт кран", "течет кран"),
        ("Lift 5 не едет", "lift 5 не едет"),
        ("", ""),
    ],
)
def test_stems_are_what_postgresql_russian_configuration_makes(text, stems):
    assert search.stem_text(text) == stems


@pytest.mark.parametrize(
    ("raw", "words", "digits", "number", "explicit"),
    [
        ("домофон", ("домофон",), None, None, False),
        ("  Течёт  кран  ", ("течет", "кран"), None, None, False),
        ("№548", (), None, 548, True),
        ("# 12", (), None, 12, True),
        ("заявка 7", (), None, 7, True),
        ("548", (), "548", 548, False),
        ("+7 (985) 123-45-67", (), "79851234567", None, False),
        ("1234567890", (), "1234567890", None, False),
        ("Ленина 5", ("ленина", "5"), None, None, False),
    ],
)
def test_a_query_is_read_every_way_it_could_be_meant(raw, words, digits, number, explicit):
    query = search.parse(raw)
    assert (query.words, query.digits, query.ticket_number, query.explicit_ticket) == (
        words,
        digits,
        number,
        explicit,
    )


def test_nothing_to_look_for_and_overlong_queries():
    assert search.parse("   ") is None and search.parse(None) is None
    assert len(search.parse("слово " * 100).words) == search.MAX_WORDS


def test_fts_queries_quote_every_stem_so_nothing_is_read_as_syntax():
    assert search.fts_query(search.parse('домофона OR "кран" NEAR*')) == (
        '"домофон" "or" "кран" "near"'
    )


@pytest.mark.parametrize(
    ("query", "found"),
    [("ленина", True), ("Ленина 5", True), ("ленин", True), ("гагарина", False), ("5", False)],
)
def test_addresses_match_every_word_by_stem(query, found):
    """A bare number is a phone, account or ticket, never every house numbered 5."""
    assert search.address_matches(search.parse(query), "ул. Ленина, д. 5") is found
