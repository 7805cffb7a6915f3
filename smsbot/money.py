"""Money as Russians read it on a bill: `3 450,20 ₽`, computed in Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

KOPECK = Decimal("0.01")
NBSP = "\u00a0"
"""Thousands are grouped with a no-break space, so a sum never wraps across lines."""


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Parse a sum written either way (`3450.2`, `3 450,20`), rounded to kopecks."""
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).replace(NBSP, "").replace(" ", "").replace(",", ".")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a sum of money: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a sum of money: {value!r}")
    return amount.quantize(KOPECK, rounding=ROUND_HALF_UP)


def format_rub(value: Decimal | int | str, *, sign: bool = False, currency: str = "₽") -> str:
    """Format as `3 450,20 ₽`; `sign=True` keeps a leading minus, else the absolute value."""
    amount = to_decimal(value)
    negative = amount < 0
    rubles, kopecks = f"{abs(amount):.2f}".split(".")
    groups = []
    while rubles:
        groups.insert(0, rubles[-3:])
        rubles = rubles[:-3]
    text = f"{NBSP.join(groups)},{kopecks}"
    if currency:
        text = f"{text}{NBSP}{currency}"
    return f"-{text}" if negative and sign else text
