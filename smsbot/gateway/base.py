"""The one interface every SMS transport speaks, and what a send returns.

Jobs call `send` and nothing else; which transport sits behind it (Twilio, the local
outbox) is configuration. Transports raise only our own exceptions (TransientSendError,
PermanentSendError), so retry decisions are made once, in smsbot.outbound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it took a message."""

    sid: str
    status: str
    """The provider's own status word (Twilio: queued, accepted, sending, sent …)."""
    num_segments: int | None = None


class Transport(Protocol):
    """Sends one SMS; looks up an earlier send after a crash."""

    name: str

    def send(
        self, *, to: str, body: str, from_: str | None, status_callback: str | None
    ) -> SendResult: ...

    def find_sent(self, *, to: str, body: str, since: datetime) -> SendResult | None:
        """A message to `to` with this body created since `since`, if the provider has one.

        Used by the sweep for a message left in 'sending' by a crashed worker: if the
        provider has it, we record it instead of sending it a second time.
        """
        ...
