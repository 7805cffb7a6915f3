"""Tests for smsbot.phones: shared libphonenumber vectors, Russian formats, masking, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbot.phones import InvalidPhone, is_e164, mask, normalize
from tests import vectors


def _vector_params(name: str) -> list:
    data = vectors.load(name)
    if data is None:
        return [vectors.missing(vectors.TESTDATA / name)]
    return [pytest.param(v, id=f"{i:02d}:{v['input']}") for i, v in enumerate(data)]


@pytest.mark.parametrize("vector", _vector_params("phones_ru.json"))
def test_vector(vector: dict) -> None:
    region = vector.get("default_region", "RU")
    expected = vector["expected_e164"]
    if expected == "invalid":
        assert not vector["expected_valid"]
        with pytest.raises(InvalidPhone):
            normalize(vector["input"], region)
    else:
        # Policy: every number libphonenumber calls valid is accepted, whatever its region.
        assert vector["expected_valid"]
        assert normalize(vector["input"], region) == expected
        assert is_e164(expected)


# --- hand-written ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "8 (985) 393-13-21",
        "+7 985 393 13 21",
        "+7(985)393-13-21",
        "79853931321",
        "89853931321",
        "9853931321",
        "810 7 985 393 13 21",
        "  +79853931321  ",
        "8-985-393-13-21",
        "+7 985 393-13-21 доб. 5",
        "tel:+7-985-393-13-21",
        "８９８５３９３１３２１",  # full-width digits, e.g. pasted from a phone's notes app
    ],
)
def test_russian_ways_of_writing_a_mobile(raw: str) -> None:
    assert normalize(raw) == "+79853931321"


def test_default_region_is_ru_and_can_be_changed() -> None:
    assert normalize("9853931321") == "+79853931321"
    assert normalize("29 123 45 67", region="BY") == "+375291234567"
    assert normalize("29 123 45 67", region="by") == "+375291234567"


def test_kazakhstan_and_belarus_are_accepted() -> None:
    assert normalize("+7 701 123 45 67") == "+77011234567"
    assert normalize("+375 29 123-45-67") == "+375291234567"


def test_normalize_is_idempotent_on_its_output() -> None:
    e164 = normalize("8 (985) 393-13-21")
    assert normalize(e164) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("привет", "not a phone number"),
        ("12345", "too short"),
        ("8 (000) 123-45-67", "not a valid number"),
        ("+7 985 123 45 678", "wrong number of digits"),
        ("1" * 500, "too long"),
    ],
)
def test_invalid_reasons(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize(raw)
    assert info.value.reason == reason
    assert str(info.value) == reason


def test_invalid_phone_is_value_error_and_does_not_leak_input() -> None:
    assert issubclass(InvalidPhone, ValueError)
    with pytest.raises(ValueError) as info:
        normalize("8 (985) 123-45-6")
    assert "985" not in str(info.value)


@pytest.mark.parametrize("junk", [None, 79853931321, b"+79853931321", ["+79853931321"]])
def test_non_string_input_raises_invalid_phone(junk: object) -> None:
    with pytest.raises(InvalidPhone):
        normalize(junk)  # type: ignore[arg-type]


def test_unknown_region_raises_invalid_phone() -> None:
    with pytest.raises(InvalidPhone):
        normalize("9853931321", region="XX")
    with pytest.raises(InvalidPhone):
        normalize("9853931321", region=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("s", "ok"),
    [
        ("+79853931321", True),
        ("+375291234567", True),
        ("+1234567", True),
        ("+123456789012345", True),
        ("+1234567890123456", False),
        ("+123456", False),
        ("+09853931321", False),
        ("79853931321", False),
        ("+7 985 393 13 21", False),
        ("+79853931321\n", False),
        ("+٧٩٨٥٣٩٣١٣٢١", False),  # Arabic-Indic digits: \d would accept these
        ("", False),
        (None, False),
    ],
)
def test_is_e164(s: object, ok: bool) -> None:
    assert is_e164(s) is ok  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+79853931321", "+7985***1321"),
        ("+375291234567", "+3752****4567"),
        ("+1234567", "+12***67"),
        ("1234", "***4"),
        ("12", "**"),
        ("+7", "+*"),
        ("", ""),
        ("not a number", "***"),
        (None, "***"),
    ],
)
def test_mask(raw: object, masked: str) -> None:
    assert mask(raw) == masked  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

phone_like = st.text(alphabet="0123456789+()- .,доб#*xABCext８", max_size=40)


@given(st.one_of(st.text(max_size=120), phone_like))
def test_property_normalize_returns_e164_or_raises_invalid_phone(raw: str) -> None:
    try:
        result = normalize(raw)
    except InvalidPhone as exc:
        assert exc.reason
        return
    assert is_e164(result)
    assert normalize(result) == result


@given(st.from_regex(r"\A\+?[0-9]{0,20}\Z"))
def test_property_mask_never_reveals_whole_number(raw: str) -> None:
    masked = mask(raw)
    digits = sum(c.isdigit() for c in raw)
    shown = sum(c.isdigit() for c in masked)
    assert shown <= max(0, digits - 3)
    if digits:
        assert len(masked) == len(raw)


@given(st.text(max_size=60))
def test_property_mask_and_is_e164_never_raise(raw: str) -> None:
    assert isinstance(mask(raw), str)
    assert isinstance(is_e164(raw), bool)
