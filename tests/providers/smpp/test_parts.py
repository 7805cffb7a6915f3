"""Tests for smsbot.providers.smpp.parts: the parts we submit match the segments we bill."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbot.providers.smpp import gsm7
from smsbot.providers.smpp.parts import split, udh
from smsbot.providers.smpp.reassembly import Reassembler
from smsbot.segments import GSM7_BASIC, GSM7_EXTENSION, measure
from tests import vectors

GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)


def _reassemble(text: str, gsm_coding: str = "gsm7") -> str:
    r = Reassembler(default="latin1" if gsm_coding != "gsm7" else "gsm7")
    done = [
        r.add(
            sender="7",
            data_coding=p.data_coding,
            esm_class=p.esm_class,
            short_message=p.short_message,
            now=0,
        )
        for p in split(text, ref=7, gsm_coding=gsm_coding)
    ]
    finished = [d for d in done if d is not None]
    assert len(finished) == 1 and not finished[0].incomplete
    return finished[0].text


def test_gsm7_table_is_the_one_segments_counts() -> None:
    assert set(gsm7.BASIC) - {"\x1b"} == GSM7_BASIC
    assert set(gsm7.EXTENSION.values()) == GSM7_EXTENSION
    assert gsm7.encode("§") == b"\x5f"  # smpplib.gsm gets this one wrong (a backtick)
    assert gsm7.encode("€\f") == b"\x1b\x65\x1b\x0a"
    with pytest.raises(UnicodeEncodeError):
        gsm7.encode("`")


@pytest.mark.parametrize("vector", vectors.params("segments.json"))
def test_shared_vectors(vector: dict) -> None:
    text = vector["text"]
    parts = split(text, ref=1)
    assert len(parts) == vector["expected_segments"]
    coding = 0x00 if vector["expected_encoding"] == "GSM-7" else 0x08
    assert {p.data_coding for p in parts} == {coding}
    assert _reassemble(text) == text


def test_single_cyrillic() -> None:
    (part,) = split("Баланс: 1 200,50 ₽", ref=9)
    assert (part.data_coding, part.esm_class) == (0x08, 0x00)
    assert part.short_message == "Баланс: 1 200,50 ₽".encode("utf-16-be")


def test_long_cyrillic_has_udh_and_134_octet_parts() -> None:
    text = "Ж" * 150
    parts = split(text, ref=0x1FF)
    assert len(parts) == 3 == measure(text).segments
    assert [p.short_message[:6] for p in parts] == [udh(0xFF, 3, n) for n in (1, 2, 3)]
    assert all(p.esm_class == 0x40 and p.data_coding == 0x08 for p in parts)
    assert [len(p.short_message) - 6 for p in parts] == [134, 134, 32]


def test_surrogate_pair_and_escape_pair_stay_whole() -> None:
    text = "я" * 66 + "😀" + "я" * 10
    parts = split(text, ref=1)
    assert len(parts) == 2
    assert parts[0].short_message[6:].decode("utf-16-be") == "я" * 66
    text = "a" * 152 + "€" + "b" * 10
    parts = split(text, ref=1)
    assert parts[0].short_message[6:] == b"a" * 152
    assert parts[1].short_message[6:] == b"\x1b\x65" + b"b" * 10


def test_latin1_options() -> None:
    (part,) = split("Hi {x}", ref=1, gsm_coding="latin1")
    assert (part.data_coding, part.short_message) == (0x00, b"Hi {x}")
    (part,) = split("café", ref=1, gsm_coding="latin1-0x03")
    assert (part.data_coding, part.short_message) == (0x03, "café".encode("latin-1"))
    with pytest.raises(ValueError, match="gsm_coding"):
        split("x", ref=1, gsm_coding="utf8")  # type: ignore[arg-type]


@given(st.text(max_size=800))
def test_any_text_round_trips_in_as_many_parts_as_billed(text: str) -> None:
    text = text.encode("utf-16-le", "surrogatepass").decode(
        "utf-16-le", "replace"
    )  # no lone surrogates
    parts = split(text, ref=3)
    assert len(parts) == measure(text).segments
    assert all(len(p.short_message) <= 6 + 153 for p in parts)
    assert _reassemble(text) == text


@given(GSM_TEXT)
def test_gsm_texts_round_trip(text: str) -> None:
    parts = split(text, ref=200)
    assert len(parts) == measure(text).segments
    assert all(p.data_coding == 0x00 for p in parts)
    assert _reassemble(text) == text
