"""What a ticket is about, guessed from the resident's words: the problem, its category and
its priority.

A *problem* is a row of the reference table in DESIGN.md (gas smell, burst pipe, sewer
blockage, stairwell lighting …); it decides the deadline (smsbot.deadlines) and whether the
ticket is an emergency. A *category* is the trade that does the work (plumbing, electrical,
heating, lift, …), what dispatchers filter by. Rules are tried in order, the first whose
phrase matches wins, so specific phrases (`засор канализации`) come before general words
(`канализация`). Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smsbot import danger
from smsbot.textnorm import words_text

# --- categories --------------------------------------------------------------------------------

PLUMBING = "plumbing"
"""Water supply, sewerage, taps, pipes."""
ELECTRICAL = "electrical"
"""Power supply, wiring, stairwell lighting."""
HEATING = "heating"
"""Radiators and the heating system."""
LIFT = "lift"
CLEANING = "cleaning"
"""Stairwells, yard, snow and ice."""
WASTE = "waste"
"""Rubbish removal, bins, the rubbish chute."""
ROOF = "roof"
"""Roof, gutters, facade."""
INTERCOM = "intercom"
GAS = "gas"
"""Gas smell or gas equipment of the building."""
OTHER = "other"
"""Doors, locks, windows of common areas, anything else."""

CATEGORIES = (PLUMBING, ELECTRICAL, HEATING, LIFT, CLEANING, WASTE, ROOF, INTERCOM, GAS, OTHER)

# --- priorities ----------------------------------------------------------------------------------

PRIORITY_EMERGENCY = "emergency"
"""The emergency dispatch goes out at once (decree 416 §13: contain within 30 minutes)."""
PRIORITY_URGENT = "urgent"
"""Damage grows while it waits (a roof leak): within a day."""
PRIORITY_NORMAL = "normal"
"""Routine work, usually within 24 hours."""
PRIORITY_LOW = "low"
"""May take days (stairwell lighting: 7)."""

PRIORITIES = (PRIORITY_EMERGENCY, PRIORITY_URGENT, PRIORITY_NORMAL, PRIORITY_LOW)


@dataclass(frozen=True)
class Problem:
    """A row of the reference table: what is wrong, who fixes it, how urgent it is."""

    key: str
    category: str
    priority: str

    @property
    def emergency(self) -> bool:
        return self.priority == PRIORITY_EMERGENCY


def _problems(*rows: tuple[str, str, str]) -> dict[str, Problem]:
    return {key: Problem(key, category, priority) for key, category, priority in rows}


PROBLEMS: dict[str, Problem] = _problems(
    ("gas_smell", GAS, PRIORITY_EMERGENCY),
    ("fire", OTHER, PRIORITY_EMERGENCY),
    ("lift_stuck", LIFT, PRIORITY_EMERGENCY),
    ("flood", PLUMBING, PRIORITY_EMERGENCY),
    ("sparking", ELECTRICAL, PRIORITY_EMERGENCY),
    ("power_out", ELECTRICAL, PRIORITY_EMERGENCY),
    ("heating_out", HEATING, PRIORITY_EMERGENCY),
    ("sewer_blockage", PLUMBING, PRIORITY_EMERGENCY),
    ("chute_blockage", WASTE, PRIORITY_EMERGENCY),
    ("roof_leak", ROOF, PRIORITY_URGENT),
    ("lift_stopped", LIFT, PRIORITY_NORMAL),
    ("door_lock", OTHER, PRIORITY_NORMAL),
    ("broken_glass", OTHER, PRIORITY_NORMAL),
    ("common_tap_leak", PLUMBING, PRIORITY_NORMAL),
    ("stair_lighting", ELECTRICAL, PRIORITY_LOW),
    ("roof_facade", ROOF, PRIORITY_NORMAL),
    ("no_water", PLUMBING, PRIORITY_NORMAL),
    ("heating_fault", HEATING, PRIORITY_NORMAL),
    ("plumbing", PLUMBING, PRIORITY_NORMAL),
    ("electrical", ELECTRICAL, PRIORITY_NORMAL),
    ("intercom", INTERCOM, PRIORITY_NORMAL),
    ("waste", WASTE, PRIORITY_NORMAL),
    ("cleaning", CLEANING, PRIORITY_NORMAL),
    ("other", OTHER, PRIORITY_NORMAL),
)
"""Every problem a ticket can have, by key; `other` when nothing else fits."""

DANGER_PROBLEMS = {
    danger.GAS: "gas_smell",
    danger.FIRE: "fire",
    danger.FLOOD: "flood",
    danger.ELECTRIC: "sparking",
    danger.LIFT: "lift_stuck",
    danger.HEATING: "heating_out",
}
"""The problem a detected danger files as."""

_GAP = r"(?: \S+){0,3}"
_CLAUSE_END = re.compile(r"[.!?;:,()\n\u2013\u2014]+")


def _either(a: str, b: str) -> str:
    return rf"(?<!\S)(?:{a}){_GAP} (?:{b})(?!\S)|(?<!\S)(?:{b}){_GAP} (?:{a})(?!\S)"


def _any(words: str) -> str:
    return rf"(?<!\S)(?:{words})(?!\S)"


_SEWER = r"канализац\w*|стояк\w*|лежак\w*|sewer\w*|sewage|kanalizac\w*"
_BLOCKED = (
    r"засор\w*|забил\w*|забит\w*|выбива\w*|выбило|переполн\w*|не уходит|blocked|clogged|"
    r"backing|blockage|zasor\w*"
)
_STAIRS = r"подъезд\w*|лестниц\w*|площадк\w*|этаж\w*|тамбур\w*|холл\w*|stair\w*|hallway|entrance|podezd\w*"
_LIGHT = (
    r"свет|света|освещени\w*|ламп\w*|светильник\w*|не горит|темно|перегорел\w*|lights?|"
    r"lighting|bulbs?|svet\w*"
)
_LEAK = r"теч\w*|протек\w*|протечк\w*|капает|каплет|leak\w*|drip\w*|techet|protek\w*"
_BROKEN = (
    r"не работает|не работают|сломал\w*|стоит|стоят|не едет|не ходит|не приезжает|"
    r"отключ\w*|broken|stopped|out|ne rabotaet"
)
_WATER = r"вод\w*|гвс|хвс|water|vod\w*"
_NO = r"нет|отключил\w*|отключен\w*|не идет|пропал\w*|напор\w*|no|net|off"

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (problem, re.compile(pattern))
    for problem, pattern in (
        ("sewer_blockage", _either(_BLOCKED, _SEWER)),
        ("chute_blockage", _either(_BLOCKED, r"мусоропровод\w*|chute|musoroprovod\w*")),
        ("roof_leak", _either(_LEAK, r"крыш\w*|кровл\w*|потол\w*|roof|ceiling|krysh\w*")),
        ("stair_lighting", _either(_LIGHT, _STAIRS)),
        (
            "power_out",
            _either(
                r"нет|отключил\w*|пропал\w*|вырубил\w*|no|net|cut|out",
                r"свет\w*|электричеств\w*|электроэнерги\w*|напряжени\w*|power|"
                r"electricity|svet\w*",
            ),
        ),
        ("lift_stopped", _either(r"лифт\w*|lift|elevator|lifts", _BROKEN)),
        ("intercom", _any(r"домофон\w*|intercom|domofon\w*")),
        (
            "broken_glass",
            _either(
                r"разбит\w*|выбит\w*|треснул\w*|трещин\w*|broken|razbit\w*",
                r"стекл\w*|окн\w*|окон|window\w*|glass|stekl\w*",
            ),
        ),
        ("door_lock", _any(r"двер\w*|замок|замка|замки|доводчик\w*|door\w*|locks?|dver\w*")),
        (
            "common_tap_leak",
            _either(_LEAK + r"|кран\w*|tap", r"подвал\w*|техэтаж\w*|basement|" + _STAIRS),
        ),
        ("no_water", _either(_NO, _WATER)),
        (
            "heating_fault",
            _any(r"батаре\w*|радиатор\w*|отоплени\w*|heating|radiators?|otoplenie|batare\w*"),
        ),
        (
            "roof_facade",
            _any(
                r"водосток\w*|желоб\w*|сосульк\w*|штукатурк\w*|фасад\w*|отвалил\w*|"
                r"обвалил\w*|gutters?|icicles?|plaster|facade"
            ),
        ),
        (
            "waste",
            _either(
                r"вывоз\w*|вывез\w*|контейнер\w*|бак\w*|площадк\w*|collect\w*|bins?",
                r"мусор\w*|тко|отход\w*|rubbish|garbage|trash|musor\w*",
            )
            + "|"
            + _any(r"мусоропровод\w*|контейнер\w*|chute|bins"),
        ),
        (
            "cleaning",
            _any(
                r"уборк\w*|убира\w*|убрат\w*|грязн\w*|грязь|грязи|мусор\w*|моют|помыть|"
                r"мыть|вымыть|снег\w*|наледь|гололед\w*|листв\w*|cleaning|clean|dirty|"
                r"snow|ice|uborka|gryaz\w*"
            ),
        ),
        ("lift_stopped", _any(r"лифт\w*|lift|elevator")),
        (
            "plumbing",
            _any(
                r"кран\w*|смесител\w*|унитаз\w*|раковин\w*|труб\w*|теч\w*|протек\w*|засор\w*|"
                r"бачок|сантехник\w*|вод\w*|канализац\w*|plumb\w*|tap|toilet|sink|pipes?|"
                r"leak\w*|drain|kran|truba|santehnik\w*"
            ),
        ),
        (
            "electrical",
            _any(
                r"розетк\w*|проводк\w*|щит\w*|электрик\w*|электричеств\w*|автомат\w*|свет|"
                r"ламп\w*|electric\w*|socket\w*|wiring|lights?|svet"
            ),
        ),
        ("roof_facade", _any(r"крыш\w*|кровл\w*|чердак\w*|roof|attic|krysh\w*")),
    )
)


def guess(text: str, *, danger_kind: str | None = None) -> Problem:
    """The problem the text describes; a detected danger decides on its own.

    A long complaint names several things (`дверь не закрывается, … окно разбито, батареи
    холодные`): the first clause that names a problem says what the message is about, so a
    phrase further on cannot turn a door ticket into a glass or a heating one.
    """
    if danger_kind in DANGER_PROBLEMS:
        return PROBLEMS[DANGER_PROBLEMS[danger_kind]]
    for clause in clauses_of(text):
        problem = guess_one(clause)
        if problem.key != "other":
            return problem
    return PROBLEMS["other"]


def clauses_of(text: str) -> list[str]:
    """The text cut at sentence ends and at commas, colons, dashes and brackets: complaints
    list their troubles between commas as often as between full stops."""
    return [c for c in _CLAUSE_END.split(text or "") if c.strip()]


def guess_one(clause: str) -> Problem:
    """The problem one clause names (`other` when none)."""
    normal = words_text(clause)
    for problem, pattern in _RULES:
        if pattern.search(normal):
            return PROBLEMS[problem]
    return PROBLEMS["other"]
