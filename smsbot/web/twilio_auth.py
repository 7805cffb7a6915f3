"""Checking that a webhook really comes from Twilio, against the URL Twilio called.

Twilio signs the public URL it posted to. Behind a proxy our own request.url differs (http
instead of https, an internal host), so the URL is rebuilt from PUBLIC_BASE_URL, or from
the X-Forwarded-* headers when TRUSTED_PROXIES says how many proxies to believe.
"""

from __future__ import annotations

import logging
from functools import wraps

from flask import Response, current_app, request

from smsbot import signatures

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


def public_urls() -> list[str]:
    """The URLs Twilio may have signed for this request, most likely first."""
    settings = current_app.config["SMSBOT_SETTINGS"]
    path = request.full_path if request.query_string else request.path
    urls = [settings.public_base_url + path]
    if settings.trusted_proxies and request.url not in urls:
        urls.append(request.url)  # ProxyFix has applied X-Forwarded-Proto/Host
    return urls


def require_twilio_signature(view):  # noqa: ANN001, ANN201
    """Refuse (403) a request whose X-Twilio-Signature does not match; say which URL was checked."""

    @wraps(view)
    def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        settings = current_app.config["SMSBOT_SETTINGS"]
        signature = request.headers.get(SIGNATURE_HEADER, "")
        # JSON posts are signed by a body hash in the URL; forms by their fields.
        body = request.get_data(cache=True) if "bodySHA256" in request.args else None
        params = {} if body is not None else request.form.to_dict(flat=False)
        urls = public_urls()
        if signature and any(
            signatures.is_valid(url, params, signature, settings.webhook_token, body)
            for url in urls
        ):
            return view(*args, **kwargs)
        reason = "missing" if not signature else "wrong"
        log.warning(
            "refused %s: %s %s signature; checked against %s",
            request.path,
            reason,
            SIGNATURE_HEADER,
            urls,
        )
        return Response(
            f"{reason} {SIGNATURE_HEADER} (checked against {urls[0]})\n", 403, mimetype="text/plain"
        )

    return wrapped
