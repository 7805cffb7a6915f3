"""Twilio's send path: a plain POST to the Messages endpoint over kept-alive connections,
with every failure turned into our meaning by the one choke point (`_call`). Against the
Twilio stand-in (standins/twilio.py), which speaks the real API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smsbot.clock import utcnow
from smsbot.exceptions import PermanentSendError, TransientSendError, UnknownSendOutcome
from smsbot.models import OUT_ACCEPTED
from smsbot.providers import base
from smsbot.providers import twilio as plugin
from smsbot.providers.base import OutgoingSms
from smsbot.runner import free_port
from tests.conftest import twilio_env

TO = "+79851234567"


def twilio(url: str, **env: str) -> plugin.TwilioProvider:
    (config,) = plugin.configure({**twilio_env(url), **env}, mode="test", secret_key="k")
    return plugin.build(config, None)


def sms(message_id: int = 7, body: str = "Команды: БАЛАНС") -> OutgoingSms:
    callback = f"http://127.0.0.1:9/sms/twilio/status?o={message_id}"
    return OutgoingSms(message_id, TO, body, None, status_callback=callback)


def test_a_send_reaches_twilio_with_our_form_and_reuses_one_connection(fake_twilio):
    provider = twilio(fake_twilio.url)
    results = [provider.send(sms(i, f"text {i}")) for i in range(3)]
    sent = fake_twilio.messages(to=TO)
    assert [r.provider_id for r in results] == [m["sid"] for m in sent]
    assert {r.status for r in results} == {OUT_ACCEPTED}
    assert results[0].num_segments == 1
    assert sent[0]["from"] == "+79990000000" and sent[0]["status_callback"].endswith("?o=0")
    pool = provider.http.connection_from_url(fake_twilio.url)
    # Kept alive: three sends, one connection.
    assert len(provider.http.pools) == 1 and pool.num_connections == 1


def test_find_sent_still_finds_what_send_posted(fake_twilio):
    provider = twilio(fake_twilio.url)
    sent = provider.send(sms())
    found = provider.find_sent(sms(), since=utcnow() - timedelta(minutes=1))
    assert found is not None and found.provider_id == sent.provider_id
    assert provider.find_sent(sms(body="never sent"), since=utcnow()) is None


@pytest.mark.parametrize(
    ("failure", "error", "meaning", "code"),
    [
        ("500", TransientSendError, base.RETRY, 20500),
        ("429", TransientSendError, base.RETRY, 20429),
        ("21610", PermanentSendError, base.OPTED_OUT, 21610),
        ("21211", PermanentSendError, base.INVALID_NUMBER, 21211),
    ],
)
def test_twilios_refusals_keep_their_meanings(fake_twilio, failure, error, meaning, code):
    provider = twilio(fake_twilio.url)
    fake_twilio.fail_next(failure)
    with pytest.raises(error) as raised:
        provider.send(sms())
    assert (raised.value.meaning, raised.value.code) == (meaning, code)
    assert TO not in str(raised.value)  # Twilio's text may quote the number: never kept


def test_a_connection_dropped_after_the_request_is_an_unknown_outcome(fake_twilio):
    provider = twilio(fake_twilio.url)
    fake_twilio.fail_next("lost", seconds=0)
    with pytest.raises(UnknownSendOutcome):
        provider.send(sms())


def test_no_answer_in_time_is_an_unknown_outcome(fake_twilio, monkeypatch):
    monkeypatch.setattr(plugin, "HTTP_TIMEOUT", 0.2)
    provider = twilio(fake_twilio.url)
    fake_twilio.fail_next("slow", seconds=1)
    with pytest.raises(UnknownSendOutcome):
        provider.send(sms())


def test_nobody_listening_is_worth_a_retry():
    provider = twilio(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransientSendError):
        provider.send(sms())


def test_send_concurrency_is_configured_and_checked():
    assert twilio("http://127.0.0.1:1").send_concurrency == 4
    assert twilio("http://127.0.0.1:1", TWILIO_SEND_CONCURRENCY="8").send_concurrency == 8
    with pytest.raises(Exception, match="TWILIO_SEND_CONCURRENCY"):
        twilio("http://127.0.0.1:1", TWILIO_SEND_CONCURRENCY="0")
