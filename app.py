"""The web entry point: `create_app()` builds smsbot's Flask app from the environment."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from smsbot import config, db, logs, queues

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""Used when REDIS_URL is unset outside `smsbot run` (which starts its own Redis)."""


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app; `overrides` are environment variables that win over os.environ."""
    env = dict(os.environ)
    env.update({k: str(v) for k, v in (overrides or {}).items() if v is not None})
    settings = config.load(env)
    config.set_current(settings)
    configure_logging()

    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key, SMSBOT_SETTINGS=settings, MAX_CONTENT_LENGTH=64 * 1024
    )
    db.init(settings.database_url)
    queues.init(settings.redis_url or DEFAULT_REDIS_URL)

    from smsbot.web import health, metrics, staff, webhooks

    app.register_blueprint(health.bp)
    staff.init_app(app)
    webhooks.mount(app, settings)  # /sms/… in an app of its own, without the staff's hooks
    metrics.mount(app, settings)  # /metrics, likewise
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies  # outermost: it fixes the environ for both apps
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    return app


def configure_logging() -> None:
    """One line per event on stderr, text or JSON, phone numbers masked (smsbot.logs)."""
    logs.configure()
