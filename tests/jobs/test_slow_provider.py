"""A provider that takes 40 s to answer a send: the resident receives exactly one reply.

Our client gives up before such an answer comes, and cannot know whether the provider took
the message. The row stays 'sending'; after SMSBOT_SENDING_GRACE_SECONDS the sweep asks the
provider (find_sent) and records what it has, or sends again only if it has nothing.

Scaled down to keep each case under ~15 s of real time, with the same order of events as in
production (client timeout < the slow answer < the sweep's grace): the stand-in answers
after 3 s instead of 40, our client gives up after 1 s instead of 15 (Twilio's HTTP_TIMEOUT,
SMSC_TIMEOUT), and the sweep asks about a send left 'sending' after 4 s instead of 60.
Delivery callbacks are held back (the live server answers them 503) so that the sweep's
question is the only way the row can learn what happened. Run for the fake Twilio and the
SMSC.ru stand-in; the outbox answers from Redis and SMPP's connector settles its own sends
(tests/providers/smpp/test_connector_pipeline.py).
"""

from __future__ import annotations

import time

import pytest

from smsbot import jobs
from smsbot.models import OUT_SENDING, Message
from smsbot.providers import twilio as twilio_plugin
from tests.conftest import run_jobs
from tests.support import outbound_messages, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("provider", ["twilio", "smsc"], indirect=True),
]

DEMO_PHONE = "+79851234567"
COMPANY_NUMBER = "+74951230001"
SLOW_ANSWER = 3.0
"""Seconds the stand-in takes to answer (40 in the story)."""
CLIENT_TIMEOUT = 1
"""Seconds our client waits for an answer (15 in production)."""
GRACE = 4
"""SMSBOT_SENDING_GRACE_SECONDS (60 in production): longer than the slow answer."""


@pytest.fixture()
def slow(service, provider, live_server, monkeypatch):  # noqa: ANN001, ANN201
    """The app with a short client timeout and grace; `slow(lost=…)` plays the slow send.

    Returns the reply row left 'sending' after the resident's ПОМОЩЬ.
    """
    monkeypatch.setattr(twilio_plugin, "HTTP_TIMEOUT", CLIENT_TIMEOUT)
    app, _ = service(SMSC_TIMEOUT=str(CLIENT_TIMEOUT), SMSBOT_SENDING_GRACE_SECONDS=str(GRACE))

    def play(*, lost: bool) -> Message:
        provider.slow_next(SLOW_ANSWER, lost=lost)
        provider.text(app.config["SMSBOT_SETTINGS"], "помощь", from_phone=DEMO_PHONE,
                      to_phone=COMPANY_NUMBER)  # fmt: skip
        live_server.refusing = True  # no delivery callbacks: only the sweep can find out
        run_jobs(app)  # handles the SMS; the send times out
        [reply] = outbound_messages()
        assert (reply.status, reply.external_id) == (OUT_SENDING, None)
        return reply

    return app, play


def sweep_until_settled(reply: Message) -> None:
    """Sweep as the clock would; nothing is asked before the grace is over."""
    deadline = time.monotonic() + 4 * GRACE
    while outbound_messages()[0].status == OUT_SENDING:
        young = reply.claimed_at is not None and _age(reply) < GRACE - 0.5
        counts = jobs.sweep()
        if young:
            assert counts["reconciled"] == 0, "asked the provider before the grace was over"
        assert time.monotonic() < deadline, "the sweep never settled the send"
        time.sleep(0.25)


def _age(reply: Message) -> float:
    from smsbot.clock import utcnow

    claimed = reply.claimed_at
    now = utcnow()
    if claimed.tzinfo is None:
        now = now.replace(tzinfo=None)
    return (now - claimed).total_seconds()


def test_a_slow_answer_is_found_by_the_sweep_and_not_sent_again(slow, provider, live_server):
    app, play = slow
    reply = play(lost=False)
    sweep_until_settled(reply)
    [sent] = provider.sent(DEMO_PHONE)
    [recorded] = outbound_messages()
    assert recorded.external_id == provider.sent_id(sent)
    assert recorded.status in ("accepted", "sent", "delivered") and recorded.attempts == 1
    live_server.refusing = False
    run_jobs(app)  # nothing was queued again
    jobs.sweep()
    assert len(provider.sent(DEMO_PHONE)) == 1
    assert len(outbound_messages()) == 1


def test_a_slow_send_the_provider_never_stored_is_sent_once(slow, provider, live_server):
    app, play = slow
    reply = play(lost=True)
    sweep_until_settled(reply)  # the provider has nothing: queued again
    assert provider.sent(DEMO_PHONE) == []
    live_server.refusing = False
    run_jobs(app)
    [sent] = wait_until(lambda: provider.sent(DEMO_PHONE), what="the reply sent again")
    wait_until(lambda: outbound_messages()[0].status == "delivered", what="delivered")
    [recorded] = outbound_messages()
    assert recorded.external_id == provider.sent_id(sent) and recorded.attempts == 2
    jobs.sweep()
    assert len(provider.sent(DEMO_PHONE)) == 1
