"""SMSC.ru's HTTP API (send.php, status.php) over one keep-alive session.

Every request goes through `_call`, the one choke point that turns what can go wrong into
our exceptions and meanings:

- no connection made (refused, DNS, connect timeout, TLS handshake): TransientSendError;
- the request went out but no answer came (read timeout, connection dropped, a garbled 200):
  UnknownSendOutcome for a send, since SMSC.ru may have taken the message;
- HTTP 429 and 5xx: TransientSendError; any other non-200: PermanentSendError (give up);
- SMSC.ru's own `error_code` in the JSON answer: send.php's table in codes.SEND_ERRORS
  (error 9, a duplicate request, is an unknown outcome); for a lookup, every error only
  means SMSC.ru cannot be asked right now (TransientSendError).

Parameters travel in a POST body, never in the URL, so the password stays out of access logs.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from smsbot.exceptions import PermanentSendError, TransientSendError, UnknownSendOutcome
from smsbot.providers.base import GIVE_UP, RETRY
from smsbot.providers.smsc import codes

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection; nothing has been sent while this runs out."""


class SmscApi:
    """A client of one SMSC.ru account."""

    def __init__(
        self,
        *,
        base_url: str,
        login: str | None,
        password: str | None,
        api_key: str | None,
        timeout: float,
        connections: int = 10,
    ):
        self.base_url = base_url.rstrip("/")
        if api_key:
            self._auth = {"apikey": api_key}
        else:
            self._auth = {"login": login or "", "psw": password or ""}
        self.timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self.session = requests.Session()
        # Kept alive across sends; as many connections as sends in flight (no retries: a
        # retried send.php could send twice).
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(connections, 1), max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def send(self, *, phone: str, text: str, sender: str | None, message_id: int) -> dict[str, Any]:
        """send.php: one SMS to `phone` (digits), with our id so it can be asked about later."""
        params = {"phones": phone, "mes": text, "id": str(message_id)}
        if sender:
            params["sender"] = sender
        return self._call("/sys/send.php", params, "send", sending=True)

    def status(self, *, phone: str, message_id: int) -> dict[str, Any]:
        """status.php: SMSC.ru's record of message `message_id` to `phone` (digits)."""
        params = {"phone": phone, "id": str(message_id)}
        return self._call("/sys/status.php", params, "look up a message", sending=False)

    def close(self) -> None:
        self.session.close()

    def _call(
        self, path: str, params: dict[str, str], what: str, *, sending: bool
    ) -> dict[str, Any]:
        data = {**self._auth, **params, "fmt": "3", "charset": "utf-8"}
        unknown = UnknownSendOutcome if sending else TransientSendError
        try:
            response = self.session.post(self.base_url + path, data=data, timeout=self.timeout)
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                raise TransientSendError(f"SMSC.ru unreachable to {what}: {_short(exc)}") from exc
            raise unknown(f"SMSC.ru dropped the connection to {what}: {_short(exc)}") from exc
        except requests.Timeout as exc:
            raise unknown(f"SMSC.ru did not answer in {self.timeout[1]} s to {what}") from exc
        except requests.RequestException as exc:
            raise unknown(f"SMSC.ru request to {what} failed: {_short(exc)}") from exc

        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientSendError(
                f"SMSC.ru answered HTTP {status} to {what}", status=status, meaning=RETRY
            )
        if status != 200:
            raise PermanentSendError(
                f"SMSC.ru answered HTTP {status} to {what}", status=status, meaning=GIVE_UP
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise unknown(f"SMSC.ru's answer to {what} is not a JSON object")
        if "error_code" in answer or "error" in answer:
            raise _refusal(answer, what, sending=sending)
        return answer


def _refusal(answer: dict[str, Any], what: str, *, sending: bool) -> Exception:
    try:
        code = int(answer.get("error_code"))
    except (TypeError, ValueError):
        code = 0
    if not sending:
        words = codes.STATUS_LOOKUP_ERRORS.get(code, f"error {code}")
        return TransientSendError(f"SMSC.ru refused to {what}: {words}", code=code)
    if code == codes.DUPLICATE_REQUEST:
        return UnknownSendOutcome(
            f"SMSC.ru refused to {what}: {codes.SEND_ERRORS[code][1]}", code=code
        )
    meaning, words = codes.send_error(code)
    message = f"SMSC.ru refused to {what}: error {code}, {words}"
    if meaning == RETRY:
        return TransientSendError(message, code=code, meaning=meaning)
    return PermanentSendError(message, code=code, meaning=meaning)


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection was never made, so the request cannot have arrived."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _short(exc: BaseException) -> str:
    """The exception's class name only: its text can hold the URL and, for GET, the password."""
    return type(exc).__name__
