"""Twilio's two webhooks: an inbound SMS, and the delivery status of one we sent.

The inbound hook only validates, stores and queues: one INSERT and one Redis push, then an
empty TwiML answer. It never calls Twilio and never waits for a handler, so Twilio's
15-second limit is never at risk and a burst of messages costs milliseconds each.
"""

from __future__ import annotations

import logging

import phonenumbers
from flask import Blueprint, Response, request
from sqlmodel import Session

from smsbot import db, inbound, outbound, queues
from smsbot.inbound import InboundSms
from smsbot.phones import is_e164, mask
from smsbot.web.twilio_auth import require_twilio_signature

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/sms")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
"""No synchronous reply: answers go out through the queue and the Messages API."""
MAX_BODY = 1600
"""Twilio's own limit for a message body."""
MAX_SID = 64


class BadRequest(ValueError):
    """A webhook field is missing or malformed; the message says which and why."""


def _bad(problems: list[str]) -> Response:
    return Response("bad request: " + "; ".join(problems) + "\n", 400, mimetype="text/plain")


def _phone(form, name: str, problems: list[str]) -> str:  # noqa: ANN001
    value = (form.get(name) or "").strip()
    if not value:
        problems.append(f"{name} is required")
        return ""
    try:
        possible = is_e164(value) and phonenumbers.is_possible_number(
            phonenumbers.parse(value, None)
        )
    except phonenumbers.NumberParseException:
        possible = False
    if not possible:
        problems.append(f"{name} must be a phone number in E.164 form like +79851234567")
    return value


def _sid(form, name: str, problems: list[str]) -> str:  # noqa: ANN001
    value = (form.get(name) or "").strip()
    if not value:
        problems.append(f"{name} is required")
    elif len(value) > MAX_SID or not value.isascii() or not value.isalnum():
        problems.append(f"{name} must be a Twilio SID (letters and digits, at most {MAX_SID})")
    return value


@bp.post("/inbound")
@require_twilio_signature
def receive_inbound() -> Response:
    """Store a resident's SMS once per MessageSid and queue it for a worker."""
    form = request.form
    problems: list[str] = []
    sid = _sid(form, "MessageSid", problems)
    from_phone = _phone(form, "From", problems)
    to_phone = _phone(form, "To", problems)
    body = form.get("Body")
    if body is None:
        problems.append("Body is required (it may be empty)")
    elif len(body) > MAX_BODY:
        problems.append(f"Body is {len(body)} characters; at most {MAX_BODY}")
    if problems:
        log.warning("refused inbound webhook: %s", "; ".join(problems))
        return _bad(problems)

    sms = InboundSms(sid, from_phone, to_phone, body or "", form.to_dict())
    with db.writer().begin() as conn:
        message_id, created = inbound.store(conn, sms)
    if created:
        queues.enqueue_inbound(message_id)
        log.info("inbound %s from %s stored as %s", sid, mask(from_phone), message_id)
    else:
        log.info("inbound %s from %s is a repeat of %s", sid, mask(from_phone), message_id)
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")


@bp.post("/status")
@require_twilio_signature
def receive_status() -> Response:
    """Move one of our messages forward on a delivery status callback."""
    form = request.form
    problems: list[str] = []
    sid = _sid(form, "MessageSid", problems)
    status = (form.get("MessageStatus") or "").strip().lower()
    if not status:
        problems.append("MessageStatus is required")
    elif status not in outbound.PROVIDER_STATUS:
        problems.append(
            f"MessageStatus {status!r} is not one of {', '.join(sorted(outbound.PROVIDER_STATUS))}"
        )
    error_code = None
    if form.get("ErrorCode"):
        try:
            error_code = int(form["ErrorCode"])
        except ValueError:
            problems.append("ErrorCode must be a number")
    message_id = None
    if request.args.get("o"):
        try:
            message_id = int(request.args["o"])
        except ValueError:
            problems.append("query parameter o must be a message id")
    if problems:
        log.warning("refused status callback: %s", "; ".join(problems))
        return _bad(problems)

    with Session(db.writer()) as session:
        result = outbound.apply_status(
            session, sid=sid, status=status, message_id=message_id,
            error_code=error_code, error_message=form.get("ErrorMessage"),
        )  # fmt: skip
        session.commit()
    if result == "unknown":
        log.info("status %s for unknown message %s; ignored", status, sid)
    return Response("", 200)
