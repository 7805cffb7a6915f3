"""The phrases that were confused (issue 12, point 4): a routine complaint that mentions a
danger in passing, phrase halves from different sentences, radiators of the stairwell."""

from __future__ import annotations

import pytest

from smsbot import alarms, categories, danger

DOOR_COMPLAINT = (
    "Заявка. Здравствуйте! В 3 подъезде уже неделю не закрывается входная дверь, доводчик "
    "сорван, замок заедает, ключ не проворачивается, ночью заходят посторонние, "
    "батареи холодные, окно на 5 этаже разбито. Просим срочно починить дверь и замок!"
)
"""The door-and-lock complaint from issue 12's "Why", as residents write it."""


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("батареи на площадке холодные", None),
        ("на лестнице батареи ледяные", None),
        ("radiators in the stairwell are cold", None),
        ("в подвале батареи холодные", None),
        ("батареи холодные", danger.HEATING),
        ("в квартире батареи ледяные", danger.HEATING),
        ("В подъезде сломан замок, ключа нет. Отопление в порядке", None),
        ("Поменяли счётчик на газ. Пахнет краской в подъезде", None),
        ("нет отопления", danger.HEATING),
        ("Дверь сломана. Пахнет газом!", danger.GAS),
    ],
)
def test_danger_phrases_stay_within_a_sentence_and_a_place(text, kind):
    assert danger.detect(text) == kind


def test_the_door_complaint_is_about_the_door():
    kind = danger.detect(DOOR_COMPLAINT)
    assert kind == danger.HEATING  # the phrase is there …
    assert alarms.in_passing(DOOR_COMPLAINT, kind)  # … but in passing
    assert categories.guess(DOOR_COMPLAINT).key == "door_lock"


@pytest.mark.parametrize(
    "text",
    [
        "нет отопления, батареи ледяные, дети мёрзнут",
        "Здравствуйте, у нас нет отопления уже третий день, батареи ледяные, дети мёрзнут, "
        "дверь в подъезд тоже сломана, когда почините?",
        "Здравствуйте. Дверь в подъезд не закрывается, а у нас в квартире батареи холодные, "
        "батареи в детской тоже холодные, ребёнок болеет, сделайте что-нибудь",
    ],
)
def test_a_message_about_the_cold_stays_an_alarm(text):
    kind = danger.detect(text)
    assert kind == danger.HEATING
    assert not alarms.in_passing(text, kind)


@pytest.mark.parametrize(
    "text",
    [
        "Дверь в подъезд не закрывается, доводчик сорван, посторонние ходят, а ещё и газом "
        "пахнет на втором этаже",
        "В подъезде грязно, уборщица не приходит неделю, мусор на площадке, потолок "
        "течёт с потолка прямо на лестницу",
    ],
)
def test_a_life_threatening_danger_is_never_in_passing(text):
    kind = danger.detect(text)
    assert kind in (danger.GAS, danger.FLOOD)
    assert not alarms.in_passing(text, kind)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Заявка. В подъезде грязно, мусор не убирают неделю, батареи холодные, окна не мыли",
         "cleaning"),
        ("Здравствуйте, лифт не работает третий день, кнопки сожжены, разбито стекло в двери",
         "lift_stopped"),
        ("Замок на входной двери сломан, и окно на площадке разбито", "door_lock"),
    ],
)  # fmt: skip
def test_the_first_clause_naming_a_problem_decides(text, problem):
    assert categories.guess(text).key == problem
