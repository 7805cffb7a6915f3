"""The local transport: records every SMS in Redis instead of sending it.

Used automatically when no Twilio credentials are configured, so the whole system runs on
one machine with no account and no internet. `smsbot outbox` prints what it holds.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from smsbot.clock import utcnow
from smsbot.exceptions import TransientSendError
from smsbot.gateway.base import SendResult
from smsbot.segments import measure

OUTBOX_KEY = "smsbot:outbox"
"""Redis list of recorded messages, newest first."""
OUTBOX_LIMIT = 10_000
"""How many recorded messages are kept; older ones fall off."""


class OutboxTransport:
    name = "outbox"

    def __init__(self, redis: Redis):
        self.redis = redis

    def send(
        self, *, to: str, body: str, from_: str | None, status_callback: str | None
    ) -> SendResult:
        sid = "LO" + secrets.token_hex(16)
        record = {
            "sid": sid,
            "to": to,
            "from": from_,
            "body": body,
            "num_segments": measure(body).segments,
            "created_at": utcnow().isoformat(),
        }
        try:
            pipe = self.redis.pipeline()
            pipe.lpush(OUTBOX_KEY, json.dumps(record, ensure_ascii=False))
            pipe.ltrim(OUTBOX_KEY, 0, OUTBOX_LIMIT - 1)
            pipe.execute()
        except RedisError as exc:
            raise TransientSendError(f"outbox unavailable: {exc}") from exc
        # Nothing will call back: the outbox "delivers" at once.
        return SendResult(sid=sid, status="delivered", num_segments=record["num_segments"])

    def find_sent(self, *, to: str, body: str, since: datetime) -> SendResult | None:
        for record in self.messages(limit=1000):
            same = record["to"] == to and record["body"] == body
            if same and datetime.fromisoformat(record["created_at"]) >= since:
                return SendResult(record["sid"], "delivered", record["num_segments"])
        return None

    def messages(self, limit: int = 50) -> list[dict]:
        return [json.loads(raw) for raw in self.redis.lrange(OUTBOX_KEY, 0, limit - 1)]
