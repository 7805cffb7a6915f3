"""Small wording rules the SMS templates share: plural forms, a company's name as a reply
prints it, opening hours in English. Pure (no I/O), so every rule is tested by table.

By hand rather than Babel/pymorphy: three rules of a few lines each, where a library would
bring a locale database to every worker for the Russian plural and nothing for the rest.
"""

from __future__ import annotations

import re

from smsbot.translit import transliterate

SMS_NAME_MAX = 32
"""A company name longer than this (after shortening) costs a reply a segment: it is left
out of the reply instead."""

_LEGAL_FORMS = re.compile(
    r"^\s*(?:ООО|ОАО|ЗАО|ПАО|АО|МУП|ГУП|МКУ|ГБУ|"
    r"общество с ограниченной ответственностью|акционерное общество)\s+",
    re.IGNORECASE,
)
_MANAGING = re.compile(r"управляющая\s+компания", re.IGNORECASE)
_QUOTED = re.compile(r"^[«\"„“]\s*(.*?)\s*[»\"“”]$")
_DAYS_EN = {
    "пн": "Mon", "вт": "Tue", "ср": "Wed", "чт": "Thu", "пт": "Fri", "сб": "Sat", "вс": "Sun",
    "круглосуточно": "24/7", "ежедневно": "daily", "выходные": "weekends", "без выходных": "daily",
    "перерыв": "break", "обед": "lunch",
}  # fmt: skip
_DAY_WORD = re.compile(r"без выходных|[а-яё]+", re.IGNORECASE)


def plural_ru(count: int, one: str, few: str, many: str) -> str:
    """The Russian form for `count`: 1 услуга, 2 услуги, 5 услуг, 11 услуг, 21 услуга."""
    n = abs(count)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def plural_en(count: int, one: str, many: str) -> str:
    """The English form for `count`: 1 building, 2 buildings, 0 buildings."""
    return one if abs(count) == 1 else many


def counted(count: int, *forms: str) -> str:
    """`count` with its noun in the right form: three forms for Russian, two for English."""
    word = plural_ru(count, *forms) if len(forms) == 3 else plural_en(count, *forms)
    return f"{count} {word}"


def short_name(name: str | None) -> str:
    """A company's name as a reply prints it: no legal form, `Управляющая компания` as УК.

    `ООО «Управляющая компания Солнечный город»` → `УК «Солнечный город»`; `УК «Заречье»`
    stays. Empty when there is no name or the short one is still too long for an SMS.
    """
    if not name:
        return ""
    text = _LEGAL_FORMS.sub("", name.strip())
    quoted = _QUOTED.match(text)
    if quoted and _MANAGING.match(quoted.group(1)):
        text = f"УК «{_MANAGING.sub('', quoted.group(1), count=1).strip()}»"
    else:
        text = _MANAGING.sub("УК", text, count=1)
    text = " ".join(text.split())
    return text if len(text) <= SMS_NAME_MAX else ""


def latin_name(name: str | None) -> str:
    """A company's short name for an English reply: `УК «Заречье»` → `MC "Zareche"`.

    Transliterated УК would read `UK`, the United Kingdom; MC is what English texts call a
    managing company.
    """
    short = short_name(name)
    if short.startswith("УК "):
        short = "MC " + short[3:]
    return transliterate(short)


def hours_en(hours: str | None) -> str:
    """Opening hours written in Russian, for an English reply: `пн–пт 08:00–20:00` →
    `Mon-Fri 08:00-20:00` (transliterated, `pn-pt` means nothing to an English reader)."""
    if not hours:
        return ""
    english = _DAY_WORD.sub(lambda m: _DAYS_EN.get(m.group(0).lower(), m.group(0)), hours)
    return transliterate(english)
