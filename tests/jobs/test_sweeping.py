"""The sweep: what it requeues, what it leaves alone, and reconciling half-done sends."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from redis import Redis
from sqlmodel import Session

from smsbot import clock, db, jobs, outbound, providers, queues
from smsbot.models import IN_FAILED, IN_RECEIVED, OUT_QUEUED, OUT_SENDING, Message
from smsbot.providers.base import OutgoingSms
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound


def _forget_jobs(redis_url: str) -> None:
    """Lose every queued job, as a Redis restart without persistence would."""
    conn = Redis.from_url(redis_url)
    keys = list(conn.scan_iter("rq:*"))
    if keys:
        conn.delete(*keys)


def _age(message_id: int, seconds: int = 120) -> None:
    with Session(db.engine()) as session:
        message = session.get(Message, message_id)
        message.created_at = clock.utcnow() - timedelta(seconds=seconds)
        if message.claimed_at is not None:
            message.claimed_at = clock.utcnow() - timedelta(seconds=seconds)
        session.commit()


def _inbound_id(sid: str) -> int:
    from sqlmodel import select

    with Session(db.engine()) as session:
        return session.exec(select(Message.id).where(Message.external_id == sid)).one()


def test_message_never_queued_is_queued_by_the_sweep(client, app, demo, redis_url):
    sid, _ = post_inbound(client, app, "помощь")
    message_id = _inbound_id(sid)
    _forget_jobs(redis_url)  # as if Redis lost them
    _age(message_id)
    counted = REGISTRY.get_sample_value("smsbot_sweep_requeued_total", {"kind": "inbound"}) or 0
    assert jobs.sweep()["inbound"] == 1
    assert (
        REGISTRY.get_sample_value("smsbot_sweep_requeued_total", {"kind": "inbound"}) == counted + 1
    )
    run_jobs(app)
    assert len(outbound_messages()) == 1


def test_a_message_still_waiting_in_the_queue_is_left_alone(client, app, demo, redis_url):
    sid, _ = post_inbound(client, app, "помощь")
    _age(_inbound_id(sid))
    assert jobs.sweep()["inbound"] == 0
    assert Redis.from_url(redis_url).llen("rq:queue:inbound") == 1


def test_young_messages_are_not_swept(client, app, demo, redis_url):
    post_inbound(client, app, "помощь")
    _forget_jobs(redis_url)
    assert jobs.sweep() == {"inbound": 0, "outbound": 0, "reconciled": 0, "released": 0}


def test_lost_send_is_queued_again(client, app, demo, redis_url):
    post_inbound(client, app, "помощь")
    jobs.handle_inbound(1)
    _forget_jobs(redis_url)
    [reply] = outbound_messages()
    assert reply.status == OUT_QUEUED
    _age(reply.id)
    assert jobs.sweep()["outbound"] == 1
    run_jobs(app)
    assert outbound_messages()[0].status == "delivered"


def test_a_message_that_keeps_killing_workers_goes_to_a_human(client, app, demo, redis_url):
    sid, _ = post_inbound(client, app, "помощь")
    message_id = _inbound_id(sid)
    with Session(db.engine()) as session:
        session.get(Message, message_id).attempts = jobs.MAX_HANDLE_ATTEMPTS
        session.commit()
    run_jobs(app)
    with Session(db.engine()) as session:
        message = session.get(Message, message_id)
        assert message.status == IN_FAILED and "gave up" in message.error_message
    assert [r.template for r in outbound_messages()] == ["chat_ack"]


def _stuck_send(app) -> Message:  # noqa: ANN001
    """A reply claimed by a worker that died before recording the provider's answer."""
    from sqlalchemy import update

    jobs.handle_inbound(1)
    [reply] = outbound_messages()
    with Session(db.engine()) as session:
        session.execute(
            update(Message)
            .where(Message.id == reply.id)
            .values(status=OUT_SENDING, claimed_at=clock.utcnow() - timedelta(minutes=5))
        )
        session.commit()
    return reply


def test_reconcile_records_a_send_the_provider_already_has(live_app, live_demo, fake_twilio):
    post_inbound(live_app.test_client(), live_app, "помощь")
    reply = _stuck_send(live_app)
    settings = live_app.config["SMSBOT_SETTINGS"]
    twilio = providers.get(settings, "twilio")
    twilio.send(OutgoingSms(reply.id, reply.to_phone, reply.body, reply.from_phone))
    assert outbound.reconcile(reply.id, settings) == "recorded"
    [recorded] = outbound_messages()
    assert recorded.external_id == fake_twilio.messages(to=reply.to_phone)[0]["sid"]
    run_jobs(live_app)
    assert len(fake_twilio.messages(to=reply.to_phone)) == 1


def test_reconcile_sends_when_the_provider_never_got_it(live_app, live_demo, fake_twilio):
    post_inbound(live_app.test_client(), live_app, "помощь")
    reply = _stuck_send(live_app)
    settings = live_app.config["SMSBOT_SETTINGS"]
    assert outbound.reconcile(reply.id, settings) == "requeued"
    run_jobs(live_app)
    assert len(fake_twilio.wait_for_messages(1, to=reply.to_phone)) == 1
    assert outbound_messages()[0].status != OUT_SENDING


def test_sweep_reconciles_stuck_sends(live_app, live_demo, fake_twilio):
    post_inbound(live_app.test_client(), live_app, "помощь")
    _stuck_send(live_app)
    assert jobs.sweep()["reconciled"] == 1
    run_jobs(live_app)
    assert len(fake_twilio.wait_for_messages(1)) == 1
    assert queues.connection().llen("rq:queue:outbound") == 0
    assert IN_RECEIVED not in {m.status for m in outbound_messages()}


def test_a_send_that_keeps_crashing_its_worker_fails_instead_of_looping(
    live_app, live_demo, fake_twilio
):
    post_inbound(live_app.test_client(), live_app, "помощь")
    reply = _stuck_send(live_app)
    settings = live_app.config["SMSBOT_SETTINGS"]
    with Session(db.engine()) as session:
        session.get(Message, reply.id).attempts = settings.send_max_attempts
        session.commit()
    assert outbound.reconcile(reply.id, settings) == "failed"
    [failed] = outbound_messages()
    assert failed.status == "failed" and "crashed" in failed.error_message
    assert fake_twilio.messages(to=reply.to_phone) == []
