"""Delivery status callbacks: one UPDATE … RETURNING that only ever moves a message forward.

And what a webhook costs in SQL: a status callback is one statement, an inbound SMS one
INSERT (the statement counts guard the request path; speed itself is shown by bench/).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from smsbot import db, outbound
from smsbot.models import OUTBOUND, Message, Resident
from smsbot.providers.base import OPTED_OUT, StatusUpdate
from tests.conftest import TWILIO_TOKEN, twilio_env
from tests.support import post_inbound, post_signed, statements_seen

SID = "SM" + "a" * 32


@pytest.fixture()
def app_env(app_env):  # noqa: ANN001, ANN201
    return {**app_env, **twilio_env("http://127.0.0.1:9")}


def _outbound(status: str = "accepted", sid: str | None = SID, resident_id=None) -> int:  # noqa: ANN001
    with Session(db.engine()) as session:
        message = Message(direction=OUTBOUND, status=status, kind="reply", provider="twilio",
                          external_id=sid, from_phone="+74951230001", to_phone="+79851234567",
                          body="ok", resident_id=resident_id)  # fmt: skip
        session.add(message)
        session.commit()
        return message.id


def _resident() -> int:
    with Session(db.engine()) as session:
        resident = Resident(phone="+79851234567")
        session.add(resident)
        session.commit()
        return resident.id


def _message(message_id: int) -> Message:
    with Session(db.engine()) as session:
        return session.get(Message, message_id)


def _status(client, word: str, sid: str = SID, error: int | None = None):  # noqa: ANN001, ANN202
    params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": word, "AccountSid": "AC" + "0" * 32,
              "From": "+74951230001", "To": "+79851234567", "ApiVersion": "2010-04-01"}  # fmt: skip
    if error:
        params["ErrorCode"] = str(error)
    response = post_signed(client, "/sms/twilio/status", params, TWILIO_TOKEN)
    assert response.status_code == 200, response.data
    return response


def test_delivered_then_sent_stays_delivered(client, app):
    message_id = _outbound()
    _status(client, "delivered")
    _status(client, "sent")
    message = _message(message_id)
    assert message.status == "delivered" and message.delivered_at is not None


def test_a_repeated_callback_changes_nothing(client, app):
    message_id = _outbound()
    _status(client, "sent")
    before = _message(message_id)
    _status(client, "sent")
    after = _message(message_id)
    assert (after.status, after.updated_at) == ("sent", before.updated_at)


@pytest.fixture()
def later(monkeypatch):  # noqa: ANN001, ANN201
    """Move smsbot's clock on by `seconds`, so a rewrite would show in the timestamps."""
    from smsbot import clock

    start = clock.utcnow()

    def move(seconds: float) -> None:
        monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=seconds))

    return move


def test_a_second_delivered_keeps_the_first_delivery_time(client, app, later):
    message_id = _outbound(status="sent")
    later(1)
    _status(client, "delivered")
    first = _message(message_id)
    later(60)
    _status(client, "delivered")
    again = _message(message_id)
    assert first.delivered_at is not None
    assert (again.delivered_at, again.updated_at) == (first.delivered_at, first.updated_at)


def test_a_repeated_undelivered_keeps_its_first_error(client, app, later):
    message_id = _outbound(status="sent")
    later(1)
    _status(client, "undelivered", error=30003)
    later(60)
    _status(client, "undelivered", error=30005)
    _status(client, "failed", error=30008)  # another final state is no step forward either
    message = _message(message_id)
    assert (message.status, message.error_code, message.error_message) == (
        "undelivered",
        30003,
        "Twilio error 30003",
    )


@pytest.mark.parametrize("named_by_callback", [False, True])
def test_a_final_state_repeated_is_ignored_however_the_row_is_found(app, named_by_callback):
    """Every shape of the forward-only UPDATE (by our id from the callback URL, by the
    provider's id) keeps a final state as it first came."""
    message_id = _outbound(status="sent")
    our_id = message_id if named_by_callback else None
    first = StatusUpdate(SID, "undelivered", error_code=30003, message_id=our_id)
    second = StatusUpdate(SID, "undelivered", error_code=30005, message_id=our_id)
    with db.writer().begin() as conn:
        assert outbound.apply_status(conn, "twilio", first) == "updated"
        assert outbound.apply_status(conn, "twilio", second) == "ignored"
    assert _message(message_id).error_code == 30003


def test_apply_status_says_updated_ignored_or_unknown(app):
    _outbound(status="sent")
    with db.writer().begin() as conn:
        assert outbound.apply_status(conn, "twilio", StatusUpdate(SID, "delivered")) == "updated"
        assert outbound.apply_status(conn, "twilio", StatusUpdate(SID, "sent")) == "ignored"
        assert outbound.apply_status(conn, "twilio", StatusUpdate(SID, "delivered")) == "ignored"
        assert outbound.apply_status(conn, "smsc", StatusUpdate(SID, "delivered")) == "unknown"
        unknown = StatusUpdate("SM" + "f" * 32, "delivered")
        assert outbound.apply_status(conn, "twilio", unknown) == "unknown"


def test_an_unknown_id_changes_no_row(client, app):
    message_id = _outbound()
    _status(client, "delivered", sid="SM" + "f" * 32)
    assert _message(message_id).status == "accepted"


def test_error_codes_are_stored_with_the_state(client, app):
    message_id = _outbound(status="sent")
    _status(client, "undelivered", error=30003)
    message = _message(message_id)
    assert (message.status, message.error_code, message.error_message) == (
        "undelivered",
        30003,
        "Twilio error 30003",
    )
    assert message.delivered_at is None


def test_opted_out_meaning_marks_the_resident(client, app):
    resident_id = _resident()
    _outbound(resident_id=resident_id)
    _status(client, "failed", error=21610)  # Twilio: the recipient texted STOP to Twilio
    with Session(db.engine()) as session:
        resident = session.get(Resident, resident_id)
        assert resident.opted_out and resident.opted_out_at is not None


def test_opted_out_meaning_through_a_session_too(app):
    """The SMPP connector applies receipts through an ORM session."""
    resident_id = _resident()
    _outbound(resident_id=resident_id)
    update = StatusUpdate(SID, "failed", error_code=21610, meaning=OPTED_OUT)
    with db.session_scope() as session:
        assert outbound.apply_status(session, "twilio", update) == "updated"
    with Session(db.engine()) as session:
        assert session.get(Resident, resident_id).opted_out


def test_advance_keeps_its_word_for_the_send_path(app):
    message_id = _outbound(status="sending")
    with db.session_scope() as session:
        assert outbound._advance(session, message_id, "accepted") is True
        assert outbound._advance(session, message_id, "accepted") is False
        assert outbound._advance(session, message_id, "sending") is False
    assert _message(message_id).status == "accepted"


def _alone(app) -> bool:  # noqa: ANN001
    """Whether a webhook's one statement runs as its own transaction: on PostgreSQL, with no
    BEGIN and COMMIT round trips; SQLite takes its write lock with BEGIN IMMEDIATE."""
    return db.engine().dialect.name == "postgresql"


def test_a_status_callback_is_one_sql_statement(client, app):
    message_id = _outbound()
    _status(client, "sent")  # the first request of a process builds what later ones reuse
    with statements_seen() as seen:
        _status(client, "delivered")
    assert seen == [("UPDATE", not _alone(app))]
    assert _message(message_id).status == "delivered"


def test_an_inbound_webhook_is_one_insert(client, app):
    post_inbound(client, app, "баланс")
    with statements_seen() as seen:
        _, response = post_inbound(client, app, "помощь")
    assert response.status_code == 200
    assert seen == [("INSERT", not _alone(app))]


def test_an_opt_out_keeps_its_two_writes_in_one_transaction(client, app):
    """The message's state and the resident's opt-out commit together, or neither does."""
    resident_id = _resident()
    _outbound(resident_id=resident_id)
    with statements_seen() as seen:
        _status(client, "failed", error=21610)
    assert [word for word, _ in seen] == ["UPDATE", "UPDATE"]
    assert all(inside for _, inside in seen), seen
    with Session(db.engine()) as session:
        assert session.get(Resident, resident_id).opted_out


def test_webhooks_open_no_staff_session(client, app):
    """They are served without the staff app's cookie session and page headers."""
    _outbound()
    response = _status(client, "sent")
    assert "Set-Cookie" not in response.headers
    assert "Content-Security-Policy" not in response.headers
