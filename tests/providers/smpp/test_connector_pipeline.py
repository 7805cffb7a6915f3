"""The SMPP connector with the whole pipeline: the local SMSC over TCP, real Redis, RQ, and
SQLite and PostgreSQL.

A resident's SMS arrives as deliver_sm, is stored and handled by a real RQ worker, the reply
is claimed by the connector and submitted over SMPP, and the SMSC's receipt moves it to
delivered. Then the hard cases: an undelivered receipt, throttling, an invalid number, the
connection dropped mid-window, and the connector killed with SIGKILL while sending.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from sqlmodel import Session, select

from smsbot import db
from smsbot.models import INBOUND, KIND_REPLY, OUT_QUEUED, OUTBOUND, Message, MessageRef
from smsbot.providers.smpp.connector import AccountConnector
from standins.smpp import FakeSmsc
from tests.conftest import run_jobs
from tests.support import die_with_parent, outbound_messages, wait_until

DEMO_PHONE = "+79851234567"
COMPANY_NUMBER = "+74951230001"


@pytest.fixture()
def smsc():  # noqa: ANN201
    with FakeSmsc(system_id="smsbot", password="secret") as server:
        yield server


@pytest.fixture()
def smpp_env(app_env, smsc) -> dict[str, str]:  # noqa: ANN001
    return {
        **app_env,
        "SMPP_HOST": smsc.host,
        "SMPP_PORT": str(smsc.port),
        "SMPP_SYSTEM_ID": "smsbot",
        "SMPP_PASSWORD": "secret",
        "SMPP_SOURCE": COMPANY_NUMBER,
        "SMPP_MPS": "500",
        "SMPP_WINDOW": "10",
        "SMPP_ENQUIRE_SECONDS": "5",
        # Long enough for a loaded CI machine to hear the receipts of a dropped window (a
        # shorter wait sends such a message again: the duplicate the module's docstring
        # names as the trade-off), short enough for a claimed-but-unwritten one to go out.
        "SMPP_UNKNOWN_WAIT_SECONDS": "10",
        "SMSBOT_DEFAULT_PROVIDER": "smpp",
    }


@pytest.fixture()
def smpp_app(smpp_env):  # noqa: ANN001, ANN201
    from app import create_app
    from standins import demo

    application = create_app(smpp_env)
    application.config["TESTING"] = True
    with application.app_context():
        with Session(db.engine()) as session:
            demo.seed(session)
            session.commit()
        yield application


@pytest.fixture()
def connector(smpp_app):  # noqa: ANN001, ANN201
    settings = smpp_app.config["SMSBOT_SETTINGS"]
    [config] = [c for c in settings.providers if c.kind == "smpp"]
    running = AccountConnector(config, settings, reassembly_seconds=2.0)
    running.session.backoff_first, running.session.backoff_max = 0.05, 0.5
    running.start()
    assert running.session.wait_bound(10)
    yield running
    running.stop()


def inbound() -> list[Message]:
    with Session(db.engine()) as session:
        query = select(Message).where(Message.direction == INBOUND).order_by(Message.id)
        return list(session.exec(query))


def queue_replies(n: int, *, to: str | None = None) -> list[int]:
    """n replies waiting for the connector, to n phones (the one door's rows, made directly).

    Written through the writer engine, as the app writes: on SQLite it queues for the write
    lock (the connector's claims hold it) instead of failing after the 5 s busy timeout.
    """
    ids = []
    with Session(db.writer()) as session:
        for i in range(n):
            message = Message(
                direction=OUTBOUND,
                status=OUT_QUEUED,
                kind=KIND_REPLY,
                provider="smpp",
                from_phone=COMPANY_NUMBER,
                to_phone=to or f"+7985{i:07d}",
                body=f"Ответ {i}: ваш баланс 1 234,56 ₽",
                encoding="UCS-2",
                num_segments=1,
            )
            session.add(message)
            session.flush()
            ids.append(message.id)
        session.commit()
    return ids


def statuses() -> Counter:
    return Counter(m.status for m in outbound_messages())


def sent_once(smsc: FakeSmsc) -> None:
    assert smsc.log.duplicates() == []
    assert all(count == 1 for count in smsc.log.counts().values())


def test_a_resident_sms_gets_a_reply_over_smpp_that_is_delivered(smpp_app, connector, smsc):  # noqa: ANN001
    smsc.send_mo(DEMO_PHONE, COMPANY_NUMBER, "баланс")
    [received] = wait_until(inbound, what="the SMS stored")
    assert (received.provider, received.from_phone, received.to_phone, received.body) == (
        "smpp",
        DEMO_PHONE,
        COMPANY_NUMBER,
        "баланс",
    )
    run_jobs(smpp_app)
    wait_until(lambda: statuses() == {"delivered": 1}, what="the reply delivered")
    [reply] = outbound_messages()
    [submitted] = smsc.submitted
    assert submitted.destination == DEMO_PHONE.lstrip("+") and submitted.text == reply.body
    assert reply.provider == "smpp" and reply.external_id == submitted.message_ids[0]
    assert reply.num_segments == len(submitted.message_ids)
    with Session(db.engine()) as session:
        refs = session.exec(select(MessageRef.ref).where(MessageRef.message_id == reply.id)).all()
    assert sorted(refs) == sorted(submitted.message_ids[1:])
    assert ("mo", 0) in smsc.deliver_resps


def test_a_long_cyrillic_sms_in_parts_out_of_order_is_stored_once(smpp_app, connector, smsc):  # noqa: ANN001
    text = (
        "Здравствуйте! В подъезде номер два уже третий день не работает лифт, "
        "а на пятом этаже перегорела лампочка. Когда придёт мастер?"
    )
    assert smsc.send_mo(DEMO_PHONE, COMPANY_NUMBER, text, order=[2, 1, 2]) == 2
    [received] = wait_until(inbound, what="the long SMS stored")
    assert received.body == text
    run_jobs(smpp_app)
    wait_until(lambda: statuses().get("delivered") == 1, what="the reply delivered")
    assert len(inbound()) == 1


def test_a_long_sms_whose_last_part_never_comes_is_stored_with_what_came(connector, smsc):  # noqa: ANN001
    text = "Добрый день. " * 12
    smsc.send_mo(DEMO_PHONE, COMPANY_NUMBER, text, order=[1])
    assert smsc.wait_for(lambda s: ("mo", 0) in s.deliver_resps)
    [received] = wait_until(inbound, what="the incomplete SMS stored after the wait")
    assert received.body == text[:67]


def test_an_undelivered_receipt(smpp_app, connector, smsc):  # noqa: ANN001
    smsc.set_outcome("UNDELIV", destination=DEMO_PHONE)
    queue_replies(1, to=DEMO_PHONE)
    wait_until(lambda: statuses() == {"undelivered": 1}, what="undelivered")
    [reply] = outbound_messages()
    assert reply.error_code == 1


def test_an_smsc_giving_hex_ids_and_decimal_receipts_still_delivers(smpp_app, connector, smsc):  # noqa: ANN001
    """The known trap: submit_sm_resp in hex, the receipt in decimal (or the other way)."""
    smsc.configure(hex_ids=True)
    queue_replies(3)
    wait_until(lambda: statuses() == {"delivered": 3}, what="all delivered")
    sent_once(smsc)


def test_a_decimal_receipt_finds_the_hex_id_it_was_stored_under(smpp_app):  # noqa: ANN001
    """The match itself, without the connector's slower fallbacks (text prefix, redelivery)."""
    from smsbot import outbound
    from smsbot.providers.base import StatusUpdate
    from smsbot.providers.smpp.receipts import id_forms

    [reply_id] = queue_replies(1)
    with Session(db.engine()) as session:
        session.get(Message, reply_id).external_id = "f4241"  # submit_sm_resp gave hex
        session.commit()
    receipt_id = "1000001"  # the receipt gives decimal
    update = StatusUpdate(
        provider_id=receipt_id,
        status="delivered",
        aliases=tuple(sorted(set(id_forms(receipt_id)) - {receipt_id})),
    )
    with Session(db.engine()) as session:
        assert outbound.apply_status(session, "smpp", update) == "updated"
        session.commit()
    assert statuses() == {"delivered": 1}


def test_an_invalid_number_fails_for_good(smpp_app, connector, smsc):  # noqa: ANN001
    smsc.reject_destination("+79850000001")
    queue_replies(3)
    wait_until(lambda: statuses() == {"delivered": 2, "failed": 1}, what="two sent, one failed")
    failed = outbound_messages(status="failed")[0]
    assert failed.to_phone == "+79850000001" and failed.error_code == 0x0B
    assert len(smsc.submitted) == 2


def test_throttled_submits_are_sent_again_once(smpp_app, connector, smsc):  # noqa: ANN001
    smsc.throttle_next(5)
    queue_replies(20)
    wait_until(lambda: statuses() == {"delivered": 20}, what="all delivered")
    assert smsc.throttled == 5
    sent_once(smsc)
    assert len(smsc.submitted) == 20


def test_a_connection_dropped_mid_window_sends_nothing_twice(smpp_app, connector, smsc):  # noqa: ANN001
    smsc.drop_after(5, taken=True)
    queue_replies(30)
    wait_until(lambda: statuses() == {"delivered": 30}, timeout=60, what="all delivered")
    sent_once(smsc)
    assert len(smsc.submitted) == 30
    assert connector.session.binds >= 2


@pytest.mark.slow
def test_killed_with_sigkill_while_sending_each_reply_goes_out_once(smpp_app, smpp_env, smsc):  # noqa: ANN001
    queue_replies(200)
    env = {**os.environ, **smpp_env, "SMPP_MPS": "100", "SMSBOT_LOG_LEVEL": "WARNING"}

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "smsbot.providers.smpp.connector"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("SMSBOT_TEST_WORKER_LOGS") else subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )

    first = start()
    try:
        assert smsc.wait_for(lambda s: len(s.submitted) >= 60, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert len(smsc.submitted) < 200
    second = start()
    try:
        wait_until(lambda: statuses() == {"delivered": 200}, timeout=120, what="all delivered")
    finally:
        second.terminate()  # SIGTERM: unbind and exit
        assert second.wait(15) == 0
    assert smsc.wait_for(lambda s: s.bound("smsbot") == 0)
    sent_once(smsc)
    assert len(smsc.submitted) == 200


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # a link the test cuts
def test_the_connector_waits_out_database_and_redis_outages(smpp_env, smsc, tmp_path):  # noqa: ANN001
    """While the database is away a deliver_sm gets a temporary error, so the SMSC delivers
    it again (SMPP's own guarantee: no spool needed); when it is back the SMS is stored once.
    Without Redis the connector still stores and sends. It never stops."""
    from urllib.parse import urlsplit

    from app import create_app
    from smsbot.providers.smpp.session import TEMPORARY_APP_ERROR
    from standins import demo
    from tests.support import CuttableLink, OwnRedis

    redis = OwnRedis(tmp_path)
    redis.start()
    link = CuttableLink("127.0.0.1", urlsplit(smpp_env["DATABASE_URL"]).port or 5432)
    env = {
        **smpp_env,
        "DATABASE_URL": link.url_for(smpp_env["DATABASE_URL"]),
        "REDIS_URL": redis.url,
    }
    app = create_app(env)
    running = None
    try:
        with app.app_context():
            with Session(db.engine()) as session:
                demo.seed(session)
                session.commit()
            settings = app.config["SMSBOT_SETTINGS"]
            [config] = [c for c in settings.providers if c.kind == "smpp"]
            running = AccountConnector(config, settings)
            running.start()
            assert running.session.wait_bound(10)

            link.cut()
            smsc.send_mo(DEMO_PHONE, COMPANY_NUMBER, "баланс")
            assert smsc.wait_for(lambda s: ("mo", TEMPORARY_APP_ERROR) in s.deliver_resps)
            link.restore()
            [received] = wait_until(inbound, what="the SMS stored once the database is back")
            assert received.body == "баланс"
            assert smsc.wait_for(lambda s: ("mo", 0) in s.deliver_resps)

            redis.stop()
            smsc.send_mo(DEMO_PHONE, COMPANY_NUMBER, "помощь")
            wait_until(lambda: len(inbound()) == 2, what="an SMS stored without Redis")
            queue_replies(1, to=DEMO_PHONE)
            wait_until(lambda: statuses() == {"delivered": 1}, what="a reply sent without Redis")
            assert running._thread.is_alive() and running.session.wait_bound(1)
            assert [m.body for m in inbound()] == ["баланс", "помощь"]
    finally:
        if running is not None:
            running.stop()
        link.close()
        redis.stop()
