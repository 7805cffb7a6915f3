"""Typed settings read once from the environment.

Operators configure smsbot only through environment variables (twelve-factor style), so a
typo must stop the process at start with the variable's name, not surface later as a
failed send. Secrets never have a default outside development.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from smsbot import logs
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
    providers: tuple[Any, ...] = ()
    """Every configured provider account (each plug-in's frozen config; smsbot.providers)."""
    default_provider: str | None = None
    """The provider notices and alerts leave through when a company names none."""
    sweep_after_seconds: int = 20
    """A received or queued message this old without a live job is queued again."""
    sending_grace_seconds: int = 60
    """A send claimed this long ago is asked about at the provider; keep it well above the
    provider timeout (15 s), or a slow send still in flight could be sent twice."""
    send_max_attempts: int = 6
    inbound_batch: int = 50
    """Residents' messages one job claims and handles in one transaction when they queue up
    (a lone message still goes alone, at once)."""
    session_idle_minutes: int = 120
    """A staff session unused this long ends (an open inbox page keeps it in use)."""
    session_max_hours: int = 12
    """A staff session ends this long after sign-in, used or not: one shift."""
    chat_ack_hours: int = 4
    """A resident's later chat messages get at most one acknowledgement per conversation
    this often (the first message always gets one)."""
    chat_ack_quiet_minutes: int = 30
    """No acknowledgement while a dispatcher answered the thread this recently: a person is
    on it, and a bot line in between would only interrupt."""
    sweep_interval_seconds: int = 10
    """Seconds between the clock's sweeps (smsbot.sweeping)."""
    reconnect_first_seconds: int = 1
    """The first wait before a process tries Redis or the database again (smsbot.outages)."""
    reconnect_max_seconds: int = 10
    """The longest such wait: an outage costs at most this much after it ends."""
    webhook_db_wait_seconds: float = 5.0
    """How long a webhook waits for SQLite's write lock before it keeps the message in the
    spool instead (smsbot.spool): well inside a provider's time limit (Twilio's is 15 s)."""
    metrics_token: str | None = field(default=None, repr=False)
    """METRICS_TOKEN: what a scraper must show for /metrics (unset: loopback only)."""

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the service is reached over HTTPS."""
        return self.public_base_url.startswith("https://")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_current: Settings | None = None


def set_current(settings: Settings) -> None:
    """Make `settings` this process's (create_app does it once)."""
    global _current
    _current = settings


def current() -> Settings:
    """This process's settings: jobs and domain code read them here, not from Flask."""
    if _current is None:
        raise RuntimeError("settings not loaded: call smsbot.config.set_current (create_app does)")
    return _current


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """A variable's value with surrounding blanks removed; None when unset or blank."""
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env_value(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    """A number above 0 and below 10000 (a rate, seconds), or `default` when unset."""
    raw = env_value(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if not 0 < value < 10_000:
        raise ConfigError(name, f"must be above 0 and below 10000, got {raw!r}")
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

    mode = (env_value(env, "SMSBOT_ENV") or "development").lower()
    if mode not in ENVIRONMENTS:
        raise ConfigError("SMSBOT_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, got {mode!r}")

    instance_path = Path(env_value(env, "SMSBOT_INSTANCE_PATH") or DEFAULT_INSTANCE_PATH).resolve()

    database_url = env_value(env, "DATABASE_URL") or f"sqlite:///{instance_path / 'smsbot.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://") :]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    if not database_url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError(
            "DATABASE_URL", f"must be an sqlite:// or postgresql:// URL, got {database_url!r}"
        )

    redis_url = env_value(env, "REDIS_URL")
    if redis_url is not None:
        _url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))

    secret_key = env_value(env, "SECRET_KEY")
    if mode == "production":
        if secret_key is None or secret_key.lower() in PLACEHOLDER_SECRETS or len(secret_key) < 16:
            raise ConfigError(
                "SECRET_KEY", "must be set to a random value of 16+ characters in production"
            )
    elif secret_key is None:
        secret_key = _dev_secret(instance_path)

    public_base_url = _url(
        "PUBLIC_BASE_URL",
        env_value(env, "PUBLIC_BASE_URL") or "http://127.0.0.1:5000",
        ("http", "https"),
    ).rstrip("/")

    from smsbot import providers  # the registry imports every plug-in: only when loading

    configured = providers.configure(env, mode=mode, secret_key=secret_key)
    if mode == "production" and not any(c.kind != "outbox" for c in configured):
        raise ConfigError(
            "SMPP_HOST",
            "(or SMSC_LOGIN, or TWILIO_ACCOUNT_SID) must be set in production: "
            "the local outbox sends nothing",
        )
    default_provider = providers.default_name(configured, env_value(env, "SMSBOT_DEFAULT_PROVIDER"))

    logs.log_format(env)  # read by smsbot.logs; checked here so check-config names it
    return Settings(
        env=mode,
        instance_path=instance_path,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        public_base_url=public_base_url,
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
        providers=configured,
        default_provider=default_provider,
        sweep_after_seconds=_int(env, "SMSBOT_SWEEP_AFTER_SECONDS", 20, minimum=1),
        sending_grace_seconds=_int(env, "SMSBOT_SENDING_GRACE_SECONDS", 60, minimum=1),
        send_max_attempts=_int(env, "SMSBOT_SEND_MAX_ATTEMPTS", 6, minimum=1),
        inbound_batch=_int(env, "SMSBOT_INBOUND_BATCH", 50, minimum=1),
        session_idle_minutes=_int(env, "SMSBOT_SESSION_IDLE_MINUTES", 120, minimum=1),
        session_max_hours=_int(env, "SMSBOT_SESSION_MAX_HOURS", 12, minimum=1),
        chat_ack_hours=_int(env, "SMSBOT_CHAT_ACK_HOURS", 4),
        chat_ack_quiet_minutes=_int(env, "SMSBOT_CHAT_ACK_QUIET_MINUTES", 30),
        sweep_interval_seconds=_int(env, "SMSBOT_SWEEP_INTERVAL_SECONDS", 10, minimum=1),
        reconnect_first_seconds=_int(env, "SMSBOT_RECONNECT_FIRST_SECONDS", 1, minimum=1),
        reconnect_max_seconds=_int(env, "SMSBOT_RECONNECT_MAX_SECONDS", 10, minimum=1),
        webhook_db_wait_seconds=positive_number(env, "SMSBOT_WEBHOOK_DB_WAIT_SECONDS", 5.0),
        metrics_token=env_value(env, "METRICS_TOKEN"),
    )
