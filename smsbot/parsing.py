"""What a resident's SMS asks for, decided from its first word.

Pure: text in, Command out, never raises. Phones send upper case, ё or е, Latin letters
that look Cyrillic, stray punctuation and invisible characters; all of that must not matter.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

INTENTS = (
    "help", "balance", "debt", "ticket", "status", "contacts", "meter", "link", "unlink",
    "language", "stop", "start", "chat",
)  # fmt: skip
"""Every intent a message can have; `chat` is anything that is not a command."""

KEYWORDS: dict[str, str] = {
    # help
    "помощь": "help", "справка": "help", "меню": "help", "?": "help",
    "help": "help", "menu": "help", "info": "help",
    # balance / debt
    "баланс": "balance", "счет": "balance", "balance": "balance",
    "долг": "debt", "задолженность": "debt", "debt": "debt",
    # tickets
    "заявка": "ticket", "жалоба": "ticket", "ticket": "ticket", "report": "ticket",
    "статус": "status", "status": "status",
    # numbers
    "телефоны": "contacts", "контакты": "contacts", "диспетчер": "contacts",
    "аварийная": "contacts", "contacts": "contacts", "phones": "contacts",
    # meters, accounts, language
    "показания": "meter", "meter": "meter",
    "привязать": "link", "link": "link", "отвязать": "unlink", "unlink": "unlink",
    "русский": "language", "english": "language", "russian": "language",
}  # fmt: skip
"""First words that name a command (already normalised: lower case, е for ё)."""

STOP_WORDS = frozenset({"стоп", "отписаться", "stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
"""Opt-out words; like Twilio, they count only as the whole message."""
START_WORDS = frozenset({"старт", "start", "unstop", "yes"})
"""Opt-in words, also only as the whole message."""

LOOKALIKES = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у",
                            "k": "к", "m": "м", "t": "т", "h": "н", "b": "в", "ё": "е"})  # fmt: skip
"""Latin letters that look Cyrillic, applied only to words already mixing both scripts."""

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_WORD = re.compile(r"[^\W_]+|\?", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]")
_LATIN = re.compile(r"[a-z]")


@dataclass(frozen=True)
class Command:
    """A parsed message: the intent and what followed the keyword."""

    intent: str
    text: str
    args: tuple[str, ...] = field(default_factory=tuple)
    rest: str = ""
    emergency: bool = False


def clean(text: str) -> str:
    """Normalise for matching: NFKC, no invisible characters, lower case, е for ё."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _INVISIBLE.sub("", text)
    return text.lower().replace("ё", "е").strip()


def _fold_word(word: str) -> str:
    if _CYRILLIC.search(word) and _LATIN.search(word):
        return word.translate(LOOKALIKES)
    return word


def parse(text: str) -> Command:
    """Decide the intent of an SMS; unknown or empty text is `chat`."""
    original = text or ""
    cleaned = clean(original)
    words = [_fold_word(w) for w in _WORD.findall(cleaned)]
    if not words:
        return Command("chat", original)
    if len(words) == 1 and words[0] in STOP_WORDS:
        return Command("stop", original)
    if len(words) == 1 and words[0] in START_WORDS:
        return Command("start", original)
    intent = KEYWORDS.get(words[0])
    if intent is None:
        return Command("chat", original)
    first = re.search(r"[^\W_]+|\?", unicodedata.normalize("NFKC", _INVISIBLE.sub("", original)))
    rest = original[first.end():].strip(" \t\n:;,.-—") if first else ""
    return Command(intent, original, tuple(words[1:]), rest)
