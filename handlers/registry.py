"""The command registry: each handler module registers itself for its intents here.

A handler takes a Context (the resident, the company, the parsed command, an open database
session) and returns the replies to send, as template names with data. It may change domain
rows through the session; the caller commits those together with the replies, so a handler
that runs twice after a crash changes nothing twice.

A message that speaks of danger goes to the `emergency` handler whatever its first word
(only the whole-message opt-out and opt-in words keep their own handlers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from smsbot import alarms, danger, interruptions
from smsbot.deadlines import in_heating_season
from smsbot.models import Company, Conversation, Message, Resident
from smsbot.parsing import Command

EMERGENCY = "emergency"
"""The handler every message that speaks of danger goes to (not an intent of the parser)."""
DEFAULT_TIMEZONE = "Europe/Moscow"
"""Local time of a message no company claims yet."""


@dataclass(frozen=True)
class Reply:
    """One SMS to send back: a template from smsbot/templates_sms/ and its data."""

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
    outages: tuple[interruptions.Outage, ...] = ()
    """Outages announced for the resident's buildings that last now (smsbot.outage_notices)."""

    @property
    def language(self) -> str:
        """The language of the replies: the one the resident chose (`english`), else the one
        the command is written in (`balance` is answered in English), else the resident's."""
        resident = self.resident
        if resident.language_chosen_at is not None:
            return resident.language
        return self.command.written_in or resident.language

    @property
    def timezone(self) -> str:
        return self.company.timezone if self.company else DEFAULT_TIMEZONE

    @property
    def today(self) -> date:
        """The local date at the company (what windows and seasons go by)."""
        return self.now.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def emergency(self) -> bool:
        """Whether to answer with the emergency numbers: a danger, no heating only in the
        heating season and not during an announced heating outage, and not a phrase in
        passing in a complaint about something else."""
        command = self.command
        if not command.emergency or command.intent in ("stop", "start"):
            return False
        if command.danger == danger.HEATING and not in_heating_season(self.today):
            return False
        if command.danger == danger.HEATING and self.announced_outage is not None:
            return False  # the company said the heating is off and until when
        return not alarms.in_passing(command.text, command.danger)

    @property
    def announced_outage(self) -> interruptions.Outage | None:
        """The announced outage this message asks about (`нет горячей воды`), if any."""
        return interruptions.find(self.outages, self.command.text)


Handler = Callable[[Context], list[Reply]]

_HANDLERS: dict[str, Handler] = {}


def register(*intents: str) -> Callable[[Handler], Handler]:
    """Decorator: make `func` the handler of these intents (one handler per intent)."""

    def wrap(func: Handler) -> Handler:
        for intent in intents:
            if intent in _HANDLERS and _HANDLERS[intent] is not func:
                raise RuntimeError(
                    f"intent {intent!r} already handled by {_HANDLERS[intent].__module__}"
                )
            _HANDLERS[intent] = func
        return func

    return wrap


def handler_for(intent: str) -> Handler:
    """The handler of an intent, turning to the emergency handler when the message speaks of
    danger; intents nobody handles go to the company as chat."""

    def dispatch(ctx: Context) -> list[Reply]:
        if ctx.emergency and EMERGENCY in _HANDLERS:
            return _HANDLERS[EMERGENCY](ctx)
        for answers in _ANSWERS:
            replies = answers(ctx)
            if replies is not None:
                return replies
        return plain_handler(intent)(ctx)

    return dispatch


Answers = Callable[[Context], "list[Reply] | None"]
_ANSWERS: list[Answers] = []


def register_answers(func: Answers) -> Answers:
    """Decorator: `func` sees every message first (after danger) and takes the ones that answer
    a question we asked (ДА/НЕТ after a ticket is done), returning None for all others."""
    _ANSWERS.append(func)
    return func


def plain_handler(intent: str) -> Handler:
    """The registered handler of an intent, danger or not (chat if there is none)."""
    return _HANDLERS.get(intent) or _HANDLERS["chat"]


def registered() -> dict[str, Handler]:
    return dict(_HANDLERS)
