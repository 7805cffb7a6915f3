"""Addresses as an SMS can afford them: the street and house, without region and town. Pure."""

from __future__ import annotations

import re

_STREET = re.compile(
    r"^(ул\.?|улица|пр-т|пр-кт|просп\.?|проспект|пер\.?|переулок|б-р|бульвар|ш\.?|шоссе|пл\.?|"
    r"площадь|наб\.?|набережная|проезд|пр-д|туп\.?|тупик|аллея|мкр\.?\s*\d|кв-л|квартал)(\s|$)",
    re.IGNORECASE,
)
_HOUSE = re.compile(r"^(д\.?|дом)\s*\d", re.IGNORECASE)


def short_address(address: str) -> str:
    """`Московская обл., г. Балашиха, мкр. Заречный, ул. Молодёжная, д. 12, корп. 2` →
    `ул. Молодёжная, д. 12, корп. 2`: from the street on (or the last two parts)."""
    parts = [p.strip() for p in (address or "").split(",") if p.strip()]
    for i, part in enumerate(parts):
        if _STREET.match(part):
            return ", ".join(parts[i:])
    for i, part in enumerate(parts):
        if _HOUSE.match(part):
            return ", ".join(parts[max(0, i - 1) :])
    return ", ".join(parts[-2:])
