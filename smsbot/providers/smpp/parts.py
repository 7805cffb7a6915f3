"""Cut a text into the submit_sm parts we send, exactly as many as we bill.

smsbot.segments decides the encoding and counts the segments a text costs; this module makes
the bytes, so the count we bill and store is the count of ``submit_sm`` PDUs that go out. The
split uses the same greedy rule as ``segments.measure``: 67 UTF-16 units or 153 GSM-7 septets a
part, never cutting a surrogate pair or a GSM escape pair in two.

What goes on the wire (SMPP 3.4 section 5.2.19 data_coding, 5.2.12 esm_class; 3GPP TS 23.040
9.2.3.24.1 for the concatenation header):

* UCS-2: ``data_coding`` 0x08, UTF-16BE (the astral plane as surrogate pairs, which every
  handset shows).
* GSM-7: ``data_coding`` 0x00 with one unpacked septet per octet and the extension table as
  ESC + code (the SMSC packs septets for the air), or, for SMSCs that read 0x00 as Latin-1
  (many do; the spec leaves 0x00 to "SMSC default alphabet"), Latin-1 under 0x00 or 0x03.
  Latin-1 has no Greek capitals and no euro sign: those go as ``?``, the price of such an
  account, which is why GSM-7 septets are the default.
* A text longer than one segment: ``esm_class`` 0x40 (UDHI) and each part starting with the
  8-bit reference header ``05 00 03 ref total seq``; 6 octets, leaving 134 for text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from smsbot.providers.smpp import gsm7
from smsbot.segments import GSM7, GSM7_EXTENSION, GSM7_MULTI, UCS2_MULTI, measure

DC_DEFAULT = 0x00
DC_LATIN1 = 0x03
DC_UCS2 = 0x08
ESM_UDHI = 0x40

GsmCoding = Literal["gsm7", "latin1", "latin1-0x03"]
"""How an account's SMSC wants GSM-7 texts: septets under 0x00 (gsm7), Latin-1 under 0x00
(latin1: the SMSC's default alphabet is Latin-1, config's SMPP_DEFAULT_ENCODING), or Latin-1
declared as such under 0x03."""
GSM_CODINGS: tuple[str, ...] = ("gsm7", "latin1", "latin1-0x03")


@dataclass(frozen=True)
class Part:
    """One submit_sm's worth of a message."""

    data_coding: int
    esm_class: int
    short_message: bytes


def udh(ref: int, total: int, seq: int) -> bytes:
    """The 8-bit reference concatenation header (IEI 0x00), 6 octets with its length."""
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq))


def _chunks(text: str, weight, capacity: int) -> list[str]:
    """Greedy split into pieces of at most ``capacity`` units, as segments._pack counts."""
    pieces: list[str] = []
    start = used = 0
    for i, ch in enumerate(text):
        w = weight(ch)
        if used + w > capacity:
            pieces.append(text[start:i])
            start, used = i, 0
        used += w
    pieces.append(text[start:])
    return pieces


def _ucs2_weight(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _gsm_weight(ch: str) -> int:
    return 2 if ch in GSM7_EXTENSION else 1


def encode(text: str, is_gsm7: bool, gsm_coding: GsmCoding = "gsm7") -> tuple[int, bytes]:
    """(data_coding, bytes) of ``text`` without any header."""
    if not is_gsm7:
        return DC_UCS2, text.encode("utf-16-be", "surrogatepass")
    if gsm_coding == "gsm7":
        return DC_DEFAULT, gsm7.encode(text)
    data = text.encode("latin-1", "replace")
    return (DC_LATIN1 if gsm_coding == "latin1-0x03" else DC_DEFAULT), data


def split(text: str, *, ref: int, gsm_coding: GsmCoding = "gsm7") -> list[Part]:
    """The parts to submit for ``text``; ``ref`` (0-255) ties the parts of one message together.

    The caller picks ``ref`` (e.g. from our message id) so a resend after a crash carries
    the same reference and a handset that got some parts twice still shows one message.
    """
    if gsm_coding not in GSM_CODINGS:
        raise ValueError(f"gsm_coding must be one of {GSM_CODINGS}, not {gsm_coding!r}")
    m = measure(text)
    is_gsm7 = m.encoding == GSM7
    if m.segments == 1:
        coding, data = encode(text, is_gsm7, gsm_coding)
        return [Part(coding, 0x00, data)]
    if is_gsm7:
        pieces = _chunks(text, _gsm_weight, GSM7_MULTI)
    else:
        pieces = _chunks(text, _ucs2_weight, UCS2_MULTI)
    if len(pieces) != m.segments or len(pieces) > 255:
        # Cannot happen while the split above mirrors segments.measure; refuse rather than
        # send a different number of parts than we billed.
        raise ValueError(f"{len(pieces)} parts for {m.segments} segments")
    total = len(pieces)
    parts = []
    for seq, piece in enumerate(pieces, start=1):
        coding, data = encode(piece, is_gsm7, gsm_coding)
        parts.append(Part(coding, ESM_UDHI, udh(ref, total, seq) + data))
    return parts
