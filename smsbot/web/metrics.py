"""GET /metrics: smsbot.metrics' figures for a Prometheus scraper, kept private.

Served beside the Flask app, as the webhooks are (`mount`): a scraper has no staff session,
and the staff app's hooks would only cost it time. Who may read it:

- METRICS_TOKEN set: a request showing it, as `Authorization: Bearer <token>` or
  `?token=<token>` (for scrapers that cannot set headers); 401 without it, 403 wrong.
- METRICS_TOKEN unset: only a request from this machine (loopback) that came through no
  proxy (no X-Forwarded-For): a proxy on the same host would make every visitor look local.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST

from smsbot import metrics
from smsbot.config import Settings

PATH = "/metrics"


def refusal(settings: Settings, environ: dict[str, Any]) -> tuple[int, str] | None:
    """(status, reason) when this request may not read the metrics; None when it may."""
    token = settings.metrics_token
    if token:
        given = _bearer(environ.get("HTTP_AUTHORIZATION", ""))
        if given is None:
            given = (parse_qs(environ.get("QUERY_STRING", "")).get("token") or [None])[0]
        if given is None:
            return 401, "metrics need METRICS_TOKEN: Authorization: Bearer <token> or ?token="
        if not hmac.compare_digest(given.encode(), token.encode()):
            return 403, "wrong metrics token"
        return None
    if environ.get("HTTP_X_FORWARDED_FOR") or not _loopback(environ.get("REMOTE_ADDR", "")):
        return 403, "metrics are served to this machine only: set METRICS_TOKEN to scrape them"
    return None


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def mount(app: Flask, settings: Settings) -> None:
    """Serve /metrics before `app` sees the request; every other path goes on untouched."""
    inner = app.wsgi_app

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return inner(environ, start_response)
        refused = refusal(settings, environ)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            refused = (405, "GET only")
        if refused:
            status, reason = refused
            body = (reason + "\n").encode()
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            if status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
        else:
            status, body = 200, metrics.exposition()
            headers = [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")]
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    app.wsgi_app = dispatch  # type: ignore[method-assign]
