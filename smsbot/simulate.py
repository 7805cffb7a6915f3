"""Playing a resident: post the callback a provider would post for their SMS.

Used by `smsbot sms`, the resident phone page, the benchmarks and the tests, so that all of
them enter through the same authenticated callback production uses.
"""

from __future__ import annotations

import secrets

import requests

from smsbot.providers.base import Provider


def new_provider_id() -> str:
    """An id for a played message: 18 digits, which every provider's id format takes
    (SMSC.ru's ids are numbers; Twilio's and the outbox's letters and digits)."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def post_inbound(
    base_url: str,
    provider: Provider,
    *,
    from_phone: str,
    to_phone: str,
    body: str,
    provider_id: str | None = None,
    public_base_url: str | None = None,
    session: requests.Session | None = None,
    timeout: float = 10,
) -> tuple[str, requests.Response]:
    """POST a resident's SMS to a running smsbot as `provider`; return (its id, response)."""
    provider_id = provider_id or new_provider_id()
    played = provider.simulate_inbound(
        public_base_url=public_base_url or base_url,
        from_phone=from_phone,
        to_phone=to_phone,
        text=body,
        provider_id=provider_id,
    )
    http = session or requests
    response = http.post(
        base_url + played.path, data=played.body, headers=played.headers, timeout=timeout
    )
    return provider_id, response
