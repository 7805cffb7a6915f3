"""SMSC.ru: a Russian HTTP aggregator with two-way SMS on a dedicated number.

Why SMSC.ru: residents text ordinary Russian numbers, and Twilio cannot receive in Russia.
SMSC.ru rents a dedicated federal number (a "выделенный номер") whose incoming SMS it posts
to our URL, sends from it, and reports delivery to the same URL. Of the two aggregators the
issue names, it is the one whose documentation the search tool could show: the send
errors in full, the status lookup's parameters and the handler's first paragraph. МТС
Exolve's incoming-SMS callback could not be found at all.

Documentation (SMSC.ru's pages; smscentre.com is its English copy, sm-s.ru a mirror):
- sending: https://smsc.ru/api/http/send/sms/ and its errors,
  https://smsc.ru/api/http/send/sms/sms_answer/ (read in full at
  http://s1.sm-s.ru/api/http/send/sms/sms_answer/);
- our id with each message: `id`, "a 32-bit number from 1 to 2147483647"
  (https://metacpan.org/pod/SMS::API::SMSC, SMSC.ru's Perl client);
- status lookup: https://smscentre.com/api/http/status_messages/ (status.php: login, psw or
  apikey, phone, id, fmt=3); status codes: https://smsc.ru/api/http/status_messages/statuses/;
- the handler for statuses and incoming SMS, with its charset, fmt and md5/sha1/crc32
  parameters: https://smsc.ru/api/http/miscellaneous/callback/ (English:
  https://smscentre.com/api/http/miscellaneous/callback/);
- renting the dedicated number: https://smsc.ru/api/http/miscellaneous/ (receive_phones.php).

What could not be read is marked *unverified* where it is used (codes.py, callbacks.py).

In the SMSC.ru account ("Настройки пользователя" → handler URL) set:
    https://<public host>/sms/<name>/inbound?charset=utf-8&key=<SMSC_CALLBACK_SECRET>
(one URL for statuses and incoming SMS). A callback is authentic when the URL's `key` is our
secret (compared in constant time: the issue's fallback, which works whatever SMSC.ru hashes)
or when it carries SMSC.ru's own md5/sha1 hash of its fields and the secret (the hash input
is *unverified*, so it is not the only way in: a misread hash must not lose residents' SMS). Each message carries our id, so a send whose outcome is unknown is looked up by it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smsbot.config import env_value, positive_number
from smsbot.exceptions import ConfigError, PermanentSendError
from smsbot.models import OUT_ACCEPTED
from smsbot.phones import is_e164, mask
from smsbot.providers.base import (
    GIVE_UP,
    INBOUND_HOOK,
    NotAuthentic,
    OutgoingSms,
    Parsed,
    Provider,
    SendResult,
    SimulatedRequest,
    WebhookReply,
    WebhookRequest,
)
from smsbot.providers.smsc import callbacks, codes
from smsbot.providers.smsc.api import SmscApi

log = logging.getLogger(__name__)

URL_KEY = "key"
"""The handler URL's query parameter that carries SMSC_CALLBACK_SECRET."""

KIND = "smsc"
ORDER = 20
DEFAULT_API_URL = "https://smsc.ru"
DEFAULT_MPS = 5.0
"""SMSC.ru publishes no per-account rate; five a second stays clear of its flood checks."""
DEFAULT_TIMEOUT = 15.0
MAX_SMSC_ID = 2_147_483_647
"""The largest id SMSC.ru takes from us (a signed 32-bit number)."""
MIN_SECRET = 16


@dataclass(frozen=True)
class SmscConfig:
    """One SMSC.ru account, checked at start."""

    sender: str
    """The dedicated number (E.164) residents text and we send from."""
    callback_secret: str
    login: str | None = None
    password: str | None = None
    api_key: str | None = None
    api_url: str = DEFAULT_API_URL
    messages_per_second: float = DEFAULT_MPS
    timeout: float = DEFAULT_TIMEOUT
    send_concurrency: int = 4
    """Sends in flight at once per worker (SMSC_SEND_CONCURRENCY)."""
    name: str = KIND
    kind: str = KIND

    def __repr__(self) -> str:  # secrets never reach a log or a traceback
        return f"SmscConfig(name={self.name!r}, sender={mask(self.sender)!r}, api_url={self.api_url!r})"


def configure(env: Mapping[str, str], *, mode: str, secret_key: str) -> list[SmscConfig]:
    """The SMSC.ru account from SMSC_* variables; none when SMSC_LOGIN and SMSC_API_KEY are unset."""
    login, api_key = env_value(env, "SMSC_LOGIN"), env_value(env, "SMSC_API_KEY")
    if not login and not api_key:
        return []
    password = env_value(env, "SMSC_PASSWORD")
    if login and not password and not api_key:
        raise ConfigError("SMSC_PASSWORD", "must be set with SMSC_LOGIN")
    sender = env_value(env, "SMSC_SENDER")
    if not sender:
        raise ConfigError("SMSC_SENDER", "must be the dedicated number in E.164, e.g. +79001234567")
    if not is_e164(sender):
        raise ConfigError("SMSC_SENDER", "must be a phone number in E.164, e.g. +79001234567")
    api_url = (env_value(env, "SMSC_API_URL") or DEFAULT_API_URL).rstrip("/")
    schemes = ("https://",) if mode == "production" else ("https://", "http://")
    if not api_url.startswith(schemes) or len(api_url) <= len("https://"):
        raise ConfigError("SMSC_API_URL", f"must be a URL starting with {' or '.join(schemes)}")
    secret = env_value(env, "SMSC_CALLBACK_SECRET")
    if secret is None:
        if mode == "production":
            raise ConfigError(
                "SMSC_CALLBACK_SECRET",
                "must be set (the secret of the md5 in SMSC.ru's handler URL)",
            )
        secret = hmac.new(secret_key.encode(), b"smsc-callback", hashlib.sha256).hexdigest()[:32]
    elif len(secret) < MIN_SECRET or not secret.isascii() or not secret.isalnum():
        raise ConfigError(
            "SMSC_CALLBACK_SECRET", f"must be at least {MIN_SECRET} letters and digits"
        )
    return [
        SmscConfig(
            sender=sender,
            callback_secret=secret,
            login=login,
            password=password,
            api_key=api_key,
            api_url=api_url,
            messages_per_second=positive_number(env, "SMSC_MPS", DEFAULT_MPS),
            timeout=positive_number(env, "SMSC_TIMEOUT", DEFAULT_TIMEOUT),
            send_concurrency=_concurrency(env, "SMSC_SEND_CONCURRENCY"),
        )
    ]


def build(config: SmscConfig, settings: Any = None) -> SmscProvider:
    return SmscProvider(config)


class SmscProvider(Provider):
    kind = KIND
    can_receive = True

    def __init__(self, config: SmscConfig):
        super().__init__(config)
        self.api = SmscApi(
            base_url=config.api_url,
            login=config.login,
            password=config.password,
            api_key=config.api_key,
            timeout=config.timeout,
            connections=config.send_concurrency,
        )

    # --- sending -------------------------------------------------------------------------

    def send(self, sms: OutgoingSms) -> SendResult:
        phone = _digits(sms.to)
        if not 1 <= sms.message_id <= MAX_SMSC_ID:
            raise PermanentSendError(
                f"message {sms.message_id} is beyond the ids SMSC.ru takes", meaning=GIVE_UP
            )
        sender = _digits(sms.sender) if sms.sender and is_e164(sms.sender) else sms.sender
        answer = self.api.send(
            phone=phone,
            text=sms.body,
            sender=sender or _digits(self.config.sender),
            message_id=sms.message_id,
        )
        log.info("smsc: sent message %s to %s", sms.message_id, mask(sms.to))
        return SendResult(
            provider_id=callbacks.provider_id(_int(answer.get("id")) or sms.message_id, sms.to),
            status=OUT_ACCEPTED,
            num_segments=_int(answer.get("cnt")),
        )

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        if not 1 <= sms.message_id <= MAX_SMSC_ID:
            return None  # send refuses such ids, so SMSC.ru cannot have it
        answer = self.api.status(phone=_digits(sms.to), message_id=sms.message_id)
        code = _int(answer.get("status"))
        if code is None or code == codes.NOT_FOUND:
            return None
        known = codes.STATUSES.get(code)
        return SendResult(
            provider_id=callbacks.provider_id(sms.message_id, sms.to),
            status=known.state if known else OUT_ACCEPTED,
            num_segments=_int(answer.get("cnt")),
        )

    # --- callbacks -----------------------------------------------------------------------

    def authenticate(self, request: WebhookRequest) -> None:
        key = request.arg(URL_KEY)
        if key is not None:
            if hmac.compare_digest(key.encode(), self.config.callback_secret.encode()):
                return
            raise NotAuthentic(f"{URL_KEY} in the handler URL is not SMSC_CALLBACK_SECRET")
        found = callbacks.fields(request)
        callbacks.authenticate(found, self.config.callback_secret, callbacks.charset(request))

    def parse(self, request: WebhookRequest) -> Parsed:
        return callbacks.parse(callbacks.fields(request), self.name)

    def respond(self, request: WebhookRequest, parsed: Parsed) -> WebhookReply:
        return WebhookReply("OK")

    def simulate_inbound(
        self,
        *,
        public_base_url: str,
        from_phone: str,
        to_phone: str,
        text: str,
        provider_id: str | None = None,
    ) -> SimulatedRequest:
        now = str(int(time.time()))
        found = {
            "id": provider_id or str(time.time_ns() // 1000 % 10**15),
            "phone": _digits(from_phone),
            "mes": text,
            "to": _digits(to_phone),
            "sent": now,
            "time": now,
        }
        signed = callbacks.sign(found, self.config.callback_secret)
        return SimulatedRequest(
            path=f"/sms/{self.name}/{INBOUND_HOOK}?charset=utf-8",
            body=callbacks.encode(signed),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def describe(self) -> dict[str, str]:
        auth = "API key" if self.config.api_key else f"login {self.config.login}"
        return {
            "kind": KIND,
            "api_url": self.config.api_url,
            "account": auth,
            "sender": mask(self.config.sender),
            "messages_per_second": f"{self.messages_per_second:g}",
            "timeout": f"{self.config.timeout:g} s",
            "handler_url": f"/sms/{self.name}/{INBOUND_HOOK}?charset=utf-8&{URL_KEY}=<SMSC_CALLBACK_SECRET>",
        }


def _concurrency(env: Mapping[str, str], name: str) -> int:
    raw = env_value(env, name) or "4"
    if not (raw.isdigit() and 1 <= int(raw) <= 64):
        raise ConfigError(name, f"must be a whole number from 1 to 64, got {raw!r}")
    return int(raw)


def _digits(e164: str) -> str:
    """SMSC.ru writes numbers as international digits without "+"."""
    return e164.lstrip("+")


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
