"""Which outage a resident asks about, which notices answer it, and what the law allows
(smsbot.outages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsbot import outages
from smsbot.outages import Outage

H = timedelta(hours=1)
START = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("нет воды", outages.WATER),
        ("Нет воды!!!", outages.WATER),
        ("Здравствуйте! Подскажите, когда включат воду?", outages.WATER),
        ("когда дадут горячую воду?", outages.HOT_WATER),
        ("нет горячей воды", outages.HOT_WATER),
        ("Нет ГВС с утра", outages.HOT_WATER),
        ("When will the hot water be back?", outages.HOT_WATER),
        ("холодной воды нет", outages.COLD_WATER),
        ("почему отключили хвс", outages.COLD_WATER),
        ("нет отопления", outages.HEATING),
        ("батареи холодные", outages.HEATING),
        ("нет света в квартире", outages.POWER),
        ("когда дадут электричество", outages.POWER),
        ("газа нет", outages.GAS),
        ("лифт не работает", outages.LIFT),
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
    assert outages.asked(text) == kind


@pytest.mark.parametrize(
    ("notice", "question", "answers"),
    [
        (outages.HOT_WATER, outages.HOT_WATER, True),
        (outages.HOT_WATER, outages.WATER, True),
        (outages.HOT_WATER, outages.COLD_WATER, False),
        (outages.WATER, outages.COLD_WATER, True),
        (outages.HEATING, outages.WATER, False),
        (outages.POWER, outages.POWER, True),
    ],
)
def test_answers(notice, question, answers):
    assert outages.answers(notice, question) is answers


@pytest.mark.parametrize(
    ("kind", "hours", "over"),
    [
        (outages.HOT_WATER, 4, False),
        (outages.HOT_WATER, 4.1, True),
        (outages.COLD_WATER, 8, True),
        (outages.HEATING, 16, False),
        (outages.HEATING, 17, True),
        (outages.POWER, 24, False),
        (outages.GAS, 5, True),
        (outages.LIFT, 25, True),
    ],
)
def test_longer_than_allowed_at_once(kind, hours, over):
    assert (outages.overrun(kind, hours * H, []) is not None) is over


def _outage(notice_id: int, kind: str, buildings: frozenset[int] | None) -> Outage:
    return Outage(notice_id, 1, buildings, kind, START, START + 3 * H)


def test_an_outage_concerns_the_residents_of_its_buildings_only():
    a_only = _outage(1, outages.HOT_WATER, frozenset({10}))
    everywhere = _outage(2, outages.COLD_WATER, None)
    assert a_only.concerns(1, frozenset({10, 11})) and not a_only.concerns(1, frozenset({11}))
    assert not a_only.concerns(2, frozenset({10}))  # another company's building 10
    assert everywhere.concerns(1, frozenset({11})) and not everywhere.concerns(1, frozenset())
    assert outages.find([a_only, everywhere], "нет горячей воды") is a_only
    assert outages.find([a_only, everywhere], "нет воды") is everywhere  # the latest notice
    assert outages.find([a_only], "нет света") is None
    assert outages.find([], "нет воды") is None


@pytest.mark.parametrize(
    ("kind", "hours", "earlier", "expected"),
    [
        (outages.HOT_WATER, 3, [], None),
        (outages.HOT_WATER, 5, [], (outages.HOT_WATER, 4, False)),
        (outages.HOT_WATER, 3, [(outages.HOT_WATER, 4)], None),  # 7 h this month
        (outages.HOT_WATER, 3, [(outages.HOT_WATER, 4), (outages.HOT_WATER, 2)],
         (outages.HOT_WATER, 8, True)),
        (outages.HOT_WATER, 3, [(outages.COLD_WATER, 7)], None),  # another service
        (outages.HOT_WATER, 3, [(outages.WATER, 6)], (outages.HOT_WATER, 8, True)),
        (outages.WATER, 3, [(outages.COLD_WATER, 6)], (outages.COLD_WATER, 8, True)),
        (outages.HEATING, 12, [(outages.HEATING, 13)], (outages.HEATING, 24, True)),
        (outages.POWER, 20, [(outages.POWER, 20)], None),  # no monthly total for power
        (outages.GAS, 3, [(outages.GAS, 2)], (outages.GAS, 4, True)),
    ],
)  # fmt: skip
def test_overrun_at_once_and_over_the_month(kind, hours, earlier, expected):
    got = outages.overrun(kind, hours * H, [(k, h * H) for k, h in earlier])
    assert (got and (got.service, got.allowed_hours, got.per_month)) == expected
