"""Guessing a ticket's problem, category and priority from the resident's words."""

from __future__ import annotations

import pytest

from smsbot import categories, danger, deadlines
from smsbot.categories import CATEGORIES, PRIORITIES, PROBLEMS, guess

CASES = [
    ("течёт кран на кухне", "plumbing", "plumbing"),
    ("засор канализации в подвале", "sewer_blockage", "plumbing"),
    ("забилась канализация, вода не уходит", "sewer_blockage", "plumbing"),
    ("забит мусоропровод", "chute_blockage", "waste"),
    ("протекает крыша", "roof_leak", "roof"),
    ("капает с потолка на 9 этаже", "roof_leak", "roof"),
    ("не горит свет в подъезде", "stair_lighting", "electrical"),
    ("лампочка перегорела на 3 этаже", "stair_lighting", "electrical"),
    ("нет света во всей квартире", "power_out", "electrical"),
    ("лифт не работает", "lift_stopped", "lift"),
    ("лифт", "lift_stopped", "lift"),
    ("в лифте грязно", "cleaning", "cleaning"),
    ("не работает домофон", "intercom", "intercom"),
    ("разбито стекло в подъезде", "broken_glass", "other"),
    ("входная дверь не закрывается", "door_lock", "other"),
    ("сломан доводчик", "door_lock", "other"),
    ("нет горячей воды", "no_water", "plumbing"),
    ("слабый напор воды", "no_water", "plumbing"),
    ("батарея еле тёплая", "heating_fault", "heating"),
    ("сосульки на крыше", "roof_facade", "roof"),
    ("мусор не вывозят", "waste", "waste"),
    ("в подъезде не убирают", "cleaning", "cleaning"),
    ("снег не чистят во дворе", "cleaning", "cleaning"),
    ("соседи шумят", "other", "other"),
    ("розетка не работает", "electrical", "electrical"),
    ("течет кран в подвале", "common_tap_leak", "plumbing"),
    ("leaking tap", "plumbing", "plumbing"),
    ("lift is broken", "lift_stopped", "lift"),
    ("stairwell light is out", "stair_lighting", "electrical"),
    ("no hot water", "no_water", "plumbing"),
    ("rubbish not collected", "waste", "waste"),
    ("", "other", "other"),
]


@pytest.mark.parametrize(("text", "problem", "category"), CASES)
def test_guess(text, problem, category):
    found = guess(text)
    assert (found.key, found.category) == (problem, category)


@pytest.mark.parametrize("kind", danger.KINDS)
def test_a_danger_is_always_an_emergency_problem(kind):
    problem = guess("что угодно", danger_kind=kind)
    assert problem.emergency and problem.priority == categories.PRIORITY_EMERGENCY


def test_every_problem_has_a_known_category_priority_and_deadline_rule():
    for problem in PROBLEMS.values():
        assert problem.category in CATEGORIES and problem.priority in PRIORITIES
    assert set(deadlines.DEFAULT_RULES) <= set(PROBLEMS)
    for key, problem in PROBLEMS.items():
        rule = deadlines.rule_for(key)
        if problem.emergency:
            assert rule.contain <= deadlines.timedelta(hours=2), key


def test_sewer_blockage_is_an_emergency_but_a_roof_leak_is_only_urgent():
    assert guess("засор канализации").emergency
    assert not guess("протекает крыша").emergency
    assert guess("протекает крыша").priority == categories.PRIORITY_URGENT
