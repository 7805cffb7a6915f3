"""No callback gives a 5xx: property-based fuzzing of every provider's two webhooks.

Each request is signed as its provider would sign it (Twilio's X-Twilio-Signature over the
URL and form, SMSC.ru's md5 of the fields, the outbox's HMAC of the body), so the fuzzed
values get past authentication into the parsers and the database: control characters,
numbers past 2^31 and 2^63, oversized and missing fields, garbage bodies. Whatever comes
in must be refused with a 4xx that says why, or accepted and stored (its text cleaned).
Runs on SQLite and PostgreSQL (PostgreSQL refuses a NUL in a text column).
"""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from smsbot import db
from smsbot.models import INBOUND, Message
from smsbot.providers import outbox
from smsbot.providers.smsc import callbacks
from smsbot.providers.twilio import STATUS, inbound_params, signed_request
from smsbot.textnorm import storable
from tests.conftest import (
    SMSC_LOGIN,
    SMSC_PASSWORD,
    SMSC_SECRET,
    SMSC_SENDER,
    TWILIO_TOKEN,
    twilio_env,
)
from tests.support import PUBLIC

EXAMPLES = 100
"""Per database and provider hook: enough to hit NUL, big numbers and junk every run."""
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_serial = itertools.count(1)

# Values a provider should never send, mixed with ones it does.
junk = st.text(max_size=40) | st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\x1b[31m", "\u202e", "\ufeff", "x" * 2000, "٣٤٥"]
)
numbers = st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.sampled_from(
    ["2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "-1", "0",
     "1e3", " 7", "0x10", "１２"]
)  # fmt: skip
GOOD = ("+79851234567", "+74951230001")
phones = st.sampled_from(["+79851234567", "+74951230001", "79851234567", "+7985123456789012"])
texts = st.text(max_size=300) | st.sampled_from(
    ["", "баланс\x00", "\x00" * 5, "ok\r\n\t", "я" * 1601, "a" * 5000, "\x07\x08\x7f\x9f"]
)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A field that may be missing (None), well-formed, or junk."""
    return st.none() | strategy | junk


@pytest.fixture()
def app_env(app_env):  # noqa: ANN001, ANN201
    """Twilio and SMSC.ru accounts beside the outbox; nothing is ever sent."""
    return {
        **app_env,
        **twilio_env("http://127.0.0.1:9"),
        "SMSC_LOGIN": SMSC_LOGIN,
        "SMSC_PASSWORD": SMSC_PASSWORD,
        "SMSC_SENDER": SMSC_SENDER,
        "SMSC_API_URL": "http://127.0.0.1:9",
        "SMSC_CALLBACK_SECRET": SMSC_SECRET,
    }


def _stored(provider: str, external_id: str) -> Message | None:
    with Session(db.engine()) as session:
        return session.exec(
            select(Message).where(
                Message.provider == provider,
                Message.external_id == external_id,
                Message.direction == INBOUND,
            )
        ).first()


def _check(response, provider: str, fresh_id: str | None, text: str | None) -> None:  # noqa: ANN001
    assert response.status_code < 500, response.data
    if response.status_code >= 400:
        assert response.data.strip(), "a refusal says what is wrong"
    if response.status_code == 200 and fresh_id is not None:
        message = _stored(provider, fresh_id)
        assert message is not None, "accepted but not stored"
        assert message.body == storable(text or "")


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial):06d}{'0' * 24}"


@FUZZ
@given(
    sid=st.none() | junk, from_=maybe(phones), to=maybe(phones), body=st.none() | texts,
    extra=st.dictionaries(junk, junk, max_size=3),
)  # fmt: skip
def test_twilio_inbound(client, sid, from_, to, body, extra):  # noqa: ANN001
    fresh = _fresh("SM") if sid is None else None
    params = inbound_params(from_phone="", to_phone="", body="", message_sid=sid or fresh)
    params.update({"From": from_, "To": to, "Body": body, **extra})
    params = {k: v for k, v in params.items() if v is not None}
    data, headers = signed_request(PUBLIC + "/sms/twilio/inbound", params, TWILIO_TOKEN)
    response = client.post("/sms/twilio/inbound", data=data, headers=headers)
    clean = sid is None and from_ in GOOD and to in GOOD and not set(extra) & set(params)
    if clean and body is not None and len(body) <= 1600:
        assert response.status_code == 200, response.data
    _check(response, "twilio", fresh if clean else None, body)


@FUZZ
@given(
    sid=maybe(st.just("SM" + "a" * 32)), word=maybe(st.sampled_from(sorted(STATUS))),
    code=maybe(numbers), o=maybe(numbers), extra=st.dictionaries(junk, junk, max_size=3),
)  # fmt: skip
def test_twilio_status(client, sid, word, code, o, extra):  # noqa: ANN001
    params = {"MessageSid": sid, "MessageStatus": word, "ErrorCode": code, **extra}
    params = {k: v for k, v in params.items() if v is not None}
    path = "/sms/twilio/status" + ("?" + urlencode({"o": o}) if o is not None else "")
    data, headers = signed_request(PUBLIC + path, params, TWILIO_TOKEN)
    _check(client.post(path, data=data, headers=headers), "twilio", None, None)


@FUZZ
@given(
    incoming=st.booleans(), sms_id=maybe(numbers), phone=maybe(phones.map(lambda p: p.lstrip("+"))),
    to=maybe(phones.map(lambda p: p.lstrip("+"))), mes=texts, status=maybe(numbers),
    err=maybe(numbers), extra=st.dictionaries(junk, junk, max_size=3),
    json_body=st.booleans(),
)  # fmt: skip
def test_smsc_both_hooks(client, incoming, sms_id, phone, to, mes, status, err, extra, json_body):  # noqa: ANN001
    fresh = str(10**12 + next(_serial)) if sms_id is None else None
    found = {"id": sms_id or fresh, "phone": phone, **extra}
    if incoming:
        found.update({"mes": mes, "to": to})
    else:
        found.update({"status": status, "err": err})
        found.pop("mes", None)
    found = {k: v for k, v in found.items() if v is not None}
    signed = callbacks.sign(found, SMSC_SECRET)
    if json_body:
        import json

        body, kind = json.dumps(signed).encode(), "application/json"
    else:
        body, kind = callbacks.encode(signed), "application/x-www-form-urlencoded"
    hook = "inbound" if incoming else "status"
    response = client.post(
        f"/sms/smsc/{hook}?charset=utf-8", data=body, headers={"Content-Type": kind}
    )
    clean = incoming and phone and to and len(mes) <= callbacks.MAX_TEXT and not extra
    _check(response, "smsc", fresh if clean and fresh else None, mes)


@FUZZ
@given(
    sms_id=st.none() | junk, from_=maybe(phones), to=maybe(phones), text=st.none() | texts,
    hook=st.sampled_from(["inbound", "status"]),
    raw=st.none() | st.binary(max_size=300),
    kind=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                          "application/json", "text/plain", ""]),
)  # fmt: skip
def test_outbox_both_hooks(app, client, sms_id, from_, to, text, hook, raw, kind):  # noqa: ANN001
    token = app.config["SMSBOT_SETTINGS"].providers
    token = next(c.token for c in token if c.kind == "outbox")
    fresh = _fresh("LI") if sms_id is None else None
    fields = {"id": sms_id or fresh, "from": from_, "to": to, "text": text}
    fields = {k: v for k, v in fields.items() if v is not None}
    body = raw if raw is not None else urlencode(fields).encode()
    headers = {"Content-Type": kind if raw is not None else "application/x-www-form-urlencoded"}
    headers[outbox.SIGNATURE_HEADER] = outbox.sign(token, body)
    response = client.post(f"/sms/outbox/{hook}", data=body, headers=headers)
    clean = raw is None and hook == "inbound" and from_ in ("+79851234567", "+74951230001")
    clean = clean and to in ("+79851234567", "+74951230001") and text is not None
    _check(response, "outbox", fresh if clean and len(text) <= outbox.MAX_TEXT else None, text)


# --- the cases the fuzzing first found, kept as plain examples --------------------------------


def test_a_nul_in_a_residents_text_is_stored_without_it(client):  # noqa: ANN001
    sid = _fresh("SM")
    params = inbound_params(
        from_phone="+79851234567",
        to_phone="+74951230001",
        body="теч\x00ёт кран\x07",
        message_sid=sid,
    )
    data, headers = signed_request(PUBLIC + "/sms/twilio/inbound", params, TWILIO_TOKEN)
    assert client.post("/sms/twilio/inbound", data=data, headers=headers).status_code == 200
    assert _stored("twilio", sid).body == "течёт кран"


@pytest.mark.parametrize(
    ("path", "fields", "problem"),
    [
        ("/sms/status?o=2147483648", {}, "query parameter o must be a whole number below 2^31"),
        ("/sms/status", {"ErrorCode": str(2**31)}, "ErrorCode must be a whole number below 2^31"),
        ("/sms/status", {"MessageSid": "SM\x00" + "a" * 30}, "MessageSid must be a Twilio SID"),
    ],
)
def test_twilio_numbers_out_of_range_are_refused_by_name(client, path, fields, problem):  # noqa: ANN001
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", **fields}
    data, headers = signed_request(PUBLIC + path, params, TWILIO_TOKEN)
    response = client.post(path, data=data, headers=headers)
    assert response.status_code == 400
    assert problem in response.data.decode()


def test_smsc_error_code_past_32_bits_is_refused_and_an_id_past_them_is_ignored(client):  # noqa: ANN001
    found = {"id": str(2**40), "phone": "79851234567", "status": "1", "err": str(2**40)}
    body = callbacks.encode(callbacks.sign(found, SMSC_SECRET))
    kind = {"Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/sms/smsc/status?charset=utf-8", data=body, headers=kind)
    assert response.status_code == 400
    assert "error code 1099… is out of range" in response.data.decode()
    found.pop("err")
    body = callbacks.encode(callbacks.sign(found, SMSC_SECRET))
    response = client.post("/sms/smsc/status?charset=utf-8", data=body, headers=kind)
    assert response.status_code == 200  # a status for no message of ours: taken, ignored


def test_outbox_id_with_a_nul_is_refused(app, client):  # noqa: ANN001
    token = next(c.token for c in app.config["SMSBOT_SETTINGS"].providers if c.kind == "outbox")
    body = urlencode({"id": "LI\x00x", "from": GOOD[0], "to": GOOD[1], "text": "hi"}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        outbox.SIGNATURE_HEADER: outbox.sign(token, body),
    }
    response = client.post("/sms/outbox/inbound", data=body, headers=headers)
    assert response.status_code == 400
    assert "message id contains control characters" in response.data.decode()


def test_the_connectors_storage_path_strips_control_characters_too(app):  # noqa: ANN001
    """SMPP comes over TCP, not these hooks: its texts are stored by the same `inbound.store`
    (a UCS-2 text can hold a NUL; GSM-7's "@" is 0x00 before decoding)."""
    from smsbot import inbound
    from smsbot.providers.base import InboundSms

    sms = InboundSms("smpp", "smpp-1", GOOD[0], GOOD[1], "теч\x00ёт\x1b кран",
                     params={"concat\x00": "1/2\x07"})  # fmt: skip
    with db.writer().begin() as conn:
        message_id, created = inbound.store(conn, sms)
    assert created
    with Session(db.engine()) as session:
        stored = session.get(Message, message_id)
    assert stored.body == "течёт кран" and stored.params == '{"concat": "1/2"}'


def test_a_lone_surrogate_from_smsc_json_is_stored_without_it(client):  # noqa: ANN001
    """JSON can spell a half of a UTF-16 pair ("\\ud800") that no database can hold."""
    import json

    sms_id = str(10**12 + next(_serial))
    found = {"id": sms_id, "phone": "79851234567", "to": "74951230001",
             "mes": "лифт\ud800 стоит", "sent": "17\udfff"}  # fmt: skip
    body = json.dumps(callbacks.sign(found, SMSC_SECRET)).encode()  # ASCII: \\ud800 escaped
    response = client.post(
        "/sms/smsc/inbound?charset=utf-8", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.data
    stored = _stored("smsc", sms_id)
    assert stored.body == "лифт стоит" and json.loads(stored.params)["sent"] == "17"
