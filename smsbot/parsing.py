"""What a resident's SMS asks for, decided from its first word, and the arguments after it.

Pure: text in, Command out, never raises. Phones send upper case, ё or е, Latin letters
that look Cyrillic, keywords transliterated on Latin-only phones (`balans`, `zayavka`),
one-letter typos, stray punctuation (`Заявка:`, `статус №1234`) and invisible characters;
none of that may matter. A greeting before the keyword (`Добрый день, баланс`) is skipped.
Opt-out and opt-in words count only as the whole message, as Twilio counts them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from smsbot import danger
from smsbot import meter_rules as mr
from smsbot.deadlines import in_heating_season
from smsbot.textnorm import clean, prepare, spellings, token_spans

INTENTS = (
    "help", "balance", "debt", "ticket", "status", "contacts", "meter", "link", "unlink",
    "language", "stop", "start", "chat",
)  # fmt: skip
"""Every intent a message can have; `chat` is anything that is not a command."""

RUSSIAN_KEYWORDS: dict[str, tuple[str, ...]] = {
    "help": ("помощь", "помогите", "справка", "меню", "команды"),
    "balance": ("баланс", "счет"),
    "debt": ("долг", "долги", "задолженность", "задолженности", "задолжность"),
    "ticket": ("заявка", "заявку", "жалоба", "жалобу", "неисправность"),
    "status": ("статус",),
    "contacts": (
        "телефоны",
        "телефон",
        "номера",
        "контакты",
        "диспетчер",
        "диспетчерская",
        "аварийная",
        "аварийка",
    ),
    "meter": ("показания", "показание", "счетчики", "счетчик"),
    "link": ("привязать", "привязка"),
    "unlink": ("отвязать", "отвязка"),
    "language": ("русский", "английский", "англ"),
}
"""Russian first words (normalised: lower case, е for ё); transliterations are derived."""

ENGLISH_KEYWORDS: dict[str, tuple[str, ...]] = {
    "help": ("help", "menu", "info", "commands"),
    "balance": ("balance", "bill"),
    "debt": ("debt", "debts", "arrears"),
    "ticket": ("ticket", "report", "complaint", "request", "repair"),
    "status": ("status",),
    "contacts": ("contacts", "contact", "phones", "numbers", "dispatcher", "emergency"),
    "meter": ("meter", "meters", "reading", "readings"),
    "link": ("link",),
    "unlink": ("unlink",),
    "language": ("english", "russian", "eng", "rus"),
}

LANGUAGE_WORDS = {"русский": "ru", "russian": "ru", "rus": "ru", "английский": "en", "англ": "en",
                  "english": "en", "eng": "en"}  # fmt: skip
"""Which reply language each language keyword chooses."""

STOP_WORDS = frozenset({"стоп", "отписаться", "отписка", "stop", "stopall", "unsubscribe", "cancel",
                        "end", "quit", "revoke", "optout", "otpisatsya", "otpisatsia"})  # fmt: skip
"""Opt-out words (Twilio's and ours); like Twilio, they count only as the whole message."""
START_WORDS = frozenset({"старт", "подписаться", "start", "unstop", "yes", "podpisatsya"})
"""Opt-in words, also only as the whole message."""

GREETINGS = frozenset({"здравствуйте", "здраствуйте", "здравствуй", "привет", "добрый", "доброе",
                       "доброго", "день", "утро", "вечер", "дня", "утра", "вечера", "hello", "hi",
                       "hey", "good", "morning", "afternoon", "evening", "zdravstvuyte"})  # fmt: skip
"""Words a message may open with before its keyword."""

FUZZY_MIN_LENGTH = 5
"""Keywords this long or longer also match with one typo (Damerau-Levenshtein distance 1)."""

_TRANSLIT: dict[str, tuple[str, ...]] = {
    "а": ("a",), "б": ("b",), "в": ("v",), "г": ("g",), "д": ("d",), "е": ("e",),
    "ж": ("zh", "j", "z"), "з": ("z",), "и": ("i",), "й": ("y", "i", "j", ""), "к": ("k",),
    "л": ("l",), "м": ("m",), "н": ("n",), "о": ("o",), "п": ("p",), "р": ("r",), "с": ("s",),
    "т": ("t",), "у": ("u",), "ф": ("f",), "х": ("h", "kh", "x"), "ц": ("ts", "c", "tz"),
    "ч": ("ch",), "ш": ("sh",), "щ": ("sch", "shch", "sh"), "ъ": ("",), "ы": ("y", "i"),
    "ь": ("",), "э": ("e",), "ю": ("yu", "iu", "ju", "u"), "я": ("ya", "ia", "ja", "a"),
}  # fmt: skip
"""How people on Latin-only phones spell each Cyrillic letter (passport, scholarly, chat)."""


def transliterations(word: str) -> set[str]:
    """Every Latin spelling of a Cyrillic word by the table above."""
    choices = [_TRANSLIT.get(ch, (ch,)) for ch in word]
    return {"".join(parts) for parts in itertools.product(*choices)}


def _keyword_table() -> dict[str, str]:
    """Every accepted spelling → the keyword it spells (a transliteration → its Cyrillic)."""
    table: dict[str, str] = {}
    for words in ENGLISH_KEYWORDS.values():
        table.update((w, w) for w in words)
    for words in RUSSIAN_KEYWORDS.values():
        for word in words:
            table[word] = word
            for latin in transliterations(word):
                table.setdefault(latin, word)
    return table


_INTENT_OF = {
    w: intent
    for table in (ENGLISH_KEYWORDS, RUSSIAN_KEYWORDS)
    for intent, ws in table.items()
    for w in ws
}
SPELLINGS: dict[str, str] = _keyword_table()
"""Every first word that names a command (Russian, English, transliterated) → its keyword."""
KEYWORDS: dict[str, str] = {form: _INTENT_OF[word] for form, word in SPELLINGS.items()}
"""Every first word that names a command → its intent."""
_FUZZY = tuple((form, word) for form, word in SPELLINGS.items() if len(form) >= FUZZY_MIN_LENGTH)


@dataclass(frozen=True)
class Reading:
    """One meter value from a `показания` message; kind None when the resident named none."""

    kind: str | None
    value: Decimal


@dataclass(frozen=True)
class Command:
    """A parsed message: the intent and what followed the keyword."""

    intent: str
    text: str
    args: tuple[str, ...] = field(default_factory=tuple)
    """Words and numbers after the keyword, normalised."""
    rest: str = ""
    """The original text after the keyword (a ticket's description)."""
    emergency: bool = False
    danger: str | None = None
    """The kind of danger (smsbot.danger.KINDS) when `emergency`."""
    account: str | None = None
    """An account: its number (digits) or the short index of the resident's list (`2`)."""
    ticket: int | None = None
    code: str | None = None
    """The code from the bill, for `link`."""
    readings: tuple[Reading, ...] = ()
    unread: tuple[str, ...] = ()
    """Parts of a meter message that could not be read: kinds without a value, values without
    a kind."""
    language: str | None = None
    """`ru` or `en`, for `language`."""


def osa_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), capped at `limit`."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= limit:
            return limit
        previous2, previous = previous, current
    return min(previous[-1], limit)


def keyword(word: str) -> str | None:
    """The keyword a first word spells, allowing look-alike letters and one typo in long
    words (only when the typo cannot be read as two different commands)."""
    forms = spellings(word)
    for form in forms:
        if form in SPELLINGS:
            return SPELLINGS[form]
    for form in forms:
        if len(form) < FUZZY_MIN_LENGTH - 1:
            continue
        near = {kw for candidate, kw in _FUZZY if osa_distance(form, candidate) <= 1}
        if len({_INTENT_OF[kw] for kw in near}) == 1:
            return min(near)
    return None


def keyword_intent(word: str) -> str | None:
    """The intent a first word names, or None."""
    found = keyword(word)
    return _INTENT_OF[found] if found else None


def parse(text: str | None, *, today: date | None = None) -> Command:
    """Decide the intent of an SMS; unknown or empty text is `chat`.

    today: the local date, which decides whether no heating is an emergency (when unknown,
    it is treated as one).
    """
    original = text if isinstance(text, str) else ""
    try:
        return _parse(original, today)
    except Exception:  # noqa: BLE001 - a parser bug must not lose a resident's message
        return Command("chat", original)


def _parse(original: str, today: date | None) -> Command:
    kind = danger.detect(original, heating_season=in_heating_season(today) if today else True)
    alarm = {"emergency": kind is not None, "danger": kind}
    prepared = prepare(original)
    spans = token_spans(prepared)
    words = [t for t, _, _ in spans]
    if not words:
        if clean(original).strip("?¿ ") == "" and "?" in original:
            return Command("help", original)
        return Command("chat", original, **alarm)
    if len(words) == 1 and any(f in STOP_WORDS for f in spellings(words[0])):
        return Command("stop", original)
    if len(words) == 1 and any(f in START_WORDS for f in spellings(words[0])):
        return Command("start", original)
    first = 0
    while first < min(3, len(words) - 1) and words[first] in GREETINGS:
        first += 1
    found = keyword(words[first]) if not words[first].isdigit() else None
    if found is None:
        return Command("chat", original, **alarm)
    intent = _INTENT_OF[found]
    rest = prepared[spans[first][2] :].strip(" \t\r\n:;,.!-—–")
    args = tuple(words[first + 1 :])
    return Command(intent, original, args, rest, **alarm, **_arguments(intent, found, args))


def _arguments(intent: str, word: str, args: tuple[str, ...]) -> dict:
    numbers = [a for a in args if a.isdigit()]
    if intent in ("balance", "debt", "unlink"):
        return {"account": "".join(numbers) or None}
    if intent == "link":
        if len(numbers) >= 2:
            return {"account": "".join(numbers[:-1]), "code": numbers[-1]}
        return {"account": numbers[0] if numbers else None}
    if intent == "status":
        return {"ticket": int(numbers[0]) if numbers and len(numbers[0]) <= 9 else None}
    if intent == "language":
        return {"language": LANGUAGE_WORDS[word]}
    if intent == "meter":
        return _meter_arguments(args)
    return {}


# --- meter readings ----------------------------------------------------------------------------

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


def _meter_arguments(args: tuple[str, ...]) -> dict:
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
