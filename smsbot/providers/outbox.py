"""The local outbox as a provider: records every SMS in Redis instead of sending it.

It is there so the whole service runs on one machine with no account and no internet
(development, tests, demos): `smsbot outbox` prints what it holds, and `smsbot sms` plays a
resident through its inbound callback. Its callback format is our own (form fields id,
from, to, text; an HMAC-SHA256 of the body in X-Smsbot-Signature, keyed by a token derived
from SECRET_KEY), since no outside party ever posts to it. Production refuses it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from redis.exceptions import RedisError

from smsbot import queues
from smsbot.clock import utcnow
from smsbot.exceptions import TransientSendError
from smsbot.models import OUT_DELIVERED
from smsbot.phones import is_e164
from smsbot.providers import base
from smsbot.providers.base import (
    BadWebhook,
    InboundSms,
    NotAuthentic,
    OutgoingSms,
    Parsed,
    SendResult,
    SimulatedRequest,
    WebhookRequest,
)
from smsbot.segments import measure

KIND = "outbox"
ORDER = 90
"""Last: any real provider configured beside it is the default."""
OUTBOX_KEY = "smsbot:outbox"
"""Redis list of recorded messages, newest first."""
OUTBOX_LIMIT = 10_000
"""How many recorded messages are kept; older ones fall off."""
SIGNATURE_HEADER = "X-Smsbot-Signature"
MAX_TEXT = 1600
MAX_ID = 64


@dataclass(frozen=True)
class Config:
    name: str
    token: str = field(repr=False)
    kind: str = KIND


def configure(env: Mapping[str, str], *, mode: str, secret_key: str) -> list[Config]:
    """Always there outside production; its callback key is derived from SECRET_KEY."""
    if mode == "production":
        return []
    token = hmac.new(secret_key.encode(), b"local-webhooks", hashlib.sha256).hexdigest()
    return [Config("outbox", token)]


def build(config: Config, settings: object) -> OutboxProvider:
    return OutboxProvider(config)


def sign(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class OutboxProvider(base.Provider):
    kind = KIND
    can_receive = True
    messages_per_second = 1000.0

    def send(self, sms: OutgoingSms) -> SendResult:
        record = {
            "sid": "LO" + secrets.token_hex(16),
            "message_id": sms.message_id,
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "num_segments": measure(sms.body).segments,
            "created_at": utcnow().isoformat(),
        }
        try:
            pipe = queues.connection().pipeline()
            pipe.lpush(OUTBOX_KEY, json.dumps(record, ensure_ascii=False))
            pipe.ltrim(OUTBOX_KEY, 0, OUTBOX_LIMIT - 1)
            pipe.execute()
        except RedisError as exc:
            raise TransientSendError(f"outbox unavailable: {type(exc).__name__}") from exc
        # Nothing will call back: the outbox "delivers" at once.
        return SendResult(record["sid"], OUT_DELIVERED, record["num_segments"])

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        for record in messages(limit=1000):
            if record.get("message_id") == sms.message_id or (
                record["to"] == sms.to
                and record["body"] == sms.body
                and datetime.fromisoformat(record["created_at"]) >= since
            ):
                return SendResult(record["sid"], OUT_DELIVERED, record["num_segments"])
        return None

    def authenticate(self, request: WebhookRequest) -> None:
        given = request.header(SIGNATURE_HEADER) or ""
        if not given:
            raise NotAuthentic(f"missing {SIGNATURE_HEADER}")
        if not hmac.compare_digest(given.encode(), sign(self.config.token, request.body).encode()):
            raise NotAuthentic(f"wrong {SIGNATURE_HEADER}")

    def parse(self, request: WebhookRequest) -> Parsed:
        if request.hook != base.INBOUND_HOOK:
            raise BadWebhook(["the outbox delivers at once and posts no statuses"])
        problems: list[str] = []
        message_id = (request.field("id") or "").strip()
        if not message_id or len(message_id) > MAX_ID or not message_id.isascii():
            problems.append(f"id is required: up to {MAX_ID} ASCII characters")
        phones = {}
        for name in ("from", "to"):
            value = (request.field(name) or "").strip()
            if not is_e164(value):
                problems.append(
                    f"{name} must be a phone number in E.164 form (+, country code and number, at most 15 digits)"
                )
            phones[name] = value
        text = request.field("text")
        if text is None:
            problems.append("text is required (it may be empty)")
        elif len(text) > MAX_TEXT:
            problems.append(f"text is {len(text)} characters; at most {MAX_TEXT}")
        if problems:
            raise BadWebhook(problems)
        sms = InboundSms(self.name, message_id, phones["from"], phones["to"], text or "")
        return Parsed(inbound=(sms,))

    def simulate_inbound(
        self,
        *,
        public_base_url: str,
        from_phone: str,
        to_phone: str,
        text: str,
        provider_id: str | None = None,
    ) -> SimulatedRequest:
        fields = {
            "id": provider_id or "LI" + secrets.token_hex(16),
            "from": from_phone,
            "to": to_phone,
            "text": text,
        }
        body = urlencode(fields).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            SIGNATURE_HEADER: sign(self.config.token, body),
        }
        return SimulatedRequest(f"/sms/{self.name}/inbound", body, headers)

    def describe(self) -> dict[str, str]:
        return {"where": f"Redis list {OUTBOX_KEY} (smsbot outbox)"}


def messages(limit: int = 50) -> list[dict]:
    """What the outbox "sent", newest first."""
    raw = queues.connection().lrange(OUTBOX_KEY, 0, limit - 1)
    return [json.loads(item) for item in raw]
