"""Sending through Twilio's Messages API with the official SDK.

Every call goes through `_call`, the one choke point that turns the SDK's and requests'
errors into ours: connection trouble, 5xx and 429 (20429) are transient; 21610
(recipient opted out), 21211 (invalid number) and other 4xx are permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient

from smsbot.exceptions import PermanentSendError, TransientSendError
from smsbot.gateway.base import SendResult
from smsbot.gateway.twilio_client import make_client
from smsbot.phones import mask

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_CODES = frozenset({20429, 20500, 20503, 30001})
"""Twilio error codes worth retrying even when the HTTP status looks permanent."""
OPTED_OUT = 21610
"""'Attempt to send to unsubscribed recipient': the resident texted STOP to Twilio."""
HTTP_TIMEOUT = 15
"""Seconds to wait for Twilio's API; longer than its slowest normal answers."""


class TwilioTransport:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
    ):
        self.client = make_client(account_sid, auth_token, api_base_url)
        self.client.http_client = _http_client(self.client.http_client)
        self.default_from = from_
        self.messaging_service_sid = messaging_service_sid

    def send(
        self, *, to: str, body: str, from_: str | None, status_callback: str | None
    ) -> SendResult:
        kwargs: dict = {"to": to, "body": body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = from_ or self.default_from
        if status_callback:
            kwargs["status_callback"] = status_callback
        message = self._call(lambda: self.client.messages.create(**kwargs), f"send to {mask(to)}")
        return SendResult(message.sid, message.status or "queued", _int(message.num_segments))

    def find_sent(self, *, to: str, body: str, since: datetime) -> SendResult | None:
        found = self._call(
            lambda: self.client.messages.list(
                to=to, date_sent_after=since - timedelta(minutes=1), limit=50
            ),
            f"look up messages to {mask(to)}",
        )
        for message in found:
            if message.body == body:
                return SendResult(
                    message.sid, message.status or "queued", _int(message.num_segments)
                )
        return None

    def _call(self, func: Callable[[], T], what: str) -> T:
        try:
            return func()
        except TwilioRestException as exc:
            code = exc.code if isinstance(exc.code, int) else None
            status = exc.status
            message = f"Twilio refused to {what}: HTTP {status}, code {code}: {exc.msg}"
            if status == 429 or status >= 500 or code in TRANSIENT_CODES:
                raise TransientSendError(message, code=code, status=status) from exc
            raise PermanentSendError(message, code=code, status=status) from exc
        except (requests.ConnectionError, requests.Timeout, TwilioException) as exc:
            raise TransientSendError(f"Twilio unreachable to {what}: {exc}") from exc


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _http_client(existing: TwilioHttpClient) -> TwilioHttpClient:
    """The SDK's HTTP client with a timeout (its default waits forever), keeping its session."""
    client = TwilioHttpClient(timeout=HTTP_TIMEOUT, pool_connections=True)
    session = getattr(existing, "session", None)
    if session is not None:
        client.session = session
    return client
