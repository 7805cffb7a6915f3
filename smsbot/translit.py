"""Russian text in Latin letters, for companies that pay for GSM-7 segments (160 vs 70).

Passport-style (ICAO 9303, as Russian passports since 2014) with readable choices for
SMS: `щ`→`shch`, `ы`→`y`, `ь`/`ъ` dropped, `₽`→`rub`.
"""

from __future__ import annotations

_TABLE = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu",
    "я": "ia", "№": "N", "₽": "rub", "«": '"', "»": '"', "—": "-", "–": "-", "…": "...",
    "\u00a0": " ",
}  # fmt: skip


def transliterate(text: str) -> str:
    """Latin rendering of `text`. A capital becomes a capital (`Щ` → `Shch`), and a capital
    inside a word in capitals stays all capitals (`ЗАЯВКА` → `ZAIAVKA`, not `ZAIaVKA`)."""
    out = []
    for i, ch in enumerate(text):
        low = ch.lower()
        rep = _TABLE.get(low)
        if rep is None:
            out.append(ch)
        elif ch != low and rep:
            shouting = _capital(text, i - 1) or _capital(text, i + 1)
            out.append(rep.upper() if shouting else rep[0].upper() + rep[1:])
        else:
            out.append(rep)
    return "".join(out)


def _capital(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isupper()
