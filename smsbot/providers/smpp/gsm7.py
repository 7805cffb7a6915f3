"""GSM 03.38 default alphabet as SMPP carries it: one unpacked septet per octet.

Why not smpplib.gsm: its table has a backtick where 0x5F is ``§`` and lacks the form feed of
the extension table, so ``§`` could not be sent and 0x5F would be read as a backtick. This
table is 3GPP TS 23.038 section 6.2.1 in code order, and the tests check it against
smsbot.segments (GSM7_BASIC, GSM7_EXTENSION), which decides what counts as GSM-7.
"""

from __future__ import annotations

from typing import Final

ESC: Final = 0x1B

BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
"""Septet -> character; 0x1B is the escape to the extension table, not a character."""

EXTENSION: Final = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[",
                    0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}  # fmt: skip
"""Septet after ESC -> character (TS 23.038 6.2.1.1)."""

_ENCODE: Final = {ch: bytes((i,)) for i, ch in enumerate(BASIC) if i != ESC} | {
    ch: bytes((ESC, code)) for code, ch in EXTENSION.items()
}


def encode(text: str) -> bytes:
    """Text to unpacked septets; UnicodeEncodeError for a character outside GSM-7."""
    try:
        return b"".join(_ENCODE[ch] for ch in text)
    except KeyError as exc:
        pos = text.index(exc.args[0])
        raise UnicodeEncodeError("gsm-7", text, pos, pos + 1, "not in GSM 03.38") from None


def decode(data: bytes) -> str:
    """Unpacked septets to text; an unknown extension code shows its basic character."""
    out: list[str] = []
    escape = False
    for octet in data:
        septet = octet & 0x7F
        if escape:
            out.append(EXTENSION.get(septet) or BASIC[septet].replace("\x1b", " "))
            escape = False
        elif septet == ESC:
            escape = True
        else:
            out.append(BASIC[septet])
    if escape:
        out.append(" ")  # a trailing lone escape is shown as a space (TS 23.038 6.2.1.1)
    return "".join(out)
