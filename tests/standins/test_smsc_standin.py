"""The SMSC.ru plug-in against the stand-in over real HTTP on loopback.

Sends go through the plug-in's real client into the stand-in; the stand-in's calls to the
handler URL land on a small receiver that runs the plug-in's authenticate, parse and respond,
as the web route will. No timing is asserted: a slow answer only has to outlast our timeout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from smsbot.exceptions import PermanentSendError, TransientSendError, UnknownSendOutcome
from smsbot.models import OUT_ACCEPTED, OUT_DELIVERED, OUT_SENT, OUT_UNDELIVERED
from smsbot.providers import base
from smsbot.providers import smsc as plugin
from smsbot.providers.base import BadWebhook, NotAuthentic, OutgoingSms, WebhookRequest
from standins.smsc import FakeSmsc

LOGIN, PASSWORD, SECRET = "acme", "pw-123", "SecretSecret1234"
DEDICATED = "+79990000001"
RESIDENT = "+79161234567"
REPO = Path(__file__).resolve().parents[2]


class Receiver:
    """Our handler URL: every call is authenticated, parsed and answered by the plug-in."""

    def __init__(self) -> None:
        self.provider: plugin.SmscProvider | None = None
        self.parsed: list[base.Parsed] = []
        self.refused: list[str] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, text = receiver.handle(self.path, dict(self.headers), body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url(self, query: str = "charset=utf-8&md5=x") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms/smsc/inbound?{query}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        query = urlsplit(path).query
        request = WebhookRequest(
            hook=base.INBOUND_HOOK,
            method="POST",
            urls=("http://127.0.0.1" + path,),
            args=parse_qs(query, keep_blank_values=True),
            form={},
            headers=headers,
            body=body,
            content_type=headers.get("Content-Type", ""),
        )
        assert self.provider is not None
        try:
            self.provider.authenticate(request)
            parsed = self.provider.parse(request)
        except NotAuthentic as exc:
            reply = self.provider.refuse(request, 403, str(exc))
            self.refused.append(str(exc))
        except BadWebhook as exc:
            reply = self.provider.refuse(request, 400, "; ".join(exc.problems))
            self.refused.append(str(exc))
        else:
            reply = self.provider.respond(request, parsed)
            with self.arrived:
                self.parsed.append(parsed)
                self.arrived.notify_all()
        return reply.status, reply.body

    def statuses(self, provider_id: str, count: int) -> list[base.StatusUpdate]:
        """The first `count` status updates for `provider_id`, waiting for them to arrive."""
        deadline = time.monotonic() + 10
        with self.arrived:
            while True:
                found = [u for p in self.parsed for u in p.statuses if u.provider_id == provider_id]
                if len(found) >= count or time.monotonic() > deadline:
                    return found
                self.arrived.wait(0.1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture()
def fake(receiver):
    with FakeSmsc(
        LOGIN, PASSWORD, receiver.url(), SECRET, api_key="key-123456", slow_seconds=2.0
    ) as smsc:
        yield smsc


def make_provider(fake: FakeSmsc, receiver: Receiver, **env: str) -> plugin.SmscProvider:
    settings = {
        "SMSC_LOGIN": LOGIN,
        "SMSC_PASSWORD": PASSWORD,
        "SMSC_SENDER": DEDICATED,
        "SMSC_API_URL": fake.url,
        "SMSC_CALLBACK_SECRET": SECRET,
        "SMSC_TIMEOUT": "0.5",
        **env,
    }
    (config,) = plugin.configure(settings, mode="test", secret_key="k")
    provider = plugin.build(config, None)
    receiver.provider = provider
    return provider


def sms(message_id: int, body: str = "Заявка 17 принята", to: str = RESIDENT) -> OutgoingSms:
    return OutgoingSms(message_id=message_id, to=to, body=body, sender=None)


# --- sending ---------------------------------------------------------------------------------


def test_send_reaches_the_stand_in_with_our_id_and_statuses_come_back(fake, receiver):
    provider = make_provider(fake, receiver)
    result = provider.send(sms(41))
    assert result == base.SendResult(
        provider_id="41/79161234567", status=OUT_ACCEPTED, num_segments=1
    )
    (taken,) = fake.sent
    assert (taken["id"], taken["phone"], taken["mes"], taken["sender"]) == (
        41,
        "79161234567",
        "Заявка 17 принята",
        "79990000001",
    )
    updates = receiver.statuses(result.provider_id, 2)
    assert [u.status for u in updates] == [OUT_SENT, OUT_DELIVERED]
    assert receiver.refused == []


def test_a_long_cyrillic_text_counts_its_parts(fake, receiver):
    result = make_provider(fake, receiver).send(sms(42, body="ж" * 71))
    assert result.num_segments == 2


def test_undelivered_comes_back_with_a_meaning(fake, receiver):
    provider = make_provider(fake, receiver)
    fake.fail_next("undelivered")
    result = provider.send(sms(43))
    updates = receiver.statuses(result.provider_id, 2)
    assert updates[-1].status == OUT_UNDELIVERED
    assert (updates[-1].error_code, updates[-1].meaning) == (1, base.INVALID_NUMBER)


def test_api_key_authenticates_too(fake, receiver):
    provider = make_provider(
        fake, receiver, SMSC_LOGIN="", SMSC_PASSWORD="", SMSC_API_KEY="key-123456"
    )
    assert provider.send(sms(44)).provider_id == "44/79161234567"


# --- looking up ------------------------------------------------------------------------------


def test_find_sent_asks_by_our_id(fake, receiver):
    provider = make_provider(fake, receiver)
    since = datetime.now(UTC)
    assert provider.find_sent(sms(50), since) is None
    sent = provider.send(sms(50))
    receiver.statuses(sent.provider_id, 2)
    found = provider.find_sent(sms(50), since)
    assert found is not None
    assert (found.provider_id, found.status) == (sent.provider_id, OUT_DELIVERED)
    assert provider.find_sent(sms(50, to="+79160000000"), since) is None


def test_a_slow_answer_is_an_unknown_outcome_and_the_lookup_finds_the_message(fake, receiver):
    provider = make_provider(fake, receiver)
    fake.fail_next("slow")
    with pytest.raises(UnknownSendOutcome):
        provider.send(sms(51))
    found = provider.find_sent(sms(51), datetime.now(UTC))
    assert found is not None and found.provider_id == "51/79161234567"


def test_a_dropped_connection_after_the_request_is_an_unknown_outcome(fake, receiver):
    provider = make_provider(fake, receiver)
    fake.fail_next("drop")
    with pytest.raises(UnknownSendOutcome):
        provider.send(sms(52))
    assert [m["id"] for m in fake.sent] == [52]


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error", "meaning"),
    [
        ("1", PermanentSendError, base.GIVE_UP),
        ("3", TransientSendError, base.RETRY),
        ("4", TransientSendError, base.RETRY),
        ("6", PermanentSendError, base.GIVE_UP),
        ("7", PermanentSendError, base.INVALID_NUMBER),
        ("8", PermanentSendError, base.INVALID_NUMBER),
        ("500", TransientSendError, base.RETRY),
    ],
)
def test_error_codes_reach_us_as_meanings(fake, receiver, kind, error, meaning):
    provider = make_provider(fake, receiver)
    fake.fail_next(kind)
    with pytest.raises(error) as caught:
        provider.send(sms(60))
    assert type(caught.value) is error and caught.value.meaning == meaning
    assert fake.sent == []


def test_a_wrong_password_gives_up(fake, receiver):
    with pytest.raises(PermanentSendError) as caught:
        make_provider(fake, receiver, SMSC_PASSWORD="wrong").send(sms(61))
    assert caught.value.code == 2 and caught.value.meaning == base.GIVE_UP


def test_the_same_request_twice_in_a_minute_is_an_unknown_outcome(fake, receiver):
    provider = make_provider(fake, receiver)
    provider.send(sms(62))
    with pytest.raises(UnknownSendOutcome) as caught:
        provider.send(sms(62))
    assert caught.value.code == 9
    assert len(fake.sent) == 1


def test_the_stand_in_refuses_a_bad_number_itself(fake, receiver):
    with pytest.raises(PermanentSendError) as caught:
        make_provider(fake, receiver).send(sms(63, to="+7916"))
    assert caught.value.meaning == base.INVALID_NUMBER


def test_nobody_listening_is_transient(fake, receiver):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = make_provider(fake, receiver, SMSC_API_URL=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientSendError) as caught:
        provider.send(sms(64))
    assert type(caught.value) is TransientSendError
    with pytest.raises(TransientSendError):
        provider.find_sent(sms(64), datetime.now(UTC))


# --- residents' messages ---------------------------------------------------------------------


def test_a_residents_sms_reaches_us_signed(fake, receiver):
    make_provider(fake, receiver)
    status, body = fake.send_mo(RESIDENT, DEDICATED, "Течёт кран, кв. 12")
    assert (status, body) == (200, "OK")
    (parsed,) = receiver.parsed
    (inbound,) = parsed.inbound
    assert (inbound.from_phone, inbound.to_phone, inbound.body) == (
        RESIDENT,
        DEDICATED,
        "Течёт кран, кв. 12",
    )
    assert inbound.provider == "smsc" and inbound.provider_id.isdigit()


def test_the_default_charset_windows_1251_is_read_too(receiver):
    with FakeSmsc(LOGIN, PASSWORD, receiver.url("md5=x"), SECRET) as fake:
        make_provider(fake, receiver)
        assert fake.send_mo(RESIDENT, DEDICATED, "Ёлка во дворе")[0] == 200
    assert receiver.parsed[0].inbound[0].body == "Ёлка во дворе"


def test_a_handler_url_without_a_hash_is_refused(receiver):
    with FakeSmsc(LOGIN, PASSWORD, receiver.url("charset=utf-8"), SECRET) as fake:
        make_provider(fake, receiver)
        status, body = fake.send_mo(RESIDENT, DEDICATED, "hi")
    assert status == 403 and "no md5 or sha1" in body


def test_a_wrong_secret_is_refused(receiver):
    with FakeSmsc(LOGIN, PASSWORD, receiver.url(), "AnotherSecret5678") as fake:
        make_provider(fake, receiver)
        status, body = fake.send_mo(RESIDENT, DEDICATED, "hi")
    assert status == 403 and "md5 does not match" in body


def test_the_control_endpoint_plays_a_resident(fake, receiver):
    make_provider(fake, receiver)
    answer = requests.post(
        f"{fake.url}/_fake/mo",
        json={"from": RESIDENT, "to": DEDICATED, "text": "Привет"},
        timeout=10,
    )
    assert answer.json() == {"status": 200, "body": "OK"}
    assert receiver.parsed[0].inbound[0].body == "Привет"
    bad = requests.post(f"{fake.url}/_fake/mo", json={"from": RESIDENT}, timeout=10)
    assert bad.status_code == 400 and "to" in bad.json()["error"]


def test_the_command_line_stand_in_serves_and_plays_a_resident(receiver):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "standins.smsc",
        "--port",
        str(port),
        "--callback-url",
        receiver.url(),
    ]
    command += [
        "--login",
        LOGIN,
        "--password",
        PASSWORD,
        "--secret",
        SECRET,
        "--callback-delay",
        "0",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        fake_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{fake_url}/_fake/messages", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        provider = make_provider(FakeSmscAt(fake_url), receiver)
        sent = provider.send(sms(70))
        assert [u.status for u in receiver.statuses(sent.provider_id, 2)] == [
            OUT_SENT,
            OUT_DELIVERED,
        ]
        answer = requests.post(
            f"{fake_url}/_fake/mo",
            data=json.dumps({"from": RESIDENT, "to": DEDICATED, "text": "Да"}),
            timeout=10,
        )
        assert answer.json()["status"] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


class FakeSmscAt:
    """Only the URL of a stand-in running in another process."""

    def __init__(self, url: str):
        self.url = url
