"""SMPP accounts from the environment: defaults, several accounts, and errors naming the variable."""

from __future__ import annotations

import pytest

from smsbot.exceptions import ConfigError
from smsbot.providers import smpp
from smsbot.providers.smpp.config import configure

BASE = {
    "SMPP_HOST": "smpp.example.ru",
    "SMPP_SYSTEM_ID": "smsbot",
    "SMPP_PASSWORD": "s3cret",
    "SMPP_SOURCE": "+79990000000",
}


def test_not_configured_without_smpp_variables():
    assert configure({}) == []


def test_one_account_with_defaults():
    [c] = configure(BASE)
    assert (c.name, c.kind, c.port, c.messages_per_second, c.window) == (
        "smpp",
        "smpp",
        2775,
        10,
        10,
    )
    assert (c.default_encoding, c.enquire_seconds, c.unknown_wait_seconds) == ("gsm7", 30, 600)
    assert c.source_address == ("79990000000", 1, 1)
    assert "s3cret" not in repr(c)


def test_several_accounts():
    env = dict(BASE, SMPP_ACCOUNTS="mts, Beeline")
    for account in ("MTS", "BEELINE"):
        env.update({f"SMPP_{account}_{k[5:]}": v for k, v in BASE.items()})
    env.update(SMPP_BEELINE_SOURCE="Domovoy", SMPP_BEELINE_MPS="2.5", SMPP_MTS_PORT="3000")
    configs = configure(env)
    assert [c.name for c in configs] == ["smpp", "smpp-mts", "smpp-beeline"]
    assert configs[1].port == 3000
    assert configs[2].messages_per_second == 2.5
    assert configs[2].source_address == ("Domovoy", 5, 0)


def test_only_prefixed_accounts():
    env = {f"SMPP_MTS_{k[5:]}": v for k, v in BASE.items()}
    env["SMPP_ACCOUNTS"] = "mts"
    assert [c.name for c in configure(env)] == ["smpp-mts"]


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"SMPP_HOST": ""}, "SMPP_HOST"),
        ({"SMPP_PASSWORD": ""}, "SMPP_PASSWORD"),
        ({"SMPP_PASSWORD": "much-too-long"}, "SMPP_PASSWORD"),
        ({"SMPP_SYSTEM_ID": "x" * 16}, "SMPP_SYSTEM_ID"),
        ({"SMPP_SOURCE": "89990000000"}, "SMPP_SOURCE"),
        ({"SMPP_SOURCE": "A very long sender"}, "SMPP_SOURCE"),
        ({"SMPP_PORT": "http"}, "SMPP_PORT"),
        ({"SMPP_PORT": "70000"}, "SMPP_PORT"),
        ({"SMPP_MPS": "0"}, "SMPP_MPS"),
        ({"SMPP_WINDOW": "1.5"}, "SMPP_WINDOW"),
        ({"SMPP_DEFAULT_ENCODING": "utf8"}, "SMPP_DEFAULT_ENCODING"),
        ({"SMPP_ENQUIRE_SECONDS": "-1"}, "SMPP_ENQUIRE_SECONDS"),
        ({"SMPP_ACCOUNTS": "mts"}, "SMPP_MTS_HOST"),
        ({"SMPP_ACCOUNTS": "m:ts"}, "SMPP_ACCOUNTS"),
    ],
)
def test_errors_name_the_variable(changes, variable):  # noqa: ANN001
    with pytest.raises(ConfigError) as caught:
        configure(dict(BASE, **changes))
    assert caught.value.variable == variable
    assert "s3cret" not in str(caught.value)


def test_a_stray_variable_without_a_host_is_an_error():
    with pytest.raises(ConfigError, match="SMPP_HOST"):
        configure({"SMPP_SYSTEM_ID": "smsbot"})


def test_the_provider_object():
    [c] = configure(BASE)
    provider = smpp.build(c, settings=None)
    assert (provider.name, provider.kind, provider.can_receive, provider.uses_connector) == (
        "smpp",
        "smpp",
        True,
        True,
    )
    assert provider.messages_per_second == 10
    described = provider.describe()
    assert described["system_id"] == "smsbot" and described["window"] == "10"
    assert "s3cret" not in str(described)
    with pytest.raises(NotImplementedError):
        provider.send(None)


def test_the_registry_finds_the_plugin():
    from smsbot import providers

    assert providers.plugins()["smpp"] is smpp
    names = [c.name for c in providers.configure(BASE, mode="test", secret_key="k")]
    assert "smpp" in names
