"""The SMSC simulator (standins/smpp.py) driven over TCP by smpplib, our client's codec."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest
import smpplib.client
import smpplib.exceptions

from smsbot.providers.smpp.parts import split
from smsbot.providers.smpp.reassembly import Reassembler
from smsbot.providers.smpp.receipts import is_receipt, parse_receipt
from standins.smpp import FakeSmsc
from standins.smpp_control import serve_control

COMPANY, RESIDENT = "+79990000000", "+79851234567"
LONG_RU = "Добрый день! У нас в подъезде уже третий день не горит свет на лестнице, " * 2


@pytest.fixture
def smsc():
    with FakeSmsc(system_id="smsbot", password="secret") as fake:
        yield fake


class Esme:
    """A bound smpplib client that collects what the SMSC delivers."""

    def __init__(self, smsc: FakeSmsc, password: str = "secret"):
        self.got: list = []
        self.resps: list = []
        self.client = smpplib.client.Client(
            smsc.host, smsc.port, timeout=5, allow_unknown_opt_params=True
        )
        self.client.set_message_received_handler(lambda pdu: self.got.append(pdu))
        self.client.set_message_sent_handler(lambda pdu: self.resps.append(pdu))
        self.client.connect()
        try:
            self.client.bind_transceiver(system_id="smsbot", password=password)
        except smpplib.exceptions.PDUError:
            self.client.disconnect()
            raise

    def submit(self, text: str, to: str = "79851234567", ref: int = 1) -> None:
        for part in split(text, ref=ref):
            self.client.send_message(
                source_addr_ton=1, source_addr_npi=1, source_addr="79990000000",
                dest_addr_ton=1, dest_addr_npi=1, destination_addr=to, registered_delivery=1,
                esm_class=part.esm_class, data_coding=part.data_coding, short_message=part.short_message,
            )  # fmt: skip

    def read(self, n: int) -> None:
        for _ in range(n):
            self.client.read_once()

    def close(self) -> None:
        self.client.unbind()
        self.client.disconnect()


def test_wrong_password_is_refused_clearly(smsc: FakeSmsc) -> None:
    with pytest.raises(smpplib.exceptions.PDUError) as refused:
        Esme(smsc, password="wrong")
    assert refused.value.args[1] == 0x0E  # ESME_RINVPASWD
    assert "password" in str(refused.value).lower()
    smsc.configure(refuse_binds=True)
    with pytest.raises(smpplib.exceptions.PDUError) as refused:
        Esme(smsc)
    assert refused.value.args[1] == 0x0D  # ESME_RBINDFAIL
    assert [status for _, status in smsc.bind_log] == [0x0E, 0x0D]


def test_single_and_multipart_cyrillic_from_a_resident(smsc: FakeSmsc) -> None:
    esme = Esme(smsc)
    assert smsc.send_mo(RESIDENT, COMPANY, "Баланс") == 1
    assert smsc.send_mo(RESIDENT, COMPANY, LONG_RU, order=[3, 1, 2, 1]) == 3
    esme.read(5)
    r = Reassembler()
    texts = []
    for pdu in esme.got:
        assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == (b"79851234567", 1, 1)
        assert not is_receipt(pdu.esm_class)
        done = r.add(sender=pdu.source_addr.decode(), data_coding=pdu.data_coding,
                     esm_class=pdu.esm_class, short_message=pdu.short_message, now=0)  # fmt: skip
        if done:
            texts.append(done.text)
    assert texts == ["Баланс", LONG_RU]
    assert smsc.wait_for(lambda s: s.pending() == 0)
    esme.close()


def test_delivered_and_undelivered_receipts_with_hex_ids(smsc: FakeSmsc) -> None:
    smsc.configure(hex_ids=True)
    smsc.set_outcome("UNDELIV", destination="+79850000001")
    esme = Esme(smsc)
    esme.submit("Заявка принята", to="79851234567")
    esme.submit("Заявка принята", to="79850000001")
    esme.read(4)
    resp_ids = [p.message_id.decode() for p in esme.resps]
    receipts = [parse_receipt(p.short_message, {0x001E: p.receipted_message_id + b"\0", 0x0427: bytes((p.message_state,))})
                for p in esme.got if is_receipt(p.esm_class)]  # fmt: skip
    assert [r.stat for r in receipts] == ["DELIVRD", "UNDELIV"]
    assert [r.status for r in receipts] == ["delivered", "undelivered"]
    for resp_id, receipt in zip(resp_ids, receipts, strict=True):
        assert receipt.text_id == str(int(resp_id, 16))  # the trap: decimal in the text
        assert resp_id in receipt.id_forms()
    esme.close()


def test_throttling_answers_0x58(smsc: FakeSmsc) -> None:
    smsc.throttle_next(2)
    esme = Esme(smsc)
    esme.submit("one")
    esme.submit("two")
    esme.submit("three")
    statuses = []
    esme.client.set_message_sent_handler(lambda pdu: statuses.append(pdu.status))
    with pytest.raises(smpplib.exceptions.PDUError) as throttled:
        esme.read(1)
    assert throttled.value.args[1] == 0x58
    with pytest.raises(smpplib.exceptions.PDUError):
        esme.read(1)
    esme.read(2)  # the third submit's resp, then its receipt
    assert [m.text for m in smsc.submitted] == ["three"] and smsc.throttled == 2
    esme.close()


def test_dropped_mid_window_then_receipts_on_rebind(smsc: FakeSmsc) -> None:
    smsc.drop_after(2)
    esme = Esme(smsc)
    esme.submit("first")
    esme.submit("second")  # taken by the SMSC, never answered: the connection closes
    with pytest.raises((smpplib.exceptions.ConnectionError, OSError)):
        esme.read(10)
    assert smsc.wait_for(lambda s: s.bound() == 0)
    assert [m.text for m in smsc.submitted] == ["first", "second"]
    assert smsc.pending("smsbot") >= 1  # receipts wait for the next bind
    again = Esme(smsc)
    again.read(smsc.pending("smsbot"))
    stats = sorted(parse_receipt(p.short_message).message_id for p in again.got)
    assert stats == sorted(m.message_ids[0] for m in smsc.submitted)
    assert smsc.wait_for(lambda s: s.pending() == 0)
    again.close()


def test_duplicates_are_counted(smsc: FakeSmsc) -> None:
    esme = Esme(smsc)
    esme.submit(LONG_RU, ref=9)
    esme.submit(LONG_RU, ref=9)  # the same message again after a "crash"
    assert smsc.wait_for(lambda s: len(s.submitted) == 2)
    assert smsc.log.counts()[("79851234567", LONG_RU)] == 2
    assert smsc.log.duplicates() == [("79851234567", LONG_RU)]
    esme.close()


def test_enquire_link_both_ways_and_unbind(smsc: FakeSmsc) -> None:
    smsc.configure(enquire_interval=0.05)
    esme = Esme(smsc)
    esme.read(2)  # smpplib answers the simulator's enquire_links inside read_once
    esme.client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=esme.client))
    esme.close()
    assert smsc.wait_for(lambda s: s.bound() == 0)


def test_control_port(smsc: FakeSmsc) -> None:
    control = serve_control(smsc, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{control.server_port}/_fake"

    def post(path: str, body: object) -> tuple[int, dict]:
        req = urllib.request.Request(
            base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    try:
        assert (
            post("/config", {"throttle_next": 1, "outcome": {"stat": "EXPIRED", "next_n": 1}})[0]
            == 200
        )
        status, answer = post("/config", {"max_per_second": "fast"})
        assert status == 400 and "max_per_second" in answer["error"]
        assert post("/mo", {"from": RESIDENT, "to": COMPANY})[0] == 400
        assert post("/mo", {"from": RESIDENT, "to": COMPANY, "text": "Баланс"}) == (
            202,
            {"parts": 1},
        )
        with urllib.request.urlopen(base + "/submitted") as resp:
            assert json.loads(resp.read())["messages"] == []
    finally:
        control.shutdown()


def test_not_bound_yet_and_garbage(smsc: FakeSmsc) -> None:
    with socket.create_connection((smsc.host, smsc.port), timeout=5) as sock:
        sock.sendall(bytes.fromhex("00000010000000150000000000000001"))  # enquire_link before bind
        assert sock.recv(16) == bytes.fromhex("00000010800000150000000000000001")
        sock.sendall(bytes.fromhex("00000010000000040000000000000002"))  # submit_sm, unbound
        assert sock.recv(16)[4:12] == bytes.fromhex("8000000400000004")  # ESME_RINVBNDSTS
