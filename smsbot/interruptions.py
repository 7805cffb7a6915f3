"""Service interruptions (decree 354's word; "outages" of the water, heat, power, gas or a
lift, not of our own Redis or database, which smsbot.outages rides out): what a notice says
is off, what the law allows, and whether a resident's SMS asks about it.

When the water, heating, power, gas or a lift goes off in a building, hundreds of residents
text the dispatcher at once (`нет воды`, `когда дадут горячую воду?`). A notice that carries
what is off and until when answers them by return (handlers.outage), so the dispatcher keeps
time for real problems. The allowed interruptions are decree 354 annex 1 (lifts are no utility
service there: the reference table's one day for a stopped lift applies). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from smsbot.textnorm import words_text

HOT_WATER = "hot_water"
COLD_WATER = "cold_water"
WATER = "water"
"""Hot and cold water both."""
HEATING = "heating"
POWER = "power"
GAS = "gas"
LIFT = "lift"

KINDS = (HOT_WATER, COLD_WATER, WATER, HEATING, POWER, GAS, LIFT)
"""What a notice may say is off, in the order the notice form offers them."""


@dataclass(frozen=True)
class Allowance:
    """The longest interruption the law allows: at once, and added up over a month."""

    at_once: timedelta
    per_month: timedelta | None = None


_H = timedelta(hours=1)
ALLOWED: dict[str, Allowance] = {
    HOT_WATER: Allowance(4 * _H, 8 * _H),
    COLD_WATER: Allowance(4 * _H, 8 * _H),
    WATER: Allowance(4 * _H, 8 * _H),
    # at once 16 h at +12 °C and warmer outside, 8 h at +10…+12, 4 h at +8…+10
    HEATING: Allowance(16 * _H, 24 * _H),
    # 24 h with one supply to the building, 2 h where it has two
    POWER: Allowance(24 * _H),
    GAS: Allowance(4 * _H, 4 * _H),
    LIFT: Allowance(24 * _H),
}
"""Decree 354 annex 1 (DESIGN.md's table); the lift from the reference table of deadlines."""


SERVICES = {WATER: (HOT_WATER, COLD_WATER)}
"""The services an outage stops, where it is more than its own kind: each has its own monthly
allowance (8 h of hot water and 8 h of cold water)."""


@dataclass(frozen=True)
class Overrun:
    """How an announced outage breaks the law: the service, its allowance, and whether it is
    the month's total (else the one outage) that is too long."""

    service: str
    allowed: timedelta
    per_month: bool

    @property
    def allowed_hours(self) -> int:
        return int(self.allowed.total_seconds() // 3600)


def overrun(
    kind: str, length: timedelta, earlier: Iterable[tuple[str, timedelta]]
) -> Overrun | None:
    """Whether an outage of `length` breaks decree 354: longer than allowed at once, or, with
    the same service's `earlier` outages of the month (kind, length), longer than its monthly
    total."""
    if length > ALLOWED[kind].at_once:
        return Overrun(kind, ALLOWED[kind].at_once, per_month=False)
    earlier = list(earlier)
    for service in SERVICES.get(kind, (kind,)):
        allowance = ALLOWED[service].per_month
        if allowance is None:
            continue
        total = length + sum(
            (d for k, d in earlier if service in SERVICES.get(k, (k,))), timedelta(0)
        )
        if total > allowance:
            return Overrun(service, allowance, per_month=True)
    return None


_COVERS = {
    HOT_WATER: frozenset({HOT_WATER, WATER}),
    COLD_WATER: frozenset({COLD_WATER, WATER}),
    WATER: frozenset({HOT_WATER, COLD_WATER, WATER}),
    HEATING: frozenset({HEATING}),
    POWER: frozenset({POWER}),
    GAS: frozenset({GAS}),
    LIFT: frozenset({LIFT}),
}
"""The outages a question about a kind is answered by: `нет воды` by a hot-water notice too,
`нет горячей воды` not by a cold-water one."""

_HOT = r"горяч\w*|гор|hot|goryach\w*"
_COLD = r"холодн\w*|хол|cold|holodn\w*"
_WATER = r"вод\w*|water|vod\w*"
_ASKING = re.compile(
    r"(?<!\S)(?:нет|не|без|отключ\w*|выключ\w*|пропал\w*|дадут|дали|дать|включ\w*|будет|"
    r"появит\w*|когда|почему|сколько|долго|no|not|off|when|why|back|"
    r"net|kogda)(?!\S)"
)
"""Words that make a mention of water or heat a question about its absence."""
_GAP = r"(?: \S+){0,3}"


def _near(a: str, b: str) -> str:
    return rf"(?<!\S)(?:{a}){_GAP} (?:{b})(?!\S)|(?<!\S)(?:{b}){_GAP} (?:{a})(?!\S)"


_COLD_RADIATORS = re.compile(
    _near(r"холодн\w*|ледян\w*|греют|греет|cold", r"батаре\w*|радиатор\w*|radiators?")
)
"""`батареи холодные` asks about the heating without a question word."""


def _any(words: str) -> str:
    return rf"(?<!\S)(?:{words})(?!\S)"


_SUBJECTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (HOT_WATER, _near(_HOT, _WATER) + "|" + _any(r"гвс|gvs")),
        (COLD_WATER, _near(_COLD, _WATER) + "|" + _any(r"хвс|hvs")),
        (WATER, _any(_WATER)),
        (HEATING, _any(r"отоплени\w*|тепл\w*|батаре\w*|радиатор\w*|heating|heat|otoplenie")),
        (POWER, _any(r"свет|света|электричеств\w*|электроэнерги\w*|power|electricity|svet")),
        (GAS, _any(r"газ|газа|газу|gas|gaz|gaza")),
        (LIFT, _any(r"лифт\w*|lift|elevator|lifty")),
    )
)
SHORT_WORDS = 15
"""A question about an outage is short; a longer message is a complaint for a person."""


def asked(text: str) -> str | None:
    """The outage a short message asks about (`нет воды` → water, `когда дадут горячую
    воду?` → hot water), or None: it must name the service and ask after its absence."""
    normal = words_text(text)
    if not normal or len(normal.split(" ")) > SHORT_WORDS:
        return None
    if _COLD_RADIATORS.search(normal):
        return HEATING
    if not _ASKING.search(normal):
        return None
    for kind, pattern in _SUBJECTS:
        if pattern.search(normal):
            return kind
    return None


def answers(notice_kind: str, question_kind: str) -> bool:
    """Whether an outage of `notice_kind` is what a question about `question_kind` is about."""
    return notice_kind in _COVERS[question_kind]


@dataclass(frozen=True)
class Outage:
    """An active outage notice as the inbound batch holds it: whom it concerns and its facts."""

    notice_id: int
    company_id: int
    building_ids: frozenset[int] | None
    """None: every building of the company."""
    kind: str
    starts: datetime
    until: datetime

    def concerns(self, company_id: int | None, building_ids: frozenset[int]) -> bool:
        """Whether a resident with accounts in these buildings of this company lives there."""
        if company_id != self.company_id or not building_ids:
            return False
        return self.building_ids is None or bool(self.building_ids & building_ids)


def find(outages: Iterable[Outage], text: str) -> Outage | None:
    """The outage (of the resident's own buildings) that the text asks about, if any."""
    outages = list(outages)
    if not outages:
        return None
    kind = asked(text)
    if kind is None:
        return None
    fitting = [o for o in outages if answers(o.kind, kind)]
    return max(fitting, key=lambda o: o.notice_id, default=None)
