"""What a resident's SMS asks for, and the arguments after the command word.

Pure: text in, Command out, never raises. Phones send upper case, ё or е, Latin letters
that look Cyrillic, keywords transliterated on Latin-only phones (`balans`, `zayavka`),
one-letter typos, stray punctuation (`Заявка:`, `статус №1234`) and invisible characters;
none of that may matter. Greetings and politeness around the request are cut off
(`Здравствуйте! Подскажите баланс пожалуйста`, see smsbot.phrasing). Usually the first word
decides; a short request may also be a question (`сколько я должен?`) or readings with no
keyword (`хвс 123 гвс 45`), but only when every word fits it, so a command word used in
passing (`Стоп! Я не то отправил`, `Счёт пришёл неправильный`) leaves the message to a
person. Opt-out and opt-in words count only as the whole request, as Twilio counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from smsbot import danger, phrasing
from smsbot.deadlines import in_heating_season
from smsbot.readings import Reading, bare_readings, meter_arguments
from smsbot.textnorm import clean, prepare, spellings, token_spans
from smsbot.translit import latin_spellings

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
        "тел",
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
    "contacts": ("contacts", "contact", "phones", "phone", "numbers", "dispatcher", "emergency"),
    "meter": ("meter", "meters", "reading", "readings"),
    "link": ("link",),
    "unlink": ("unlink",),
    "language": ("english", "russian", "eng", "rus"),
}

LANGUAGE_WORDS = {"русский": "ru", "russian": "ru", "rus": "ru", "английский": "en", "англ": "en",
                  "english": "en", "eng": "en", "русском": "ru", "русски": "ru", "английском": "en",
                  "английски": "en"}  # fmt: skip
"""Which reply language each language keyword (or question word: `на английском`) chooses."""

STOP_WORDS = frozenset({"стоп", "отписаться", "отписка", "stop", "stopall", "unsubscribe", "cancel",
                        "end", "quit", "revoke", "optout", "otpisatsya", "otpisatsia"})  # fmt: skip
"""Opt-out words (Twilio's and ours); like Twilio, they count only as the whole message."""
START_WORDS = frozenset({"старт", "подписаться", "start", "unstop", "yes", "podpisatsya"})
"""Opt-in words, also only as the whole message."""

NO_TEXT_INTENTS = frozenset({"balance", "debt", "help", "contacts", "language"})
"""Commands that take no free text: two words beyond their frame in the keyword's sentence mean
the word was used in passing (`Счёт пришёл неправильный`, `Долг не списался после оплаты`)."""
WITHOUT_NUMBERS = frozenset({"help", "contacts", "language"})
"""Commands that take no number either, so a number beside them is something else, and whose
words are also how people address or call out (`Диспетчер, перезвоните мне`, `Помогите!`):
one word beyond their frame is enough to leave the message to a person."""
PHRASED_INTENTS = frozenset({"balance", "debt", "status", "contacts", "help", "language", "meter"})
"""What a short question may ask without its keyword first (a ticket needs its word first:
its text is free, so no frame can tell it from a complaint to a person)."""
SHORT_REQUEST = 8
"""Most words (greetings and politeness aside) of a request whose keyword is not first."""
SHORT_READINGS = 24
"""Most words of meter readings sent with no keyword (`хвс 123 гвс 45 т1 1234 т2 567`)."""
SENTENCE_ENDS = frozenset("!?;\n")
"""Characters that end the sentence a keyword opens (`Баланс? И ещё …`); a full stop ends it
only before a capital letter (`по кв. 45` goes on)."""

FUZZY_MIN_LENGTH = 5
"""Keywords this long or longer also match with one typo (Damerau-Levenshtein distance 1)."""


def _keyword_table() -> dict[str, str]:
    """Every accepted spelling → the keyword it spells (a transliteration → its Cyrillic)."""
    table: dict[str, str] = {}
    for words in ENGLISH_KEYWORDS.values():
        table.update((w, w) for w in words)
    for words in RUSSIAN_KEYWORDS.values():
        for word in words:
            table[word] = word
            for latin in latin_spellings(word):
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
ENGLISH_FORMS = frozenset(
    {w for words in ENGLISH_KEYWORDS.values() for w in words}
    | {w for w in STOP_WORDS | START_WORDS if w.isascii() and w not in ("otpisatsya", "otpisatsia",
                                                                       "podpisatsya")}
    | {"owe", "owed", "pay", "due", "overpaid", "overpayment", "tickets", "request", "phone",
       "call"}
)  # fmt: skip
"""Words that mark a request as written in English."""
_FUZZY = tuple((form, word) for form, word in SPELLINGS.items() if len(form) >= FUZZY_MIN_LENGTH)


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
    """`ru` or `en`, for `language`: the language chosen."""
    written_in: str | None = None
    """`ru` or `en`: the language a command is written in (by its keyword; transliterated
    Russian is Russian), for replying in kind. Chat is `en` only when plainly English (an
    alarm in English is answered in English), else None: the resident's language."""


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
        if len({_INTENT_OF[kw] for kw in near}) == 1:  # Russian wins a tie: `balanse`
            return min(near, key=lambda kw: (kw in ENGLISH_FORMS, kw))
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
    start, end, asked = phrasing.request_span(words)
    if end - start == 1:
        forms = spellings(words[start])
        for intent, table in (("stop", STOP_WORDS), ("start", START_WORDS)):
            if any(f in table for f in forms):
                return Command(intent, original, written_in=_typed_in(words[start]))
    found = None
    if start < end and not words[start].isdigit():
        found = keyword(words[start])
    command = None
    if found is not None:
        command = _keyword_first(original, prepared, spans, start, end, found, asked, alarm)
    if command is None and start < end:
        command = _phrased(original, words[start:end], alarm)
    written_in = "en" if phrasing.english_text(words) else None
    return command or Command("chat", original, written_in=written_in, **alarm)


def _typed_in(word: str) -> str:
    """`en` for a word typed in English, `ru` for Russian (in either script)."""
    return "en" if word in ENGLISH_FORMS else "ru"


def _keyword_first(
    original: str,
    prepared: str,
    spans: list[tuple[str, int, int]],
    first: int,
    end: int,
    found: str,
    asked: bool,
    alarm: dict,
) -> Command | None:
    """The command a message opens with (after greetings), unless what follows shows the
    word was used in passing (`Счёт пришёл неправильный`); None then."""
    words = [t for t, _, _ in spans]
    intent = _INTENT_OF[found]
    rest = prepared[spans[first][2] :].strip(" \t\r\n:;,.!-—–")
    if not any(ch.isalnum() for ch in rest):
        rest = ""  # `Заявка?` asks what is wrong; `?` is no description to file
    args = tuple(words[first + 1 :])
    tail = words[first + 1 : end]
    written_in = "en" if found in ENGLISH_FORMS else "ru"
    if intent in NO_TEXT_INTENTS:
        clause = tail[: _clause_length(prepared, spans, first)]
        bare = intent in WITHOUT_NUMBERS
        if phrasing.unframed(clause, intent, numbers_count=bare) >= (1 if bare else 2):
            return None
    elif intent == "ticket" and _asks_status(tail):
        return Command(
            "status", original, args, rest, written_in=written_in, **alarm,
            **_arguments("status", found, args),
        )  # fmt: skip
    extra = _arguments(intent, found, args)
    idle = intent == "meter" and not extra["readings"] and not extra["unread"]
    if idle and phrasing.unframed(tail, "meter") >= (1 if asked else 2):
        return None  # `счётчик сломался, что делать?` is about the meter, not readings
    return Command(intent, original, args, rest, written_in=written_in, **alarm, **extra)


def _clause_length(prepared: str, spans: list[tuple[str, int, int]], first: int) -> int:
    """How many words follow word `first` before the sentence ends (`баланс? и …` → 0)."""
    count = 0
    for (_, _, previous_end), (_, next_start, _) in zip(
        spans[first:], spans[first + 1 :], strict=False
    ):
        gap = prepared[previous_end:next_start]
        if any(ch in SENTENCE_ENDS for ch in gap) or (
            "." in gap and prepared[next_start].isupper()
        ):
            break
        count += 1
    return count


STATUS_FRAME = phrasing.FILLER_ANY | phrasing.FRAMES_ANY["status"]
"""Words beside a ticket's number that still only ask about it (`заявка 12 что с ней`)."""


def _asks_status(tail: list[str]) -> bool:
    """`заявка 1234 статус`, `заявка №1234?`: a ticket's number and nothing to file."""
    if not any(w.isdigit() for w in tail):
        return False
    return all(
        w.isdigit() or _named(w)[0] in ("status", "ticket") or w in STATUS_FRAME for w in tail
    )


def _named(word: str) -> tuple[str | None, str | None]:
    """(intent, keyword) a word names exactly: a command word or a question word."""
    for form in spellings(word):
        if form in SPELLINGS:
            return _INTENT_OF[SPELLINGS[form]], SPELLINGS[form]
        if form in phrasing.QUESTION_ANY:
            return phrasing.QUESTION_ANY[form], form
    return None, None


def _phrased(original: str, core: list[str], alarm: dict) -> Command | None:
    """A short request whose command word is not first (`сколько я должен?`, `какой статус
    заявки 12`) or that has none (`хвс 123 гвс 45`); None unless every word fits it."""
    if len(core) <= SHORT_READINGS:
        found = bare_readings(core)
        if found is not None:
            return Command("meter", original, tuple(core), **alarm, **found)
    if len(core) > SHORT_REQUEST:
        return None
    named: dict[str, str] = {}
    others: list[str] = []
    english = False
    for word in core:
        intent, found = _named(word)
        if intent is None:
            others.append(word)
            continue
        named.setdefault(intent, found)
        english = english or word in ENGLISH_FORMS
    intents = set(named)
    if not intents:
        return None
    if intents <= {"ticket", "status"}:
        intent = "status"
    elif intents == {"balance", "debt"}:
        intent = "debt"
    elif len(intents) == 1:
        intent = intents.pop()
    else:
        return None
    if intent not in PHRASED_INTENTS:
        return None
    if phrasing.unframed(others, intent, numbers_count=intent in WITHOUT_NUMBERS):
        return None
    args = tuple(others)
    word = named.get(intent, "")
    return Command(
        intent, original, args, written_in="en" if english else "ru", **alarm,
        **_arguments(intent, word, args),
    )  # fmt: skip


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
        return meter_arguments(args)
    return {}
