"""Turn the many ways Russians write a phone number into one canonical E.164 string.

Why this exists: a resident is identified by their phone number. Twilio delivers ``From`` as
E.164 (``+79851234567``), but the managing company's spreadsheets, admin forms and residents
themselves write ``8 (985) 123-45-67``, ``+7 985 123 45 67``, ``89851234567``, ``9851234567``
or even ``810 7 985 ...`` (the old Russian international prefix). Unless every number is
normalised the same way before it is stored or compared, the same flat ends up with several
"different" residents and replies go to the wrong person.

Policy (checked against ``shared/testdata/phones_ru.json``, whose expectations come from
libphonenumber, i.e. the ``phonenumbers`` package used here):

* ``normalize`` parses with a default region (``RU``), so a leading national prefix ``8`` and bare
  10-digit numbers work, and returns E.164 for every number libphonenumber considers *valid*.
  Anything else raises :class:`InvalidPhone` with a short English reason.
* Valid numbers of other countries are accepted: Kazakhstan shares country code +7
  (``+7 701 ...`` is a valid KZ mobile) and residents may have Belarusian or other SIMs. Callers
  that need a Russian number specifically can check the prefix or use ``phonenumbers`` region
  lookup themselves; this module does not silently reject owners of foreign SIMs.
* ``00`` is not an international prefix in Russia (``810`` is), so ``007 985 ...`` is invalid,
  exactly as libphonenumber says.
* An extension (``доб. 100``, ``ext 100``) is dropped: E.164 has no extensions and SMS cannot
  reach one anyway.
* Letters are mapped to keypad digits by libphonenumber (``ABC`` -> ``222``), so
  ``+7 985 ABC-45-67`` normalises to ``+79852224567``. The vectors expect this; it is unusual in
  Russia, so UI code that collects numbers from people may want to reject letters up front.
* Error messages never contain the input: they end up in logs, and the input is personal data.

``mask`` exists for the same reason: logs should let an operator recognise a number
(``+7985***4567``) without storing it in full.
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

__all__ = ["InvalidPhone", "is_e164", "mask", "normalize"]

# Nobody types a phone number longer than this; refusing early bounds the parser's work on junk.
MAX_INPUT_LENGTH: Final = 100

# ASCII digits only: ``\d`` would also accept Arabic-Indic and other Unicode digits.
_E164_RE: Final = re.compile(r"\+[1-9][0-9]{6,14}")

_PARSE_REASONS: Final[dict[int, str]] = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}

_POSSIBILITY_REASONS: Final[dict[int, str]] = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong number of digits",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "incomplete number (area code missing?)",
}


class InvalidPhone(ValueError):
    """The input is not a usable phone number. ``reason`` is short, English and PII-free."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize(raw: str, region: str = "RU") -> str:
    """Return ``raw`` as E.164 (``+79851234567``) or raise :class:`InvalidPhone`.

    ``region`` is the ISO 3166 code used for numbers written without a country code.
    """
    if not isinstance(raw, str):
        raise InvalidPhone("not a phone number")
    text = raw.strip()
    if not text:
        raise InvalidPhone("empty")
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhone("too long")
    if not isinstance(region, str):
        raise InvalidPhone("unknown region")
    try:
        number = phonenumbers.parse(text, region.upper())
    except NumberParseException as exc:
        raise InvalidPhone(_PARSE_REASONS.get(exc.error_type, "not a phone number")) from None
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility != ValidationResult.IS_POSSIBLE:
        raise InvalidPhone(_POSSIBILITY_REASONS.get(possibility, "not a valid number"))
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_e164(s: str) -> bool:
    """Strict syntactic check: ``+``, a non-zero digit, 7 to 15 digits in all, nothing else.

    It says nothing about whether the number exists; use :func:`normalize` for that.
    """
    return isinstance(s, str) and _E164_RE.fullmatch(s) is not None


def mask(e164: str) -> str:
    """Hide the middle of a phone number for logs: ``+79851234567`` -> ``+7985***4567``.

    At least three digits are always hidden (all but eight for long inputs), so the full number
    is never revealed, whatever is passed in. Non-digit characters other than a leading ``+``
    are dropped. Never raises.
    """
    if not isinstance(e164, str):
        return "***"
    text = e164.strip()
    if not text:
        return ""
    plus = "+" if text.startswith("+") else ""
    digits = "".join(c for c in text if "0" <= c <= "9")
    n = len(digits)
    if n == 0:
        return "***"
    hidden = min(n, max(3, n - 8))
    visible = n - hidden
    tail = min(4, visible - visible // 2)
    head = visible - tail
    return f"{plus}{digits[:head]}{'*' * hidden}{digits[n - tail :] if tail else ''}"


IN_TEXT = re.compile(r"(?<![\w*%+])(?:\+|%2[Bb])\d{10,14}(?!\w)|(?<![\w*%+])[78]\d{10}(?!\w)")
"""A whole phone number somewhere in a text: international with "+" (or "%2B", URL-encoded),
or a Russian one written 7… or 8… (11 digits). Never one already masked (it has "*")."""


def mask_all(text: str) -> str:
    """`text` with every phone number in it masked: for texts we do not write ourselves (a
    provider's error, a library's exception) on their way into a log."""
    if not IN_TEXT.search(text):
        return text
    return IN_TEXT.sub(lambda m: mask(m.group().replace("%2B", "+").replace("%2b", "+")), text)
