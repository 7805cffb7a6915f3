"""What residents type, reduced to one comparable form for the parser and danger detection.

Phones send upper case, ё or е, Latin letters that look Cyrillic (and the reverse), `№`,
invisible characters from copy-paste and stray punctuation. Pure: text in, text out.
"""

from __future__ import annotations

import re
import unicodedata

LAT_TO_CYR = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у",
                            "k": "к", "m": "м", "t": "т", "h": "н", "b": "в"})  # fmt: skip
"""Latin letters that look like Cyrillic ones (lower case, as the parser sees them)."""
CYR_TO_LAT = str.maketrans({v: k for k, v in zip("aeopcxykmthb", "аеорсхукмтнв", strict=True)})
"""The same pairs the other way, for English words typed on a Cyrillic keyboard."""

_INVISIBLE = re.compile(
    r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_CYRILLIC = re.compile(r"[а-яё]")
_LATIN = re.compile(r"[a-z]")
_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)?|[^\W\d_]+")
_FOLDABLE_LATIN = frozenset("aeopcxykmthb")
_FOLDABLE_CYRILLIC = frozenset("аеорсхукмтнв")


def prepare(text: str | None) -> str:
    """NFKC (but `№` stays `№`, where NFKC would make it `No`), invisible characters removed;
    case and positions otherwise kept, so a caller can cut the original text at a token."""
    text = "№".join(unicodedata.normalize("NFKC", part) for part in (text or "").split("№"))
    return _INVISIBLE.sub("", text)


def clean(text: str | None) -> str:
    """Prepared, lower case, е for ё, single spaces."""
    return " ".join(prepare(text).lower().replace("ё", "е").split())


def token_spans(prepared: str) -> list[tuple[str, int, int]]:
    """(token, start, end) over prepared text; tokens lower case, е for ё, script-folded."""
    return [
        (fold(m.group().lower().replace("ё", "е")), m.start(), m.end())
        for m in _TOKEN.finditer(prepared)
    ]


def fold(word: str) -> str:
    """One script per word: a word mixing Cyrillic and Latin look-alikes becomes all-Cyrillic
    (or all-Latin when that is the only way to make it one script)."""
    if not (_CYRILLIC.search(word) and _LATIN.search(word)):
        return word
    cyrillic = word.translate(LAT_TO_CYR)
    if not _LATIN.search(cyrillic):
        return cyrillic
    latin = word.translate(CYR_TO_LAT)
    return latin if not _CYRILLIC.search(latin) else cyrillic


def spellings(word: str) -> tuple[str, ...]:
    """The word as typed plus, for an all-look-alike word, its twin in the other script
    (`CTATYC` typed in Latin capitals reads `статус`; `стоп` in Cyrillic reads `stop`)."""
    word = fold(word)
    forms = [word]
    if word and set(word) <= _FOLDABLE_LATIN:
        forms.append(word.translate(LAT_TO_CYR))
    elif word and set(word) <= _FOLDABLE_CYRILLIC:
        forms.append(word.translate(CYR_TO_LAT))
    return tuple(forms)


def tokens(text: str) -> list[str]:
    """Words (letters only, script-folded) and numbers (`123`, `123,4`) of cleaned text."""
    return [fold(t) for t in _TOKEN.findall(text)]


def words_text(text: str) -> str:
    """Cleaned text with punctuation turned into spaces and each word script-folded, for
    phrase patterns that match on word boundaries."""
    return " ".join(tokens(clean(text)))


_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters but tab and line breaks, and lone surrogates (from JSON's \\ud800):
PostgreSQL refuses a NUL in text, UTF-8 cannot encode a lone surrogate, and none of them is
something a resident meant to say."""


def storable(text: str) -> str:
    """`text` without the characters a database cannot hold or a person would not see, so a
    resident's message with a stray NUL is kept (without it) rather than refused or lost."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text
