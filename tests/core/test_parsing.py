"""The parser against real messages, and properties it keeps for any input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbot import danger
from smsbot.parsing import INTENTS, KEYWORDS, Command, keyword_intent, osa_distance, parse
from tests.core.parsing_cases import CASES, DANGER_CASES, PHRASED_CASES


def test_the_table_is_large_enough_and_covers_every_intent():
    assert len(CASES) >= 200
    assert {intent for _, intent, _ in CASES} == set(INTENTS)
    new = {text for text, _, _ in PHRASED_CASES} - {text for text, _, _ in CASES}
    assert len(new) >= 300  # some old messages are there again to check their language
    assert {intent for _, intent, _ in PHRASED_CASES} == set(INTENTS)


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    CASES + PHRASED_CASES,
    ids=[c[0][:40] or "empty" for c in CASES + PHRASED_CASES],
)
def test_message(text, intent, expected):
    command = parse(text)
    assert command.intent == intent
    assert command.emergency == expected.get("emergency", False)
    for name, value in expected.items():
        if name == "readings":
            got = [(r.kind, r.value) for r in command.readings]
            assert got == [(kind, Decimal(v)) for kind, v in value]
        elif name == "unread":
            assert list(command.unread) == value
        elif name != "emergency":
            assert getattr(command, name) == value, name


@pytest.mark.parametrize(("text", "kind"), DANGER_CASES)
def test_danger(text, kind):
    assert danger.detect(text) == kind


def test_no_heating_is_an_emergency_only_in_the_heating_season():
    assert parse("нет отопления", today=date(2026, 1, 15)).emergency
    assert not parse("нет отопления", today=date(2026, 7, 15)).emergency
    assert parse("нет отопления").emergency  # date unknown: the safe answer
    assert parse("пахнет газом", today=date(2026, 7, 15)).emergency


def test_keywords_are_too_far_apart_to_be_mistaken_for_each_other():
    long_words = [(w, i) for w, i in KEYWORDS.items() if len(w) >= 5]
    for a, intent_a in long_words:
        for b, intent_b in long_words:
            if intent_a != intent_b:
                assert osa_distance(a, b) > 1, (a, b)


@pytest.mark.parametrize(
    "word", ["баланс", "заявка", "показания", "телефоны", "привязать", "статус"]
)
def test_every_single_typo_of_a_long_keyword_is_understood(word):
    intent = keyword_intent(word)
    letters = "абвгдежзийклмнопрстуфхцчшщыьэюя"
    for i in range(len(word)):
        assert keyword_intent(word[:i] + word[i + 1 :]) == intent  # a letter missing
        swapped = word[:i] + word[i + 1 : i + 2] + word[i : i + 1] + word[i + 2 :]
        assert keyword_intent(swapped) == intent  # two letters swapped
        for letter in letters[::5]:
            assert keyword_intent(word[:i] + letter + word[i + 1 :]) in (intent, None)


def test_short_keywords_need_exact_spelling():
    assert keyword_intent("долг") == "debt"
    assert keyword_intent("дорг") is None
    assert keyword_intent("stap") is None


@pytest.mark.parametrize(("a", "b", "distance"), [("abc", "abc", 0), ("abc", "acb", 1), ("abc", "ab", 1),
                                                  ("abc", "abd", 1), ("abcd", "badc", 2), ("", "ab", 2)])  # fmt: skip
def test_osa_distance(a, b, distance):
    assert osa_distance(a, b) == distance


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_parse_never_raises_and_always_answers_with_a_known_intent(text):
    command = parse(text)
    assert isinstance(command, Command)
    assert command.intent in INTENTS
    assert command.text == text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["баланс", "заявка", "показания", "хвс", "т1", "2", "123,4", "газ", "№",
                                 "м3", ",", ":", "-", "\u200b", "stop", "пахнет", "газом", "45.6"]), max_size=12))  # fmt: skip
def test_parse_never_raises_on_command_like_noise(parts):
    command = parse(" ".join(parts))
    assert command.intent in INTENTS
    for reading in command.readings:
        assert reading.value.is_finite()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200), st.dates())
def test_parse_with_any_date_never_raises(text, day):
    assert parse(text, today=day).intent in INTENTS


def test_parse_tolerates_non_text():
    assert parse(None).intent == "chat"
