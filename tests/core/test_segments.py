"""Tests for smsbot.segments: shared conformance vectors, boundaries, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbot.segments import GSM7_BASIC, GSM7_EXTENSION, Measure, fits, measure
from tests import vectors


@pytest.mark.parametrize("vector", vectors.params("segments.json"))
def test_vector(vector: dict) -> None:
    m = measure(vector["text"])
    assert m.encoding == vector["expected_encoding"]
    assert m.segments == vector["expected_segments"]
    if "expected_chars_per_segment" in vector:
        assert m.per_segment == vector["expected_chars_per_segment"]
    if "expected_message_size_bits" in vector:
        bits = 7 if m.encoding == "GSM-7" else 16
        assert m.units * bits == vector["expected_message_size_bits"]
    if m.encoding == "UCS-2":
        assert m.units == vector["utf16_units"]


# --- hand-written boundaries -------------------------------------------------------------------


def test_empty_text_is_one_gsm_segment() -> None:
    assert measure("") == Measure("GSM-7", 1, 0, 160)


def test_measure_is_frozen() -> None:
    m = measure("hi")
    with pytest.raises(AttributeError):
        m.segments = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [(1, 1, 70), (70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67), (201, 3, 67), (202, 4, 67)],
)
def test_cyrillic_boundaries(length: int, segments: int, per_segment: int) -> None:
    m = measure("Я" * length)
    assert (m.encoding, m.segments, m.units, m.per_segment) == (
        "UCS-2",
        segments,
        length,
        per_segment,
    )
    assert m.non_gsm == ("Я",)


def test_one_cyrillic_letter_switches_whole_message_to_ucs2() -> None:
    assert measure("a" * 100).segments == 1
    m = measure("a" * 99 + "ж")
    assert m.encoding == "UCS-2"
    assert m.segments == 2
    assert m.non_gsm == ("ж",)


@pytest.mark.parametrize(
    ("length", "segments"), [(153, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)]
)
def test_gsm_plain_boundaries(length: int, segments: int) -> None:
    m = measure("x" * length)
    assert (m.encoding, m.segments, m.units) == ("GSM-7", segments, length)


def test_euro_counts_two_septets() -> None:
    assert measure("€" * 80) == Measure("GSM-7", 1, 160, 160)
    assert measure("€" * 81) == Measure("GSM-7", 2, 162, 153)
    assert measure("a" * 158 + "€").segments == 1
    assert measure("a" * 159 + "€").segments == 2


def test_escape_pair_never_straddles_gsm_boundary() -> None:
    # 152 septets, then € would occupy septets 153-154: it moves to segment 2 whole.
    assert measure("a" * 152 + "€" + "a" * 151).segments == 2  # 152 | 2+151
    assert measure("a" * 152 + "€" + "a" * 152).segments == 3  # naive 306/153 would say 2
    # € fits exactly at the end of segment 1.
    assert measure("a" * 151 + "€" + "a" * 153).segments == 2


def test_all_extension_chars_count_two() -> None:
    for ch in "€[]{}^~|\\\f":
        m = measure(ch)
        assert (m.encoding, m.units) == ("GSM-7", 2), repr(ch)


def test_gsm_specials_stay_gsm7() -> None:
    text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà"
    m = measure(text)
    assert m.encoding == "GSM-7"
    assert m.units == len(text)


@pytest.mark.parametrize("ch", ["`", "ç", "Á", "«", "—", "\u00a0", "\u2126", "№", "😀"])
def test_lookalikes_and_typography_are_not_gsm7(ch: str) -> None:
    assert measure("Hello " + ch).encoding == "UCS-2"


def test_extension_chars_in_ucs2_count_once() -> None:
    m = measure("Я" + "]" * 69)
    assert (m.encoding, m.units, m.segments) == ("UCS-2", 70, 1)


def test_emoji_is_two_units_and_pair_never_straddles() -> None:
    assert measure("😀" * 35) == Measure("UCS-2", 1, 70, 70, ("😀",))
    assert measure("😀" * 36).segments == 2
    assert measure("a" * 66 + "😀" + "a" * 65).segments == 2  # 66 | 2+65
    assert measure("a" * 66 + "😀" + "a" * 66).segments == 3  # naive 134/67 would say 2


def test_typical_resident_message() -> None:
    text = "Здравствуйте! В подъезде 3 не работает лифт с утра. Кв. 45."
    m = measure(text)
    assert (m.encoding, m.segments) == ("UCS-2", 1)


def test_fits() -> None:
    assert fits("", 1)
    assert fits("Я" * 70, 1)
    assert not fits("Я" * 71, 1)
    assert fits("Я" * 71, 2)
    assert not fits("anything", 0)


# --- properties --------------------------------------------------------------------------------


def _reference(text: str) -> tuple[str, int, int]:
    """Slow, obviously-correct counter used to cross-check the fast paths."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        widths = [2 if c in GSM7_EXTENSION else 1 for c in text]
        encoding, single, multi = "GSM-7", 160, 153
    else:
        widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
        encoding, single, multi = "UCS-2", 70, 67
    total = sum(widths)
    if total <= single:
        return encoding, 1, total
    segments, used = 1, 0
    for w in widths:
        if used + w > multi:
            segments, used = segments + 1, 0
        used += w
    return encoding, segments, total


_GSM_PIECES = sorted(GSM7_BASIC | GSM7_EXTENSION)
_MIXED_PIECES = _GSM_PIECES + list("ЯжЁё`«»—№") + ["😀", "🇷🇺", "\u0301", "🏳️\u200d🌈"]
sms_texts = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(_MIXED_PIECES), max_size=300).map("".join),
    st.lists(st.sampled_from(_GSM_PIECES), max_size=400).map("".join),
)


@given(sms_texts)
def test_property_measure_is_consistent(text: str) -> None:
    m = measure(text)
    assert m.encoding in ("GSM-7", "UCS-2")
    assert m.segments >= 1
    assert m.segments * m.per_segment >= m.units
    assert (m.encoding, m.segments, m.units) == _reference(text)
    single = 160 if m.encoding == "GSM-7" else 70
    assert (m.segments == 1) == (m.units <= single)
    if m.encoding == "UCS-2":
        assert m.units == len(text.encode("utf-16-le")) // 2
        assert m.non_gsm
    else:
        assert m.non_gsm == ()


@given(sms_texts, sms_texts)
def test_property_appending_never_reduces_segments(head: str, tail: str) -> None:
    assert measure(head + tail).segments >= measure(head).segments


@given(sms_texts, st.integers(min_value=-1, max_value=10))
def test_property_fits_agrees_with_measure(text: str, budget: int) -> None:
    assert fits(text, budget) == (measure(text).segments <= budget)
