"""Providers' callbacks: POST /sms/<provider>/inbound and /sms/<provider>/status.

A callback is checked by its provider (signature or secret), read into residents' messages
and delivery states, stored, and answered in the form that provider expects. An inbound
message costs one INSERT and one Redis push; a delivery state one UPDATE. The hook never
calls a provider and never waits for a handler, so no provider's time limit is at risk.
Anything stored here is durable before the provider hears success (while the database is
down, in the spool: smsbot.spool); a repeat (the provider resending a callback it thinks was
lost) changes nothing. `/sms/inbound` and `/sms/status`
stay for Twilio consoles set up before providers had names.

Three of these requests come per message (the inbound SMS, then Twilio's 'sent' and
'delivered'), so they are served by a plain WSGI callable beside the Flask app (`mount`),
not by a Flask view: the staff app's CSRF check, Flask-Login, cookie session and security
headers cost about 0.15 ms of CPU per request, Flask's own request and app contexts,
routing and response another 0.08 ms, and a webhook's whole budget is about 0.5 ms. A
provider needs none of it: one route, a body, a few headers, a plain-text answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask
from werkzeug.datastructures import EnvironHeaders
from werkzeug.formparser import parse_form_data
from werkzeug.wsgi import get_current_url

from smsbot import changes, db, inbound, metrics, outbound, providers, queues, spool
from smsbot.config import Settings
from smsbot.providers import checks
from smsbot.providers.base import (
    INBOUND_HOOK,
    OPTED_OUT,
    STATUS_HOOK,
    BadWebhook,
    NotAuthentic,
    Parsed,
    Provider,
    WebhookReply,
    WebhookRequest,
)

log = logging.getLogger(__name__)

PREFIX = "/sms/"
"""Every path under it is a provider's callback (see `mount`)."""
LEGACY_PROVIDER = "twilio"
"""What /sms/inbound and /sms/status were before providers had names."""
HOOKS = (INBOUND_HOOK, STATUS_HOOK)
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 64 * 1024
"""Bytes a callback may post (as the app's MAX_CONTENT_LENGTH); a real one is under 4 KiB."""

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def route(path: str) -> tuple[str, str] | None:
    """(provider name, hook) for a callback path, or None (404)."""
    parts = path[len(PREFIX) :].split("/")
    if len(parts) == 1 and parts[0] in HOOKS:
        return LEGACY_PROVIDER, parts[0]
    if len(parts) == 2 and parts[0] and parts[1] in HOOKS:
        return parts[0], parts[1]
    return None


def fields(text: str) -> dict[str, list[str]]:
    """Form or query fields, decoded as Werkzeug decodes them, in the shape plug-ins read.

    `unquote_plus` only for the names and values that need it: a Twilio form has about
    fifteen fields, and urllib's parse_qsl spends some twenty calls on each.
    """
    found: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, errors="werkzeug.url_quote")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="werkzeug.url_quote")
        values = found.get(name)
        if values is None:
            found[name] = [value]
        else:
            values.append(value)
    return found


def _form(environ: dict[str, Any], body: bytes, content_type: str) -> dict[str, list[str]]:
    """The posted fields, as Werkzeug parses a form (an undecodable body has none)."""
    mimetype = content_type.partition(";")[0].strip().lower()
    if mimetype == FORM:
        try:
            return fields(body.decode())
        except UnicodeDecodeError:
            return {}
    if mimetype == "multipart/form-data" and body:
        form_environ = {**environ, "wsgi.input": BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        return parse_form_data(form_environ)[1].to_dict(flat=False)
    return {}


def _body(environ: dict[str, Any]) -> bytes | None:
    """The posted bytes, or None when there are more than MAX_BODY."""
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        size = int(length) if length.isdigit() else MAX_BODY + 1
        return stream.read(size) if size <= MAX_BODY else None
    if environ.get("wsgi.input_terminated"):  # chunked: the server knows where it ends
        body = stream.read(MAX_BODY + 1)
        return body if len(body) <= MAX_BODY else None
    return b""


def webhook_request(
    environ: dict[str, Any], settings: Settings, hook: str, body: bytes
) -> WebhookRequest:
    """The request as a plug-in sees it, with every public URL the provider may have used.

    Providers sign the public URL they posted to. Behind a proxy our own URL differs (http
    instead of https, an internal host), so it is rebuilt from PUBLIC_BASE_URL, or taken
    from the X-Forwarded-* headers when TRUSTED_PROXIES says how many to believe.
    """
    path = environ.get("PATH_INFO", "").encode("latin-1").decode(errors="replace")
    query = environ.get("QUERY_STRING", "").encode("latin-1").decode(errors="replace")
    urls = [settings.public_base_url + (f"{path}?{query}" if query else path)]
    if settings.trusted_proxies:
        url = _as_sent(get_current_url(environ), environ)  # after ProxyFix's X-Forwarded-*
        if url not in urls:
            urls.append(url)
    content_type = environ.get("CONTENT_TYPE", "")
    return WebhookRequest(
        hook=hook,
        method=environ["REQUEST_METHOD"],
        urls=tuple(urls),
        args=fields(query) if query else {},
        form=_form(environ, body, content_type),
        headers=EnvironHeaders(environ),
        body=body,
        content_type=content_type,
    )


def _as_sent(url: str, environ: dict[str, Any]) -> str:
    """`url` with the host exactly as the provider sent it (X-Forwarded-Host, by ProxyFix).

    Werkzeug's get_current_url lower-cases the host, but a provider signs the URL as it was
    configured there, capital letters included: Bot.UK-Zarechye.ru signs differently.
    """
    host = environ.get("HTTP_HOST", "")
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    if not (sep and host) or host == netloc:
        return url
    lower = host.lower()
    if lower == netloc or lower.startswith(netloc + ":"):  # a default port it dropped
        return f"{scheme}://{host}{slash}{tail}"
    return url


def receive(
    provider: Provider, webhook: WebhookRequest, path: str, settings: Settings
) -> WebhookReply:
    """Check, read and store one callback (in the spool while the database is down: see
    smsbot.spool); the reply the provider expects."""
    name = provider.name
    try:
        provider.authenticate(webhook)
        parsed = checks.checked(provider.parse(webhook))
    except NotAuthentic as exc:
        log.warning("refused %s callback to %s: %s", name, path, exc)
        return provider.refuse(webhook, 403, str(exc))
    except BadWebhook as exc:  # from parse, or from reading a body too garbled to check
        log.warning("refused %s callback: %s", name, exc)
        return provider.refuse(webhook, 400, "bad request: " + str(exc))

    created_ids = []
    changed: set[int | str | None] = set()
    rows = [inbound.row_of(sms) for sms in parsed.inbound]  # before the write lock is taken
    try:
        # One message or one delivery state is one statement: no transaction around it
        # (db.writer). An opt-out also marks the resident: both writes commit together.
        single = len(rows) + len(parsed.statuses) == 1 and not any(
            status.meaning == OPTED_OUT for status in parsed.statuses
        )
        with db.writer(settings.webhook_db_wait_seconds, single=single).begin() as conn:
            for row in rows:
                message_id, created = inbound.insert(conn, row)
                if created:  # logged once handled, by the worker: not twice per message
                    created_ids.append(message_id)
                else:
                    log.info("inbound via %s is a repeat of %s", name, message_id)
            applied = []
            for status in parsed.statuses:
                result = outbound.apply_status(conn, name, status, changed=changed)
                if result == "updated":
                    applied.append(status.status)
                elif result == "unknown":
                    log.info("%s status %s for an unknown message; ignored", name, status.status)
    except spool.DATABASE_DOWN as exc:
        return _keep(provider, webhook, parsed, settings, exc)
    changes.bump_soon(changed)
    for message_id in created_ids:
        queues.enqueue_inbound(message_id)
    if created_ids:
        metrics.MESSAGES_IN.labels(name).inc(len(created_ids))
    for state in applied:
        metrics.DELIVERY_STATES.labels(name, state).inc()
    if spool.pending_here(settings):
        _drain(settings)
    return provider.respond(webhook, parsed)


def _keep(
    provider: Provider,
    webhook: WebhookRequest,
    parsed: Parsed,
    settings: Settings,
    exc: BaseException,
) -> WebhookReply:
    """The database is down: keep the callback in the spool and answer success, or 503 when
    nothing could keep it (the provider may then try again)."""
    records = [spool.record_of(item, provider.name) for item in (*parsed.inbound, *parsed.statuses)]
    try:
        where = spool.keep(settings, records)
    except spool.NotKept as lost:
        log.error("database down and %s: answered 503 (%s)", lost, type(exc).__name__)
        return WebhookReply("Service Unavailable: try again later\n", 503)
    log.warning(
        "database down (%s): %d records of a %s callback kept in the spool (%s)",
        type(exc).__name__, len(records), provider.name, where,
    )  # fmt: skip
    return provider.respond(webhook, parsed)


def _drain(settings: Settings) -> None:
    """The database answers again: store what this process or host kept meanwhile."""
    try:
        spool.drain(settings)
    except spool.DATABASE_DOWN as exc:  # this request is stored; the sweep tries again
        log.warning("spool not drained yet: %s", type(exc).__name__)
    except Exception:  # noqa: BLE001 - never a 5xx for a callback already stored
        log.exception("spool not drained; the sweep tries again")


def _answer(start_response: Callable[..., Any], reply: WebhookReply) -> list[bytes]:
    body = reply.body.encode()
    start_response(
        f"{reply.status} {HTTPStatus(reply.status).phrase}",
        [("Content-Type", reply.content_type), ("Content-Length", str(len(body)))],
    )
    return [body]


def hooks_app(settings: Settings) -> WsgiApp:
    """The WSGI callable that serves every /sms/… path."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        found = route(path)
        if found is None:
            return _answer(start_response, WebhookReply("Not Found\n", 404))
        provider = providers.find(settings, found[0])
        if provider is None or not provider.can_receive:
            return _answer(
                start_response, WebhookReply(f"no provider {found[0]!r} receives here\n", 404)
            )
        if environ["REQUEST_METHOD"] != "POST":
            return _answer(start_response, WebhookReply("Method Not Allowed\n", 405))
        body = _body(environ)
        if body is None:
            return _answer(start_response, WebhookReply("Request Entity Too Large\n", 413))
        webhook = webhook_request(environ, settings, found[1], body)
        return _answer(start_response, receive(provider, webhook, path, settings))

    return serve


def mount(app: Flask, settings: Settings) -> None:
    """Serve /sms/… by `hooks_app`, beside `app` (Flask's "application dispatching"):
    every other path goes on to `app` untouched."""
    staff_app: WsgiApp = app.wsgi_app
    hooks: WsgiApp = hooks_app(settings)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return hooks(environ, start_response)
        return staff_app(environ, start_response)

    app.wsgi_app = dispatch  # type: ignore[method-assign]
