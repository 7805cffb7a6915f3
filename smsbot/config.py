"""Typed settings read once from the environment.

Operators configure smsbot only through environment variables (twelve-factor style), so a
typo must stop the process at start with the variable's name, not surface later as a
failed send. Secrets never have a default outside development.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from smsbot.exceptions import ConfigError

ENVIRONMENTS = ("development", "test", "production")
"""Where the process runs; production refuses made-up secrets and the local outbox."""

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development"}
"""Values people paste from examples; refused as SECRET_KEY outside development."""

DEFAULT_INSTANCE_PATH = Path.cwd() / "instance"
"""Where the SQLite file, the embedded Redis and the generated dev secret live by default."""


@dataclass(frozen=True)
class Settings:
    """Everything smsbot reads from the environment, validated."""

    env: str = "development"
    instance_path: Path = DEFAULT_INSTANCE_PATH
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    public_base_url: str = "http://127.0.0.1:5000"
    trusted_proxies: int = 0
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None
    sweep_after_seconds: int = 20
    """A received or queued message this old without a live job is queued again."""
    sending_grace_seconds: int = 60
    """A send claimed this long ago is asked about at the provider; keep it well above the
    provider timeout (15 s), or a slow send still in flight could be sent twice."""
    send_max_attempts: int = 6
    session_idle_minutes: int = 120
    """A staff session unused this long ends (an open inbox page keeps it in use)."""
    session_max_hours: int = 12
    """A staff session ends this long after sign-in, used or not: one shift."""

    @property
    def transport(self) -> str:
        """Which gateway sends SMS: Twilio when credentials are set, else the local outbox."""
        return "twilio" if self.twilio_account_sid and self.twilio_auth_token else "outbox"

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the service is reached over HTTPS."""
        return self.public_base_url.startswith("https://")

    @property
    def webhook_token(self) -> str:
        """The key webhooks are signed with: Twilio's auth token, or a local one.

        Without a Twilio account the local tools (`smsbot sms`, the fake Twilio server) still
        sign their posts, so the webhook path is the same one production runs.
        """
        if self.twilio_auth_token:
            return self.twilio_auth_token
        import hashlib
        import hmac

        return hmac.new(self.secret_key.encode(), b"local-webhooks", hashlib.sha1).hexdigest()

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _get(env: dict[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ConfigError(
            name, f"must be a URL starting with {' or '.join(schemes)}, got {value!r}"
        )
    return value


def _dev_secret(instance_path: Path) -> str:
    """Create once and reuse a random secret so development sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def load(environ: dict[str, str] | None = None) -> Settings:
    """Read and check the settings; raise ConfigError naming the first bad variable."""
    env = dict(os.environ if environ is None else environ)

    mode = (_get(env, "SMSBOT_ENV") or "development").lower()
    if mode not in ENVIRONMENTS:
        raise ConfigError("SMSBOT_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, got {mode!r}")

    instance_path = Path(_get(env, "SMSBOT_INSTANCE_PATH") or DEFAULT_INSTANCE_PATH).resolve()

    database_url = _get(env, "DATABASE_URL") or f"sqlite:///{instance_path / 'smsbot.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://") :]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    if not database_url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError(
            "DATABASE_URL", f"must be an sqlite:// or postgresql:// URL, got {database_url!r}"
        )

    redis_url = _get(env, "REDIS_URL")
    if redis_url is not None:
        _url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))

    secret_key = _get(env, "SECRET_KEY")
    if mode == "production":
        if secret_key is None or secret_key.lower() in PLACEHOLDER_SECRETS or len(secret_key) < 16:
            raise ConfigError(
                "SECRET_KEY", "must be set to a random value of 16+ characters in production"
            )
    elif secret_key is None:
        secret_key = _dev_secret(instance_path)

    public_base_url = _url(
        "PUBLIC_BASE_URL",
        _get(env, "PUBLIC_BASE_URL") or "http://127.0.0.1:5000",
        ("http", "https"),
    ).rstrip("/")

    account_sid = _get(env, "TWILIO_ACCOUNT_SID")
    auth_token = _get(env, "TWILIO_AUTH_TOKEN")
    if bool(account_sid) != bool(auth_token):
        missing = "TWILIO_AUTH_TOKEN" if account_sid else "TWILIO_ACCOUNT_SID"
        raise ConfigError(missing, "is needed too: set both Twilio credentials or neither")
    if account_sid and not (account_sid.startswith("AC") and len(account_sid) == 34):
        raise ConfigError("TWILIO_ACCOUNT_SID", "must look like AC followed by 32 hex digits")
    twilio_from = _get(env, "TWILIO_FROM")
    service_sid = _get(env, "TWILIO_MESSAGING_SERVICE_SID")
    if account_sid and not (twilio_from or service_sid):
        raise ConfigError(
            "TWILIO_FROM", "or TWILIO_MESSAGING_SERVICE_SID must be set with Twilio credentials"
        )
    if twilio_from:
        from smsbot.phones import InvalidPhone, normalize

        try:
            twilio_from = normalize(twilio_from)
        except InvalidPhone as exc:
            raise ConfigError("TWILIO_FROM", f"is not a phone number: {exc}") from None
    if service_sid and not service_sid.startswith("MG"):
        raise ConfigError("TWILIO_MESSAGING_SERVICE_SID", "must start with MG")
    api_base = _get(env, "TWILIO_API_BASE_URL")
    if api_base:
        api_base = _url("TWILIO_API_BASE_URL", api_base, ("http", "https")).rstrip("/")
    if mode == "production" and not account_sid:
        raise ConfigError(
            "TWILIO_ACCOUNT_SID", "must be set in production (the local outbox sends nothing)"
        )

    return Settings(
        env=mode,
        instance_path=instance_path,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        public_base_url=public_base_url,
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
        twilio_account_sid=account_sid,
        twilio_auth_token=auth_token,
        twilio_from=twilio_from,
        twilio_messaging_service_sid=service_sid,
        twilio_api_base_url=api_base,
        sweep_after_seconds=_int(env, "SMSBOT_SWEEP_AFTER_SECONDS", 20, minimum=1),
        sending_grace_seconds=_int(env, "SMSBOT_SENDING_GRACE_SECONDS", 60, minimum=1),
        send_max_attempts=_int(env, "SMSBOT_SEND_MAX_ATTEMPTS", 6, minimum=1),
        session_idle_minutes=_int(env, "SMSBOT_SESSION_IDLE_MINUTES", 120, minimum=1),
        session_max_hours=_int(env, "SMSBOT_SESSION_MAX_HOURS", 12, minimum=1),
    )
