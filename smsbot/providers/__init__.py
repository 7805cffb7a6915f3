"""The provider registry: every plug-in in this package, found in one place.

A plug-in is a module (or package) here that defines:

- ``KIND``: its name (twilio, smpp, smsc, outbox);
- ``ORDER``: a number; with several configured, the lowest is the default provider;
- ``configure(env, *, mode, secret_key) -> list[config]``: read and check its environment
  variables (raising ConfigError that names the variable); an empty list when it is not
  configured. Each config is a frozen dataclass with ``name`` (the account's name in routes
  and in Message.provider) and ``kind``;
- ``build(config, settings) -> Provider``: the live object, made once per process.

Adding a provider is adding such a module: nothing else here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from smsbot.exceptions import ConfigError
from smsbot.providers.base import Provider

if TYPE_CHECKING:
    from smsbot.config import Settings

_SKIP = {"base"}
_plugins: dict[str, ModuleType] | None = None


def plugins() -> dict[str, ModuleType]:
    """Every plug-in module in this package, by KIND, in ORDER."""
    global _plugins
    if _plugins is None:
        found = []
        for info in pkgutil.iter_modules(__path__):
            if info.name.startswith("_") or info.name in _SKIP:
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            if hasattr(module, "KIND") and hasattr(module, "configure"):
                found.append(module)
        found.sort(key=lambda m: (getattr(m, "ORDER", 100), m.KIND))
        _plugins = {m.KIND: m for m in found}
    return _plugins


def configure(env: Mapping[str, str], *, mode: str, secret_key: str) -> tuple[Any, ...]:
    """Every configured provider account, checked; called once by smsbot.config.load."""
    configs: list[Any] = []
    for module in plugins().values():
        configs.extend(module.configure(env, mode=mode, secret_key=secret_key))
    names = [c.name for c in configs]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError("SMPP_ACCOUNTS", f"name {name!r} is used by two providers")
    return tuple(configs)


def default_name(configs: tuple[Any, ...], wanted: str | None) -> str | None:
    """The provider notices and alerts leave through unless a company names its own."""
    names = [c.name for c in configs]
    if wanted:
        if wanted not in names:
            raise ConfigError(
                "SMSBOT_DEFAULT_PROVIDER",
                f"must be one of the configured providers ({', '.join(names) or 'none'}), got {wanted!r}",
            )
        return wanted
    return names[0] if names else None


_live: dict[tuple[Any, str], Provider] = {}
_lock = threading.Lock()


def get(settings: Settings, name: str | None = None) -> Provider:
    """The live provider `name` (the default one when None), made once per process."""
    name = name or settings.default_provider
    key = (settings, name or "")
    found = _live.get(key)
    if found is not None:
        return found
    with _lock:
        found = _live.get(key)
        if found is None:
            config = next((c for c in settings.providers if c.name == name), None)
            if config is None:
                raise UnknownProvider(name)
            found = _live[key] = plugins()[config.kind].build(config, settings)
    return found


def names(settings: Settings) -> list[str]:
    return [c.name for c in settings.providers]


def find(settings: Settings, name: str) -> Provider | None:
    """The provider `name`, or None when no such provider is configured (a 404 for a route)."""
    try:
        return get(settings, name)
    except UnknownProvider:
        return None


class UnknownProvider(LookupError):
    """No provider of that name is configured."""
