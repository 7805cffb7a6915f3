"""Which outage a resident asks about, which notices answer it, and what the law allows
(smsbot.outages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsbot import interruptions
from smsbot.interruptions import Outage

H = timedelta(hours=1)
START = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("нет воды", interruptions.WATER),
        ("Нет воды!!!", interruptions.WATER),
        ("Здравствуйте! Подскажите, когда включат воду?", interruptions.WATER),
        ("когда дадут горячую воду?", interruptions.HOT_WATER),
        ("нет горячей воды", interruptions.HOT_WATER),
        ("Нет ГВС с утра", interruptions.HOT_WATER),
        ("When will the hot water be back?", interruptions.HOT_WATER),
        ("холодной воды нет", interruptions.COLD_WATER),
        ("почему отключили хвс", interruptions.COLD_WATER),
        ("нет отопления", interruptions.HEATING),
        ("батареи холодные", interruptions.HEATING),
        ("нет света в квартире", interruptions.POWER),
        ("когда дадут электричество", interruptions.POWER),
        ("газа нет", interruptions.GAS),
        ("лифт не работает", interruptions.LIFT),
        # not a question about an outage
        ("горячая вода ржавая", None),
        ("показания гвс 45", None),
        ("спасибо", None),
        ("баланс", None),
        ("нет", None),
        ("Здравствуйте, у нас нет горячей воды уже третий день, а в квитанции начислено "
         "полностью, сделайте перерасчёт за все дни без воды", None),  # a complaint, for a person
    ],
)  # fmt: skip
def test_asked(text, kind):
    assert interruptions.asked(text) == kind


@pytest.mark.parametrize(
    ("notice", "question", "answers"),
    [
        (interruptions.HOT_WATER, interruptions.HOT_WATER, True),
        (interruptions.HOT_WATER, interruptions.WATER, True),
        (interruptions.HOT_WATER, interruptions.COLD_WATER, False),
        (interruptions.WATER, interruptions.COLD_WATER, True),
        (interruptions.HEATING, interruptions.WATER, False),
        (interruptions.POWER, interruptions.POWER, True),
    ],
)
def test_answers(notice, question, answers):
    assert interruptions.answers(notice, question) is answers


@pytest.mark.parametrize(
    ("kind", "hours", "over"),
    [
        (interruptions.HOT_WATER, 4, False),
        (interruptions.HOT_WATER, 4.1, True),
        (interruptions.COLD_WATER, 8, True),
        (interruptions.HEATING, 16, False),
        (interruptions.HEATING, 17, True),
        (interruptions.POWER, 24, False),
        (interruptions.GAS, 5, True),
        (interruptions.LIFT, 25, True),
    ],
)
def test_longer_than_allowed_at_once(kind, hours, over):
    assert (interruptions.overrun(kind, hours * H, []) is not None) is over


def _outage(notice_id: int, kind: str, buildings: frozenset[int] | None) -> Outage:
    return Outage(notice_id, 1, buildings, kind, START, START + 3 * H)


def test_an_outage_concerns_the_residents_of_its_buildings_only():
    a_only = _outage(1, interruptions.HOT_WATER, frozenset({10}))
    everywhere = _outage(2, interruptions.COLD_WATER, None)
    assert a_only.concerns(1, frozenset({10, 11})) and not a_only.concerns(1, frozenset({11}))
    assert not a_only.concerns(2, frozenset({10}))  # another company's building 10
    assert everywhere.concerns(1, frozenset({11})) and not everywhere.concerns(1, frozenset())
    assert interruptions.find([a_only, everywhere], "нет горячей воды") is a_only
    assert interruptions.find([a_only, everywhere], "нет воды") is everywhere  # the latest notice
    assert interruptions.find([a_only], "нет света") is None
    assert interruptions.find([], "нет воды") is None


@pytest.mark.parametrize(
    ("kind", "hours", "earlier", "expected"),
    [
        (interruptions.HOT_WATER, 3, [], None),
        (interruptions.HOT_WATER, 5, [], (interruptions.HOT_WATER, 4, False)),
        (interruptions.HOT_WATER, 3, [(interruptions.HOT_WATER, 4)], None),  # 7 h this month
        (interruptions.HOT_WATER, 3, [(interruptions.HOT_WATER, 4), (interruptions.HOT_WATER, 2)],
         (interruptions.HOT_WATER, 8, True)),
        (interruptions.HOT_WATER, 3, [(interruptions.COLD_WATER, 7)], None),  # another service
        (interruptions.HOT_WATER, 3, [(interruptions.WATER, 6)], (interruptions.HOT_WATER, 8, True)),
        (interruptions.WATER, 3, [(interruptions.COLD_WATER, 6)], (interruptions.COLD_WATER, 8, True)),
        (interruptions.HEATING, 12, [(interruptions.HEATING, 13)], (interruptions.HEATING, 24, True)),
        (interruptions.POWER, 20, [(interruptions.POWER, 20)], None),  # no monthly total for power
        (interruptions.GAS, 3, [(interruptions.GAS, 2)], (interruptions.GAS, 4, True)),
    ],
)  # fmt: skip
def test_overrun_at_once_and_over_the_month(kind, hours, earlier, expected):
    got = interruptions.overrun(kind, hours * H, [(k, h * H) for k, h in earlier])
    assert (got and (got.service, got.allowed_hours, got.per_month)) == expected
