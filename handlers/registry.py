"""The command registry: each handler module registers itself for its intents here.

A handler takes a Context (the resident, the company, the parsed command, an open database
session) and returns the replies to send, as template names with data. It may change domain
rows through the session; the caller commits those together with the replies, so a handler
that runs twice after a crash changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from smsbot.models import Company, Conversation, Message, Resident
from smsbot.parsing import Command


@dataclass(frozen=True)
class Reply:
    """One SMS to send back: a template from templates_sms/ and its data."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)
    key: str = "main"
    """Distinguishes several replies to one message; (message, key) is unique."""
    bypass_opt_out: bool = False
    """Only the opt-out confirmation is sent to a phone that has just opted out."""


@dataclass
class Context:
    """Everything a handler may look at for one inbound message."""

    session: Session
    message: Message
    resident: Resident
    company: Company | None
    conversation: Conversation | None
    command: Command
    now: datetime

    @property
    def language(self) -> str:
        return self.resident.language


Handler = Callable[[Context], list[Reply]]

_HANDLERS: dict[str, Handler] = {}


def register(*intents: str) -> Callable[[Handler], Handler]:
    """Decorator: make `func` the handler of these intents (one handler per intent)."""

    def wrap(func: Handler) -> Handler:
        for intent in intents:
            if intent in _HANDLERS and _HANDLERS[intent] is not func:
                raise RuntimeError(f"intent {intent!r} already handled by {_HANDLERS[intent].__module__}")
            _HANDLERS[intent] = func
        return func

    return wrap


def handler_for(intent: str) -> Handler:
    """The handler of an intent; intents nobody handles yet go to the company as chat."""
    return _HANDLERS.get(intent) or _HANDLERS["chat"]


def registered() -> dict[str, Handler]:
    return dict(_HANDLERS)
