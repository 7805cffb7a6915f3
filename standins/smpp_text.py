"""The SMSC simulator's own view of message text: decode what an ESME submits, split what a
phone sends.

Written apart from smsbot.providers.smpp (no import from the product) on purpose: if our
client encoded a text wrongly and the simulator decoded it with the same code, the mistake
would cancel out and every test would pass. Sources: 3GPP TS 23.038 section 6.2.1 (GSM 7-bit
default alphabet and its extension table), 3GPP TS 23.040 section 9.2.3.24.1 / 9.2.3.24.8
(concatenation information elements 0x00 and 0x08), SMPP 3.4 sections 5.2.12 (esm_class UDHI
0x40), 5.2.19 (data_coding) and 5.3.2.22-24 (SAR TLVs).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# TS 23.038 6.2.1, code order 0x00-0x7F; "\x1b" is the escape, never a character.
GSM_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_ESCAPED = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[",
               0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}  # fmt: skip
_GSM_CODES = {ch: (i,) for i, ch in enumerate(GSM_TABLE) if ch != "\x1b"}
_GSM_CODES.update({ch: (0x1B, code) for code, ch in GSM_ESCAPED.items()})


def gsm_decode(data: bytes) -> str:
    out, i = [], 0
    while i < len(data):
        if data[i] == 0x1B and i + 1 < len(data):
            out.append(GSM_ESCAPED.get(data[i + 1], "?"))
            i += 2
        else:
            out.append(GSM_TABLE[data[i] & 0x7F])
            i += 1
    return "".join(out)


def decode(data_coding: int, data: bytes) -> str:
    """Text of a short_message body as the SMSC reads it (0x00 is GSM-7 unpacked here)."""
    if data_coding == 0x08:
        return data.decode("utf-16-be", "surrogatepass")
    if data_coding == 0x00:
        return gsm_decode(data)
    return data.decode("latin-1")


def udh_concat(esm_class: int, body: bytes, tlvs: dict[int, bytes]) -> tuple[tuple | None, bytes]:
    """((ref, total, seq) or None, body without header)."""
    if esm_class & 0x40 and body:
        header, rest = body[1 : 1 + body[0]], body[1 + body[0] :]
        if header[:2] == b"\x00\x03" and len(header) >= 5:
            return (header[2], header[3], header[4]), rest
        if header[:2] == b"\x08\x04" and len(header) >= 6:
            return (int.from_bytes(header[2:4], "big"), header[4], header[5]), rest
        return None, rest
    if 0x020C in tlvs:
        ref = int.from_bytes(tlvs[0x020C], "big")
        return (ref, tlvs.get(0x020E, b"\x01")[0], tlvs.get(0x020F, b"\x01")[0]), body
    return None, body


def phone_parts(text: str, ref: int) -> list[tuple[int, int, bytes]]:
    """What a phone sends for ``text``: [(data_coding, esm_class, short_message)]."""
    if all(ch in _GSM_CODES for ch in text):
        codes = [_GSM_CODES[ch] for ch in text]
        if sum(map(len, codes)) <= 160:
            return [(0x00, 0x00, bytes(b for c in codes for b in c))]
        chunks, current = [], []
        for code in codes:
            if sum(map(len, current)) + len(code) > 153:
                chunks.append(current)
                current = []
            current.append(code)
        chunks.append(current)
        payloads = [bytes(b for c in chunk for b in c) for chunk in chunks]
        coding = 0x00
    else:
        data = text.encode("utf-16-be")
        if len(data) <= 140:
            return [(0x08, 0x00, data)]
        payloads = [data[i : i + 134] for i in range(0, len(data), 134)]
        coding = 0x08
    total = len(payloads)
    return [
        (coding, 0x40, bytes((5, 0, 3, ref & 0xFF, total, seq)) + payload)
        for seq, payload in enumerate(payloads, start=1)
    ]


@dataclass
class Submitted:
    """One whole message an ESME submitted, reassembled from its parts."""

    system_id: str
    source: str
    destination: str
    text: str
    message_ids: list[str]
    data_coding: int
    parts: int

    def as_dict(self) -> dict:
        return {
            "system_id": self.system_id,
            "from": self.source,
            "to": self.destination,
            "text": self.text,
            "message_ids": self.message_ids,
            "data_coding": self.data_coding,
            "parts": self.parts,
        }


@dataclass
class _Assembly:
    data_coding: int
    total: int
    bodies: dict[int, bytes] = field(default_factory=dict)
    ids: dict[int, str] = field(default_factory=dict)


class SubmitLog:
    """Every submit_sm the SMSC took, put back together, with duplicate parts noted."""

    def __init__(self) -> None:
        self.messages: list[Submitted] = []
        self.duplicate_parts: list[dict] = []
        self.part_count = 0
        self._open: dict[tuple, _Assembly] = {}

    def add(self, system_id: str, source: str, destination: str, data_coding: int,
            esm_class: int, short_message: bytes, tlvs: dict[int, bytes],
            message_id: str) -> Submitted | None:  # fmt: skip
        self.part_count += 1
        concat, body = udh_concat(esm_class, short_message or tlvs.get(0x0424, b""), tlvs)
        if concat is None or concat[1] < 2:
            done = Submitted(system_id, source, destination, decode(data_coding, body),
                             [message_id], data_coding, 1)  # fmt: skip
            self.messages.append(done)
            return done
        ref, total, seq = concat
        key = (system_id, destination, ref, total)
        assembly = self._open.setdefault(key, _Assembly(data_coding, total))
        if seq in assembly.bodies:
            self.duplicate_parts.append({"to": destination, "ref": ref, "seq": seq})
            return None
        assembly.bodies[seq], assembly.ids[seq] = body, message_id
        if len(assembly.bodies) < total:
            return None
        del self._open[key]
        order = sorted(assembly.bodies)
        text = decode(data_coding, b"".join(assembly.bodies[s] for s in order))
        done = Submitted(system_id, source, destination, text,
                         [assembly.ids[s] for s in order], data_coding, total)  # fmt: skip
        self.messages.append(done)
        return done

    def counts(self) -> Counter:
        """How many times each (destination, text) arrived whole."""
        return Counter((m.destination, m.text) for m in self.messages)

    def duplicates(self) -> list[tuple[str, str]]:
        return [key for key, n in self.counts().items() if n > 1]

    def incomplete(self) -> list[dict]:
        return [
            {"to": key[1], "ref": key[2], "total": key[3], "have": sorted(a.bodies)}
            for key, a in self._open.items()
        ]
