"""`smsbot sms` never prints a reply that did not go out as if the resident had got it."""

from __future__ import annotations

import pytest

from smsbot.models import (
    OUT_ACCEPTED,
    OUT_CANCELED,
    OUT_DELIVERED,
    OUT_FAILED,
    OUT_QUEUED,
    OUT_SENT,
    OUT_UNDELIVERED,
    Message,
    Resident,
)
from smsbot.playing import describe, no_reply

BODY = "Сообщение передано диспетчеру, ответ придёт по SMS. Команды: ПОМОЩЬ"


def reply(status: str, error: str | None = None) -> Message:
    return Message(direction="out", status=status, kind="reply", provider="outbox",
                   from_phone="+74951230001", to_phone="+79851234567", body=BODY,
                   num_segments=2, error_message=error)  # fmt: skip


@pytest.mark.parametrize(
    ("status", "error", "why"),
    [
        (OUT_CANCELED, "resident opted out", "opted out (СТОП)"),
        (OUT_FAILED, "21610: blocked number", "refused it or gave up (21610: blocked number)"),
        (
            OUT_UNDELIVERED,
            "30005: unknown handset",
            "could not deliver it (30005: unknown handset)",
        ),
    ],
)
def test_a_reply_that_never_reached_the_phone_says_not_sent_and_why(status, error, why):
    text = describe(reply(status, error))
    first, second = text.split("\n", 1)
    assert first.startswith(f"✗ reply NOT SENT [{status}]: ") and why in first
    assert "would have said (2 SMS)" in first and second == BODY
    assert f"[{status}, 2 SMS]" not in text  # not the line of a reply that went out


@pytest.mark.parametrize("status", [OUT_SENT, OUT_DELIVERED])
def test_a_sent_reply_is_shown_as_the_resident_got_it(status):
    assert describe(reply(status)) == f"← +74951230001 via outbox [{status}, 2 SMS]:\n{BODY}"


@pytest.mark.parametrize("status", [OUT_QUEUED, OUT_ACCEPTED])
def test_a_reply_on_its_way_is_not_shown_yet(status):
    assert describe(reply(status)) is None


def test_no_reply_says_whether_the_phone_opted_out():
    assert "opted out" in no_reply(Resident(phone="+79851234567", opted_out=True))
    assert "dispatchers' inbox" in no_reply(Resident(phone="+79851234567"))
    assert "dispatchers' inbox" in no_reply(None)
