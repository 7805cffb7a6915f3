"""Providers' callbacks: POST /sms/<provider>/inbound and /sms/<provider>/status.

A callback is checked by its provider (signature or secret), read into residents' messages
and delivery states, stored, and answered in the form that provider expects. An inbound
message costs one INSERT and one Redis push; a delivery state one UPDATE. The hook never
calls a provider and never waits for a handler, so no provider's time limit is at risk.
Anything stored here is durable before the provider hears success; a repeat (the provider
resending a callback it thinks was lost) changes nothing. `/sms/inbound` and `/sms/status`
stay for Twilio consoles set up before providers had names.

Three of these requests come per message (the inbound SMS and Twilio's 'sent' and
'delivered'), so they are served by an app of their own (`mount`): the staff app's CSRF
check, Flask-Login, cookie session and security headers cost about 0.15 ms of CPU per
request, a quarter of a webhook's budget, and a provider uses none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

from flask import Blueprint, Flask, Response, abort, current_app, request
from flask.sessions import SessionInterface

from smsbot import db, inbound, outbound, providers, queues
from smsbot.config import Settings
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

PREFIX = "/sms/"
"""Every path under it is a provider's callback, served by the webhooks' own app."""
LEGACY_PROVIDER = "twilio"
"""What /sms/inbound and /sms/status were before providers had names."""
FORM = "application/x-www-form-urlencoded"


def _provider(name: str) -> Provider:
    found = providers.find(current_app.config["SMSBOT_SETTINGS"], name)
    if found is None or not found.can_receive:
        abort(404, description=f"no provider {name!r} receives here")
    return found


def _form(body: bytes, content_type: str) -> dict[str, list[str]]:
    """The posted fields, parsed as Werkzeug parses a form (an undecodable body has none).

    Straight from the body into the shape plug-ins read, without a MultiDict to copy, and
    `unquote_plus` only for the names and values that need it: a Twilio form has about
    fifteen fields, and urllib's parse_qsl spends some twenty calls on each.
    """
    if content_type.partition(";")[0].strip().lower() != FORM:
        return request.form.to_dict(flat=False) if body else {}
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return {}
    fields: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, errors="werkzeug.url_quote")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="werkzeug.url_quote")
        found = fields.get(name)
        if found is None:
            fields[name] = [value]
        else:
            found.append(value)
    return fields


def _webhook_request(hook: str) -> WebhookRequest:
    """The request as a plug-in sees it, with every public URL the provider may have used.

    Providers sign the public URL they posted to. Behind a proxy our own request.url differs
    (http instead of https, an internal host), so it is rebuilt from PUBLIC_BASE_URL, or
    taken from the X-Forwarded-* headers when TRUSTED_PROXIES says how many to believe.
    Headers are Werkzeug's own (case-insensitive, read on demand), not a copy.
    """
    settings = current_app.config["SMSBOT_SETTINGS"]
    query = request.query_string
    path = request.full_path if query else request.path
    urls = [settings.public_base_url + path]
    if settings.trusted_proxies and request.url not in urls:
        urls.append(request.url)  # ProxyFix has applied X-Forwarded-Proto/Host
    body = request.get_data(cache=True)
    content_type = request.content_type or ""
    return WebhookRequest(
        hook=hook,
        method=request.method,
        urls=tuple(urls),
        args=request.args.to_dict(flat=False) if query else {},
        form=_form(body, content_type),
        headers=request.headers,
        body=body,
        content_type=content_type,
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
    with db.writer().begin() as conn:
        for sms in parsed.inbound:
            message_id, created = inbound.store(conn, sms)
            if created:  # logged once handled, by the worker: not twice per message
                created_ids.append(message_id)
            elif log.isEnabledFor(logging.INFO):
                log.info("inbound via %s is a repeat of %s", name, message_id)
        for status in parsed.statuses:
            if outbound.apply_status(conn, provider.name, status) == "unknown":
                log.info("%s status %s for an unknown message; ignored", name, status.status)
    for message_id in created_ids:
        queues.enqueue_inbound(message_id)
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


# --- the webhooks' own app ---------------------------------------------------------------------

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _NoSession(SessionInterface):
    """A provider brings no staff cookie: no session is opened, signed or saved."""

    def open_session(self, app: Flask, request: Any) -> None:  # noqa: ANN401
        return None

    def save_session(self, app: Flask, session: Any, response: Response) -> None:  # noqa: ANN401
        return None


def mount(app: Flask, settings: Settings) -> None:
    """Serve /sms/… from a bare Flask app holding only this blueprint, beside `app`.

    The two share one config (so TESTING, MAX_CONTENT_LENGTH and the settings are the
    same); every other path goes on to `app` untouched (Flask's "application dispatching").
    """
    hooks = Flask(__name__)
    hooks.config = app.config
    hooks.session_interface = _NoSession()
    hooks.register_blueprint(bp)
    staff_app: WsgiApp = app.wsgi_app
    hooks_app: WsgiApp = hooks.wsgi_app

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return hooks_app(environ, start_response)
        return staff_app(environ, start_response)

    app.wsgi_app = dispatch  # type: ignore[method-assign]
    app.extensions["smsbot.webhooks"] = hooks
