"""Does a receipt's `text:` field show the start of this message? (Pure.)

SMPP 3.4 Appendix B puts "the first 20 characters of the short message" in a receipt's
`text:` field, and SMSCs read that differently: the first 20 octets of the short_message as
sent (UDH included or not, UCS-2 bytes and all), or the text decoded and written again in
their own character set. Used only to settle a send whose outcome is unknown (see
connector.py), so it accepts any of those forms, and an empty field matches on the
destination alone.
"""

from __future__ import annotations

from smsbot.providers.smpp import parts as smpp_parts
from smsbot.providers.smpp.config import SmppConfig
from smsbot.providers.smpp.reassembly import decode_text

RECEIPT_TEXT = 20
"""Octets of the original text a receipt carries."""


def forms(body: str, config: SmppConfig, message_id: int) -> list[bytes]:
    """Every spelling of each part's start that a receipt may show."""
    found: list[bytes] = []
    for part in smpp_parts.split(body, ref=message_id % 256, gsm_coding=config.default_encoding):
        data = part.short_message
        payload = data[1 + data[0] :] if part.esm_class & smpp_parts.ESM_UDHI and data else data
        text = decode_text(part.data_coding, payload, config.default_encoding)
        found += [data, payload, *_spellings(text)]
    return [f.lstrip() for f in found]


def _spellings(text: str) -> list[bytes]:
    # "?" for what the SMSC's character set lacks: how many write Cyrillic into the field.
    return [text.encode(c, "replace") for c in ("utf-8", "latin-1", "ascii")]


def same_start(body: str, text: bytes, config: SmppConfig, message_id: int) -> bool:
    """Whether the receipt's `text:` (stripped) could be the start of `body`."""
    text = text.strip()
    if not text:
        return True
    head = text[:RECEIPT_TEXT]
    return any(
        f.startswith(head) or (head and f[: len(head)] == head)
        for f in forms(body, config, message_id)
    )
