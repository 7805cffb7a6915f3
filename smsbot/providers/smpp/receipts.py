"""Read an SMPP delivery receipt and match it to the message it reports on.

An SMSC reports the fate of a message we submitted with ``registered_delivery`` set as a
``deliver_sm`` whose ``esm_class`` has the receipt bit (0x04). SMPP 3.4 (Appendix B, "Delivery
Receipt Format") puts the report in ``short_message`` as text::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

and section 5.3.2.12 / 5.3.2.35 add the optional parameters ``receipted_message_id`` (0x001E)
and ``message_state`` (0x0427). The appendix calls the text format "SMSC vendor specific", and
real SMSCs show it: ``Text:`` vs ``text:``, seconds in the dates, a missing ``err``, the id in
decimal in the text but in hex in the TLV and in ``submit_sm_resp`` (cloudhopper's test
vector ``decodeDeliverSmAsDeliveryReceipt`` carries ``id:0059113978`` with TLV ``38601fa``:
0x38601FA == 59113978). So the parser is lenient, prefers the TLVs when present, and
:func:`id_forms` gives every spelling of an id so a receipt is matched whichever one the SMSC
used. Spec: SMPP v3.4 Issue 1.2, https://smpp.org/SMPP_v3_4_Issue1_2.pdf.

How the final words map onto our states (smsbot.models OUT_*), the same split Twilio makes:

* ``DELIVRD`` -> delivered.
* ``UNDELIV``, ``EXPIRED``, ``DELETED``, ``UNKNOWN`` -> undelivered: the SMSC took the message
  and the network could not (or can no longer say it did) reach the handset; the phone may be
  off or out of coverage, which is what "undelivered" means to a dispatcher.
* ``REJECTD`` -> failed: the SMSC or the operator refused the message itself (barred number,
  spam filter, no route); sending it again the same way will not help.
* ``ACCEPTD``, ``ENROUTE`` -> sent: intermediate, the message is on its way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from smsbot.models import OUT_DELIVERED, OUT_FAILED, OUT_SENT, OUT_UNDELIVERED

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_MESSAGE_PAYLOAD = 0x0424
ESM_CLASS_RECEIPT = 0x04
"""esm_class bits 5-2 = 0001: SMSC delivery receipt (SMPP 3.4 section 5.2.12)."""
ESM_CLASS_TYPE_MASK = 0x3C

# SMPP 3.4 section 5.2.28 message_state values and their receipt words (Appendix B).
STATE_WORDS: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

OUR_STATE: dict[str, str] = {
    "DELIVRD": OUT_DELIVERED,
    "UNDELIV": OUT_UNDELIVERED,
    "EXPIRED": OUT_UNDELIVERED,
    "DELETED": OUT_UNDELIVERED,
    "UNKNOWN": OUT_UNDELIVERED,
    "REJECTD": OUT_FAILED,
    "ACCEPTD": OUT_SENT,
    "ENROUTE": OUT_SENT,
}
"""Receipt word -> our outbound state (see the module docstring for why)."""

# "key:value" pairs; keys may contain one space ("submit date"), values run to the next key.
_FIELD = re.compile(
    r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:\s*(.*?)"
    r"(?=\s+(?:id|sub|dlvrd|submit date|done date|stat|err|text)\s*:|$)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Receipt:
    """One delivery receipt, as much of it as the SMSC filled in."""

    message_id: str
    """The id as the receipt gave it (TLV first, else the text's ``id:``)."""
    stat: str
    """The receipt word, upper case: DELIVRD, UNDELIV ... (UNKNOWN when absent)."""
    err: str | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    text_id: str | None = None
    """The text's ``id:`` when it differs in form from the TLV (the hex/decimal trap)."""

    @property
    def status(self) -> str:
        """Our outbound state for this receipt."""
        return our_state(self.stat)

    @property
    def final(self) -> bool:
        return self.stat not in ("ACCEPTD", "ENROUTE")

    def id_forms(self) -> frozenset[str]:
        """Every spelling under which the submit_sm_resp id may have been stored."""
        forms = set(id_forms(self.message_id))
        if self.text_id:
            forms.update(id_forms(self.text_id))
        return frozenset(forms)


def our_state(stat: str) -> str:
    """Map a receipt word onto our outbound state; an unknown word counts as undelivered."""
    return OUR_STATE.get(stat.strip().upper(), OUT_UNDELIVERED)


def is_receipt(esm_class: int) -> bool:
    """True for a deliver_sm that reports on a message (SMSC receipt or intermediate notice)."""
    return (esm_class & ESM_CLASS_TYPE_MASK) in (0x04, 0x20)


def _date(value: str | None) -> datetime | None:
    """YYMMDDhhmm, or YYMMDDhhmmss as many SMSCs send; None when unreadable."""
    if not value:
        return None
    digits = value.strip()
    fmt = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}.get(len(digits))
    if fmt is None or not digits.isdigit():
        return None
    try:
        return datetime.strptime(digits, fmt)
    except ValueError:
        return None


def _tlv_text(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
    return text or None


def parse_receipt(
    short_message: bytes | str, tlvs: Mapping[int, bytes] | None = None
) -> Receipt | None:
    """Read a receipt from its text and/or TLVs; None when it names no message id.

    The TLVs win where both are present: they are binary fields the SMSC fills from its own
    record, while the text is formatted for people and varies between vendors.
    """
    tlvs = tlvs or {}
    # Some SMSCs put the receipt in message_payload and leave short_message empty
    # (python-smpplib's own test vector does).
    short_message = short_message or tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
    text = (
        short_message.decode("latin-1")
        if isinstance(short_message, bytes | bytearray)
        else short_message
    )
    fields = {m.group(1).lower(): m.group(2).strip() for m in _FIELD.finditer(text)}
    tlv_id = _tlv_text(tlvs.get(TLV_RECEIPTED_MESSAGE_ID))
    text_id = fields.get("id") or None
    message_id = tlv_id or text_id
    if not message_id:
        return None
    state = tlvs.get(TLV_MESSAGE_STATE)
    stat = STATE_WORDS.get(state[0]) if state else None
    stat = stat or (fields.get("stat") or "UNKNOWN").upper()
    return Receipt(
        message_id=message_id,
        stat=stat,
        err=fields.get("err") or None,
        submit_date=_date(fields.get("submit date")),
        done_date=_date(fields.get("done date")),
        text_id=text_id if text_id and text_id != message_id else None,
    )


def id_forms(message_id: str) -> tuple[str, ...]:
    """The spellings of one SMSC message id, the given one first.

    Covers the known trap (hex in submit_sm_resp, decimal in the receipt, or the other way
    round), case, and zero padding. A purely decimal id is also read as hex and vice versa,
    so a few forms may belong to another message only when the SMSC mixes both schemes for
    different messages, which none does.
    """
    given = message_id.strip()
    forms: list[str] = [given]

    def add(form: str) -> None:
        if form and form not in forms:
            forms.append(form)

    add(given.lower())
    add(given.upper())
    stripped = given.lstrip("0") or "0"
    add(stripped)
    add(stripped.lower())
    add(stripped.upper())
    if given.isdigit():
        number = int(given)
        add(format(number, "x"))
        add(format(number, "X"))
    if re.fullmatch(r"[0-9A-Fa-f]+", given):
        add(str(int(given, 16)))
    return tuple(forms)
