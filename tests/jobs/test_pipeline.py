"""Inbound callback → queue → real RQ worker → reply → provider → delivery status.

The first tests run for every provider whose sends go through RQ (the `provider` fixture:
the fake Twilio, the SMSC.ru stand-in and the local outbox), on SQLite and PostgreSQL, over
real HTTP both ways. SMPP's connector has the same pipeline tests of its own in
tests/providers/smpp/test_connector_pipeline.py.
"""

from __future__ import annotations

import threading

from sqlmodel import Session, select

from smsbot import db, jobs
from smsbot.models import IN_FAILED, IN_HANDLED, INBOUND, Conversation, Message, Resident
from tests.conftest import run_jobs
from tests.support import outbound_messages, post_inbound, wait_until

DEMO_PHONE = "+79851234567"
COMPANY_NUMBER = "+74951230001"


def _inbound_all() -> list[Message]:
    with Session(db.engine()) as session:
        return list(session.exec(select(Message).where(Message.direction == INBOUND)))


def _inbound(sid: str) -> Message:
    with Session(db.engine()) as session:
        return session.exec(select(Message).where(Message.external_id == sid)).one()


# --- every provider -------------------------------------------------------------------------


def test_a_residents_sms_is_answered_through_the_provider_and_delivered(service, provider):
    app, _ = service()
    provider.text(
        app.config["SMSBOT_SETTINGS"], "помощь", from_phone=DEMO_PHONE, to_phone=COMPANY_NUMBER
    )
    run_jobs(app)
    [sent] = wait_until(lambda: provider.sent(DEMO_PHONE), what="the reply at the provider")
    wait_until(lambda: outbound_messages()[0].status == "delivered", what="delivered status")
    [reply] = outbound_messages()
    assert (reply.provider, reply.external_id) == (provider.name, provider.sent_id(sent))
    assert reply.body.startswith("БАЛАНС") and reply.from_phone == COMPANY_NUMBER
    assert [m.status for m in _inbound_all()] == [IN_HANDLED]


def test_five_copies_of_one_callback_at_once_give_one_message_and_one_reply(service, provider):
    app, _ = service()
    settings = app.config["SMSBOT_SETTINGS"]
    provider_id = provider.new_id()
    barrier = threading.Barrier(5)
    failures = []

    def post() -> None:
        barrier.wait()
        try:
            provider.text(settings, "помощь", from_phone=DEMO_PHONE, to_phone=COMPANY_NUMBER,
                          provider_id=provider_id)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    run_jobs(app)
    assert len(_inbound_all()) == 1
    wait_until(lambda: provider.sent(DEMO_PHONE), what="the reply at the provider")
    wait_until(lambda: outbound_messages()[0].status == "delivered", what="delivered")
    assert len(provider.sent(DEMO_PHONE)) == 1
    assert len(outbound_messages()) == 1


def test_stop_is_ours_whichever_provider_carried_it(service, provider):
    """Twilio handles English STOP itself, Russian providers do not: we honour СТОП and STOP
    the same way for every provider, and nothing more goes to that phone until СТАРТ."""
    app, _ = service()
    settings = app.config["SMSBOT_SETTINGS"]
    for word in ("СТОП", "баланс"):
        provider.text(settings, word, from_phone=DEMO_PHONE, to_phone=COMPANY_NUMBER)
        run_jobs(app)
    [confirmation] = wait_until(lambda: provider.sent(DEMO_PHONE), what="the confirmation")
    with Session(db.engine()) as session:
        resident = session.exec(select(Resident).where(Resident.phone == DEMO_PHONE)).one()
    assert resident.opted_out
    assert [m.kind for m in outbound_messages()] == ["opt_out"]  # nothing for "баланс"
    provider.text(settings, "СТАРТ", from_phone=DEMO_PHONE, to_phone=COMPANY_NUMBER)
    run_jobs(app)
    wait_until(lambda: len(provider.sent(DEMO_PHONE)) == 2, what="the opt-in confirmation")


def test_twilio_is_given_the_named_status_callback(live_app, live_demo, fake_twilio):
    post_inbound(live_app.test_client(), live_app, "помощь")
    run_jobs(live_app)
    [sent] = fake_twilio.wait_for_messages(1, to=DEMO_PHONE)
    [reply] = outbound_messages()
    assert sent["status_callback"] == (
        f"{live_app.config['SMSBOT_SETTINGS'].public_base_url}/sms/twilio/status?o={reply.id}"
    )
    assert reply.num_segments == int(sent["num_segments"])


# --- handling, through the local outbox --------------------------------------------------


def test_help_goes_out_through_the_local_outbox(client, app, demo):
    from smsbot.providers import outbox

    sid, response = post_inbound(client, app, "помощь")
    assert response.status_code == 200
    run_jobs(app)
    assert _inbound(sid).status == IN_HANDLED
    [reply] = outbound_messages()
    assert reply.status == "delivered" and reply.template == "help"
    assert reply.to_phone == DEMO_PHONE and reply.from_phone == COMPANY_NUMBER
    assert (
        "БАЛАНС" in reply.body and "ЗАЯВКА" in reply.body
    )  # the help (it names no company: one SMS less)
    [recorded] = outbox.messages()
    assert recorded["body"] == reply.body and recorded["sid"] == reply.external_id


def test_english_help(client, app, demo):
    from smsbot.models import Resident

    post_inbound(client, app, "help")
    run_jobs(app)
    with Session(db.engine()) as session:
        resident = session.exec(select(Resident)).one()
        resident.language = "en"
        session.commit()
    post_inbound(client, app, "HELP")
    run_jobs(app)
    assert "BALANCE" in outbound_messages()[-1].body


def test_chat_lands_in_the_inbox_and_is_acknowledged_once(client, app, demo):
    post_inbound(client, app, "Здравствуйте, когда дадут горячую воду?")
    post_inbound(client, app, "Третий день нет")
    run_jobs(app)
    replies = outbound_messages()
    assert [r.template for r in replies] == ["chat_ack"]
    with Session(db.engine()) as session:
        conversation = session.exec(select(Conversation)).one()
        assert conversation.unread == 2
        threaded = session.exec(
            select(Message).where(Message.conversation_id == conversation.id)
        ).all()
        assert len(threaded) == 3


def test_a_job_that_runs_twice_produces_one_reply(client, app, demo):
    sid, _ = post_inbound(client, app, "помощь")
    message_id = _inbound(sid).id
    assert jobs.handle_inbound(message_id) == 1
    assert jobs.handle_inbound(message_id) == 1  # re-queues the unsent reply, creates none
    run_jobs(app)
    assert len(outbound_messages()) == 1


def test_a_crashing_handler_still_reaches_a_human(client, app, demo, monkeypatch):
    monkeypatch.setenv("SMSBOT_ENV", "test")
    monkeypatch.setenv("SMSBOT_FAILPOINTS", "inbound.before_handle=raise")
    sid, _ = post_inbound(client, app, "помощь")
    run_jobs(app)
    message = _inbound(sid)
    assert message.status == IN_FAILED and "failpoint" in message.error_message
    with Session(db.engine()) as session:
        assert session.get(Conversation, message.conversation_id).unread == 1
    assert [r.template for r in outbound_messages()] == ["chat_ack"]


def test_unknown_phone_on_a_shared_number_is_asked_to_link(client, app, demo):
    post_inbound(client, app, "помощь", from_phone="+79031112233", to_phone="+79990000000")
    run_jobs(app)
    [reply] = outbound_messages()
    assert reply.template == "help" and reply.to_phone == "+79031112233"
    post_inbound(client, app, "привет", from_phone="+79031112233", to_phone="+79990000000")
    run_jobs(app)
    assert outbound_messages()[-1].template == "unrouted"


# --- Twilio's failures ------------------------------------------------------------------------


def test_transient_failures_are_retried_until_sent(live_app, live_demo, fake_twilio, monkeypatch):
    from smsbot import outbound

    monkeypatch.setattr(outbound, "RETRY_BACKOFF", (0, 0, 0, 0, 0, 0))
    fake_twilio.fail_next("500")
    fake_twilio.fail_next("429")
    post_inbound(live_app.test_client(), live_app, "помощь")
    run_jobs(live_app)
    [sent] = fake_twilio.wait_for_messages(1, to=DEMO_PHONE)
    wait_until(lambda: outbound_messages()[0].status == "delivered", what="delivered")
    [reply] = outbound_messages()
    assert reply.attempts == 3 and reply.external_id == sent["sid"]


def test_opted_out_at_twilio_marks_the_resident_and_is_not_retried(
    live_app, live_demo, fake_twilio
):
    fake_twilio.fail_next("21610")
    post_inbound(live_app.test_client(), live_app, "помощь")
    run_jobs(live_app)
    [reply] = outbound_messages()
    assert (reply.status, reply.error_code, reply.attempts) == ("failed", 21610, 1)
    with Session(db.engine()) as session:
        assert session.exec(select(Resident).where(Resident.phone == DEMO_PHONE)).one().opted_out
    # Nothing more goes to an opted-out phone.
    post_inbound(live_app.test_client(), live_app, "ещё вопрос")
    run_jobs(live_app)
    assert {r.status for r in outbound_messages()} <= {"failed", "canceled"}
    assert fake_twilio.messages(to=DEMO_PHONE) == []


def test_invalid_number_fails_without_retry(live_app, live_demo, fake_twilio):
    fake_twilio.fail_next("21211")
    post_inbound(live_app.test_client(), live_app, "помощь")
    run_jobs(live_app)
    [reply] = outbound_messages()
    assert (reply.status, reply.error_code, reply.attempts) == ("failed", 21211, 1)


def test_undelivered_is_recorded_with_its_error(live_app, live_demo, fake_twilio):
    fake_twilio.fail_next("undelivered")
    post_inbound(live_app.test_client(), live_app, "помощь")
    run_jobs(live_app)
    wait_until(lambda: outbound_messages()[0].status == "undelivered", what="undelivered")
    assert outbound_messages()[0].error_code == 30003
