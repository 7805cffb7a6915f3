"""Every exception smsbot raises on purpose, in one flat module (as rq does)."""

from __future__ import annotations

from smsbot.phones import mask_all


class SmsbotError(Exception):
    """Base of our own errors, so edges can tell them from bugs."""


class ConfigError(SmsbotError):
    """A setting is missing or wrong; the message names the environment variable."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable} {problem}")
        self.variable = variable
        self.problem = problem


class SendError(SmsbotError):
    """The SMS provider did not take a message; `meaning` says what we do about it.

    The meaning is one of smsbot.providers.base.MEANINGS (retry, give_up, opted_out,
    invalid_number): each provider's module maps its own codes onto it, so the decision to
    retry or to mark a resident opted out is made once, in smsbot.outbound.
    """

    meaning = "give_up"

    def __init__(
        self,
        message: str,
        code: int | None = None,
        status: int | None = None,
        meaning: str | None = None,
    ):
        # Its text is logged and stored for staff (Message.error_message); a provider's own
        # words may quote the number ("The 'To' number +7… is not valid"): masked here, once.
        super().__init__(mask_all(message))
        self.code = code
        self.status = status
        if meaning is not None:
            self.meaning = meaning


class TransientSendError(SendError):
    """Worth trying again later: connection trouble, 5xx, throttling."""

    meaning = "retry"


class PermanentSendError(SendError):
    """Trying again cannot help: opted-out recipient, invalid number, other refusals."""


class UnknownSendOutcome(SendError):
    """The request went out but no answer came back (a timeout, a dropped connection): the
    provider may have taken the message. It is never sent again before the provider is asked."""

    meaning = "retry"


class UnknownTemplate(SmsbotError):
    """A reply names a template that is not in smsbot/templates_sms/."""


class Refused(SmsbotError):
    """A person asked for something the rules do not allow (a reply to an opted-out phone,
    an empty notice). The message is an English sentence the web interface translates."""

    def __init__(self, message: str, **params: object):
        super().__init__(message.format(**params) if params else message)
        self.msgid = message
        self.params = params


class InvalidTicketTransition(SmsbotError):
    """A ticket was asked to move to a state its state machine does not allow from here."""
