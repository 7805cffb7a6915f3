"""Providers' callbacks: POST /sms/<provider>/inbound and /sms/<provider>/status.

A callback is checked by its provider (signature or secret), read into residents' messages
and delivery states, stored, and answered in the form that provider expects. An inbound
message costs one INSERT and one Redis push: the hook never calls a provider and never
waits for a handler, so no provider's time limit is at risk. Anything stored here is
durable before the provider hears success; a repeat (the provider resending a callback it
thinks was lost) changes nothing. `/sms/inbound` and `/sms/status` stay for Twilio consoles
set up before providers had names.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request
from sqlmodel import Session

from smsbot import db, inbound, outbound, providers, queues
from smsbot.phones import mask
from smsbot.providers.base import (
    INBOUND_HOOK,
    STATUS_HOOK,
    BadWebhook,
    NotAuthentic,
    Provider,
    WebhookReply,
    WebhookRequest,
)

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/sms")

LEGACY_PROVIDER = "twilio"
"""What /sms/inbound and /sms/status were before providers had names."""


def _provider(name: str) -> Provider:
    found = providers.find(current_app.config["SMSBOT_SETTINGS"], name)
    if found is None or not found.can_receive:
        abort(404, description=f"no provider {name!r} receives here")
    return found


def _webhook_request(hook: str) -> WebhookRequest:
    """The request as a plug-in sees it, with every public URL the provider may have used.

    Providers sign the public URL they posted to. Behind a proxy our own request.url differs
    (http instead of https, an internal host), so it is rebuilt from PUBLIC_BASE_URL, or
    taken from the X-Forwarded-* headers when TRUSTED_PROXIES says how many to believe.
    """
    settings = current_app.config["SMSBOT_SETTINGS"]
    path = request.full_path if request.query_string else request.path
    urls = [settings.public_base_url + path]
    if settings.trusted_proxies and request.url not in urls:
        urls.append(request.url)  # ProxyFix has applied X-Forwarded-Proto/Host
    body = request.get_data(cache=True)  # before .form, which would consume the stream
    return WebhookRequest(
        hook=hook,
        method=request.method,
        urls=tuple(urls),
        args=request.args.to_dict(flat=False),
        form=request.form.to_dict(flat=False),
        headers=dict(request.headers),
        body=body,
        content_type=request.content_type or "",
    )


def _answer(reply: WebhookReply) -> Response:
    return Response(reply.body, reply.status, content_type=reply.content_type)


def _handle(name: str, hook: str) -> Response:
    provider = _provider(name)
    webhook = _webhook_request(hook)
    try:
        provider.authenticate(webhook)
        parsed = provider.parse(webhook)
    except NotAuthentic as exc:
        log.warning("refused %s callback to %s: %s", name, request.path, exc)
        return _answer(provider.refuse(webhook, 403, str(exc)))
    except BadWebhook as exc:  # from parse, or from reading a body too garbled to check
        log.warning("refused %s callback: %s", name, exc)
        return _answer(provider.refuse(webhook, 400, "bad request: " + str(exc)))

    created_ids = []
    if parsed.inbound:
        with db.writer().begin() as conn:
            for sms in parsed.inbound:
                message_id, created = inbound.store(conn, sms)
                if created:
                    created_ids.append(message_id)
                log.info(
                    "inbound via %s from %s %s %s",
                    name,
                    mask(sms.from_phone),
                    "stored as" if created else "is a repeat of",
                    message_id,
                )
    for message_id in created_ids:
        queues.enqueue_inbound(message_id)
    if parsed.statuses:
        with Session(db.writer()) as session:
            for status in parsed.statuses:
                result = outbound.apply_status(session, provider.name, status)
                if result == "unknown":
                    log.info("%s status %s for an unknown message; ignored", name, status.status)
            session.commit()
    return _answer(provider.respond(webhook, parsed))


@bp.post("/<name>/inbound")
def receive_inbound(name: str) -> Response:
    """A resident's SMS (or several, or statuses, for a provider with one URL for all)."""
    return _handle(name, INBOUND_HOOK)


@bp.post("/<name>/status")
def receive_status(name: str) -> Response:
    """Delivery states of our messages."""
    return _handle(name, STATUS_HOOK)


@bp.post("/inbound")
def legacy_inbound() -> Response:
    return _handle(LEGACY_PROVIDER, INBOUND_HOOK)


@bp.post("/status")
def legacy_status() -> Response:
    return _handle(LEGACY_PROVIDER, STATUS_HOOK)
