"""The last check on what any provider's callback carried, before it reaches the database.

Each plug-in reads its own fields and refuses what its provider would never send; this is
the floor under all of them, in the database's terms: ids and phones fit their columns and
hold no character a database refuses (PostgreSQL raises on a NUL in text), numbers fit a
32-bit integer column. What fails here is the sender's fault, so it is a 400 that says
what is wrong, never a 500 from the database. Pure: values in, values out.
"""

from __future__ import annotations

from dataclasses import replace

from smsbot.providers.base import BadWebhook, Parsed, StatusUpdate, quoted
from smsbot.textnorm import storable

MAX_PROVIDER_ID = 64
"""Message.external_id and MessageRef.ref."""
MAX_PHONE = 16
"""Message.from_phone and to_phone (E.164 is at most 16 with its "+")."""
MAX_ERROR_MESSAGE = 500
"""Message.error_message."""
MAX_INT = 2**31 - 1
"""Message.id and error_code are INTEGER columns on PostgreSQL."""


def checked(parsed: Parsed) -> Parsed:
    """`parsed` ready to store, or BadWebhook naming every value that cannot be."""
    problems: list[str] = []
    for sms in parsed.inbound:
        _value(sms.provider_id, "message id", MAX_PROVIDER_ID, problems)
        _value(sms.from_phone, "sender's number", MAX_PHONE, problems)
        _value(sms.to_phone, "recipient's number", MAX_PHONE, problems)
    statuses = tuple(_status(status, problems) for status in parsed.statuses)
    if problems:
        raise BadWebhook(problems)
    return replace(parsed, statuses=statuses) if parsed.statuses else parsed


def _status(status: StatusUpdate, problems: list[str]) -> StatusUpdate:
    for value in (status.provider_id, *status.aliases):
        _value(value, "message id", MAX_PROVIDER_ID, problems)
    code = status.error_code
    if code is not None and not -MAX_INT <= code <= MAX_INT:
        problems.append(f"error code {quoted(code)} is out of range (at most {MAX_INT})")
    message_id = status.message_id
    if message_id is not None and not 1 <= message_id <= MAX_INT:
        message_id = None  # names no message of ours: the provider's id may still find it
    text = status.error_message
    if text is not None:
        text = storable(text)[:MAX_ERROR_MESSAGE]
    if (message_id, text) == (status.message_id, status.error_message):
        return status
    return replace(status, message_id=message_id, error_message=text)


def _value(value: str, name: str, limit: int, problems: list[str]) -> None:
    if len(value) > limit:
        problems.append(f"{name} is {len(value)} characters; at most {limit}")
    elif storable(value) != value:
        problems.append(f"{name} contains control characters")
