"""Crashes lose nothing and send nothing twice: SIGKILLed workers, Redis going away.

These run real worker processes (`smsbot worker`), a real Redis, each provider's stand-in
(the `provider` fixture: fake Twilio, SMSC.ru, the outbox) and the app over HTTP, and kill
things the way production does. SMPP's connector is killed the same way in
tests/providers/smpp/test_connector_pipeline.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlmodel import Session, select

from smsbot import db, jobs, providers, simulate
from smsbot.models import IN_HANDLED, IN_RECEIVED, INBOUND, OUT_SENDING, Message
from tests.support import OwnRedis, die_with_parent, outbound_messages, wait_until

pytestmark = pytest.mark.slow

DEMO_PHONE = "+79851234567"
COMPANY_NUMBER = "+74951230001"


def start_worker(env: dict[str, str], **extra: str) -> subprocess.Popen:
    """A real `smsbot worker` process with the test's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "smsbot.cli", "worker"],
        env={**os.environ, **env, **extra},
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("SMSBOT_TEST_WORKER_LOGS") else subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def inbound_messages() -> list[Message]:
    with Session(db.engine()) as session:
        return list(
            session.exec(select(Message).where(Message.direction == INBOUND).order_by(Message.id))
        )


def text(settings, body: str, phone: str = DEMO_PHONE) -> str:  # noqa: ANN001
    """A resident's SMS through the Twilio callback (the Redis test's provider)."""
    sid, response = simulate.post_inbound(
        settings.public_base_url,
        providers.get(settings, "twilio"),
        from_phone=phone,
        to_phone=COMPANY_NUMBER,
        body=body,
    )
    assert response.status_code == 200, response.text
    return sid


QUICK = {"SMSBOT_SWEEP_AFTER_SECONDS": "1", "SMSBOT_SENDING_GRACE_SECONDS": "1"}
"""Sweeps that act after a second, so a crash is noticed quickly."""


@pytest.fixture()
def crashing(service, provider, tmp_path):  # noqa: ANN001, ANN201
    """The app over HTTP with `provider`, quick sweeps, and failpoints that leave markers."""
    markers = tmp_path / "failpoints"
    markers.mkdir()
    app, env = service(**QUICK, SMSBOT_FAILPOINT_DIR=str(markers))
    return app, env, markers


def _sweep_until(predicate, what: str, timeout: float = 60) -> None:  # noqa: ANN001
    """Sweep as the clock would, until `predicate` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1.1)
        jobs.sweep()


def kill_worker_at(crashing, provider, failpoint: str) -> None:  # noqa: ANN001
    """The resident texts ПОМОЩЬ through `provider`; a worker reaches `failpoint` and is
    SIGKILLed there."""
    app, env, markers = crashing
    doomed = start_worker(env, SMSBOT_FAILPOINTS=f"{failpoint}=sleep:60")
    try:
        provider.text(app.config["SMSBOT_SETTINGS"], "помощь", from_phone=DEMO_PHONE,
                      to_phone=COMPANY_NUMBER)  # fmt: skip
        wait_until(
            lambda: (markers / failpoint).exists(), timeout=60, what=f"worker at {failpoint}"
        )
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop(doomed)


def recover(env, predicate, what: str) -> None:  # noqa: ANN001
    """A healthy worker and the sweep bring things right; later sweeps must change nothing."""
    healthy = start_worker(env)
    try:
        _sweep_until(predicate, what)
        time.sleep(2.5)  # further sweeps must not send anything again
        jobs.sweep()
        time.sleep(0.5)
    finally:
        stop(healthy)


@pytest.mark.pairwise
def test_worker_killed_mid_handling_loses_nothing_and_replies_once(crashing, provider):
    kill_worker_at(crashing, provider, "inbound.before_commit")
    [message] = inbound_messages()
    assert message.status == IN_RECEIVED and outbound_messages() == []  # rolled back, not lost

    def answered() -> bool:
        replies = outbound_messages()
        return inbound_messages()[0].status == IN_HANDLED and [r.status for r in replies] == [
            "delivered"
        ]

    recover(crashing[1], answered, "the message to be handled and its reply delivered")
    assert len(provider.sent(DEMO_PHONE)) == 1
    assert len(outbound_messages()) == 1


@pytest.mark.pairwise
def test_worker_killed_after_the_provider_took_the_reply_does_not_send_it_again(crashing, provider):
    kill_worker_at(crashing, provider, "send.after_provider")
    [sent] = provider.sent(DEMO_PHONE)

    recover(crashing[1], lambda: outbound_messages()[0].status == "delivered", "the reply recorded")
    [reply] = outbound_messages()
    assert reply.external_id == provider.sent_id(sent)
    assert len(provider.sent(DEMO_PHONE)) == 1


@pytest.mark.pairwise
def test_worker_killed_after_storing_a_reply_it_was_to_send_itself_sends_it_once(
    crashing, provider
):
    """A lone reply is stored claimed by the job that handled its message, to send it itself
    (sending.send_here): killed right after that commit, it leaves the reply 'sending', and
    the sweep asks the provider, then sends it."""
    kill_worker_at(crashing, provider, "inbound.after_commit")
    assert inbound_messages()[0].status == IN_HANDLED
    assert [r.status for r in outbound_messages()] == [OUT_SENDING]
    assert provider.sent(DEMO_PHONE) == []

    recover(crashing[1], lambda: outbound_messages()[0].status == "delivered", "the reply sent")
    assert len(provider.sent(DEMO_PHONE)) == 1
    assert len(outbound_messages()) == 1


@pytest.mark.pairwise
def test_stuck_send_that_never_reached_the_provider_is_sent_once(crashing, provider):
    """Killed after the claim but before the provider call: the sweep asks, then sends."""
    kill_worker_at(crashing, provider, "send.before_provider")
    assert outbound_messages()[0].status == OUT_SENDING
    assert provider.sent(DEMO_PHONE) == []

    recover(crashing[1], lambda: outbound_messages()[0].status == "delivered", "the reply sent")
    assert len(provider.sent(DEMO_PHONE)) == 1


# --- Redis going away -------------------------------------------------------------------------


def test_redis_stopping_while_webhooks_arrive_loses_nothing(live_env, fake_twilio, tmp_path):
    from app import create_app
    from standins import demo

    env, server = live_env
    redis = OwnRedis(tmp_path)
    redis.start()
    env.update(REDIS_URL=redis.url, SMSBOT_SWEEP_AFTER_SECONDS="1")
    app = create_app(env)
    server.start(app)
    settings = app.config["SMSBOT_SETTINGS"]
    phones = [f"+7985{n:07d}" for n in range(1, 31)]
    worker = None
    try:
        with app.app_context():
            with Session(db.engine()) as session:
                demo.seed(session)
                session.commit()
            worker = start_worker(env)
            for phone in phones[:10]:
                text(settings, "помощь", phone)
            redis.stop()  # Redis goes away while messages keep coming
            started = time.monotonic()
            for phone in phones[10:20]:
                text(settings, "помощь", phone)
            assert time.monotonic() - started < 10, "webhooks must not hang while Redis is down"
            redis.start()  # back, empty: everything queued before is gone from Redis
            for phone in phones[20:]:
                text(settings, "помощь", phone)
            assert len(inbound_messages()) == 30

            def all_delivered() -> bool:
                replies = outbound_messages()
                return len(replies) == 30 and all(r.status == "delivered" for r in replies)

            _sweep_until(all_delivered, "every message to be answered", timeout=120)
            time.sleep(2.5)
            jobs.sweep()
            time.sleep(1)
            assert all(m.status == IN_HANDLED for m in inbound_messages())
            for phone in phones:
                assert len(fake_twilio.messages(to=phone)) == 1, phone
    finally:
        if worker is not None:
            stop(worker)
        redis.stop()
