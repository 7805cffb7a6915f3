"""What a deliver_sm brings: a resident's SMS (maybe one part of a long one) or a receipt.

A resident's SMS is stored in the database before its deliver_sm_resp is written (the
session answers after `Incoming.deliver` returns), so a connector that dies first is simply
sent the SMS again by the SMSC: nothing is lost. Parts of a long text are kept in Redis,
not in memory, before each part is answered, for the same reason.

Duplicates: an SMSC redelivers a deliver_sm it got no answer to. The id we store a text
under is fixed before the text is stored and kept in Redis until the answer is written; a
redelivery of the same text from the same phone in that time gets the same id, and
(provider, provider_id) is unique, so it is stored once. Once the answer is written the id
is forgotten, so a resident who sends "баланс" twice gets two answers.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from smsbot import inbound, metrics, queues
from smsbot.db import session_scope
from smsbot.phones import mask
from smsbot.providers.base import InboundSms
from smsbot.providers.smpp import reassembly, receipts
from smsbot.providers.smpp.config import SmppConfig

log = logging.getLogger(__name__)

TLV_TAGS = {
    "receipted_message_id": receipts.TLV_RECEIPTED_MESSAGE_ID,
    "message_state": receipts.TLV_MESSAGE_STATE,
    "sar_msg_ref_num": reassembly.TLV_SAR_MSG_REF_NUM,
    "sar_total_segments": reassembly.TLV_SAR_TOTAL_SEGMENTS,
    "sar_segment_seqnum": reassembly.TLV_SAR_SEGMENT_SEQNUM,
    "message_payload": reassembly.TLV_MESSAGE_PAYLOAD,
}
TLV_SIZES = {
    "message_state": 1,
    "sar_msg_ref_num": 2,
    "sar_total_segments": 1,
    "sar_segment_seqnum": 1,
}
ID_TTL = 3600
"""Seconds a text's id is kept when its answer was never written (the SMSC retries sooner)."""
_TEXT = re.compile(rb"(?i)\btext:(.*)$", re.DOTALL)


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return value.decode("latin-1")
    return value or ""


def tlvs(pdu: Any) -> dict[int, bytes]:
    """The optional parameters smpplib parsed into attributes, as {tag: raw bytes}."""
    found = {}
    for name, tag in TLV_TAGS.items():
        value = getattr(pdu, name, None)
        if value is None:
            continue
        if isinstance(value, int):
            value = value.to_bytes(TLV_SIZES[name], "big")
        elif isinstance(value, str):
            value = value.encode("latin-1")
        found[tag] = bytes(value)
    return found


def phone(address: Any) -> str:
    """An SMPP address as we store phones: E.164 for digits, the name for a sender name."""
    text = _text(address).strip()
    digits = text.lstrip("+")
    return "+" + digits if digits.isdigit() else text


def receipt_text(short_message: bytes) -> bytes:
    """The receipt's `text:` field: the first octets of the message it reports on."""
    found = _TEXT.search(short_message or b"")
    return found.group(1).strip() if found else b""


class Incoming:
    """Turns deliver_sm PDUs into stored SMS and applied receipts for one account."""

    def __init__(
        self,
        config: SmppConfig,
        redis: Callable[[], Redis],
        apply_receipt: Callable[[receipts.Receipt, str, bytes], bool],
        reassembly_seconds: float = 600.0,
    ):
        self.config = config
        self.redis = redis
        self.apply_receipt = apply_receipt
        self.reassembly_seconds = reassembly_seconds
        self._after: list[Callable[[], None]] = []

    def _key(self, *parts: object) -> str:
        return ":".join(("smsbot:smpp", self.config.name, *map(str, parts)))

    def deliver(self, pdu: Any) -> bool:
        """Store what the deliver_sm carries; True when it may be answered OK."""
        esm_class = int(pdu.esm_class or 0)
        short_message = bytes(pdu.short_message or b"")
        found = tlvs(pdu)
        if receipts.is_receipt(esm_class):
            receipt = receipts.parse_receipt(short_message, found)
            if receipt is None:
                log.warning("SMPP %s: a receipt without a message id", self.config.name)
                return True
            return self.apply_receipt(receipt, phone(pdu.source_addr), receipt_text(short_message))
        sender, to = phone(pdu.source_addr), phone(pdu.destination_addr)
        coding = int(pdu.data_coding or 0)
        concat, body = reassembly.split_header(esm_class, short_message, found)
        if concat is None:
            text = reassembly.decode_text(coding, body, self.config.default_encoding)
            return self._store(sender, to, text, "1", incomplete=False)
        return self._part(sender, to, coding, concat, body)

    def after_answer(self) -> None:
        """The answer is written: the SMSC will not redeliver, forget the ids kept for it."""
        pending, self._after = self._after, []
        for step in pending:
            try:
                step()
            except Exception as exc:  # only a key left to expire on its own
                log.warning("SMPP %s: Redis cleanup failed: %s", self.config.name, exc)

    def _part(self, sender: str, to: str, coding: int, concat: Any, body: bytes) -> bool:
        key = self._key("parts", sender, to, concat.ref, concat.total)
        redis = self.redis()
        pipe = redis.pipeline()
        pipe.hset(key, f"p{concat.seq}", body)
        pipe.hsetnx(key, "coding", coding)
        pipe.hsetnx(key, "first", time.time())
        pipe.expire(key, int(self.reassembly_seconds * 4) + ID_TTL)
        pipe.hgetall(key)
        fields = pipe.execute()[-1]
        got = {k.decode(): v for k, v in fields.items()}
        if sum(1 for k in got if k.startswith("p")) < concat.total:
            return True
        return self._finish(key, sender, to, concat.ref, concat.total, got, incomplete=False)

    def _finish(
        self, key: str, sender: str, to: str, ref: int, total: int, got: dict, *, incomplete: bool
    ) -> bool:
        data = b"".join(got[f"p{i}"] for i in range(1, total + 1) if f"p{i}" in got)
        text = reassembly.decode_text(
            int(got.get("coding", b"0")), data, self.config.default_encoding
        )
        stored = self._store(sender, to, text, f"{ref}/{total}", incomplete=incomplete)
        if stored:
            self._after.append(lambda: self.redis().delete(key))
        return stored

    def expire_parts(self) -> int:
        """Store, marked incomplete, every long text whose parts stopped coming."""
        redis = self.redis()
        done = 0
        for key in redis.scan_iter(match=self._key("parts", "*"), count=200):
            got = {k.decode(): v for k, v in redis.hgetall(key).items()}
            if not got or time.time() - float(got.get("first", b"0")) < self.reassembly_seconds:
                continue
            *_, sender, to, ref, total = key.decode().split(":")
            if self._finish(key.decode(), sender, to, int(ref), int(total), got, incomplete=True):
                self.after_answer()
                done += 1
        return done

    def _store(self, sender: str, to: str, text: str, concat: str, *, incomplete: bool) -> bool:
        digest = hashlib.sha1(f"{sender}|{to}|{concat}|{text}".encode()).hexdigest()[:20]
        id_key = self._key("mo", digest)
        provider_id = f"{digest}-{uuid.uuid4().hex[:12]}"
        try:
            redis = self.redis()
            if not redis.set(id_key, provider_id, nx=True, ex=ID_TTL):
                provider_id = (redis.get(id_key) or provider_id.encode()).decode()
        except (
            RedisError
        ) as exc:  # store it all the same: only a crash in the next ms could double it
            log.warning(
                "SMPP %s: Redis unavailable, storing without the redelivery guard: %s",
                self.config.name,
                exc,
            )
        sms = InboundSms(
            provider=self.config.name,
            provider_id=provider_id,
            from_phone=sender,
            to_phone=to,
            body=text,
            incomplete=incomplete,
        )
        with session_scope() as session:
            message_id, created = inbound.store(session, sms)
        if created:
            queues.enqueue_inbound(message_id)
            metrics.MESSAGES_IN.labels(self.config.name).inc()
        else:
            log.info(
                "SMPP %s: %s sent again by the SMSC, stored once", self.config.name, mask(sender)
            )
        self._after.append(lambda: self.redis().delete(id_key))
        return True
