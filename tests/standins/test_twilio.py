"""The fake Twilio must look like Twilio to the real SDK, or local runs prove nothing.

So these tests drive it only through the twilio SDK (via ``make_client``) and plain HTTP, and
check status callbacks with the SDK's own ``RequestValidator``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from smsbot.providers.twilio.client import make_client
from standins.twilio import FakeTwilio

SID = "AC" + "1234567890abcdef" * 2
TOKEN = "test-auth-token"
FROM = "+74950000000"
TO = "+79161234567"
OTHER = "+79169876543"
SERVICE = "MG" + "ab" * 16


class Receiver:
    """A tiny webhook endpoint that records status callbacks and checks their signature."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.fail_first = 0
        self._cond = threading.Condition()
        self._validator = RequestValidator(TOKEN)
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        form = request.form.to_dict()
        signature = request.headers.get("X-Twilio-Signature", "")
        with self._cond:
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response("boom", status=500)(environ, start_response)
            self.posts.append(
                {
                    "path": request.full_path,
                    "form": form,
                    "valid": self._validator.validate(request.url, form, signature),
                }
            )
            self._cond.notify_all()
        return Response("", status=204)(environ, start_response)

    def wait(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.posts) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} callbacks, got {self.posts}")
                self._cond.wait(left)
            return list(self.posts)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake():
    with FakeTwilio(SID, TOKEN, slow_seconds=0.4) as server:
        yield server


@pytest.fixture
def client(fake):
    return make_client(SID, TOKEN, fake.url)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_create_returns_twilio_message_resource(client, fake):
    message = client.messages.create(to=TO, from_=FROM, body="Здравствуйте! Заявка принята.")

    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.account_sid == SID
    assert (message.to, message.from_) == (TO, FROM)
    assert message.body == "Здравствуйте! Заявка принята."
    assert message.status == "queued"
    assert message.num_segments == "1"
    assert message.num_media == "0"
    assert message.direction == "outbound-api"
    assert message.api_version == "2010-04-01"
    assert message.price is None and message.error_code is None
    assert isinstance(message.date_created, datetime)
    assert abs((datetime.now(UTC) - message.date_created).total_seconds()) < 5
    assert message.uri == f"/2010-04-01/Accounts/{SID}/Messages/{message.sid}.json"
    assert fake.messages() == [
        {
            "sid": message.sid,
            "account_sid": SID,
            "to": TO,
            "from": FROM,
            "messaging_service_sid": None,
            "body": "Здравствуйте! Заявка принята.",
            "status": "delivered",
            "num_segments": 1,
            "error_code": None,
            "status_callback": None,
            "created_at": fake.messages()[0]["created_at"],
        }
    ]


def test_create_raw_http_answers_201_with_twilio_json(fake):
    answer = requests.post(
        f"{fake.url}/2010-04-01/Accounts/{SID}/Messages.json",
        data={"To": TO, "MessagingServiceSid": SERVICE, "Body": "П" * 71},
        auth=(SID, TOKEN),
        timeout=5,
    )
    assert answer.status_code == 201
    data = answer.json()
    assert data["status"] == "accepted"
    assert data["from"] is None and data["messaging_service_sid"] == SERVICE
    assert data["num_segments"] == "2"  # 71 Cyrillic letters: UCS-2, two segments
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", data["date_created"])
    assert data["subresource_uris"]["media"].endswith(f"/Messages/{data['sid']}/Media.json")


def test_status_callbacks_are_signed_and_in_order(client, fake, receiver):
    callback = f"{receiver.url}/twilio/status?building=12&x=a"
    message = client.messages.create(to=TO, from_=FROM, body="hi", status_callback=callback)

    posts = receiver.wait(2)
    assert [p["form"]["MessageStatus"] for p in posts] == ["sent", "delivered"]
    assert all(p["valid"] for p in posts), posts
    first = posts[0]
    assert first["path"] == "/twilio/status?building=12&x=a"
    assert first["form"] == {
        "AccountSid": SID,
        "ApiVersion": "2010-04-01",
        "From": FROM,
        "MessageSid": message.sid,
        "MessageStatus": "sent",
        "SmsSid": message.sid,
        "SmsStatus": "sent",
        "To": TO,
    }
    assert fake.wait_for_status(message.sid, "delivered", timeout=2)["status"] == "delivered"
    assert client.messages(message.sid).fetch().status == "delivered"


@pytest.mark.parametrize(
    ("kind", "statuses", "code"),
    [("undelivered", ["sent", "undelivered"], "30003"), ("failed", ["failed"], "30008")],
)
def test_delivery_failures_reach_the_callback(client, fake, receiver, kind, statuses, code):
    fake.fail_next(kind)
    message = client.messages.create(
        to=TO, from_=FROM, body="hi", status_callback=f"{receiver.url}/s"
    )
    assert message.status == "queued"  # Twilio accepted it; delivery fails later

    posts = receiver.wait(len(statuses))
    assert [p["form"]["MessageStatus"] for p in posts] == statuses
    assert posts[-1]["form"]["ErrorCode"] == code
    assert "ErrorCode" not in posts[0]["form"] or len(posts) == 1
    fetched = fake.wait_for_status(message.sid, kind, timeout=2)
    assert fetched["error_code"] == int(code)


def test_callback_is_retried_after_a_server_error(client, fake, receiver):
    receiver.fail_first = 1
    client.messages.create(to=TO, from_=FROM, body="hi", status_callback=f"{receiver.url}/s")

    posts = receiver.wait(2)
    assert [p["form"]["MessageStatus"] for p in posts] == ["sent", "delivered"]


def test_callback_delay_spaces_sent_and_delivered(receiver):
    with FakeTwilio(SID, TOKEN, callback_delay=0.3) as slow_fake:
        client = make_client(SID, TOKEN, slow_fake.url)
        client.messages.create(to=TO, from_=FROM, body="hi", status_callback=f"{receiver.url}/s")
        started = time.monotonic()
        receiver.wait(1)
        assert [p["form"]["MessageStatus"] for p in receiver.wait(2)] == ["sent", "delivered"]
        assert time.monotonic() - started >= 0.25


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("500", 500, 20500), ("429", 429, 20429), ("21610", 400, 21610), ("21211", 400, 21211)],
)
def test_injected_errors_surface_in_the_sdk(client, fake, kind, status, code):
    fake.fail_next(kind)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert (caught.value.status, caught.value.code) == (status, code)

    assert client.messages.create(to=TO, from_=FROM, body="hi").status == "queued"
    assert len(fake.messages()) == 1


def test_failure_rule_counts_and_recipient_filter(client, fake):
    fake.fail_next("429", count=2, to=OTHER)
    assert client.messages.create(to=TO, from_=FROM, body="hi").status == "queued"
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            client.messages.create(to=OTHER, from_=FROM, body="hi")
        assert caught.value.code == 20429
    assert client.messages.create(to=OTHER, from_=FROM, body="hi").status == "queued"
    assert fake.pending_failures() == []


def test_failures_can_be_injected_over_http(client, fake):
    answer = requests.post(
        f"{fake.url}/_fake/fail", json={"kind": "21610", "count": 1, "to": TO}, timeout=5
    )
    assert answer.status_code == 200
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=FROM, body="STOP?")
    assert (caught.value.status, caught.value.code) == (400, 21610)

    bad = requests.post(f"{fake.url}/_fake/fail", json={"kind": "nope"}, timeout=5)
    assert bad.status_code == 400


def test_slow_answers_late_but_normally(client, fake):
    fake.fail_next("slow")
    started = time.monotonic()
    message = client.messages.create(to=TO, from_=FROM, body="hi")
    assert time.monotonic() - started >= 0.35
    assert message.status == "queued"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"to": "89161234567", "from_": FROM, "body": "hi"}, 400, 21211),
        ({"to": TO, "body": "hi"}, 400, 21603),
        ({"to": TO, "from_": FROM, "body": "x" * 1601}, 400, 21617),
    ],
)
def test_validation_like_twilio(client, kwargs, status, code):
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(**kwargs)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_missing_to_and_body_over_raw_http(fake):
    url = f"{fake.url}/2010-04-01/Accounts/{SID}/Messages.json"
    no_to = requests.post(url, data={"From": FROM, "Body": "x"}, auth=(SID, TOKEN), timeout=5)
    assert (no_to.status_code, no_to.json()["code"]) == (400, 21604)
    no_body = requests.post(url, data={"From": FROM, "To": TO}, auth=(SID, TOKEN), timeout=5)
    assert no_body.json() == {
        "code": 21602,
        "message": "Message body is required.",
        "more_info": "https://www.twilio.com/docs/errors/21602",
        "status": 400,
    }


def test_list_with_filters_and_paging(client):
    sids = [client.messages.create(to=TO, from_=FROM, body=f"n{i}").sid for i in range(3)]
    client.messages.create(to=OTHER, from_=FROM, body="other")
    now = datetime.now(UTC)

    listed = client.messages.list(to=TO)
    assert [m.sid for m in listed] == sids[::-1]  # newest first, like Twilio
    assert len(client.messages.list()) == 4
    assert len(client.messages.list(to=TO, page_size=2)) == 3  # follows next_page_uri
    assert len(client.messages.list(to=TO, date_sent_after=now - timedelta(hours=1))) == 3
    assert client.messages.list(to=TO, date_sent_after=now + timedelta(hours=1)) == []
    assert client.messages.list(date_sent_before=now - timedelta(hours=1)) == []
    assert len(client.messages.list(date_sent=now.date())) == 4
    assert [m.body for m in client.messages.list(from_=FROM, to=OTHER)] == ["other"]


def test_list_page_json_shape(fake, client):
    client.messages.create(to=TO, from_=FROM, body="hi")
    answer = requests.get(
        f"{fake.url}/2010-04-01/Accounts/{SID}/Messages.json",
        params={"To": TO, "PageSize": 20},
        auth=(SID, TOKEN),
        timeout=5,
    )
    page = answer.json()
    assert len(page["messages"]) == 1
    assert page["next_page_uri"] is None and page["previous_page_uri"] is None
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 20, 0, 0)
    assert page["uri"].startswith(f"/2010-04-01/Accounts/{SID}/Messages.json?")


def test_fetch_by_sid_and_unknown_sid(client):
    sid = client.messages.create(to=TO, from_=FROM, body="hi").sid
    fetched = client.messages(sid).fetch()
    assert (fetched.sid, fetched.to, fetched.body) == (sid, TO, "hi")

    with pytest.raises(TwilioRestException) as caught:
        client.messages("SM" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_wrong_credentials_get_401(fake):
    with pytest.raises(TwilioRestException) as caught:
        make_client(SID, "wrong-token", fake.url).messages.create(to=TO, from_=FROM, body="hi")
    assert (caught.value.status, caught.value.code) == (401, 20003)

    other_account = "AC" + "f" * 32
    answer = requests.get(
        f"{fake.url}/2010-04-01/Accounts/{other_account}/Messages.json",
        auth=(other_account, TOKEN),
        timeout=5,
    )
    assert answer.status_code == 401
    assert not fake.messages()


def test_reset_and_control_api(client, fake):
    client.messages.create(to=TO, from_=FROM, body="hi")
    fake.fail_next("500", count=5)
    listed = requests.get(f"{fake.url}/_fake/messages", timeout=5).json()
    assert [m["to"] for m in listed] == [TO]
    assert requests.get(f"{fake.url}/_fake/health", timeout=5).json()["status"] == "ok"

    assert requests.delete(f"{fake.url}/_fake/messages", timeout=5).status_code == 200
    assert fake.messages() == [] and fake.pending_failures() == []
    assert client.messages.create(to=TO, from_=FROM, body="hi").status == "queued"

    fake.reset()
    assert requests.get(f"{fake.url}/_fake/messages", timeout=5).json() == []


def test_wait_for_messages(client, fake):
    threading.Timer(0.1, lambda: client.messages.create(to=TO, from_=FROM, body="x")).start()
    assert [m["to"] for m in fake.wait_for_messages(1, to=TO, timeout=3)] == [TO]
    with pytest.raises(TimeoutError, match="expected 2 message"):
        fake.wait_for_messages(2, timeout=0.1)
    assert fake.wait_for(lambda msgs: len(msgs) == 1, timeout=1)


def test_only_recent_messages_are_kept():
    with FakeTwilio(SID, TOKEN, max_messages=3) as small:
        client = make_client(SID, TOKEN, small.url)
        sids = [client.messages.create(to=TO, from_=FROM, body="hi").sid for _ in range(5)]
        assert [m["sid"] for m in small.messages()] == sids[2:]
        assert len(small.messages(to=TO)) == 3
        small.wait_for_messages(3, to=TO, timeout=1)


def test_request_log_hides_phone_numbers(client, caplog):
    with caplog.at_level(logging.INFO, logger="standins.twilio"):
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert "Messages.json -> 201" in caplog.text
    assert TO not in caplog.text and "to=+7********67" in caplog.text
