"""Tests for smsbot.signatures: Twilio SDK vectors, tampering, junk input, properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from smsbot.providers.twilio.signatures import candidate_urls, expected_signature, is_valid
from tests import vectors


def _body(vector: dict) -> bytes | None:
    body = vector.get("body")
    return body.encode("utf-8") if body is not None else None


@pytest.mark.parametrize("vector", vectors.params("twilio_signatures.json"))
def test_vector(vector: dict) -> None:
    body = _body(vector)
    result = is_valid(
        vector["url"], vector["params"], vector["expected_signature"], vector["auth_token"], body
    )
    assert result is vector["valid"]
    if vector["valid"]:
        signed_url = vector["signed_url"]
        assert signed_url in candidate_urls(vector["url"])
        params = {} if body is not None else vector["params"]
        recomputed = expected_signature(signed_url, params, vector["auth_token"])
        assert recomputed == vector["expected_signature"]
    if body is not None and "body_sha256_hex" in vector:
        assert hashlib.sha256(body).hexdigest() == vector["body_sha256_hex"]


# --- hand-written ------------------------------------------------------------------------------

URL = "https://smsbot.example.ru/twilio/inbound"
TOKEN = "12345"
PARAMS = {
    "From": "+79853931321",
    "To": "+74951234567",
    "Body": "Здравствуйте! Не работает лифт 😀",
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
}


def _sign(url: str = URL, params: dict | None = None, token: str = TOKEN) -> str:
    return expected_signature(url, PARAMS if params is None else params, token)


def test_roundtrip_with_cyrillic_and_emoji() -> None:
    assert is_valid(URL, PARAMS, _sign(), TOKEN)


def test_param_order_does_not_matter() -> None:
    reordered = dict(reversed(list(PARAMS.items())))
    assert is_valid(URL, reordered, _sign(), TOKEN)


def test_tampered_param_fails() -> None:
    tampered = {**PARAMS, "Body": "Переведите 1000 руб."}
    assert not is_valid(URL, tampered, _sign(), TOKEN)
    assert not is_valid(URL, {**PARAMS, "Extra": "1"}, _sign(), TOKEN)
    assert not is_valid(URL, {k: v for k, v in PARAMS.items() if k != "Body"}, _sign(), TOKEN)


def test_tampered_url_fails() -> None:
    assert not is_valid(URL + "?x=1", PARAMS, _sign(), TOKEN)
    assert not is_valid(URL.replace("https", "http"), PARAMS, _sign(), TOKEN)


def test_wrong_token_fails() -> None:
    assert not is_valid(URL, PARAMS, _sign(), "54321")


@pytest.mark.parametrize("signature", [None, "", "   ", "FAIL", "Я" * 28, 12345, b"abc"])
def test_missing_or_junk_signature_fails(signature: object) -> None:
    assert is_valid(URL, PARAMS, signature, TOKEN) is False  # type: ignore[arg-type]


def test_empty_token_never_validates() -> None:
    assert not is_valid(URL, PARAMS, _sign(token=""), "")


@pytest.mark.parametrize(
    ("url", "params", "token", "body"),
    [
        (None, PARAMS, TOKEN, None),
        (123, PARAMS, TOKEN, None),
        (URL, None, TOKEN, None),
        (URL, "From=%2B7", TOKEN, None),
        (URL, {"From": None}, TOKEN, None),
        (URL, {"From": 7}, TOKEN, None),
        (URL, {1: "x"}, TOKEN, None),
        (URL, PARAMS, None, None),
        (URL + "?bodySHA256=abc", {}, TOKEN, "not bytes"),
        ("https://[::1", PARAMS, TOKEN, None),
        ("https://host:port/x", PARAMS, TOKEN, None),
        ("\ud800://x", PARAMS, TOKEN, None),
    ],
)
def test_junk_never_raises(url: object, params: object, token: object, body: object) -> None:
    assert is_valid(url, params, "c2lnbmF0dXJl", token, body) is False  # type: ignore[arg-type]


def test_repeated_keys_sorted_and_deduplicated() -> None:
    sig = expected_signature(URL, {"Digits": ["5678", "1234", "1234"], "Sid": "CA1"}, TOKEN)
    assert sig == expected_signature(URL, {"Digits": ["1234", "5678"], "Sid": "CA1"}, TOKEN)
    assert sig == expected_signature(URL, {"Digits": ("5678", "1234"), "Sid": "CA1"}, TOKEN)


class _MultiDict(dict):
    """Stand-in for werkzeug's MultiDict: [] gives the first value, getlist() all of them."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getlist(self, key: str) -> list[str]:
        return self._lists[key]


def test_multidict_getlist_is_used() -> None:
    form = _MultiDict([("Digits", "5678"), ("Digits", "1234"), ("Sid", "CA1")])
    sig = expected_signature(URL, {"Digits": ["1234", "5678"], "Sid": "CA1"}, TOKEN)
    assert expected_signature(URL, form, TOKEN) == sig
    assert is_valid(URL, form, sig, TOKEN)


def test_signature_whitespace_is_tolerated() -> None:
    assert is_valid(URL, PARAMS, f" {_sign()}\n", TOKEN)


def test_body_sha256_variant() -> None:
    body = b'{"MessageSid": "SM1", "Body": "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"}'
    url = f"{URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    sig = expected_signature(url, {}, TOKEN)
    assert is_valid(url, {}, sig, TOKEN, body)
    assert is_valid(url, {"ignored": "form params are not signed here"}, sig, TOKEN, body)
    assert is_valid(url.upper().replace("HTTPS://", "https://"), {}, sig, TOKEN, body) is False
    assert not is_valid(url, {}, sig, TOKEN, body + b" ")
    assert not is_valid(url, {}, sig, TOKEN, None)
    assert not is_valid(url, {}, sig, "other-token", body)


def test_body_ignored_without_body_sha256() -> None:
    assert is_valid(URL, PARAMS, _sign(), TOKEN, body=b"From=...&To=...")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.ru/x", ["https://a.ru/x", "https://a.ru:443/x"]),
        ("http://a.ru/x", ["http://a.ru/x", "http://a.ru:80/x"]),
        ("https://a.ru:443/x", ["https://a.ru:443/x", "https://a.ru/x"]),
        ("https://a.ru:8443/x?y=1", ["https://a.ru:8443/x?y=1", "https://a.ru/x?y=1"]),
        ("https://a.ru?y=1", ["https://a.ru?y=1", "https://a.ru:443?y=1"]),
        ("HTTP://U:P@A.ru/x", ["HTTP://U:P@A.ru/x", "HTTP://U:P@A.ru:80/x"]),
        ("https://u:p@a.ru:1234/x", ["https://u:p@a.ru:1234/x", "https://u:p@a.ru/x"]),
        ("https://[2001:db8::1]/x", ["https://[2001:db8::1]/x", "https://[2001:db8::1]:443/x"]),
        (
            "https://[2001:db8::1]:8443/x",
            ["https://[2001:db8::1]:8443/x", "https://[2001:db8::1]/x"],
        ),
        ("ftp://a.ru/x", ["ftp://a.ru/x"]),
        ("/relative/path", ["/relative/path"]),
        ("", [""]),
    ],
)
def test_candidate_urls(url: str, expected: list[str]) -> None:
    assert candidate_urls(url) == expected


def test_credentials_and_custom_port_survive_port_removal() -> None:
    # twilio-python's remove_port() would turn this netloc into "u" (split on the first ":").
    signed = "https://u:p@a.ru/hook"
    sig = expected_signature(signed, PARAMS, TOKEN)
    assert is_valid("https://u:p@a.ru:1234/hook", PARAMS, sig, TOKEN)


# --- properties --------------------------------------------------------------------------------

form_params = st.dictionaries(
    st.text(min_size=1, max_size=10),
    st.one_of(st.text(max_size=20), st.lists(st.text(max_size=10), min_size=1, max_size=3)),
    max_size=6,
)


@given(st.text(max_size=80), form_params, st.text(min_size=1, max_size=20))
def test_property_roundtrip(url: str, params: dict, token: str) -> None:
    assume("bodySHA256" not in url)
    assert is_valid(url, params, expected_signature(url, params, token), token)
    # Whichever port variant Twilio signed, the request as we see it validates.
    for candidate in candidate_urls(url):
        assert is_valid(url, params, expected_signature(candidate, params, token), token)


@given(
    st.one_of(st.none(), st.text(max_size=80), st.integers()),
    st.one_of(st.none(), form_params, st.text(max_size=10), st.lists(st.text(), max_size=3)),
    st.one_of(st.none(), st.text(max_size=40), st.binary(max_size=20)),
    st.one_of(st.none(), st.text(max_size=20)),
    st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=10)),
)
def test_property_is_valid_never_raises(
    url: object, params: object, signature: object, token: object, body: object
) -> None:
    assert is_valid(url, params, signature, token, body) in (True, False)  # type: ignore[arg-type]


@given(st.text(max_size=80))
def test_property_candidate_urls_starts_with_input(url: str) -> None:
    urls = candidate_urls(url)
    assert urls[0] == url
    assert 1 <= len(urls) <= 2
