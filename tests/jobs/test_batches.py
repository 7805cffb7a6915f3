"""Residents' messages handled in batches: one job, one transaction, and the same guarantees
as one message at a time (nothing lost to a killed worker, no reply twice, no message taken
by two jobs)."""

from __future__ import annotations

import signal
import time
from types import SimpleNamespace

import pytest

from smsbot import changes, config, db, inbound, jobs, outgoing, pacing, queues, sending
from smsbot.models import IN_HANDLED, IN_RECEIVED
from smsbot.providers import outbox
from tests.conftest import run_jobs
from tests.jobs import test_crashes
from tests.jobs.test_crashes import (
    COMPANY_NUMBER,
    inbound_messages,
    recover,
    start_worker,
    stop,
)
from tests.support import outbound_messages, post_inbound, wait_until

pytestmark = pytest.mark.slow

crashing = test_crashes.crashing
"""The crash tests' fixture: the app over HTTP with quick sweeps and failpoint markers."""

PHONES = [f"+7916710{n:04d}" for n in range(6)]


def _text_all(app, provider, body: str = "помощь") -> None:  # noqa: ANN001
    for phone in PHONES:
        provider.text(app.config["SMSBOT_SETTINGS"], body, from_phone=phone,
                      to_phone=COMPANY_NUMBER)  # fmt: skip


def test_waiting_messages_are_handled_by_one_job_in_one_batch(client, app, demo, redis_url):
    for phone in PHONES:
        post_inbound(client, app, "помощь", from_phone=phone)
    assert queues.connection().llen("rq:queue:inbound") == 1  # one job for all six
    assert jobs.handle_waiting() == len(PHONES)
    assert {m.status for m in inbound_messages()} == {IN_HANDLED}
    assert sorted(m.to_phone for m in outbound_messages()) == PHONES


def test_a_batch_larger_than_the_limit_is_claimed_in_several_transactions(
    client, app, demo, monkeypatch
):
    smaller = app.config["SMSBOT_SETTINGS"].with_overrides(inbound_batch=4)
    monkeypatch.setattr(config, "current", lambda: smaller)
    for phone in PHONES:
        post_inbound(client, app, "помощь", from_phone=phone)
    claimed: list[int] = []
    real = inbound.claim_waiting

    def counting(session, limit):  # noqa: ANN001, ANN202
        found = real(session, limit)
        claimed.append(len(found))
        return found

    monkeypatch.setattr(inbound, "claim_waiting", counting)
    assert jobs.handle_waiting() == len(PHONES)
    assert claimed[:2] == [4, 2] and not any(claimed[2:])  # then it looks, and finds none
    assert len(outbound_messages()) == len(PHONES)


def test_one_crashing_handler_costs_the_rest_of_the_batch_nothing(client, app, demo, monkeypatch):
    from handlers import registry

    for phone in PHONES:
        post_inbound(client, app, "помощь", from_phone=phone)

    original = registry._HANDLERS["help"]

    def flaky(ctx):  # noqa: ANN001, ANN202
        if ctx.message.from_phone == PHONES[2]:
            raise ValueError("a bug")
        return original(ctx)

    monkeypatch.setitem(registry._HANDLERS, "help", flaky)
    run_jobs(app)
    by_phone = {m.from_phone: m for m in inbound_messages()}
    assert by_phone[PHONES[2]].status == "failed" and "a bug" in by_phone[PHONES[2]].error_message
    assert all(by_phone[p].status == IN_HANDLED for p in PHONES if p != PHONES[2])
    replies = {m.to_phone: m.template for m in outbound_messages()}
    assert replies[PHONES[2]] == "chat_ack" and replies[PHONES[0]] == "help"


def test_two_jobs_never_claim_the_same_message(client, app, demo, database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: a second job waits for the first's transaction")
    for phone in PHONES:
        post_inbound(client, app, "помощь", from_phone=phone)
    with db.session_scope() as first:
        mine = inbound.claim_waiting(first, 4)
        with db.session_scope() as second:
            theirs = inbound.claim_waiting(second, 10)
    assert len(mine) == 4 and len(theirs) == 2
    assert not {m.id for m in mine} & {m.id for m in theirs}


@pytest.mark.pairwise
def test_worker_killed_mid_batch_loses_nothing_and_replies_once(crashing, provider):
    app, env, markers = crashing
    _text_all(app, provider)  # all waiting before any worker runs: one batch
    doomed = start_worker(env, SMSBOT_FAILPOINTS="inbound.before_commit=sleep:60")
    try:
        wait_until(lambda: (markers / "inbound.before_commit").exists(), timeout=60,
                   what="the worker holding the batch")  # fmt: skip
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop(doomed)
    assert {m.status for m in inbound_messages()} == {IN_RECEIVED} and outbound_messages() == []

    def answered() -> bool:
        return {m.status for m in inbound_messages()} == {IN_HANDLED} and [
            r.status for r in outbound_messages()
        ] == ["delivered"] * len(PHONES)

    recover(env, answered, "every message handled and its reply delivered")
    for phone in PHONES:
        assert len(provider.sent(phone)) == 1
    assert sorted(m.to_phone for m in outbound_messages()) == PHONES


def test_a_message_stored_while_the_job_runs_nudges_it_instead_of_queueing_another(
    client, app, demo
):
    redis = queues.connection()
    post_inbound(client, app, "помощь", from_phone=PHONES[0])  # takes the wake: one job
    post_inbound(client, app, "помощь", from_phone=PHONES[1])  # the wake is held: a nudge
    assert redis.llen("rq:queue:inbound") == 1 and redis.llen(queues.INBOUND_NUDGE) == 1
    assert jobs.handle_waiting() == 2
    assert not redis.exists(queues.INBOUND_WAKE)  # nothing more came: it let go
    post_inbound(client, app, "помощь", from_phone=PHONES[2])
    assert redis.llen("rq:queue:inbound") == 2  # so the next message queues a job again


def test_a_drain_lets_go_of_its_wake_only_when_no_nudge_waits(app, redis_url):
    redis = queues.connection()
    flag, nudge = queues.INBOUND_WAKE, queues.INBOUND_NUDGE
    redis.set(flag, "inbound-batch-running")
    redis.lpush(nudge, 1)  # a webhook found the wake held just before the drain let go
    assert queues.linger(flag, nudge, seconds=0) is True and redis.exists(flag)
    assert queues.linger(flag, nudge, seconds=0) is False and not redis.exists(flag)


# --- a lone reply leaves from the job that handled it (smsbot.sending.send_here) ------------


def _drain_jobs() -> int:
    redis = queues.connection()
    return sum(redis.llen(f"rq:queue:{name}") for name in queues.SEND_QUEUES)


def test_a_lone_reply_is_sent_by_the_job_that_handled_it_without_waking_a_drain(client, app, demo):
    post_inbound(client, app, "помощь", from_phone=PHONES[0])
    before = changes.stamp([changes.ALL])
    assert jobs.handle_waiting() == 1
    assert changes.stamp([changes.ALL]) != before  # the desks heard of it (one bump for both)
    [reply] = outbound_messages()
    assert reply.status == "delivered" and reply.external_id  # the outbox delivers at once
    assert [m["message_id"] for m in outbox.messages()] == [reply.id]
    assert _drain_jobs() == 0
    assert not queues.connection().exists(queues.wake_flag("outbox", queues.OUTBOUND_QUEUE))


def test_replies_past_the_first_few_of_a_batch_wait_for_one_drain(client, app, demo, monkeypatch):
    monkeypatch.setattr(outgoing, "SEND_HERE_MAX", 2)  # (fewer than PHONES)
    post_inbound(client, app, "помощь", from_phone=PHONES[0])
    assert jobs.handle_waiting() == 1  # the first send times the provider (the outbox: fast)
    for phone in PHONES[1 : outgoing.SEND_HERE_MAX + 3]:
        post_inbound(client, app, "помощь", from_phone=phone)
    assert jobs.handle_waiting() == outgoing.SEND_HERE_MAX + 2
    statuses = [m.status for m in outbound_messages()]
    assert statuses == ["delivered"] * (1 + outgoing.SEND_HERE_MAX) + ["queued"] * 2
    assert len(outbox.messages()) == 1 + outgoing.SEND_HERE_MAX and _drain_jobs() == 1
    run_jobs(app)
    assert {m.status for m in outbound_messages()} == {"delivered"}
    assert len(outbox.messages()) == outgoing.SEND_HERE_MAX + 3


def test_before_it_has_timed_a_provider_the_job_sends_one_reply_of_a_batch(client, app, demo):
    for phone in PHONES[:3]:
        post_inbound(client, app, "помощь", from_phone=phone)
    assert jobs.handle_waiting() == 3
    assert [m.status for m in outbound_messages()] == ["delivered", "queued", "queued"]
    assert _drain_jobs() == 1


def test_the_job_sends_as_many_replies_itself_as_the_provider_s_speed_allows():
    provider = SimpleNamespace(name="timed")  # all here_limit asks of a provider
    assert sending.here_limit(provider) == 1  # not timed yet in this process
    for _ in range(20):
        sending._timed(provider, 0.002)  # a stand-in's speed: a batch's worth and more
    assert sending.here_limit(provider) >= outgoing.SEND_HERE_MAX
    for _ in range(40):
        sending._timed(provider, 0.1)  # a real provider's: as many as its threads do in 50 ms
    assert (
        sending.here_limit(provider)
        == 2
        == int(sending.HERE_SECONDS * sending.concurrency(provider) / 0.1)
    )
    sending._timed(provider, sending.SLOW_SEND_SECONDS + 0.1)
    assert sending.here_limit(provider) == 0  # slow: all of them to the drain, for a while


def test_a_reply_whose_paced_slot_is_far_off_is_given_to_the_drain(client, app, demo):
    """A notice holds the provider's rate: the handling job does not wait for a slot."""
    queues.connection().set(pacing.KEY.format("outbox"), f"{time.time() + 5:.6f}")
    post_inbound(client, app, "помощь", from_phone=PHONES[0])
    assert jobs.handle_waiting() == 1
    [reply] = outbound_messages()
    assert (reply.status, reply.attempts, reply.claimed_at) == ("queued", 0, None)
    assert outbox.messages() == [] and _drain_jobs() == 1


@pytest.mark.parametrize("provider", ["twilio"], indirect=True)
def test_after_a_slow_send_the_provider_s_replies_go_to_the_drain(service, provider):
    """A slow provider holds up sends, never the handling of the next residents' messages."""
    app, _ = service()
    settings = app.config["SMSBOT_SETTINGS"]
    provider.slow_next(sending.SLOW_SEND_SECONDS + 0.3)
    provider.text(settings, "помощь", from_phone=PHONES[0], to_phone=COMPANY_NUMBER)
    assert jobs.handle_waiting() == 1  # sent here, slowly
    assert len(provider.sent(PHONES[0])) == 1
    provider.text(settings, "помощь", from_phone=PHONES[1], to_phone=COMPANY_NUMBER)
    assert jobs.handle_waiting() == 1
    assert provider.sent(PHONES[1]) == [] and _drain_jobs() == 1  # this one waits for a drain
    run_jobs(app)
    assert len(provider.sent(PHONES[1])) == 1
