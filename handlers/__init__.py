"""Resident commands, one module each, all registered by importing them here."""

from handlers import chat, help  # noqa: F401  (each module registers its intents)
from handlers.registry import Context, Reply, handler_for, register, registered

__all__ = ["Context", "Reply", "handler_for", "register", "registered"]
