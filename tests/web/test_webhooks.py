"""The inbound and status webhooks: signatures, validation, storing once, queueing.

Most are Twilio's (its forms and X-Twilio-Signature, on the named /sms/twilio/… routes and
the older /sms/inbound and /sms/status); the last ones hold for every provider.
"""

from __future__ import annotations

import pytest
from redis import Redis
from sqlmodel import Session, select

from smsbot import db, queues
from smsbot.models import IN_RECEIVED, INBOUND, Message
from smsbot.providers.twilio import STATUS, inbound_params, signed_request
from tests import vectors
from tests.conftest import TWILIO_TOKEN, twilio_env
from tests.support import PUBLIC, post_inbound, post_signed


@pytest.fixture()
def app_env(app_env):  # noqa: ANN001, ANN201
    """These apps have a Twilio account (no sends: its API is never called here)."""
    return {**app_env, **twilio_env("http://127.0.0.1:9")}


def _messages() -> list[Message]:
    with Session(db.engine()) as session:
        return list(session.exec(select(Message).order_by(Message.id)))


def test_signed_inbound_is_stored_queued_and_answered_with_empty_twiml(client, app, redis_url):
    sid, response = post_inbound(client, app, "помощь")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.data.decode().endswith("<Response/>")
    [message] = _messages()
    assert (message.external_id, message.direction, message.status) == (sid, INBOUND, IN_RECEIVED)
    assert message.body == "помощь" and message.encoding == "UCS-2"
    redis = Redis.from_url(redis_url)
    queued = redis.lrange("rq:queue:inbound", 0, -1)
    assert queued == [redis.get(queues.INBOUND_WAKE)]  # one batch job, which claims it

    post_inbound(client, app, "баланс")  # while that job waits, no second job is queued
    assert redis.llen("rq:queue:inbound") == 1 and len(_messages()) == 2


def test_wrong_signature_is_refused_with_the_url_it_checked(client, app, caplog):
    params = inbound_params(from_phone="+79851234567", to_phone="+74951230001", body="баланс")
    response = post_signed(client, "/sms/inbound", params, "not-the-token")
    assert response.status_code == 403
    assert f"{PUBLIC}/sms/inbound" in response.data.decode()
    assert any(f"{PUBLIC}/sms/inbound" in r.getMessage() for r in caplog.records)
    assert _messages() == []


def test_missing_signature_is_refused(client):
    response = client.post("/sms/inbound", data={"MessageSid": "SM" + "0" * 32})
    assert response.status_code == 403
    assert "missing" in response.data.decode()


def test_tampered_body_is_refused(client, app):
    params = inbound_params(from_phone="+79851234567", to_phone="+74951230001", body="баланс")
    data, headers = signed_request(PUBLIC + "/sms/inbound", params, TWILIO_TOKEN)
    response = client.post(
        "/sms/inbound", data=data.replace(b"From=%2B7985", b"From=%2B7916"), headers=headers
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("From", "89851234567", "From must be a phone number in E.164 form"),
        ("From", "", "From is required"),
        ("To", "+1A693421974", "To must be a phone number"),
        ("MessageSid", "", "MessageSid is required"),
        ("MessageSid", "SM<script>", "MessageSid must be a Twilio SID"),
        ("Body", "я" * 1601, "Body is 1601 characters; at most 1600"),
    ],
)
def test_malformed_inbound_says_what_is_wrong(client, app, field, value, problem):
    params = inbound_params(from_phone="+79851234567", to_phone="+74951230001", body="баланс")
    params[field] = value
    response = post_signed(client, "/sms/inbound", params, TWILIO_TOKEN)
    assert response.status_code == 400
    assert problem in response.data.decode()
    assert _messages() == []


def test_body_of_exactly_1600_characters_is_accepted(client, app):
    _, response = post_inbound(client, app, "я" * 1600)
    assert response.status_code == 200


def test_same_message_sid_again_creates_nothing_new(client, app, redis_url):
    sid, first = post_inbound(client, app, "баланс")
    for _ in range(4):
        _, again = post_inbound(client, app, "баланс", sid=sid)
        assert again.status_code == 200
    assert first.status_code == 200
    assert len(_messages()) == 1
    assert Redis.from_url(redis_url).llen("rq:queue:inbound") == 1


def test_behind_a_proxy_the_forwarded_url_is_checked(app_env, redis_url):
    from app import create_app

    app = create_app(
        {**app_env, "TRUSTED_PROXIES": "1", "PUBLIC_BASE_URL": "https://sms.example.org"}
    )
    client = app.test_client()
    params = inbound_params(from_phone="+79851234567", to_phone="+74951230001", body="баланс")
    public = "https://bot.uk-zarechye.ru/sms/inbound"
    data, headers = signed_request(public, params, TWILIO_TOKEN)
    headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bot.uk-zarechye.ru"})
    assert client.post("/sms/inbound", data=data, headers=headers).status_code == 200


@pytest.mark.parametrize("host", ["Bot.UK-Zarechye.ru", "Bot.UK-Zarechye.ru:443"])
def test_behind_a_proxy_a_host_with_capitals_is_checked_as_sent(app_env, redis_url, host):
    """Twilio signs the URL as configured in its console; Werkzeug lower-cases the host."""
    from app import create_app

    app = create_app(
        {**app_env, "TRUSTED_PROXIES": "1", "PUBLIC_BASE_URL": "https://sms.example.org"}
    )
    client = app.test_client()
    params = inbound_params(from_phone="+79851234567", to_phone="+74951230001", body="баланс")
    data, headers = signed_request(f"https://{host}/sms/twilio/inbound", params, TWILIO_TOKEN)
    headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-Host": host})
    assert client.post("/sms/twilio/inbound", data=data, headers=headers).status_code == 200
    data, headers = signed_request(PUBLIC + "/sms/twilio/inbound", params, "another-token")
    headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-Host": host})
    assert client.post("/sms/twilio/inbound", data=data, headers=headers).status_code == 403


def test_redis_down_still_stores_and_answers(app_env, tmp_path):
    from app import create_app

    app = create_app({**app_env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with app.app_context():
        _, response = post_inbound(app.test_client(), app, "баланс")
        assert response.status_code == 200
        [message] = _messages()
        assert message.status == IN_RECEIVED


# --- status callbacks ---------------------------------------------------------------------


def _outbound(app, status="accepted", sid="SM" + "a" * 32, provider="twilio") -> int:
    from smsbot.models import OUTBOUND

    with Session(db.engine()) as session:
        message = Message(direction=OUTBOUND, status=status, kind="reply", provider=provider, external_id=sid,
                          from_phone="+74951230001", to_phone="+79851234567", body="ok")  # fmt: skip
        session.add(message)
        session.commit()
        return message.id


def _status(client, app, sid, status, error=None, query=""):  # noqa: ANN001, ANN202
    params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32,
              "From": "+74951230001", "To": "+79851234567", "ApiVersion": "2010-04-01"}  # fmt: skip
    if error:
        params["ErrorCode"] = str(error)
    path = "/sms/status" + query
    return post_signed(client, path, params, TWILIO_TOKEN)


def test_status_moves_forward_and_never_back(client, app):
    message_id = _outbound(app)
    sid = "SM" + "a" * 32
    assert _status(client, app, sid, "sent").status_code == 200
    assert _status(client, app, sid, "delivered").status_code == 200
    assert _status(client, app, sid, "sent").status_code == 200
    with Session(db.engine()) as session:
        message = session.get(Message, message_id)
        assert message.status == "delivered" and message.delivered_at is not None


def test_status_records_the_error_code(client, app):
    message_id = _outbound(app)
    assert _status(client, app, "SM" + "a" * 32, "undelivered", error=30003).status_code == 200
    with Session(db.engine()) as session:
        message = session.get(Message, message_id)
        assert (message.status, message.error_code) == ("undelivered", 30003)


def test_status_for_unknown_sid_is_answered_200_and_logged(client, app, caplog):
    import logging

    caplog.set_level(logging.INFO)
    assert _status(client, app, "SM" + "f" * 32, "delivered").status_code == 200
    assert any("unknown message" in r.getMessage() for r in caplog.records)


def test_status_finds_the_message_by_our_id_before_its_sid_is_recorded(client, app):
    message_id = _outbound(app, status="sending", sid=None)
    sid = "SM" + "b" * 32
    assert _status(client, app, sid, "sent", query=f"?o={message_id}").status_code == 200
    with Session(db.engine()) as session:
        message = session.get(Message, message_id)
        assert (message.external_id, message.status) == (sid, "sent")


@pytest.mark.parametrize(
    ("status", "problem"), [("", "MessageStatus is required"), ("invalid", "is not one of")]
)
def test_malformed_status_says_what_is_wrong(client, app, status, problem):
    response = _status(client, app, "SM" + "a" * 32, status)
    assert response.status_code == 400 and problem in response.data.decode()


# --- real Twilio payloads ------------------------------------------------------------------


def _payloads(*kinds: str) -> list:
    return vectors.params(
        "twilio_payloads.json",
        pick=lambda d: [p for p in d["payloads"] if p["kind"] in kinds and p.get("params")],
    )


@pytest.mark.parametrize("payload", _payloads("inbound_sms", "inbound_mms"))
def test_real_inbound_payloads_are_stored_or_refused_with_a_reason(client, app, payload):
    params = {k: (v if isinstance(v, str) else str(v)) for k, v in payload["params"].items()}
    if payload["content_type"] != "application/x-www-form-urlencoded":
        pytest.skip("not a form webhook")
    response = post_signed(client, "/sms/inbound", params, TWILIO_TOKEN)
    from smsbot.phones import is_e164

    if is_e164(params.get("To", "")) and is_e164(params.get("From", "")):
        assert response.status_code == 200, response.data
        [message] = _messages()
        assert message.body == params["Body"]
    else:
        assert response.status_code == 400
        assert b"must be a phone number" in response.data


@pytest.mark.parametrize("payload", _payloads("status_callback"))
def test_real_status_payloads_are_understood_or_refused_with_a_reason(client, app, payload):
    params = dict(payload["params"])
    response = post_signed(client, "/sms/status", params, TWILIO_TOKEN)
    if params.get("MessageStatus") in STATUS:
        assert response.status_code == 200, response.data
    else:
        assert response.status_code == 400
        assert b"MessageStatus" in response.data


# --- every provider's routes ----------------------------------------------------------------


def test_without_twilio_credentials_the_twilio_routes_are_not_found(app_env):
    from app import create_app

    bare = {k: v for k, v in app_env.items() if not k.startswith("TWILIO_")}
    client = create_app(bare).test_client()
    params = inbound_params(from_phone="+79851234567", to_phone="+74951230001", body="баланс")
    for path in ("/sms/inbound", "/sms/twilio/inbound", "/sms/status", "/sms/nobody/inbound"):
        assert post_signed(client, path, params, TWILIO_TOKEN).status_code == 404, path


def test_an_smsc_status_before_the_send_is_recorded_finds_it_by_our_id(app_env):
    """SMSC.ru echoes the id we sent with (smsbot's message id), so its status can arrive
    before our worker has recorded the send's answer, or after that answer was lost."""
    from app import create_app
    from standins.smsc import signature
    from tests.conftest import SMSC_SECRET
    from tests.support import SmscStandIn

    class _Account:  # only the env of the stand-in is needed: no SMSC.ru is called
        url = "http://127.0.0.1:9"

    app = create_app({**app_env, **SmscStandIn(_Account()).env})
    with app.app_context():
        message_id = _outbound(app, status="sending", sid=None, provider="smsc")
        fields = {"id": str(message_id), "phone": "79851234567", "status": "1", "err": "0"}
        fields["md5"] = signature("md5", f"{message_id}:79851234567:1:{SMSC_SECRET}", "utf-8")
        response = app.test_client().post("/sms/smsc/inbound?charset=utf-8", data=fields)
        assert response.status_code == 200, response.data
        with Session(db.engine()) as session:
            message = session.get(Message, message_id)
            assert (message.status, message.external_id) == ("delivered", "1/79851234567")
