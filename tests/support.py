"""Helpers for tests: signed webhook posts through Flask's test client, demo rows."""

from __future__ import annotations

from smsbot import providers
from smsbot.providers.twilio import signed_request
from smsbot.simulate import new_provider_id

PUBLIC = "http://127.0.0.1:5000"


def post_signed(
    client, path: str, params: dict[str, str], token: str, *, public: str = PUBLIC, url_path=None
):  # noqa: ANN001, ANN201
    """POST form `params` to `path`, signed for the public URL as Twilio would."""
    data, headers = signed_request(public + (url_path or path), params, token)
    return client.post(path, data=data, headers=headers)


def post_inbound(
    client,
    app,
    body: str,
    *,
    from_phone: str = "+79851234567",
    to_phone: str = "+74951230001",
    sid=None,
    provider: str | None = None,
):  # noqa: ANN001, ANN201
    """A resident's SMS through `provider`'s callback (the default provider's when None)."""
    settings = app.config["SMSBOT_SETTINGS"]
    played = providers.get(settings, provider).simulate_inbound(
        public_base_url=settings.public_base_url,
        from_phone=from_phone,
        to_phone=to_phone,
        text=body,
        provider_id=sid or new_provider_id(),
    )
    response = client.post(played.path, data=played.body, headers=played.headers)
    return _played_id(played), response


def _played_id(played) -> str:  # noqa: ANN001
    from urllib.parse import parse_qs

    fields = parse_qs(played.body.decode())
    return (fields.get("id") or fields.get("MessageSid"))[0]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def outbound_messages(**filters):  # noqa: ANN003, ANN201
    """Our outbound messages, oldest first, optionally filtered by column values."""
    from sqlmodel import Session, select

    from smsbot import db
    from smsbot.models import OUTBOUND, Message

    with Session(db.engine()) as session:
        query = select(Message).where(Message.direction == OUTBOUND)
        for name, value in filters.items():
            query = query.where(getattr(Message, name) == value)
        return list(session.exec(query.order_by(Message.id)))


def die_with_parent() -> None:
    """For processes a test starts (`preexec_fn`): stop when pytest does, however it ends, so
    no orphan worker keeps taking jobs from the Redis database a later test run is given."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
