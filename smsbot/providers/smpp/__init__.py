"""SMPP 3.4 accounts (Russian operators and aggregators) as a provider plug-in.

SMPP is not request and answer over HTTP: it is one long-lived TCP bind per account that
carries our submit_sm one way and residents' SMS and delivery receipts the other. So the
plug-in has no webhooks, and sending is not done by RQ send jobs: the connector process
(`smsbot smpp`, smsbot.providers.smpp.connector) holds the bind, claims its provider's queued
messages from the database itself and answers every deliver_sm after storing it. The
Provider object below is what the rest of smsbot sees: the name, the rate, that it receives,
and that a connector sends for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from smsbot.providers.base import OutgoingSms, Provider, SendResult
from smsbot.providers.smpp.config import KIND, SmppConfig, configure

if TYPE_CHECKING:
    from smsbot.config import Settings

__all__ = ["KIND", "ORDER", "SmppConfig", "SmppProvider", "build", "configure"]

ORDER = 30
"""After the HTTP aggregator (SMSC.ru, 20) and before Twilio (40) when several are configured."""


class SmppProvider(Provider):
    """An SMPP account as smsbot sees it; the connector process does the talking."""

    kind = KIND
    can_receive = True
    uses_connector = True

    def send(self, sms: OutgoingSms) -> SendResult:
        """Never called: an SMPP message is sent only by the connector that holds the bind.

        A send from an RQ worker would need a bind of its own per job (SMSCs allow few binds
        per account, and its receipts would arrive on a bind nobody listens to), and it
        would bypass the window and rate the connector keeps for the whole account.
        """
        raise NotImplementedError(f"{self.name}: SMPP messages are sent by `smsbot smpp`")

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """Never called: SMPP cannot look a message up without the SMSC's id (query_sm needs
        it), so the connector settles unknown outcomes itself from delivery receipts."""
        raise NotImplementedError(f"{self.name}: unknown outcomes are settled by `smsbot smpp`")

    def describe(self) -> dict[str, str]:
        c = self.config
        return {
            "host": c.host,
            "port": str(c.port),
            "system_id": c.system_id,
            "source": c.source,
            "mps": f"{c.messages_per_second:g}",
            "window": str(c.window),
        }


def build(config: SmppConfig, settings: Settings) -> SmppProvider:
    return SmppProvider(config)
