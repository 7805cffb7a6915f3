"""Where SMS leave smsbot: one interface, two transports, chosen by configuration."""

from __future__ import annotations

from functools import lru_cache

from smsbot.config import Settings
from smsbot.gateway.base import SendResult, Transport

__all__ = ["SendResult", "Transport", "transport_for"]


@lru_cache(maxsize=4)
def transport_for(settings: Settings) -> Transport:
    """Twilio when credentials are configured, else the local outbox (one per process)."""
    if settings.transport == "twilio":
        from smsbot.gateway.twilio import TwilioTransport

        return TwilioTransport(
            settings.twilio_account_sid or "",
            settings.twilio_auth_token or "",
            from_=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base_url=settings.twilio_api_base_url,
        )
    from smsbot import queues
    from smsbot.gateway.outbox import OutboxTransport

    return OutboxTransport(queues.connection())
