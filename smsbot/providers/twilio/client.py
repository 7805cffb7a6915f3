"""Factory for the real twilio SDK client, optionally pointed at a non-Twilio API host.

We always talk to Twilio through the official SDK, so that development, tests and benchmarks
exercise exactly the code path production uses. Locally the SDK is aimed at
:mod:`standins.twilio` instead of ``https://api.twilio.com``.

How the redirection works (twilio 9.x): every REST domain object (``client.api`` is a
:class:`twilio.base.domain.Domain`) builds absolute URLs from its public ``base_url``
attribute, and ``client.api`` is created once and cached. Overriding ``client.api.base_url``
therefore redirects ``client.messages.create/list`` and ``client.messages(sid).fetch()``,
including the ``next_page_uri`` of list pages, without monkey-patching or a custom
http client. ``edge``/``region`` (which the SDK may take from ``TWILIO_EDGE`` /
``TWILIO_REGION``) are cleared because they rewrite the hostname as ``api.<edge>.<region>``
and would mangle a plain ``host:port``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twilio.rest import Client

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def make_client(account_sid: str, auth_token: str, api_base_url: str | None = None) -> Client:
    """Return a twilio ``Client``; with ``api_base_url`` its API requests go to that host.

    ``api_base_url`` is e.g. ``"http://127.0.0.1:8081"`` (scheme + host + port, no path).
    """
    client = Client(account_sid, auth_token)
    if api_base_url:
        client.api.base_url = api_base_url.rstrip("/")
        client.edge = None
        client.region = None
        host = urlsplit(api_base_url).hostname or ""
        session = getattr(client.http_client, "session", None)
        if host in LOOPBACK_HOSTS and session is not None:
            # A local fake must never be reached through an HTTP(S)_PROXY from the env.
            session.trust_env = False
    return client
