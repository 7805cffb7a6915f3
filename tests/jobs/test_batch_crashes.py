"""A worker killed mid-batch loses nothing and doubles nothing.

Several replies wait for one drain; a real `smsbot worker` claims them all in one batch,
sends them on its threads, and is SIGKILLed while they are in flight (at
send.after_provider: some at the provider, one not yet sent). A healthy worker and the sweep
then ask the provider about each row left 'sending': what it has is recorded, the rest is
sent once. Run for every provider whose sends go through RQ.
"""

from __future__ import annotations

import signal

import pytest

import worker as worker_module
from smsbot import jobs, outgoing
from tests.jobs.test_crashes import QUICK, recover, start_worker, stop
from tests.support import outbound_messages, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.pairwise]

COMPANY_NUMBER = "+74951230001"
PHONES = [f"+7985{n:07d}" for n in range(1, 6)]
"""Five residents (the demo company's number answers strangers too)."""


def test_a_worker_killed_with_a_batch_in_flight_loses_nothing_and_doubles_nothing(
    service, provider, tmp_path, monkeypatch
):
    markers = tmp_path / "failpoints"
    markers.mkdir()
    app, env = service(**QUICK, SMSBOT_FAILPOINT_DIR=str(markers), TWILIO_SEND_CONCURRENCY="4",
                       SMSC_SEND_CONCURRENCY="4")  # fmt: skip
    settings = app.config["SMSBOT_SETTINGS"]
    for phone in PHONES:
        provider.text(settings, "помощь", from_phone=phone, to_phone=COMPANY_NUMBER)
    # Handle them here, with none sent by the handling job itself (sending.send_here): the
    # five replies then wait for one drain job.
    monkeypatch.setattr(outgoing, "SEND_HERE_MAX", 0)
    worker_module.build(app, ["inbound"]).work(burst=True, logging_level="WARNING")
    assert [m.status for m in outbound_messages()] == ["queued"] * len(PHONES)

    doomed = start_worker(env, SMSBOT_FAILPOINTS="send.after_provider=sleep:60")
    try:
        at_provider = lambda: sum(len(provider.sent(p)) for p in PHONES)  # noqa: E731
        wait_until(lambda: at_provider() >= 4, timeout=60, what="four sends in flight")
        assert (markers / "send.after_provider").exists()
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop(doomed)
    assert at_provider() == 4  # four threads, each stopped after its call
    # Claimed together, none recorded (a delivery callback may have moved one on).
    rows = outbound_messages()
    assert "queued" not in {m.status for m in rows}
    unrecorded = [m.status for m in rows if m.external_id is None]
    assert "sending" in unrecorded and set(unrecorded) == {"sending"}  # the fifth at least
    if not provider.calls_back:
        assert len(unrecorded) == len(PHONES)

    def all_delivered() -> bool:
        replies = outbound_messages()
        return len(replies) == len(PHONES) and all(r.status == "delivered" for r in replies)

    recover(env, all_delivered, "every reply recorded or sent")
    jobs.sweep()
    for phone in PHONES:
        assert len(provider.sent(phone)) == 1, phone
    sent_ids = {provider.sent_id(provider.sent(p)[0]) for p in PHONES}
    assert {r.external_id for r in outbound_messages()} == sent_ids
    assert len(outbound_messages()) == len(PHONES)
