"""Put a resident's long SMS back together from the deliver_sm parts it arrives in.

A phone splits a long text into parts; the SMSC delivers each as its own ``deliver_sm``, in any
order, sometimes twice (a deliver_sm_resp lost on a reconnect makes the SMSC send it again).
The parts of one text are tied by the concatenation information element in the user data
header (3GPP TS 23.040 9.2.3.24.1 8-bit reference ``00``, 9.2.3.24.8 16-bit reference ``08``;
``esm_class`` bit 0x40 says a header is present, SMPP 3.4 section 5.2.12) or, on SMSCs that
strip the header, by the SAR optional parameters ``sar_msg_ref_num`` (0x020C),
``sar_total_segments`` (0x020E) and ``sar_segment_seqnum`` (0x020F), SMPP 3.4 section 5.3.2.

:class:`Reassembler` is pure: the caller passes ``now`` (any monotonic seconds) with each part
and calls :meth:`Reassembler.expire` from time to time; a text whose missing parts never come
is handed over after ``timeout`` seconds marked incomplete, so nothing a resident wrote is lost.
The caller should acknowledge each deliver_sm only after the finished text is stored, or accept
that parts held here die with the process (the SMSC redelivers unacknowledged ones).

Decoding (SMPP 3.4 section 5.2.19): 0x00 SMSC default alphabet (GSM-7 unpacked; an account may
say its SMSC means Latin-1), 0x01 IA5 (ASCII), 0x03 Latin-1, 0x08 UCS-2 (UTF-16BE; a surrogate
pair split between two parts is joined because the bytes are joined before decoding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from smsbot.providers.smpp import gsm7

TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424
ESM_UDHI = 0x40

DefaultAlphabet = Literal["gsm7", "latin1"]


def decode_text(data_coding: int, data: bytes, default: DefaultAlphabet = "gsm7") -> str:
    """Decode a short_message body (without its user data header)."""
    if data_coding == 0x08:
        return data.decode("utf-16-be", "replace")
    if data_coding == 0x00:
        return gsm7.decode(data) if default == "gsm7" else data.decode("latin-1")
    if data_coding == 0x01:
        return data.decode("ascii", "replace")
    return data.decode("latin-1")  # 0x03 and, for want of better, anything else


@dataclass(frozen=True)
class Concat:
    """Where one part belongs: the text's reference, its part count and this part's number."""

    ref: int
    total: int
    seq: int


def split_header(
    esm_class: int, short_message: bytes, tlvs: Mapping[int, bytes] | None = None
) -> tuple[Concat | None, bytes]:
    """(concatenation info or None, the body without its user data header)."""
    tlvs = tlvs or {}
    body = short_message or tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
    concat: Concat | None = None
    if esm_class & ESM_UDHI and body:
        udhl = body[0]
        header, body = body[1 : 1 + udhl], body[1 + udhl :]
        i = 0
        while i + 2 <= len(header):
            iei, length = header[i], header[i + 1]
            value = header[i + 2 : i + 2 + length]
            if iei == 0x00 and length == 3 and len(value) == 3:
                concat = Concat(value[0], value[1], value[2])
            elif iei == 0x08 and length == 4 and len(value) == 4:
                concat = Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
            i += 2 + length
    if concat is None and TLV_SAR_MSG_REF_NUM in tlvs:
        concat = Concat(
            int.from_bytes(tlvs[TLV_SAR_MSG_REF_NUM], "big"),
            int.from_bytes(tlvs.get(TLV_SAR_TOTAL_SEGMENTS, b"\x01"), "big"),
            int.from_bytes(tlvs.get(TLV_SAR_SEGMENT_SEQNUM, b"\x01"), "big"),
        )
    if concat is not None and (concat.total < 2 or not 1 <= concat.seq <= concat.total):
        concat = None  # "1 of 1" or nonsense: treat as a single message
    return concat, body


@dataclass(frozen=True)
class Text:
    """A finished incoming text."""

    sender: str
    text: str
    parts: int
    """How many parts it was made of (1 for a single SMS)."""
    incomplete: bool = False
    """Some parts never came; ``text`` has what did, in order."""


@dataclass
class _Pending:
    data_coding: int
    total: int
    first_seen: float
    parts: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    """Collect parts keyed by (sender, reference, total) until the text is whole."""

    def __init__(self, timeout: float = 600.0, default: DefaultAlphabet = "gsm7"):
        self.timeout = timeout
        self.default = default
        self._pending: dict[tuple[str, int, int], _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self,
        *,
        sender: str,
        data_coding: int,
        esm_class: int,
        short_message: bytes,
        now: float,
        tlvs: Mapping[int, bytes] | None = None,
    ) -> Text | None:
        """Take one deliver_sm; the finished text when this part completed it, else None.

        A part seen before (same key and number) is ignored, so a redelivered part neither
        doubles text nor finishes a text twice.
        """
        concat, body = split_header(esm_class, short_message, tlvs)
        if concat is None:
            return Text(sender, decode_text(data_coding, body, self.default), 1)
        key = (sender, concat.ref, concat.total)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(data_coding, concat.total, now)
        pending.parts.setdefault(concat.seq, body)
        if len(pending.parts) < pending.total:
            return None
        del self._pending[key]
        return self._finish(sender, pending, incomplete=False)

    def expire(self, now: float) -> list[Text]:
        """Hand over, marked incomplete, every text still waiting after ``timeout``."""
        done = []
        for key, pending in list(self._pending.items()):
            if now - pending.first_seen >= self.timeout:
                del self._pending[key]
                done.append(self._finish(key[0], pending, incomplete=True))
        return done

    def _finish(self, sender: str, pending: _Pending, *, incomplete: bool) -> Text:
        data = b"".join(pending.parts[seq] for seq in sorted(pending.parts))
        text = decode_text(pending.data_coding, data, self.default)
        return Text(sender, text, pending.total, incomplete)
