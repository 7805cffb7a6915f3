"""SMSC.ru's numbers in our words: send error codes, status codes, errors in a status.

Pure tables, no I/O, so the mapping is tested by the table and read in one place. Each table
says where it comes from (see the package docstring for the pages):

- send errors 1-9: the "Ответ сервера и коды ошибок" page of send.php, read in full;
- message statuses and the error codes inside a status: SMSC.ru's "Коды статусов" and
  "Коды ошибок в статусе" pages, which the search tool could not show past their menus.
  Those two tables are written from the codes SMSC.ru's own client libraries and
  third-party clients use; treat the wording as *unverified* until checked against
  https://smsc.ru/api/http/status_messages/statuses/ .
"""

from __future__ import annotations

from dataclasses import dataclass

from smsbot.models import (
    OUT_ACCEPTED,
    OUT_DELIVERED,
    OUT_FAILED,
    OUT_SENT,
    OUT_UNDELIVERED,
)
from smsbot.providers.base import GIVE_UP, INVALID_NUMBER, RETRY

# --- send.php errors ------------------------------------------------------------------------

SEND_ERRORS: dict[int, tuple[str, str]] = {
    1: (GIVE_UP, "error in the parameters"),
    2: (GIVE_UP, "wrong login or password"),
    3: (RETRY, "not enough money on the account"),
    4: (RETRY, "IP address temporarily blocked after frequent errors"),
    5: (GIVE_UP, "wrong date format"),
    6: (GIVE_UP, "message forbidden (by its text or its sender name)"),
    7: (INVALID_NUMBER, "wrong phone number format"),
    8: (INVALID_NUMBER, "the message cannot be delivered to this number"),
    9: (RETRY, "the same send request more than once a minute"),
}
"""send.php's error_code → (our meaning, what SMSC.ru says). 3 and 4 clear up by themselves
(a top-up, the block's end), so they are retried; a wrong password needs a person."""

DUPLICATE_REQUEST = 9
"""An identical send request was already taken within the minute: this one may have been
sent by it, so the outcome is unknown and SMSC.ru must be asked before sending again."""

STATUS_LOOKUP_ERRORS: dict[int, str] = {
    1: "error in the parameters",
    2: "wrong login or password",
    4: "IP address temporarily blocked after frequent errors",
    9: "more than five status requests for one message within a minute",
}
"""status.php's error_code; each means only that SMSC.ru cannot be asked right now."""


# --- statuses -------------------------------------------------------------------------------

NOT_FOUND = -3
"""status.php's answer for an id and phone it has no message for."""


@dataclass(frozen=True)
class StatusCode:
    state: str
    """Our outbound state (smsbot.models.OUT_*)."""
    meaning: str | None
    """Our meaning for a failure, when the code alone says it."""
    words: str


STATUSES: dict[int, StatusCode] = {
    -1: StatusCode(OUT_ACCEPTED, None, "waiting to be sent"),
    0: StatusCode(OUT_SENT, None, "handed to the operator"),
    1: StatusCode(OUT_DELIVERED, None, "delivered"),
    2: StatusCode(OUT_DELIVERED, None, "read"),
    3: StatusCode(OUT_UNDELIVERED, None, "expired"),
    4: StatusCode(OUT_DELIVERED, None, "link opened"),
    20: StatusCode(OUT_UNDELIVERED, None, "cannot be delivered"),
    22: StatusCode(OUT_FAILED, INVALID_NUMBER, "wrong number"),
    23: StatusCode(OUT_FAILED, GIVE_UP, "forbidden"),
    24: StatusCode(OUT_FAILED, GIVE_UP, "not enough money"),
    25: StatusCode(OUT_FAILED, INVALID_NUMBER, "unavailable number"),
}
"""SMSC.ru's message status → our state. Read (2) and link opened (4) come after delivery."""

STATUS_ERRORS: dict[int, tuple[str, str]] = {
    1: (INVALID_NUMBER, "subscriber does not exist"),
    6: (RETRY, "subscriber not in the network"),
    11: (GIVE_UP, "no SMS service"),
    12: (GIVE_UP, "subscriber's phone error"),
    13: (GIVE_UP, "subscriber blocked"),
    21: (GIVE_UP, "service not supported"),
    200: (GIVE_UP, "virtual send (test mode)"),
    220: (RETRY, "operator's queue full"),
    240: (RETRY, "subscriber busy"),
    245: (RETRY, "no status from the operator"),
    246: (RETRY, "time limit"),
    247: (RETRY, "message limit exceeded"),
    248: (GIVE_UP, "no route"),
    249: (INVALID_NUMBER, "wrong number format"),
    250: (GIVE_UP, "number forbidden by the account's settings"),
    251: (RETRY, "limit per number exceeded"),
    252: (GIVE_UP, "number forbidden"),
    253: (GIVE_UP, "forbidden by the spam filter"),
    254: (GIVE_UP, "sender name not registered"),
    255: (GIVE_UP, "rejected by the operator"),
}
"""The `err` of a failed status → (our meaning, what it says). *Unverified* (see above)."""


def send_error(code: int) -> tuple[str, str]:
    """Our meaning and a description for send.php's error_code (unknown codes: give up)."""
    return SEND_ERRORS.get(code, (GIVE_UP, f"unknown error {code}"))


def status(code: int, err: int | None) -> tuple[StatusCode, str | None]:
    """Our state and meaning for a status code and its error; KeyError for an unknown code."""
    found = STATUSES[code]
    meaning = found.meaning
    if found.state in (OUT_UNDELIVERED, OUT_FAILED) and err:
        meaning = meaning or STATUS_ERRORS.get(err, (GIVE_UP, ""))[0]
    return found, meaning


def describe_error(err: int | None) -> str | None:
    """A short English description of a status error, for people (None: no error)."""
    if not err:
        return None
    return STATUS_ERRORS.get(err, (GIVE_UP, f"error {err}"))[1]
