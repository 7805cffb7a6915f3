"""One row of a company's billing export, checked: the account, its flat, the phones on file,
the balance with its date, the bill lines and the code printed on the bill.

Pure: strings in, an AccountRow or the reason it is refused out. The file format (columns,
separators, encodings) is documented in docs/billing-import.md; reading the file is the job
of smsbot.billing_import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from smsbot.phones import InvalidPhone, normalize
from smsbot.services import SERVICES

REQUIRED = ("account", "address", "balance", "balance_date")
"""Columns every file must have (and every row must fill)."""
OPTIONAL = ("apartment", "phones", "bill_code")
COLUMNS = REQUIRED + OPTIONAL + SERVICES
"""Every column a file may have; the service columns are the bill lines (smsbot.services)."""

ACCOUNT_DIGITS = (6, 20)
CODE_DIGITS = (4, 8)
ADDRESS_MAX = 300
APARTMENT_MAX = 16
PHONES_MAX = 10
MONEY_MAX = Decimal("9999999999.99")
"""NUMERIC(12, 2) holds ten digits before the point."""

_SEPARATORS = re.compile(r"[,;|\n]+")
_MONEY = re.compile(r"-?\d+(\.\d{1,2})?")
_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d")


@dataclass(frozen=True)
class AccountRow:
    """A valid row, normalised: what the import writes."""

    line: int
    number: str
    address: str
    apartment: str | None
    phones: tuple[str, ...]
    balance: Decimal
    balance_as_of: date
    bill_code: str | None
    charges: tuple[tuple[str, Decimal], ...]
    """(service, amount) for every service column the row fills, in SERVICES order."""


@dataclass(frozen=True)
class RowError:
    """Why row `line` (as numbered in the file, the header being line 1) is refused."""

    line: int
    reason: str


class _Bad(ValueError):
    """A field is wrong; the message says which and why, without the personal data."""


def check_header(columns: Iterable[str]) -> list[str]:
    """Problems with the header row: missing required columns, unknown or repeated ones."""
    names = [c.strip().lower() for c in columns]
    problems = [f"missing column {c!r}" for c in REQUIRED if c not in names]
    problems += [f"unknown column {c!r}" for c in names if c and c not in COLUMNS]
    problems += [
        f"column {c!r} appears twice"
        for c in sorted({c for c in names if c and names.count(c) > 1})
    ]
    return problems


def money(text: str, field: str) -> Decimal:
    """`3 450,20`, `3450.2`, `-512` → Decimal; more than two decimals is refused, not rounded."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not _MONEY.fullmatch(cleaned):
        raise _Bad(f"{field}: not a sum of money (like 3450,20)")
    amount = Decimal(cleaned)
    if abs(amount) > MONEY_MAX:
        raise _Bad(f"{field}: too large")
    return amount.quantize(Decimal("0.01"))


def _digits(text: str, field: str, bounds: tuple[int, int]) -> str:
    digits = re.sub(r"[\s\-]", "", text)
    if not digits.isdigit() or not digits.isascii():
        raise _Bad(f"{field}: only digits allowed")
    if not bounds[0] <= len(digits) <= bounds[1]:
        raise _Bad(f"{field}: must have {bounds[0]}–{bounds[1]} digits, has {len(digits)}")
    return digits


def _date(text: str, today: date | None) -> date:
    for fmt in _DATE_FORMATS:
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if today is not None and day > today:
            raise _Bad("balance_date: in the future")
        return day
    raise _Bad("balance_date: not a date (DD.MM.YYYY or YYYY-MM-DD)")


def _phones(text: str) -> tuple[str, ...]:
    found: list[str] = []
    parts = [p.strip() for p in _SEPARATORS.split(text) if p.strip()]
    if len(parts) > PHONES_MAX:
        raise _Bad(f"phones: more than {PHONES_MAX}")
    for i, part in enumerate(parts, 1):
        try:
            phone = normalize(part)
        except InvalidPhone as exc:
            raise _Bad(f"phones: number {i} is not a phone number ({exc.reason})") from None
        if phone not in found:
            found.append(phone)
    return tuple(found)


def validate(
    row: Mapping[str, str | None], line: int, *, today: date | None = None
) -> AccountRow | RowError:
    """Check one row (column name → cell text); `today` refuses balance dates after it."""
    cells = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
    try:
        for column in REQUIRED:
            if not cells.get(column):
                raise _Bad(f"{column}: empty")
        number = _digits(cells["account"], "account", ACCOUNT_DIGITS)
        address = " ".join(cells["address"].split())
        if len(address) > ADDRESS_MAX:
            raise _Bad(f"address: longer than {ADDRESS_MAX} characters")
        apartment = cells.get("apartment") or None
        if apartment and len(apartment) > APARTMENT_MAX:
            raise _Bad(f"apartment: longer than {APARTMENT_MAX} characters")
        balance = money(cells["balance"], "balance")
        charges = tuple((s, money(cells[s], s)) for s in SERVICES if cells.get(s))
        if charges and sum(a for _, a in charges) != balance:
            total = sum(a for _, a in charges)
            raise _Bad(f"the service columns add up to {total}, not to the balance {balance}")
        code = cells.get("bill_code")
        return AccountRow(
            line=line,
            number=number,
            address=address,
            apartment=apartment,
            phones=_phones(cells.get("phones", "")),
            balance=balance,
            balance_as_of=_date(cells["balance_date"], today),
            bill_code=_digits(code, "bill_code", CODE_DIGITS) if code else None,
            charges=charges,
        )
    except _Bad as exc:
        return RowError(line, str(exc))


def validate_all(
    rows: Iterable[tuple[int, Mapping[str, str | None]]], *, today: date | None = None
) -> tuple[list[AccountRow], list[RowError]]:
    """Check every row; a second row for the same account is refused, naming the first."""
    good: list[AccountRow] = []
    bad: list[RowError] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        result = validate(row, line, today=today)
        if isinstance(result, AccountRow):
            if result.number in seen:
                result = RowError(
                    line, f"account {result.number} is also on row {seen[result.number]}"
                )
            else:
                seen[result.number] = line
        (good if isinstance(result, AccountRow) else bad).append(result)
    return good, bad
