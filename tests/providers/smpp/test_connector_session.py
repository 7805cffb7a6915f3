"""The bind (smsbot.providers.smpp.session) against the local SMSC over real TCP.

No database here: a handler that records what the bind carries stands in for the connector,
so bind, refusal, re-binding, enquire_link, the window, throttling and receiving are tested
on their own. The SMSC is standins/smpp.py, built on a different SMPP codec (smpp34).
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from smsbot.providers.smpp.config import SmppConfig
from smsbot.providers.smpp.session import Session
from standins.smpp import FakeSmsc


class Recorder:
    """Handler that keeps every callback, and answers deliver_sm with `answer`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bound = 0
        self.resps: list[tuple[int, int, str | None]] = []
        self.delivered: list[object] = []
        self.dropped: list[list[int]] = []
        self.answer = 0

    def on_bound(self) -> None:
        with self.lock:
            self.bound += 1

    def on_submit_resp(self, sequence: int, status: int, message_id: str | None) -> None:
        with self.lock:
            self.resps.append((sequence, status, message_id))

    def on_deliver(self, pdu: object) -> int:
        with self.lock:
            self.delivered.append(pdu)
        return self.answer

    def after_answer(self) -> None:
        pass

    def on_dropped(self, unanswered: list[int]) -> None:
        with self.lock:
            self.dropped.append(unanswered)


def wait(predicate, timeout: float = 10.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture()
def smsc():  # noqa: ANN201
    with FakeSmsc(system_id="smsbot", password="secret") as server:
        yield server


def config(smsc: FakeSmsc, **changes) -> SmppConfig:  # noqa: ANN003
    values = dict(
        name="smpp",
        host=smsc.host,
        port=smsc.port,
        system_id="smsbot",
        password="secret",
        source="+79990000000",
        messages_per_second=1000.0,
        window=10,
        enquire_seconds=30.0,
    )
    values.update(changes)
    return SmppConfig(**values)


@pytest.fixture()
def start():  # noqa: ANN201
    sessions = []

    def make(cfg: SmppConfig, handler: Recorder | None = None) -> tuple[Session, Recorder]:
        handler = handler or Recorder()
        session = Session(cfg, handler)
        session.backoff_first, session.backoff_max = 0.05, 0.2
        session.start()
        sessions.append(session)
        return session, handler

    yield make
    for session in sessions:
        session.stop()


def submit(session: Session, n: int, to: str = "79851234567") -> list[int]:
    return [
        session.submit(
            lambda seq: None,
            source_addr="79990000000",
            source_addr_ton=1,
            source_addr_npi=1,
            destination_addr=to,
            dest_addr_ton=1,
            dest_addr_npi=1,
            esm_class=0,
            data_coding=0,
            registered_delivery=0,
            short_message=f"hello {i}".encode(),
        )
        for i in range(n)
    ]


def test_binds_as_a_transceiver_and_unbinds_on_stop(smsc, start):  # noqa: ANN001
    session, handler = start(config(smsc))
    assert session.wait_bound(15)
    # The SMSC counts the bind once its answer is written, a moment after ours: wait for it.
    assert wait(lambda: handler.bound == 1 and smsc.bound("smsbot") == 1)
    session.stop()
    assert wait(lambda: smsc.bound("smsbot") == 0)
    assert not session.bound


def test_a_refused_bind_says_so_and_keeps_trying(smsc, start, caplog):  # noqa: ANN001
    caplog.set_level(logging.INFO, "smsbot.providers.smpp.session")
    session, handler = start(config(smsc, password="wrong"))
    assert wait(lambda: sum(1 for _, status in smsc.bind_log if status == 0x0E) >= 2)
    assert not session.bound and handler.bound == 0
    assert "SMPP bind refused for system_id smsbot: invalid password" in caplog.text
    assert "wrong" not in caplog.text


def test_binds_again_after_the_smsc_drops_the_connection(smsc, start):  # noqa: ANN001
    session, handler = start(config(smsc))
    assert session.wait_bound(15)
    smsc.unbind_all()
    assert wait(lambda: handler.bound == 2 and session.bound)
    assert session.binds == 2


def test_a_submit_written_before_a_drop_is_reported_unanswered(smsc, start):  # noqa: ANN001
    session, handler = start(config(smsc))
    assert session.wait_bound(15)
    smsc.drop_after(1)
    [sequence] = submit(session, 1)
    assert wait(lambda: handler.dropped)
    assert handler.dropped[0] == [sequence]
    assert handler.resps == []
    assert wait(lambda: session.bound)


def test_sends_enquire_link_when_idle_and_answers_the_smscs(smsc, start):  # noqa: ANN001
    smsc.configure(enquire_interval=0.1)
    session, handler = start(config(smsc, enquire_seconds=0.1))
    assert session.wait_bound(15)
    time.sleep(1.0)
    assert session.bound and handler.dropped == [] and session.binds == 1


def test_the_window_caps_unanswered_submits(smsc, start):  # noqa: ANN001
    session, handler = start(config(smsc, window=3))
    assert session.wait_bound(15)
    seen = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(session.outstanding())
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    submit(session, 30)
    assert wait(lambda: len(handler.resps) == 30)
    done.set()
    watcher.join()
    assert max(seen) <= 3
    assert {status for _, status, _ in handler.resps} == {0}
    assert len({message_id for _, _, message_id in handler.resps}) == 30


def test_throttled_submits_come_back_with_their_status(smsc, start):  # noqa: ANN001
    session, handler = start(config(smsc))
    assert session.wait_bound(15)
    smsc.throttle_next(2)
    sequences = submit(session, 3)
    assert wait(lambda: len(handler.resps) == 3)
    statuses = {seq: status for seq, status, _ in handler.resps}
    assert [statuses[s] for s in sequences] == [0x58, 0x58, 0]


def test_a_deliver_sm_is_answered_with_the_handlers_status(smsc, start):  # noqa: ANN001
    session, handler = start(config(smsc))
    assert session.wait_bound(15)
    handler.answer = 0x64  # could not store it: the SMSC keeps it and tries again
    smsc.send_mo("+79851234567", "+79990000000", "баланс")
    assert wait(lambda: ("mo", 0x64) in smsc.deliver_resps)
    handler.answer = 0
    assert wait(lambda: ("mo", 0) in smsc.deliver_resps, timeout=15)
    pdu = handler.delivered[-1]
    assert pdu.short_message.decode("utf-16-be") == "баланс"
