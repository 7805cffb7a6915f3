"""Meter readings as residents type them: `хвс 123,4 гвс 45`, `т1 1234 т2 567`, `х.в. 123`,
`эл-во 3456`, with or without the `показания` keyword. Pure: words in, readings out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from smsbot import meter_rules as mr
from smsbot import phrasing


@dataclass(frozen=True)
class Reading:
    """One meter value from a `показания` message; kind None when the resident named none."""

    kind: str | None
    value: Decimal


METER_WORDS: dict[str, str] = {
    **dict.fromkeys(("хвс", "хв", "хол", "холодная", "холодной", "холод", "хвод", "cold", "cw", "hvs",
                     "khvs", "xvs", "holodnaya"), mr.COLD),
    **dict.fromkeys(("гвс", "гв", "гор", "горячая", "горячей", "горяч", "гвод", "hot", "hw", "gvs",
                     "goryachaya"), mr.HOT),
    **dict.fromkeys(("эл", "элек", "электр", "электричество", "электроэнергия", "электроэнергии", "свет",
                     "ээ", "el", "elec", "electricity", "electro", "power", "svet"), mr.ELECTRICITY),
    **dict.fromkeys(("день", "дневной", "дневная", "дн", "day", "den"), mr.DAY),
    **dict.fromkeys(("ночь", "ночной", "ночная", "ноч", "night", "noch"), mr.NIGHT),
    **dict.fromkeys(("отопление", "отоп", "отопл", "тепло", "теплоэнергия", "heating", "heat",
                     "otoplenie"), mr.HEAT),
    **dict.fromkeys(("газ", "gas", "gaz"), mr.GAS),
}  # fmt: skip
"""Words residents use for each meter kind (`т1`/`т2` and `х/в`, `г/в` are handled as pairs)."""
METER_PREFIXES = (
    ("холодн", mr.COLD),
    ("горяч", mr.HOT),
    ("электр", mr.ELECTRICITY),
    ("отопл", mr.HEAT),
)
_PAIRS = {("т", "1"): mr.DAY, ("т", "2"): mr.NIGHT, ("t", "1"): mr.DAY, ("t", "2"): mr.NIGHT,
          ("х", "в"): mr.COLD, ("г", "в"): mr.HOT}  # fmt: skip
_UNITS = frozenset({"м", "m", "куб", "кубов", "кубометров", "кубометра", "квт", "ч", "квтч", "kwh", "kw",
                    "h", "гкал", "gcal", "л", "литр", "литров"})  # fmt: skip


ENGLISH_METER_WORDS = frozenset({"cold", "cw", "hot", "hw", "elec", "electricity", "electro", "power",
                                 "day", "night", "heating", "heat", "gas"})  # fmt: skip
"""Meter words that mark readings sent with no keyword as written in English."""
_PAIR_LETTERS = frozenset(letter for pair in _PAIRS for letter in pair)
_METER_FRAME = phrasing.FRAMES_ANY["meter"]


def bare_readings(core: list[str]) -> dict | None:
    """Meter readings with no keyword (`хвс 123 гвс 45`, `т1 1234 т2 567`): the arguments of a
    meter command when every word is a meter word, a unit or a value and at least one value
    has its kind; None otherwise (`горячей воды нет 3 дня`)."""
    for word in core:
        if word[:1].isdigit() or word in _UNITS or word in _PAIR_LETTERS or word in _METER_FRAME:
            continue
        if _meter_kind(word) is None:
            return None
    found = meter_arguments(tuple(core))
    if found["account"] is not None or not any(r.kind for r in found["readings"]):
        return None
    english = any(w in ENGLISH_METER_WORDS for w in core) and all(w.isascii() for w in core)
    return {**found, "written_in": "en" if english else "ru"}


def _meter_kind(word: str) -> str | None:
    if word in METER_WORDS:
        return METER_WORDS[word]
    return next((kind for prefix, kind in METER_PREFIXES if word.startswith(prefix)), None)


def _decimal(token: str) -> Decimal | None:
    try:
        value = Decimal(token.replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def meter_arguments(args: tuple[str, ...]) -> dict:
    """`[<account>] <kind> <value> [<kind> <value> …]`, or a lone value for a single meter."""
    readings: list[Reading] = []
    unread: list[str] = []
    account: str | None = None
    pending: str | None = None
    seen_kind = False
    loose: list[str] = []
    i = 0
    while i < len(args):
        token, following = args[i], args[i + 1] if i + 1 < len(args) else ""
        kind = _PAIRS.get((token, following))
        i += 2 if kind is not None else 1
        kind = kind or _meter_kind(token)
        if kind is not None:
            if pending is not None:
                unread.append(pending)
            pending, seen_kind = kind, True
            continue
        if token in _UNITS:
            if following == "3":  # м3: the 3 is part of the unit
                i += 1
            continue
        value = _decimal(token) if token[:1].isdigit() else None
        if value is None:
            continue
        if pending is not None:
            readings.append(Reading(pending, value))
            pending = None
        elif not seen_kind and token.isdigit() and account is None and not loose:
            account = token
        else:
            loose.append(token)
    if pending is not None:
        unread.append(pending)
    if not seen_kind:
        if account is not None and not loose:
            account, loose = None, [account]
        if len(loose) == 1:
            readings.append(Reading(None, _decimal(loose.pop())))
    unread.extend(loose)
    return {"account": account, "readings": tuple(readings), "unread": tuple(unread)}
