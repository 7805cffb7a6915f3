"""The SMSC.ru plug-in without a network: configuration, the handler's hash, parsing every
field of a callback, and SMSC.ru's codes in our words.

The hashes below were computed with coreutils (`printf … | md5sum`, `iconv -t cp1251`), not
with the code under test. The error answers are the forms send.php's page shows
(http://s1.sm-s.ru/api/http/send/sms/sms_answer/, a copy of SMSC.ru's page).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from smsbot.exceptions import (
    ConfigError,
    PermanentSendError,
    TransientSendError,
    UnknownSendOutcome,
)
from smsbot.models import OUT_ACCEPTED, OUT_DELIVERED, OUT_FAILED, OUT_SENT, OUT_UNDELIVERED
from smsbot.providers import base
from smsbot.providers import smsc as plugin
from smsbot.providers.base import BadWebhook, NotAuthentic, WebhookRequest
from smsbot.providers.smsc import api, callbacks, codes

SECRET = "SecretSecret1234"
ENV = {
    "SMSC_LOGIN": "acme",
    "SMSC_PASSWORD": "pw",
    "SMSC_SENDER": "+79990000001",
    "SMSC_CALLBACK_SECRET": SECRET,
}
TEXT = "Привет, течёт кран"

STATUS_FIELDS = {
    "id": "1234",
    "phone": "79161234567",
    "status": "1",
    "err": "0",
    "ts": "1700000000",
}
STATUS_MD5 = "bfb2aa40006efa76004d381bced0f0fc"
INCOMING_FIELDS = {"id": "900000001", "phone": "79161234567", "mes": TEXT, "to": "79990000001"}
INCOMING_MD5 = "298571540b5d94bab771362164eb3439"
INCOMING_SHA1 = "45f99aafe87c6148f75c7baa6d954e3061e4a76e"
INCOMING_MD5_CP1251 = "74e8f7ec3750dc05a63b60b78a708a09"


def provider(**env: str) -> plugin.SmscProvider:
    (config,) = plugin.configure({**ENV, **env}, mode="test", secret_key="k")
    return plugin.build(config, None)


def form_request(
    fields: dict[str, str], query: str = "charset=utf-8", charset: str = "utf-8"
) -> WebhookRequest:
    body = urlencode(fields, encoding=charset).encode("ascii")
    args: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        args.setdefault(name, []).append(value)
    return WebhookRequest(
        hook=base.INBOUND_HOOK,
        method="POST",
        urls=(f"https://bot.example/sms/smsc/inbound?{query}",),
        args=args,
        form={},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=body,
        content_type="application/x-www-form-urlencoded",
    )


# --- configuration ---------------------------------------------------------------------------


def test_not_configured_without_login_or_key():
    assert plugin.configure({}, mode="production", secret_key="k") == []


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"SMSC_PASSWORD": ""}, "SMSC_PASSWORD"),
        ({"SMSC_SENDER": ""}, "SMSC_SENDER"),
        ({"SMSC_SENDER": "8 999 000-00-01"}, "SMSC_SENDER"),
        ({"SMSC_API_URL": "ftp://smsc.ru"}, "SMSC_API_URL"),
        ({"SMSC_CALLBACK_SECRET": "short"}, "SMSC_CALLBACK_SECRET"),
        ({"SMSC_CALLBACK_SECRET": "has spaces and : colons!"}, "SMSC_CALLBACK_SECRET"),
        ({"SMSC_MPS": "fast"}, "SMSC_MPS"),
        ({"SMSC_MPS": "0"}, "SMSC_MPS"),
        ({"SMSC_TIMEOUT": "-1"}, "SMSC_TIMEOUT"),
    ],
)
def test_a_wrong_setting_names_its_variable(change, variable):
    with pytest.raises(ConfigError) as caught:
        plugin.configure({**ENV, **change}, mode="test", secret_key="k")
    assert caught.value.variable == variable


def test_production_needs_https_and_its_own_secret():
    with pytest.raises(ConfigError, match="SMSC_API_URL"):
        plugin.configure(
            {**ENV, "SMSC_API_URL": "http://127.0.0.1:1"}, mode="production", secret_key="k"
        )
    without = {k: v for k, v in ENV.items() if k != "SMSC_CALLBACK_SECRET"}
    with pytest.raises(ConfigError, match="SMSC_CALLBACK_SECRET"):
        plugin.configure(without, mode="production", secret_key="k")
    (dev,) = plugin.configure(without, mode="development", secret_key="k")
    assert len(dev.callback_secret) == 32


def test_api_key_alone_is_enough_and_describe_hides_secrets():
    env = {
        "SMSC_API_KEY": "key-123456",
        "SMSC_SENDER": "+79990000001",
        "SMSC_CALLBACK_SECRET": SECRET,
    }
    (config,) = plugin.configure(env, mode="production", secret_key="k")
    described = plugin.build(config, None).describe()
    text = repr(config) + repr(described)
    assert "key-123456" not in text and SECRET not in text and "79990000001" not in text
    assert described["kind"] == "smsc" and described["account"] == "API key"


def test_capabilities_come_from_config():
    smsc = provider(SMSC_MPS="2.5")
    assert smsc.can_receive and smsc.kind == "smsc" and smsc.name == "smsc"
    assert smsc.messages_per_second == 2.5


# --- the handler's hash ----------------------------------------------------------------------


def test_status_hash_vector_is_accepted():
    provider().authenticate(form_request({**STATUS_FIELDS, "md5": STATUS_MD5}))


def test_incoming_hash_vectors_are_accepted():
    smsc = provider()
    smsc.authenticate(form_request({**INCOMING_FIELDS, "md5": INCOMING_MD5}))
    smsc.authenticate(form_request({**INCOMING_FIELDS, "sha1": INCOMING_SHA1}))
    smsc.authenticate(form_request({**INCOMING_FIELDS, "md5": INCOMING_MD5.upper()}))


def test_default_charset_is_windows_1251_and_the_hash_covers_its_bytes():
    request = form_request(
        {**INCOMING_FIELDS, "md5": INCOMING_MD5_CP1251}, query="", charset="cp1251"
    )
    smsc = provider()
    smsc.authenticate(request)
    assert smsc.parse(request).inbound[0].body == TEXT


def test_the_md5_in_the_handler_url_query_does_not_shadow_the_posted_hash():
    request = form_request(
        {**STATUS_FIELDS, "md5": STATUS_MD5}, query=f"charset=utf-8&md5={SECRET}"
    )
    provider().authenticate(request)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({**STATUS_FIELDS, "md5": "0" * 32}, "md5 does not match"),
        ({**STATUS_FIELDS, "status": "20", "md5": STATUS_MD5}, "md5 does not match"),
        ({**INCOMING_FIELDS, "mes": TEXT + "!", "md5": INCOMING_MD5}, "md5 does not match"),
        ({**INCOMING_FIELDS, "sha1": "0" * 40}, "sha1 does not match"),
        (STATUS_FIELDS, "no md5 or sha1"),
        ({**STATUS_FIELDS, "crc32": "1a2b3c4d"}, "crc32 is no authentication"),
    ],
)
def test_a_wrong_or_missing_hash_is_refused_saying_which(fields, reason):
    with pytest.raises(NotAuthentic, match=reason):
        provider().authenticate(form_request(fields))


def test_another_secret_is_refused():
    with pytest.raises(NotAuthentic):
        provider(SMSC_CALLBACK_SECRET="AnotherSecret5678").authenticate(
            form_request({**STATUS_FIELDS, "md5": STATUS_MD5})
        )


def test_the_secret_in_the_handler_url_alone_is_enough():
    secret = provider().config.callback_secret
    provider().authenticate(form_request(INCOMING_FIELDS, query=f"charset=utf-8&key={secret}"))


def test_a_wrong_secret_in_the_handler_url_is_refused_even_with_a_good_hash():
    with pytest.raises(NotAuthentic, match="key in the handler URL"):
        provider().authenticate(
            form_request({**STATUS_FIELDS, "md5": STATUS_MD5}, query="charset=utf-8&key=guess")
        )


def test_simulated_inbound_is_signed_and_parses_back():
    smsc = provider()
    sim = smsc.simulate_inbound(
        public_base_url="https://bot.example",
        from_phone="+79161234567",
        to_phone="+79990000001",
        text=TEXT,
    )
    path, _, query = sim.path.partition("?")
    assert path == "/sms/smsc/inbound"
    request = WebhookRequest(
        hook="inbound",
        method="POST",
        urls=("https://bot.example" + sim.path,),
        args={"charset": ["utf-8"]},
        form={},
        headers=sim.headers,
        body=sim.body,
        content_type=sim.headers["Content-Type"],
    )
    smsc.authenticate(request)
    (sms,) = smsc.parse(request).inbound
    assert (sms.from_phone, sms.to_phone, sms.body) == ("+79161234567", "+79990000001", TEXT)


# --- parsing ---------------------------------------------------------------------------------


def test_incoming_sms_parses():
    parsed = provider().parse(
        form_request({**INCOMING_FIELDS, "sms_id": "1234", "sent": "1700000000"})
    )
    assert parsed.statuses == ()
    (sms,) = parsed.inbound
    assert sms.provider == "smsc" and sms.provider_id == "900000001"
    assert (sms.from_phone, sms.to_phone, sms.body) == ("+79161234567", "+79990000001", TEXT)
    assert sms.params == {"sms_id": "1234", "sent": "1700000000"}


def test_status_parses_into_our_state_keyed_by_id_and_phone():
    (update,) = provider().parse(form_request(STATUS_FIELDS)).statuses
    assert update.provider_id == "1234/79161234567"
    assert update.status == OUT_DELIVERED and update.meaning is None and update.error_code is None


def test_json_callbacks_parse_too():
    request = WebhookRequest(
        hook="status",
        method="POST",
        urls=("https://bot.example/sms/smsc/inbound?charset=utf-8&fmt=3",),
        args={"charset": ["utf-8"], "fmt": ["3"]},
        form={},
        headers={},
        body=b'{"id": 1234, "phone": "79161234567", "status": 20, "err": 1}',
        content_type="application/json",
    )
    (update,) = provider().parse(request).statuses
    assert (update.status, update.error_code, update.meaning) == (
        OUT_UNDELIVERED,
        1,
        base.INVALID_NUMBER,
    )


def test_a_control_character_in_the_text_is_no_reason_to_refuse_it():
    """It reaches a person without it: inbound.store drops it (tests/web/test_webhook_fuzz.py)."""
    [sms] = provider().parse(form_request({**INCOMING_FIELDS, "mes": "стоп\x00"})).inbound
    assert sms.body == "стоп\x00"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": None}, "id: missing"),
        ({"id": "12a"}, "id: not a whole number"),
        ({"id": "-5"}, "id: not a whole number"),
        ({"id": "١٢٣"}, "id: not a whole number"),
        ({"id": str(2**63)}, "id: larger than a 64-bit integer"),
        ({"id": "9" * 100}, "id: not a whole number"),
        ({"phone": None}, "phone: missing"),
        ({"phone": "+7 916 123"}, "phone: not an international phone number"),
        ({"phone": "abc"}, "phone: not an international phone number"),
        ({"phone": "0161234567"}, "phone: not an international phone number"),
        ({"to": "79990000001\x00"}, "to: not an international phone number"),
        ({"mes": "x" * 4097}, "mes: 4097 characters, more than 4096"),
        ({"sent": "1" * 65}, "sent: not a value SMSC.ru sends"),
    ],
)
def test_every_malformed_incoming_field_is_a_clear_problem(change, problem):
    fields = {**INCOMING_FIELDS, **{k: v for k, v in change.items() if v is not None}}
    for name in [k for k, v in change.items() if v is None]:
        del fields[name]
    with pytest.raises(BadWebhook) as caught:
        provider().parse(form_request(fields))
    assert problem in caught.value.problems


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": None}, "status: missing"),
        ({"status": "delivered"}, "status: not a whole number"),
        ({"status": "77"}, "status: 77 is not an SMSC.ru delivery status"),
        ({"err": "x"}, "err: not a whole number"),
        ({"id": ""}, "id: missing"),
    ],
)
def test_every_malformed_status_field_is_a_clear_problem(change, problem):
    fields = {**STATUS_FIELDS, **{k: v for k, v in change.items() if v is not None}}
    for name in [k for k, v in change.items() if v is None]:
        del fields[name]
    with pytest.raises(BadWebhook) as caught:
        provider().parse(form_request(fields))
    assert problem in caught.value.problems


def test_all_problems_are_listed_at_once():
    with pytest.raises(BadWebhook) as caught:
        provider().parse(form_request({"mes": "hi", "phone": "x"}))
    assert caught.value.problems == [
        "id: missing",
        "phone: not an international phone number",
        "to: missing",
    ]


def test_undecodable_body_and_unknown_charset_are_bad_webhooks():
    bad_utf8 = form_request({}, query="charset=utf-8")
    bad_utf8 = WebhookRequest(**{**bad_utf8.__dict__, "body": b"mes=%FF%FE&phone=79161234567"})
    with pytest.raises(BadWebhook, match="not valid utf-8"):
        provider().parse(bad_utf8)
    with pytest.raises(BadWebhook, match="charset"):
        provider().parse(form_request(INCOMING_FIELDS, query="charset=ebcdic"))
    with pytest.raises(BadWebhook, match="JSON"):
        provider().parse(
            WebhookRequest(
                **{**bad_utf8.__dict__, "body": b"[1]", "content_type": "application/json"}
            )
        )


def test_get_callbacks_are_read_from_the_query_in_its_charset():
    query = "charset=windows-1251&" + urlencode(INCOMING_FIELDS, encoding="cp1251")
    request = WebhookRequest(
        hook="inbound",
        method="GET",
        urls=(f"https://bot.example/sms/smsc/inbound?{query}",),
        args={"charset": ["windows-1251"], "mes": ["garbled by the web layer"]},
        form={},
        headers={},
    )
    assert provider().parse(request).inbound[0].body == TEXT


def test_respond_is_ok():
    smsc = provider()
    request = form_request(STATUS_FIELDS)
    reply = smsc.respond(request, smsc.parse(request))
    assert (reply.status, reply.body) == (200, "OK")


# --- codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "state", "meaning"),
    [
        (-1, OUT_ACCEPTED, None),
        (0, OUT_SENT, None),
        (1, OUT_DELIVERED, None),
        (2, OUT_DELIVERED, None),
        (3, OUT_UNDELIVERED, None),
        (20, OUT_UNDELIVERED, None),
        (22, OUT_FAILED, base.INVALID_NUMBER),
        (23, OUT_FAILED, base.GIVE_UP),
        (25, OUT_FAILED, base.INVALID_NUMBER),
    ],
)
def test_status_codes_map_onto_our_states(code, state, meaning):
    found, got = codes.status(code, None)
    assert (found.state, got) == (state, meaning)


def test_a_failed_status_takes_its_meaning_from_err():
    assert codes.status(20, 1)[1] == base.INVALID_NUMBER
    assert codes.status(20, 240)[1] == base.RETRY
    assert codes.status(20, 999)[1] == base.GIVE_UP
    assert codes.status(22, 240)[1] == base.INVALID_NUMBER  # the code's own meaning wins
    assert codes.status(1, 240)[1] is None  # a delivered message has no failure meaning


# The two fmt=3 error forms of send.php's page: without the id (errors 1, 2, 4, 5, 9) and
# with it (errors 3, 6, 7, 8).
@pytest.mark.parametrize(
    ("answer", "error", "meaning"),
    [
        ({"error": "Ошибка в параметрах.", "error_code": 1}, PermanentSendError, base.GIVE_UP),
        (
            {"error": "Неверный логин или пароль.", "error_code": 2},
            PermanentSendError,
            base.GIVE_UP,
        ),
        (
            {"error": "Недостаточно средств на счете Клиента.", "error_code": 3, "id": 7},
            TransientSendError,
            base.RETRY,
        ),
        (
            {"error": "IP-адрес временно заблокирован", "error_code": 4},
            TransientSendError,
            base.RETRY,
        ),
        ({"error": "Неверный формат даты.", "error_code": 5}, PermanentSendError, base.GIVE_UP),
        (
            {"error": "Сообщение запрещено", "error_code": 6, "id": 7},
            PermanentSendError,
            base.GIVE_UP,
        ),
        (
            {"error": "Неверный формат номера телефона.", "error_code": 7, "id": 7},
            PermanentSendError,
            base.INVALID_NUMBER,
        ),
        (
            {"error": "не может быть доставлено.", "error_code": 8, "id": 7},
            PermanentSendError,
            base.INVALID_NUMBER,
        ),
        (
            {"error": "Отправка более одного одинакового запроса", "error_code": 9},
            UnknownSendOutcome,
            base.RETRY,
        ),
        ({"error": "new", "error_code": 42}, PermanentSendError, base.GIVE_UP),
    ],
)
def test_send_error_codes_map_onto_our_meanings(answer, error, meaning):
    refusal = api._refusal(answer, "send", sending=True)
    assert type(refusal) is error and refusal.meaning == meaning
    assert refusal.code == answer["error_code"]


def test_every_lookup_error_only_means_ask_later():
    for code in (1, 2, 4, 9, 42):
        refusal = api._refusal({"error": "x", "error_code": code}, "look up", sending=False)
        assert type(refusal) is TransientSendError


def test_every_documented_send_error_has_a_meaning():
    assert sorted(codes.SEND_ERRORS) == list(range(1, 10))
    assert {m for m, _ in codes.SEND_ERRORS.values()} <= set(base.MEANINGS)


def test_callbacks_hash_input_is_what_the_pages_describe():
    assert callbacks.hash_input(STATUS_FIELDS, "s") == "1234:79161234567:1:s"
    assert callbacks.hash_input(INCOMING_FIELDS, "s") == f"79161234567:{TEXT}:79990000001:s"
