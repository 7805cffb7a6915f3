"""Money formatting: Russian style, Decimal all the way."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbot.money import NBSP, format_rub, to_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("3450.2"), "3 450,20 ₽"),
        (Decimal("0"), "0,00 ₽"),
        (Decimal("999.999"), "1 000,00 ₽"),
        (Decimal("1234567.89"), "1 234 567,89 ₽"),
        (Decimal("-512"), "512,00 ₽"),
        ("3 450,20", "3 450,20 ₽"),
        (12, "12,00 ₽"),
    ],
)
def test_russian_format(value, expected):
    assert format_rub(value) == expected.replace(" ", NBSP)


def test_sign_is_kept_on_request():
    assert format_rub(Decimal("-512.5"), sign=True) == f"-512,50{NBSP}₽"


def test_half_kopeck_rounds_up():
    assert to_decimal("0.005") == Decimal("0.01")


@pytest.mark.parametrize("junk", ["", "abc", "1,2,3", "NaN", "Infinity"])
def test_junk_is_refused(junk):
    with pytest.raises(ValueError):
        to_decimal(junk)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_round_trip(amount):
    text = format_rub(amount, sign=True, currency="")
    assert to_decimal(text) == amount
