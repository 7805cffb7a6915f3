"""The web interface's words: English message ids, Russian translations in one dictionary.

Russian is the default; a user picks English with the switch in the page header (stored on
the user, and in the session before sign-in). Translated strings are plain `str`, so Jinja
escapes whatever they carry; nothing here ever marks text as safe HTML.
"""

from __future__ import annotations

from flask import has_request_context, session

from smsbot.web.translations import RU, RU_PLURALS

LANGUAGES = {"ru": "Русский", "en": "English"}
DEFAULT_LANGUAGE = "ru"


def current_language() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    from flask_login import current_user

    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.language in LANGUAGES:
        return current_user.language
    return DEFAULT_LANGUAGE


def gettext(msgid: str, **params: object) -> str:
    """The text in the current language, with `{name}` fields filled in."""
    text = RU.get(msgid, msgid) if current_language() == "ru" else msgid
    return text.format(**params) if params else text


def ngettext(count: int, singular: str, plural: str, **params: object) -> str:
    """A count with its noun: `1 message`, `5 messages`; Russian has three forms."""
    if current_language() == "ru" and singular in RU_PLURALS:
        one, few, many = RU_PLURALS[singular]
        n = abs(count)
        if n % 10 == 1 and n % 100 != 11:
            text = one
        elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            text = few
        else:
            text = many
    else:
        text = singular if count == 1 else plural
    return text.format(n=count, **params)


def decimal(value: float, places: int = 1) -> str:
    """A number as the reader writes it: `7,9` in Russian (the decimal comma), `7.9` in English."""
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if current_language() == "ru" else text


def csv_dialect() -> tuple[str, str]:
    """(field separator, decimal mark) a spreadsheet in the reader's locale expects: Russian
    Excel splits on `;` and reads `30,6` as a number (with `,` it shows one column)."""
    return (";", ",") if current_language() == "ru" else (",", ".")
