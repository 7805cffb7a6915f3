"""Twilio as a provider plug-in: the Messages API through the official SDK, and its two
signed webhooks (an inbound SMS, and the delivery status of one we sent).

Twilio has no two-way SMS in Russia (twilio.com/en/guidelines/ru/sms), so it serves
companies abroad, consoles set up before the Russian providers, and the benchmarks. Every
Twilio word lives here: MessageSid, the status words, error codes (21610 the recipient
texted STOP to Twilio, 21211 an invalid number), TwiML, and X-Twilio-Signature.

Every API call goes through `_call`, the one choke point that turns the SDK's, requests'
and urllib3's errors into our meanings. A read timeout or a connection dropped after the
request went out is an unknown outcome, never a plain retry: Twilio may have taken the
message, and `find_sent` is asked before anything is sent again.

Sends skip the SDK: `send` POSTs the same form to the same REST endpoint over one kept-alive
urllib3 pool per process (what requests and the SDK use underneath). Measured against the
stand-in, 200 creates × 5 rounds, CPU per call: SDK 0.94 ms, a requests.Session 0.79 ms,
urllib3 0.44 ms (see /work/notes/send.md). Looking a send up (`find_sent`, rare) stays on the SDK.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

import certifi
import phonenumbers
import requests
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient

from smsbot.config import env_value
from smsbot.exceptions import (
    ConfigError,
    PermanentSendError,
    TransientSendError,
    UnknownSendOutcome,
)
from smsbot.models import (
    OUT_ACCEPTED,
    OUT_CANCELED,
    OUT_DELIVERED,
    OUT_FAILED,
    OUT_SENT,
    OUT_UNDELIVERED,
)
from smsbot.phones import InvalidPhone, is_e164, mask, normalize
from smsbot.providers import base
from smsbot.providers.base import (
    BadWebhook,
    InboundSms,
    NotAuthentic,
    OutgoingSms,
    Parsed,
    SendResult,
    SimulatedRequest,
    StatusUpdate,
    WebhookReply,
    WebhookRequest,
)
from smsbot.providers.twilio import signatures
from smsbot.providers.twilio.client import LOOPBACK_HOSTS, make_client

log = logging.getLogger(__name__)
T = TypeVar("T")

KIND = "twilio"
ORDER = 40
"""After the Russian providers: Twilio cannot receive from Russian phones."""

STATUS = {
    "accepted": OUT_ACCEPTED,
    "scheduled": OUT_ACCEPTED,
    "queued": OUT_ACCEPTED,
    "sending": OUT_ACCEPTED,
    "sent": OUT_SENT,
    "delivered": OUT_DELIVERED,
    "read": OUT_DELIVERED,
    "undelivered": OUT_UNDELIVERED,
    "failed": OUT_FAILED,
    "canceled": OUT_CANCELED,
}
"""Twilio's MessageStatus words mapped onto our outbound states."""
TRANSIENT_CODES = frozenset({20429, 20500, 20503, 30001})
"""Twilio error codes worth retrying even when the HTTP status looks permanent."""
MEANING = {
    21610: base.OPTED_OUT,  # attempt to send to an unsubscribed recipient
    21211: base.INVALID_NUMBER,  # invalid 'To' phone number
    21614: base.INVALID_NUMBER,  # 'To' is not a mobile number
    21408: base.GIVE_UP,  # permission to send to this region is not enabled
}
"""Twilio error codes with a meaning of their own; other 4xx give up, 5xx and 429 retry."""
HTTP_TIMEOUT = 15
"""Seconds to wait for Twilio's API; longer than its slowest normal answers."""
CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection; nothing has been sent while this runs out."""
DEFAULT_API = "https://api.twilio.com"
DEFAULT_CONCURRENCY = 4
"""Sends in flight at once per worker (TWILIO_SEND_CONCURRENCY)."""
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
"""No synchronous reply: answers go out through the queue and the Messages API."""
MAX_BODY = 1600
"""Twilio's own limit for a message body."""
MAX_SID = 64
MAX_ERROR_CODE = 2**31 - 1
_SID = re.compile(r"^[A-Za-z0-9]{1,64}$")


@dataclass(frozen=True)
class Config:
    name: str
    account_sid: str
    auth_token: str = field(repr=False)
    sender: str | None
    messaging_service_sid: str | None
    api_base_url: str | None
    messages_per_second: float
    send_concurrency: int = DEFAULT_CONCURRENCY
    kind: str = KIND


def configure(env: Mapping[str, str], *, mode: str, secret_key: str) -> list[Config]:
    """Twilio when TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are set (both or neither)."""
    account_sid = env_value(env, "TWILIO_ACCOUNT_SID")
    auth_token = env_value(env, "TWILIO_AUTH_TOKEN")
    if bool(account_sid) != bool(auth_token):
        missing = "TWILIO_AUTH_TOKEN" if account_sid else "TWILIO_ACCOUNT_SID"
        raise ConfigError(missing, "is needed too: set both Twilio credentials or neither")
    service_sid = env_value(env, "TWILIO_MESSAGING_SERVICE_SID")
    if service_sid and not service_sid.startswith("MG"):
        raise ConfigError("TWILIO_MESSAGING_SERVICE_SID", "must start with MG")
    api_base = env_value(env, "TWILIO_API_BASE_URL")
    if api_base and not api_base.startswith(("http://", "https://")):
        raise ConfigError(
            "TWILIO_API_BASE_URL", f"must be a URL starting with http or https, got {api_base!r}"
        )
    if not account_sid:
        return []
    if not (account_sid.startswith("AC") and len(account_sid) == 34):
        raise ConfigError("TWILIO_ACCOUNT_SID", "must look like AC followed by 32 hex digits")
    sender = env_value(env, "TWILIO_FROM")
    if not (sender or service_sid):
        raise ConfigError(
            "TWILIO_FROM", "or TWILIO_MESSAGING_SERVICE_SID must be set with Twilio credentials"
        )
    if sender:
        try:
            sender = normalize(sender)
        except InvalidPhone as exc:
            raise ConfigError("TWILIO_FROM", f"is not a phone number: {exc}") from None
    if api_base:
        api_base = api_base.rstrip("/")
    mps = env_value(env, "TWILIO_MPS") or "10"
    try:
        rate = float(mps)
        if rate <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError("TWILIO_MPS", f"must be a positive number, got {mps!r}") from None
    concurrency = env_value(env, "TWILIO_SEND_CONCURRENCY") or str(DEFAULT_CONCURRENCY)
    if not (concurrency.isdigit() and 1 <= int(concurrency) <= 64):
        raise ConfigError(
            "TWILIO_SEND_CONCURRENCY", f"must be a whole number from 1 to 64, got {concurrency!r}"
        )
    return [
        Config(
            "twilio", account_sid, auth_token, sender, service_sid, api_base, rate, int(concurrency)
        )
    ]


def build(config: Config, settings: object) -> TwilioProvider:
    return TwilioProvider(config)


class TwilioProvider(base.Provider):
    kind = KIND
    can_receive = True

    def __init__(self, config: Config):
        super().__init__(config)
        self._client = None
        self._pool: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()
        self._endpoint: tuple[urllib3.HTTPConnectionPool, str] | None = None
        self._messages_url = (
            f"{config.api_base_url or DEFAULT_API}/2010-04-01/Accounts/{config.account_sid}"
            "/Messages.json"
        )
        credentials = f"{config.account_sid}:{config.auth_token}".encode()
        self._headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": "smsbot",
        }

    @property
    def client(self):  # noqa: ANN201
        """The SDK client, made on first use: a web process that only receives needs none."""
        if self._client is None:
            client = make_client(
                self.config.account_sid, self.config.auth_token, self.config.api_base_url
            )
            client.http_client = _http_client(client.http_client)
            self._client = client
        return self._client

    # --- sending -------------------------------------------------------------------------------

    def send(self, sms: OutgoingSms) -> SendResult:
        form = {"To": sms.to, "Body": sms.body}
        if self.config.messaging_service_sid:
            form["MessagingServiceSid"] = self.config.messaging_service_sid
        else:
            form["From"] = sms.sender or self.config.sender or ""
        if sms.status_callback:
            form["StatusCallback"] = sms.status_callback
        found = self._call(lambda: self._post(form), f"send to {mask(sms.to)}")
        try:
            return SendResult(
                found["sid"], STATUS.get(found.get("status") or "", OUT_ACCEPTED),
                _int(found.get("num_segments")),
            )  # fmt: skip
        except (KeyError, TypeError, AttributeError):
            raise UnknownSendOutcome("Twilio's answer to a send has no message SID") from None

    def _post(self, form: dict[str, str]) -> dict:
        """POST a Messages create; Twilio's refusals raise as the SDK would raise them.

        Straight to the endpoint's connection pool: through the PoolManager every call
        parsed the URL and looked its pool up again (0.2-0.4 ms CPU of a ~1 ms send)."""
        pool, target = self.endpoint
        response = pool.urlopen(
            "POST",
            target,
            body=_form(form),
            headers=self._headers,
            timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT, HTTP_TIMEOUT), read=HTTP_TIMEOUT),
            retries=False,
            redirect=True,
            assert_same_host=False,
        )
        try:
            answer = json.loads(response.data)
        except ValueError:
            answer = None
        if response.status >= 400:
            code = answer.get("code") if isinstance(answer, dict) else None
            raise TwilioRestException(response.status, self._messages_url, "", code, "POST")
        if not isinstance(answer, dict):
            raise UnknownSendOutcome(f"Twilio answered HTTP {response.status} without JSON")
        return answer

    @property
    def http(self) -> urllib3.PoolManager:
        """This process's kept-alive connections to the API, made on first send."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = _pool(self._messages_url, self.config.send_concurrency)
        return self._pool

    @property
    def endpoint(self) -> tuple[urllib3.HTTPConnectionPool, str]:
        """The Messages endpoint's pool and what to ask it for: the path, or the whole URL
        through a plain-HTTP proxy (which also takes the proxy's headers)."""
        if self._endpoint is None:
            manager, url = self.http, self._messages_url
            if isinstance(manager, urllib3.ProxyManager) and urlsplit(url).scheme == "http":
                self._headers = {**self._headers, **manager.proxy_headers}
                self._endpoint = manager.connection_from_url(url), url
            else:  # direct, or HTTPS tunnelled through the proxy: the pool asks for the path
                self._endpoint = manager.connection_from_url(url), urlsplit(url).path
        return self._endpoint

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        found = self._call(
            lambda: self.client.messages.list(
                to=sms.to, date_sent_after=since - timedelta(minutes=1), limit=50
            ),
            f"look up messages to {mask(sms.to)}",
        )
        for message in found:
            if message.body == sms.body:
                return _result(message)
        return None

    def status_callback_url(self, public_base_url: str, message_id: int) -> str | None:
        """`o` finds the row even before its SID is stored."""
        return f"{public_base_url}/sms/{self.name}/status?o={message_id}"

    def _call(self, func: Callable[[], T], what: str) -> T:
        try:
            return func()
        except TwilioRestException as exc:
            code = exc.code if isinstance(exc.code, int) else None
            status = exc.status
            # Twilio's message text may quote the number: only the code and status are kept.
            message = f"Twilio refused to {what}: HTTP {status}, code {code}"
            if status == 429 or status >= 500 or code in TRANSIENT_CODES:
                raise TransientSendError(message, code=code, status=status) from exc
            meaning = MEANING.get(code, base.GIVE_UP)
            raise PermanentSendError(message, code=code, status=status, meaning=meaning) from exc
        except (
            requests.ConnectTimeout,
            requests.exceptions.InvalidURL,
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.ConnectTimeoutError,
            urllib3.exceptions.NameResolutionError,
            urllib3.exceptions.SSLError,
            urllib3.exceptions.LocationParseError,
        ) as exc:
            # No connection was made: the request cannot have reached Twilio.
            raise TransientSendError(f"Twilio unreachable to {what}: {type(exc).__name__}") from exc
        except requests.ConnectionError as exc:
            if "NewConnectionError" in repr(exc) or "Failed to establish" in str(exc):
                raise TransientSendError(f"Twilio unreachable to {what}") from exc
            raise UnknownSendOutcome(f"Twilio dropped the connection to {what}") from exc
        except (requests.Timeout, urllib3.exceptions.ReadTimeoutError) as exc:
            raise UnknownSendOutcome(f"Twilio did not answer in time to {what}") from exc
        except urllib3.exceptions.HTTPError as exc:  # dropped mid-request, garbled answer …
            raise UnknownSendOutcome(
                f"Twilio dropped the connection to {what}: {type(exc).__name__}"
            ) from exc
        except TwilioException as exc:
            raise TransientSendError(
                f"Twilio client error to {what}: {type(exc).__name__}"
            ) from exc

    # --- callbacks -----------------------------------------------------------------------------

    def authenticate(self, request: WebhookRequest) -> None:
        signature = request.header(signatures.SIGNATURE_HEADER) or ""
        # JSON posts are signed by a body hash in the URL; forms by their fields.
        signed_body = "bodySHA256" in request.args
        params = {} if signed_body else request.form
        body = request.body if signed_body else None
        if signature and any(
            signatures.is_valid(url, params, signature, self.config.auth_token, body)
            for url in request.urls
        ):
            return
        reason = "missing" if not signature else "wrong"
        raise NotAuthentic(
            f"{reason} {signatures.SIGNATURE_HEADER} (checked against {request.urls[0]})"
        )

    def parse(self, request: WebhookRequest) -> Parsed:
        if request.hook == base.STATUS_HOOK:
            return Parsed(statuses=(_status(request),))
        return Parsed(inbound=(_inbound(self.name, request),))

    def respond(self, request: WebhookRequest, parsed: Parsed) -> WebhookReply:
        if request.hook == base.STATUS_HOOK:
            return WebhookReply("")
        return WebhookReply(EMPTY_TWIML, 200, "text/xml; charset=utf-8")

    def simulate_inbound(
        self,
        *,
        public_base_url: str,
        from_phone: str,
        to_phone: str,
        text: str,
        provider_id: str | None = None,
    ) -> SimulatedRequest:
        path = f"/sms/{self.name}/inbound"
        params = inbound_params(
            from_phone=from_phone,
            to_phone=to_phone,
            body=text,
            message_sid=provider_id,
            account_sid=self.config.account_sid,
        )
        body, headers = signed_request(public_base_url + path, params, self.config.auth_token)
        return SimulatedRequest(path, body, headers)

    def describe(self) -> dict[str, str]:
        return {
            "account": self.config.account_sid[:6] + "…",
            "from": self.config.sender or f"messaging service {self.config.messaging_service_sid}",
            "api": self.config.api_base_url or "https://api.twilio.com",
            "messages per second": f"{self.messages_per_second:g}",
        }


# --- reading Twilio's forms ---------------------------------------------------------------------


def _clean(request: WebhookRequest, name: str) -> str | None:
    value = request.field(name)
    return None if value is None else value.strip()


def _sid(request: WebhookRequest, name: str, problems: list[str]) -> str:
    value = _clean(request, name)
    if not value:
        problems.append(f"{name} is required")
        return ""
    if not _SID.match(value):
        problems.append(f"{name} must be a Twilio SID (letters and digits, at most {MAX_SID})")
    return value


def _phone(request: WebhookRequest, name: str, problems: list[str]) -> str:
    value = _clean(request, name)
    if not value:
        problems.append(f"{name} is required")
        return ""
    if not _possible_phone(value):
        problems.append(
            f"{name} must be a phone number in E.164 form (+, country code and number, at most 15 digits)"
        )
    return value


@lru_cache(maxsize=8192)
def _possible_phone(value: str) -> bool:
    """Whether `value` is an E.164 number that can exist. Cached: phonenumbers takes about
    20 µs a number, two numbers a webhook, and the same few thousand residents and our own
    numbers come back all day."""
    try:
        return is_e164(value) and phonenumbers.is_possible_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return False


def _inbound(provider: str, request: WebhookRequest) -> InboundSms:
    problems: list[str] = []
    sid = _sid(request, "MessageSid", problems)
    from_phone = _phone(request, "From", problems)
    to_phone = _phone(request, "To", problems)
    body = request.field("Body")
    if body is None:
        problems.append("Body is required (it may be empty)")
    elif len(body) > MAX_BODY:
        problems.append(f"Body is {len(body)} characters; at most {MAX_BODY}")
    if problems:
        raise BadWebhook(problems)
    params = {k: v[0] for k, v in request.form.items() if v}
    return InboundSms(provider, sid, from_phone, to_phone, body or "", params)


def _status(request: WebhookRequest) -> StatusUpdate:
    problems: list[str] = []
    sid = _sid(request, "MessageSid", problems)
    word = (_clean(request, "MessageStatus") or "").lower()
    if not word:
        problems.append("MessageStatus is required")
    elif word not in STATUS:
        problems.append(
            f"MessageStatus {base.quoted(word)!r} is not one of {', '.join(sorted(STATUS))}"
        )
    error_code = _number(_clean(request, "ErrorCode"), "ErrorCode", problems)
    message_id = _number(request.arg("o"), "query parameter o", problems)
    if problems:
        raise BadWebhook(problems)
    return StatusUpdate(
        provider_id=sid,
        status=STATUS[word],
        message_id=message_id,
        error_code=error_code,
        error_message=f"Twilio error {error_code}" if error_code else None,
        meaning=MEANING.get(error_code) if error_code else None,
    )


def _number(value: str | None, name: str, problems: list[str]) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ERROR_CODE:
        problems.append(f"{name} must be a whole number below 2^31")
        return None
    return int(value)


def _result(message) -> SendResult:  # noqa: ANN001
    return SendResult(
        message.sid, STATUS.get(message.status or "", OUT_ACCEPTED), _int(message.num_segments)
    )


_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_BYTE = tuple(
    chr(b) if b in _FORM_SAFE else "+" if b == ord(" ") else f"%{b:02X}" for b in range(256)
)
"""Each byte as urlencode writes it in a form (quote_plus): one lookup per byte."""


def _form(fields: Mapping[str, str]) -> bytes:
    """`urlencode(fields).encode()` for plain-text keys, at half its CPU (it calls a method
    per byte of a Cyrillic text)."""
    return "&".join(
        k + "=" + "".join(map(_FORM_BYTE.__getitem__, v.encode())) for k, v in fields.items()
    ).encode()


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _pool(url: str, size: int) -> urllib3.PoolManager:
    """Kept-alive connections for `url`'s host, through the environment's proxy as requests
    would go (HTTPS_PROXY, NO_PROXY), never for a loopback stand-in; no retries: a retried
    create could send twice."""
    host = urlsplit(url).hostname or ""
    options = {"maxsize": max(size, 1), "retries": False, "ca_certs": certifi.where()}
    proxy = urllib.request.getproxies().get(urlsplit(url).scheme)
    if proxy and host not in LOOPBACK_HOSTS and not urllib.request.proxy_bypass(host):
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def _http_client(existing: TwilioHttpClient) -> TwilioHttpClient:
    """The SDK's HTTP client with a timeout (its default waits forever), keeping its session."""
    client = TwilioHttpClient(timeout=HTTP_TIMEOUT, pool_connections=True)
    session = getattr(existing, "session", None)
    if session is not None:
        client.session = session
    return client


# --- playing Twilio: `smsbot sms`, tests and benchmarks ------------------------------------------


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
        signatures.SIGNATURE_HEADER: signatures.expected_signature(public_url, params, auth_token),
    }
    return urlencode(params).encode(), headers
