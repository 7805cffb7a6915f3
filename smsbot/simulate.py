"""Playing a resident: post a correctly signed inbound webhook, as Twilio would.

Used by `smsbot sms`, the benchmarks and the tests, so that all of them enter through the
same signed webhook production uses.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import requests

from smsbot.signatures import expected_signature

INBOUND_PATH = "/sms/inbound"


def new_message_sid() -> str:
    """A Twilio-shaped SID: SM and 32 hex digits."""
    return "SM" + secrets.token_hex(16)


def inbound_params(
    *,
    from_phone: str,
    to_phone: str,
    body: str,
    message_sid: str | None = None,
    account_sid: str | None = None,
) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS."""
    sid = message_sid or new_message_sid()
    return {
        "ToCountry": "RU",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to_phone,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid or "AC" + "0" * 32,
        "From": from_phone,
        "FromCountry": "RU",
        "ApiVersion": "2010-04-01",
    }


def signed_request(
    public_url: str, params: dict[str, str], auth_token: str
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a form post signed for `public_url`."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": expected_signature(public_url, params, auth_token),
    }
    return urlencode(params).encode(), headers


def post_inbound(
    base_url: str,
    auth_token: str,
    *,
    from_phone: str,
    to_phone: str,
    body: str,
    message_sid: str | None = None,
    public_base_url: str | None = None,
    session: requests.Session | None = None,
    timeout: float = 10,
) -> tuple[str, requests.Response]:
    """POST a signed inbound SMS to a running smsbot; return (MessageSid, response)."""
    params = inbound_params(
        from_phone=from_phone, to_phone=to_phone, body=body, message_sid=message_sid
    )
    data, headers = signed_request((public_base_url or base_url) + INBOUND_PATH, params, auth_token)
    http = session or requests
    response = http.post(base_url + INBOUND_PATH, data=data, headers=headers, timeout=timeout)
    return params["MessageSid"], response
