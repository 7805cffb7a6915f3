"""Checking billing export rows: every field, its normal form and the reason a row is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from smsbot.billing_rows import AccountRow, RowError, check_header, money, validate, validate_all

GOOD = {
    "account": "50 1234-5678",
    "address": "  Московская обл.,  г. Балашиха, ул. Советская, д. 3 ",
    "apartment": "12А",
    "phones": "+7 985 123-45-67; 8 (916) 123-45-67, +79851234567",
    "balance": "3 450,20",
    "balance_date": "01.11.2026",
    "bill_code": "4821",
    "maintenance": "3000",
    "penalty": "450.2",
    "heating": "",
}


def test_a_good_row_is_normalised():
    row = validate(GOOD, 2, today=date(2026, 11, 22))
    assert row == AccountRow(
        line=2,
        number="5012345678",
        address="Московская обл., г. Балашиха, ул. Советская, д. 3",
        apartment="12А",
        phones=("+79851234567", "+79161234567"),
        balance=Decimal("3450.20"),
        balance_as_of=date(2026, 11, 1),
        bill_code="4821",
        charges=(("maintenance", Decimal("3000.00")), ("penalty", Decimal("450.20"))),
    )


def test_optional_columns_may_be_missing_or_empty():
    row = validate({"account": "5012345678", "address": "ул. Ленина, 1", "balance": "-512", "balance_date": "2026-11-01",
                    "phones": "", "apartment": ""}, 3)  # fmt: skip
    assert isinstance(row, AccountRow)
    assert (row.apartment, row.phones, row.bill_code, row.charges) == (None, (), None, ())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"account": ""}, "account: empty"),
        ({"account": "12345"}, "account: must have 6–20 digits, has 5"),
        ({"account": "50123456A8"}, "account: only digits allowed"),
        ({"address": " "}, "address: empty"),
        ({"address": "д" * 301}, "address: longer than 300 characters"),
        ({"apartment": "1" * 17}, "apartment: longer than 16 characters"),
        (
            {"phones": "+7 985 123-45-67, 12345"},
            "phones: number 2 is not a phone number (too short)",
        ),
        ({"phones": ",".join(f"+7985123{i:04d}" for i in range(11))}, "phones: more than 10"),
        ({"balance": "3450,205"}, "balance: not a sum of money (like 3450,20)"),
        ({"balance": "abc"}, "balance: not a sum of money (like 3450,20)"),
        ({"balance": "1e5"}, "balance: not a sum of money (like 3450,20)"),
        ({"balance": "99999999999"}, "balance: too large"),
        ({"balance_date": "32.11.2026"}, "balance_date: not a date (DD.MM.YYYY or YYYY-MM-DD)"),
        ({"balance_date": "01.12.2026"}, "balance_date: in the future"),
        ({"bill_code": "12"}, "bill_code: must have 4–8 digits, has 2"),
        (
            {"maintenance": "3000,01"},
            "the service columns add up to 3450.21, not to the balance 3450.20",
        ),
        ({"penalty": "x"}, "penalty: not a sum of money (like 3450,20)"),
    ],
)
def test_bad_fields(change, reason):
    assert validate({**GOOD, **change}, 7, today=date(2026, 11, 22)) == RowError(7, reason)


def test_reasons_never_repeat_the_phone_number():
    error = validate({**GOOD, "phones": "8 985 12"}, 2)
    assert isinstance(error, RowError) and "985" not in error.reason


def test_a_repeated_account_names_the_first_row():
    good, bad = validate_all([(2, GOOD), (3, {**GOOD, "account": "5012345679"}), (4, GOOD)])
    assert [r.line for r in good] == [2, 3]
    assert bad == [RowError(4, "account 5012345678 is also on row 2")]


def test_header():
    assert check_header(["account", "ADDRESS", "balance", "balance_date", "phones"]) == []
    assert check_header(["account", "address", "balanse", "balance_date", "account"]) == [
        "missing column 'balance'", "unknown column 'balanse'", "column 'account' appears twice",
    ]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), [("3 450,20", "3450.20"), ("3\u00a0450.2", "3450.20"), ("-0", "0.00"),
                                             ("12", "12.00")])  # fmt: skip
def test_money(text, value):
    assert money(text, "balance") == Decimal(value)
