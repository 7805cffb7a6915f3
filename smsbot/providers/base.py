"""What every SMS provider plug-in is, and the plain values that cross its edge.

A provider is everything that differs between Twilio, an SMPP account, a Russian HTTP
aggregator and the local outbox: how one SMS is sent and looked up again, how a callback is
proved authentic and read, what the provider wants to hear back, and what its status words
and error codes mean to us. The rest of smsbot speaks only the values below (our states,
our meanings), so no code outside a provider's own module names a provider's word or code.
(As courier does it: one package per channel type, each with its receive and status
handlers and its own error mapping.)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

# --- what a provider's error means to us -------------------------------------------------------

OPTED_OUT = "opted_out"
"""The recipient asked the provider or the network to stop messages: mark them opted out."""
INVALID_NUMBER = "invalid_number"
"""The number cannot receive SMS: give up on this message."""
RETRY = "retry"
"""Trouble on the way (throttling, a full queue, a 5xx): try again after a pause."""
GIVE_UP = "give_up"
"""Any other refusal: trying again cannot help."""
MEANINGS = (OPTED_OUT, INVALID_NUMBER, RETRY, GIVE_UP)

INBOUND_HOOK = "inbound"
"""The callback that brings residents' messages."""
STATUS_HOOK = "status"
"""The callback that brings delivery states of our messages."""


@dataclass(frozen=True)
class OutgoingSms:
    """One stored message, as a provider needs it to send it."""

    message_id: int
    to: str
    """E.164, +79851234567."""
    body: str
    sender: str | None
    """The number (E.164) or alphanumeric name to send from; None: the provider's default."""
    encoding: str = "GSM-7"
    """As smsbot.segments measured the body: GSM-7 or UCS-2."""
    segments: int = 1
    status_callback: str | None = None
    """Where the provider should report delivery, when it takes a URL per message."""


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it took a message."""

    provider_id: str
    """The provider's id of the message (Twilio's SID, SMPP's message_id …)."""
    status: str
    """Our outbound state it reached: accepted, sent or delivered (smsbot.models.OUT_*)."""
    num_segments: int | None = None
    part_ids: tuple[str, ...] = ()
    """Further ids when the provider gave each part of a long text its own (SMPP)."""


@dataclass(frozen=True)
class InboundSms:
    """A resident's SMS as a provider delivered it, already checked."""

    provider: str
    provider_id: str
    """Unique per provider: a message is stored once per (provider, provider_id)."""
    from_phone: str
    to_phone: str
    body: str
    params: dict[str, str] = field(default_factory=dict)
    """The provider's own fields, kept for a person to read (never logged)."""
    incomplete: bool = False
    """A long text some of whose parts never arrived."""


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery state of one of our messages, in our words."""

    provider_id: str
    status: str
    """Our outbound state (smsbot.models.OUT_*)."""
    message_id: int | None = None
    """Our own id, when the provider echoes it (Twilio's ?o= in the callback URL)."""
    error_code: int | None = None
    error_message: str | None = None
    meaning: str | None = None
    """One of MEANINGS when the provider explained a failure (opted out …)."""
    aliases: tuple[str, ...] = ()
    """Other spellings of provider_id the provider may have given us (an SMSC's hex id in
    one place and decimal in another): matched in one query, the exact spelling first."""


@dataclass(frozen=True)
class Parsed:
    """Everything one callback request carried."""

    inbound: tuple[InboundSms, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's HTTP callback, without Flask: what a plug-in may look at."""

    hook: str
    """INBOUND_HOOK or STATUS_HOOK (a provider with one URL for both may ignore it)."""
    method: str
    urls: tuple[str, ...]
    """The public URLs the provider may have called (query included), most likely first."""
    args: Mapping[str, list[str]]
    form: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""
    content_type: str = ""

    def arg(self, name: str) -> str | None:
        values = self.args.get(name)
        return values[0] if values else None

    def field(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        found = self.headers.get(name)  # Werkzeug's headers ignore case themselves
        if found is not None:
            return found
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None


@dataclass(frozen=True)
class WebhookReply:
    """The answer a provider expects (TwiML, OK, 100 …)."""

    body: str = ""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class SimulatedRequest:
    """A callback as the provider would post it, for `smsbot sms`, tests and benchmarks."""

    path: str
    body: bytes
    headers: dict[str, str]


class NotAuthentic(Exception):
    """A callback's signature or secret is missing or wrong; the message says which (403)."""


def quoted(value: object) -> str:
    """A caller's value as an error may repeat it (to the caller and into our log): whole
    when short, else its first four characters, so no phone number is ever repeated."""
    text = str(value)
    return text if len(text) <= 8 else text[:4] + "…"


class BadWebhook(ValueError):
    """A callback is malformed; `problems` say what is wrong (400)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class Provider(ABC):
    """One configured provider account. Instances are made once per process.

    Subclasses set `kind` and the capabilities, and implement what they support; a
    provider that cannot receive keeps the default `parse` that refuses every callback.
    """

    kind: ClassVar[str]
    """The plug-in: twilio, outbox, smpp, smsc."""
    can_receive: ClassVar[bool] = False
    """Whether residents can text this provider's numbers (two-way SMS)."""
    uses_connector: ClassVar[bool] = False
    """Sends go out through a long-lived connector process (`smsbot smpp`) that claims its
    messages from the database itself, not through RQ send jobs."""
    messages_per_second: float = 10.0
    """The account's sending rate; senders keep under it (smsbot.pacing)."""
    send_concurrency: int = 4
    """Sends in flight at once per worker process (smsbot.sending)."""

    def __init__(self, config: Any):
        self.config = config
        """The plug-in's frozen config, as its configure() read it from the environment."""
        self.name: str = config.name
        """This account's name: in routes (/sms/<name>/inbound) and in Message.provider."""
        self.messages_per_second = getattr(
            config, "messages_per_second", type(self).messages_per_second
        )
        self.send_concurrency = getattr(config, "send_concurrency", type(self).send_concurrency)

    # --- sending -----------------------------------------------------------------------------

    @abstractmethod
    def send(self, sms: OutgoingSms) -> SendResult:
        """Hand one message to the provider.

        Raises smsbot.exceptions.SendError with a meaning (RETRY, GIVE_UP, OPTED_OUT,
        INVALID_NUMBER) when the provider refused it, and UnknownSendOutcome when it may
        have taken it (a timeout or a dropped connection after the request went out).
        """

    @abstractmethod
    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """The provider's record of this message if it has one (None: it never got it).

        Asked before a message whose send had an unknown outcome is sent again. Raises
        TransientSendError when the provider cannot be asked right now.
        """

    def status_callback_url(self, public_base_url: str, message_id: int) -> str | None:
        """The URL to give the provider with each send, if it takes one per message."""
        return None

    # --- callbacks -----------------------------------------------------------------------------

    def authenticate(self, request: WebhookRequest) -> None:
        """Raise NotAuthentic unless the request provably comes from this provider."""
        raise NotAuthentic(f"{self.name} sends no callbacks")

    def parse(self, request: WebhookRequest) -> Parsed:
        """Read a callback into residents' messages and delivery states; BadWebhook if not."""
        raise BadWebhook([f"{self.name} sends no callbacks"])

    def respond(self, request: WebhookRequest, parsed: Parsed) -> WebhookReply:
        """What the provider expects to hear once everything in the request is stored."""
        return WebhookReply("OK")

    def refuse(self, request: WebhookRequest, status: int, reason: str) -> WebhookReply:
        """The answer to a request we refuse (400 malformed, 403 not authentic)."""
        return WebhookReply(reason + "\n", status)

    def simulate_inbound(
        self,
        *,
        public_base_url: str,
        from_phone: str,
        to_phone: str,
        text: str,
        provider_id: str | None = None,
    ) -> SimulatedRequest:
        """The signed callback this provider would post for a resident's SMS."""
        raise NotImplementedError(f"{self.name} cannot be played over HTTP")

    def describe(self) -> dict[str, str]:
        """What `smsbot check-config` shows: settings in force, never a secret."""
        return {}


def playable(provider: Provider) -> bool:
    """Whether a resident can be played through this provider's HTTP callback."""
    return type(provider).simulate_inbound is not Provider.simulate_inbound
