"""Resident commands, one module each, all registered by importing them here."""

from handlers import (  # noqa: F401  (each module registers its intents)
    balance,
    chat,
    confirm,
    contacts,
    debt,
    emergency,
    help,
    language,
    link,
    meter,
    outage,
    start,
    status,
    stop,
    ticket,
    unlink,
)
from handlers.registry import Context, Reply, handler_for, plain_handler, register, registered

__all__ = ["Context", "Reply", "handler_for", "plain_handler", "register", "registered"]
