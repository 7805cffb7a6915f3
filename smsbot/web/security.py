"""Headers and cookie flags that every response gets.

The pages load scripts and styles only from our own /ui/static (no inline code), which is
what lets the Content-Security-Policy forbid everything else: a resident's `<script>` that
somehow escaped escaping still could not run.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def configure(app: Flask) -> None:
    settings = app.config["SMSBOT_SETTINGS"]
    secure = settings.secure_cookies
    app.config.update(
        # __Host- cookies are refused by browsers unless Secure, host-only and Path=/.
        SESSION_COOKIE_NAME="__Host-smsbot" if secure else "smsbot_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=settings.session_max_hours * 3600,
        PREFERRED_URL_SCHEME="https" if secure else "http",
    )

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.path.startswith("/ui/static/"):
            # Staff pages show residents' personal data: never keep them in a shared cache.
            headers.setdefault("Cache-Control", "no-store")
        return response
