"""Does a message speak of danger to life or property? Gas, fire, flooding, sparking wiring,
a person stuck in a lift, no heating in the cold season.

Such a message gets the emergency numbers back at once, whatever its first word, so a
miss is worse than a false alarm, but a false alarm on every `газон` would teach people to
ignore us. Rules therefore match whole words (stems with their endings, never bare letters
inside other words) in phrases: `пахнет газом`, `запах газа`, `утечка газа` raise the alarm;
`газон`, `газета`, `газовую трубу покрасить`, `показания газ 123` do not. A negation right
before the phrase (`газом не пахнет`, `не горит свет`) cancels it. The two halves of a phrase
must stand in one sentence: `ключа нет. Отопление в порядке` is no heating emergency. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smsbot.textnorm import words_text

GAS = "gas"
FIRE = "fire"
FLOOD = "flood"
ELECTRIC = "electric"
LIFT = "lift"
HEATING = "heating"

KINDS = (GAS, FIRE, FLOOD, ELECTRIC, LIFT, HEATING)
"""In order of precedence: a message about gas and water is a gas emergency first."""
NAMES = {
    GAS: "gas",
    FIRE: "fire",
    FLOOD: "flooding",
    ELECTRIC: "sparking wiring",
    LIFT: "person in a lift",
    HEATING: "no heating",
}
"""Each kind as staff read it (English ids; the web interface translates them)."""

NEGATIONS = frozenset({"не", "нет", "без", "no", "not", "ne", "net", "without", "never"})
"""A word that turns a phrase into its opposite when it comes right before (or inside) it."""

_GAP = r"(?: \S+){0,3}"  # up to three words between the two halves of a phrase


def _either(a: str, b: str) -> str:
    """`a … b` or `b … a`, whole words, at most three words apart."""
    return rf"(?<!\S)(?:{a}){_GAP} (?:{b})(?!\S)|(?<!\S)(?:{b}){_GAP} (?:{a})(?!\S)"


def _word(stems: str) -> str:
    return rf"(?<!\S)(?:{stems})(?!\S)"


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    negatable: bool = True
    spoiled_by: re.Pattern[str] | None = None
    """Words next to the match (two before, two after) that mean something harmless."""


def _rule(
    kind: str, pattern: str, *, negatable: bool = True, spoiled_by: str | None = None
) -> _Rule:
    return _Rule(
        kind, re.compile(pattern), negatable, re.compile(_word(spoiled_by)) if spoiled_by else None
    )


_SMELL = (r"запах\w*|пахн\w*|пахло|воня\w*|вонь|вонищ\w*|утечк\w*|утека\w*|чувству\w*|травит|"
          r"шипит|smell\w*|leak\w*|stink\w*|zapah\w*|pahn\w*|utechk\w*|vonia\w*|vonya\w*")  # fmt: skip
_GAS_WORD = r"газ|газа|газу|газом|газе|газов\w*|gas|gaz|gaza|gazom|gazu"
_PIPES = r"потол\w*|стояк\w*|батаре\w*|радиатор\w*|полотенцесуш\w*|ceiling|riser|radiator\w*"
_POUR = r"теч\w*|льет\w*|льют|льется|хлещ\w*|бежит|бьет|leak\w*|pour\w*|gush\w*|techet|lyet|let"
_BURST = r"прорва\w*|прорыв\w*|лопну\w*|сорва\w*|разорва\w*|burst\w*|prorva\w*"
_PIPE = r"труб\w*|стояк\w*|батаре\w*|радиатор\w*|шланг\w*|кран\w*|pipe\w*|radiator\w*|truba|trubu"
_HEAT = r"отоплени\w*|тепла|heating|otopleni\w*"
_RADIATORS = r"батаре\w*|радиатор\w*|radiators?|batare\w*"
_COMMON_AREAS = (
    r"площадк\w*|лестниц\w*|тамбур\w*|холл\w*|коридор\w*|подвал\w*|чердак\w*|"
    r"stair\w*|landing|hallway|basement|ploschadk\w*"
)
"""Radiators there are cold: a heating fault of the common areas, while the flats are warm."""
_SENTENCE_END = re.compile(r"[.!?;\n]+")

_RULES = (
    _rule(GAS, _either(_SMELL, _GAS_WORD)),
    _rule(
        FIRE,
        _word(
            r"пожар|пожара|пожаре|пожаром|возгоран\w*|загорел\w*|загорает\w*|горим|горит|горят|"
            r"задымл\w*|задымил\w*|дым|дыма|дыму|дымом|дымит\w*|дымок|гарью|гарь|пламя|пламени|огонь|"
            r"огня|fire|smoke|burning|flames?|pozhar|gorit|dym|zadymlenie"
        ),
        spoiled_by=r"свет|лампа|лампочк\w*|фонар\w*|светильник\w*|индикатор\w*|табачн\w*|сигарет\w*|"
        r"курят|курит|курение|кальян\w*|detector|alarm|exit|escape|door|extinguisher|"
        r"hydrant|сигнализац\w*|датчик\w*|выход|срок",
    ),
    _rule(
        FLOOD,
        _word(
            r"затопил\w*|затоплен\w*|затапл\w*|затопля\w*|потоп|потопа|потопом|хлещет|хлещут|"
            r"залива\w*|залило|залили|залил|flood\w*|zatopil\w*|potop"
        )
        + "|"
        + _either(_BURST, _PIPE)
        + "|"
        + _either(_POUR, _PIPES)
        + "|"
        + _either(r"нас|соседи|сверху", r"топят")
        + "|"
        + _either(r"water", r"everywhere|pouring|gushing"),
    ),
    _rule(
        ELECTRIC,
        _word(
            r"искрит\w*|искрят|искра|искры|искрами|коротит|коротнул\w*|замыкани\w*|spark\w*|"
            r"iskrit\w*"
        )
        + "|"
        + _either(r"оголен\w*|голые|exposed|bare|live", r"провод\w*|wires?|cables?")
        + "|"
        + _either(r"бьет|бьется|ударил\w*|shock\w*", r"током|electric\w*")
        + "|"
        + _either(r"short", r"circuit"),
    ),
    _rule(
        LIFT, _either(r"застр\w*|заперт\w*|stuck|trapped|zastr\w*", r"лифт\w*|lift|elevator|lifte")
    ),
    _rule(
        HEATING,
        _either(r"нет|отключил\w*|отключен\w*|не работает|не дают|не включил\w*|no|off|net", _HEAT)
        + "|"
        + _word(r"не топят|no heat"),
        negatable=False,
    ),
    _rule(
        HEATING,
        _either(r"не греют|не греет|холодн\w*|ледян\w*|cold|не топят", _RADIATORS),
        negatable=False,
        spoiled_by=_COMMON_AREAS,
    ),
)


def _spoiled(rule: _Rule, words: list[str], start: int, end: int) -> bool:
    before = words[max(0, start - 2) : start]
    span = words[start:end]
    if rule.negatable and (before[-1:] and before[-1] in NEGATIONS or NEGATIONS.intersection(span)):
        return True
    if rule.spoiled_by is None:
        return False
    near = " ".join(before + span + words[end : end + 2])
    return bool(rule.spoiled_by.search(near)) or (rule.kind == FIRE and _smoking(words))


def _smoking(words: list[str]) -> bool:
    """Smoke from neighbours' cigarettes is a complaint, not a fire."""
    return any(w.startswith(("кур", "сигарет", "табак", "smoking", "cigarette")) for w in words)


def detect(text: str, *, heating_season: bool = True) -> str | None:
    """The kind of danger the text speaks of, or None.

    `heating_season`: whether no heating is dangerous now (the caller knows the date; when
    it does not, the safe answer is yes).
    """
    sentences = [s for s in map(words_text, sentences_of(text)) if s]
    for rule in _RULES:
        if rule.kind == HEATING and not heating_season:
            continue
        if any(_matches(rule, normal) for normal in sentences):
            return rule.kind
    return None


def sentences_of(text: str) -> list[str]:
    """The text cut at sentence ends (. ! ? ; and line breaks), empty pieces dropped."""
    return [s for s in _SENTENCE_END.split(text or "") if s.strip()]


def _matches(rule: _Rule, normal: str) -> bool:
    words = normal.split(" ")
    offsets = [0]
    for w in words[:-1]:
        offsets.append(offsets[-1] + len(w) + 1)
    for match in rule.pattern.finditer(normal):
        start = offsets.index(match.start()) if match.start() in offsets else 0
        end = start + len(match.group().split(" "))
        if not _spoiled(rule, words, start, end):
            return True
    return False
