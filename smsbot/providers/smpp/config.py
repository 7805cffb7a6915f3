"""SMPP accounts from the environment, checked at start.

One account is configured with unprefixed variables (`SMPP_HOST`, `SMPP_SYSTEM_ID` …) and is
the provider `smpp`; more accounts are listed in `SMPP_ACCOUNTS=mts,beeline` and configured
with `SMPP_MTS_HOST`, `SMPP_MTS_SYSTEM_ID` …, becoming the providers `smpp-mts`,
`smpp-beeline`. Every variable that is wrong stops the process with a ConfigError naming it,
so an operator never learns of a typo from a failed bind at three in the morning.

Addresses follow the SMPP 3.4 specification (5.2.5, 5.2.6): an international number is sent
as digits without `+` with TON=1 (international), NPI=1 (E.164); an alphanumeric sender name
with TON=5, NPI=0 (https://smpp.org/SMPP_v3_4_Issue1_2.pdf).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from smsbot.config import env_value
from smsbot.exceptions import ConfigError

KIND = "smpp"

DEFAULT_PORT = 2775
"""The port IANA registered for SMPP."""
ENCODINGS = ("gsm7", "latin1")
"""What an account's SMSC means by data_coding 0: its default alphabet, or Latin-1."""

TON_INTERNATIONAL, NPI_E164 = 1, 1
TON_ALPHANUMERIC, NPI_UNKNOWN = 5, 0

_ACCOUNT = re.compile(r"[a-z0-9][a-z0-9_]{0,22}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9 ._&-]{1,11}")


@dataclass(frozen=True)
class SmppConfig:
    """One SMPP account: where to bind, as whom, how fast, and who the SMS come from."""

    name: str
    """The provider's name: `smpp`, or `smpp-<account>`."""
    host: str
    system_id: str
    password: str
    source: str
    """The sender as the operator typed it: +79990000000 or an alphanumeric name."""
    port: int = DEFAULT_PORT
    system_type: str = ""
    messages_per_second: float = 10.0
    window: int = 10
    """submit_sm requests that may be outstanding (sent, not yet answered) at once."""
    default_encoding: str = "gsm7"
    enquire_seconds: float = 30.0
    unknown_wait_seconds: float = 600.0
    """How long a message whose submit had no answer waits for a receipt before it is sent again."""
    env_prefix: str = "SMPP_"
    kind: str = KIND

    @property
    def source_address(self) -> tuple[str, int, int]:
        """(source_addr, ton, npi) for submit_sm."""
        return address(self.source)

    def __repr__(self) -> str:  # the password never reaches a log line or a traceback
        return f"SmppConfig(name={self.name!r}, host={self.host!r}, system_id={self.system_id!r})"


def address(value: str) -> tuple[str, int, int]:
    """An E.164 number or an alphanumeric name as SMPP's (address, TON, NPI)."""
    if value.startswith("+"):
        return value[1:], TON_INTERNATIONAL, NPI_E164
    return value, TON_ALPHANUMERIC, NPI_UNKNOWN


def configure(env: Mapping[str, str], *, mode: str = "development", secret_key: str = "") -> list:
    """Every SMPP account in the environment, checked (an empty list: SMPP is not used)."""
    configs = []
    if env_value(env, "SMPP_HOST") is not None or _any_set(env, "SMPP_", _UNPREFIXED):
        configs.append(_account(env, "SMPP_", KIND))
    accounts = env_value(env, "SMPP_ACCOUNTS")
    for account in (a.strip().lower() for a in (accounts or "").split(",") if a.strip()):
        if not _ACCOUNT.fullmatch(account):
            raise ConfigError(
                "SMPP_ACCOUNTS",
                f"names accounts with letters, digits and _ (up to 23), got {account!r}",
            )
        configs.append(_account(env, f"SMPP_{account.upper()}_", f"{KIND}-{account}"))
    return configs


_UNPREFIXED = ("SYSTEM_ID", "PASSWORD", "SOURCE")


def _account(env: Mapping[str, str], prefix: str, name: str) -> SmppConfig:
    host = _required(env, prefix + "HOST")
    system_id = _required(env, prefix + "SYSTEM_ID")
    if len(system_id) > 15:
        raise ConfigError(prefix + "SYSTEM_ID", "must be at most 15 characters (SMPP 3.4)")
    password = _required(env, prefix + "PASSWORD")
    if len(password) > 8:
        # SMPP 3.4 gives the password field 9 octets with its terminating NUL.
        raise ConfigError(prefix + "PASSWORD", "must be at most 8 characters (SMPP 3.4)")
    system_type = env_value(env, prefix + "SYSTEM_TYPE") or ""
    if len(system_type) > 12:
        raise ConfigError(prefix + "SYSTEM_TYPE", "must be at most 12 characters (SMPP 3.4)")
    source = _required(env, prefix + "SOURCE")
    if not (_E164.fullmatch(source) or _ALPHANUMERIC.fullmatch(source)) or source.isdigit():
        raise ConfigError(
            prefix + "SOURCE",
            "must be the rented number in E.164 (+79990000000) or a sender name of up to 11 "
            f"Latin letters and digits, got {source!r}",
        )
    encoding = (env_value(env, prefix + "DEFAULT_ENCODING") or "gsm7").lower()
    if encoding not in ENCODINGS:
        raise ConfigError(
            prefix + "DEFAULT_ENCODING", f"must be one of {', '.join(ENCODINGS)}, got {encoding!r}"
        )
    return SmppConfig(
        name=name,
        host=host,
        port=int(_number(env, prefix + "PORT", DEFAULT_PORT, 1, 65535, whole=True)),
        system_id=system_id,
        password=password,
        system_type=system_type,
        source=source,
        messages_per_second=_number(env, prefix + "MPS", 10.0, 0.01, 10_000),
        window=int(_number(env, prefix + "WINDOW", 10, 1, 1000, whole=True)),
        default_encoding=encoding,
        enquire_seconds=_number(env, prefix + "ENQUIRE_SECONDS", 30.0, 0.1, 3600),
        unknown_wait_seconds=_number(env, prefix + "UNKNOWN_WAIT_SECONDS", 600.0, 0, 7 * 86400),
        env_prefix=prefix,
    )


def _any_set(env: Mapping[str, str], prefix: str, names: tuple[str, ...]) -> bool:
    return any(env_value(env, prefix + name) is not None for name in names)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env_value(env, name)
    if value is None:
        raise ConfigError(name, "must be set for an SMPP account")
    return value


def _number(
    env: Mapping[str, str], name: str, default: float, low: float, high: float, whole: bool = False
) -> float:
    raw = env_value(env, name)
    if raw is None:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(name, f"must be {kind}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low:g} and {high:g}, got {raw}")
    return value
